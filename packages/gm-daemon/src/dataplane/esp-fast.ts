// The per-packet ESP path: in-place seal/open of a packet sitting in a slab slot (see buffers.ts), same
// bytes as @gdoi/wire's reference sealEsp/openEsp (tests compare all three with @noble/ciphers).
// Two engines:
//   'native' — the addon's OpenSSL EVP contexts, keyed once per SA and re-IV'd per packet, HMAC from
//              precomputed pad states; no allocation per packet. The default whenever the addon loads.
//   'node'   — node:crypto, one Cipher/Hmac object per packet (node:crypto cannot re-IV a cipher or
//              write into a caller's buffer). The fallback, and the baseline of bench/esp.bench.ts.
// IVs: CBC gets a random IV per packet (OpenSSL's DRBG); counter modes (GCM/GMAC/CTR) use the RFC 6054
// IV SID ‖ SSIV with the ESP sequence number as the SSIV, so a sender without a SID cannot seal (NO_IV).
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, randomFillSync, timingSafeEqual, type KeyObject } from 'node:crypto'
import { espSuite, type EspSaParams, type EspSuite } from '@gdoi/wire/esp/index'
import { tryLoadNative, type NativeAddon, type NativeHandle } from './native.js'

/** Negative results of seal/open. */
export const EspResult = { AUTH: -1, MALFORMED: -2, ROOM: -3, CRYPTO: -4, DEAD: -5, NO_IV: -6 } as const

export type EspEngineName = 'native' | 'node'

/** RFC 6054 sender ID granted by the KS (KD SID packet) and the group's NUMBER_OF_SID_BITS. */
export interface SenderId { readonly sid: number; readonly sidBits: number }

export interface FastEspSa {
  readonly spi: number
  readonly suite: EspSuite
  readonly engine: EspEngineName
  /** False for a counter-mode SA without a sender ID (receive only, RFC 6407 §4.4). */
  readonly canSeal: boolean
  /**
   * Seals in place. The inner packet is at buf[espOff + suite.headerBytes, + payloadBytes); writes SPI,
   * seq, IV in front and pad, pad length, next header, ICV behind. Returns the ESP length or an EspResult.
   */
  seal(buf: Uint8Array, espOff: number, payloadBytes: number, nextHeader: number, seq: number): number
  /**
   * Verifies and decrypts in place the ESP packet buf[espOff, espOff + espBytes) (SPI not checked: the
   * caller found the SA by it). Returns inner length + 65536 × next header, or an EspResult. The inner
   * packet starts at espOff + suite.headerBytes.
   */
  open(buf: Uint8Array, espOff: number, espBytes: number): number
  /** Zeroes and releases the keys (native: key schedule and HMAC pad states). */
  destroy(): void
}

export interface FastSaOptions {
  /** 'auto' (default): native when the addon is built, else node. */
  readonly engine?: EspEngineName | 'auto'
  readonly sender?: SenderId
}

const MODE = { cbc: 0, gcm: 1, ctr: 2, gmac: 3, null: 4 } as const
const HMAC = { md5: 1, sha1: 2, sha256: 3, sha384: 4, sha512: 5 } as const
const EMPTY = new Uint8Array(0)

/** Which engine 'auto' picks on this machine. */
export function defaultEngine(): EspEngineName {
  return tryLoadNative() ? 'native' : 'node'
}

export function createFastSa(p: EspSaParams, opts: FastSaOptions = {}): FastEspSa {
  const suite = espSuite(p)
  const engine = opts.engine === undefined || opts.engine === 'auto' ? defaultEngine() : opts.engine
  if (engine === 'native') {
    const n = tryLoadNative()
    if (n === undefined) throw new Error('ERR_NATIVE_UNAVAILABLE: engine "native" requested but the addon is not built')
    return new NativeEspSa(n, p, suite, opts.sender)
  }
  return new NodeEspSa(p, suite, opts.sender)
}

function writeHeader(buf: Uint8Array, at: number, spi: number, seq: number): void {
  buf[at] = spi >>> 24
  buf[at + 1] = (spi >>> 16) & 0xff
  buf[at + 2] = (spi >>> 8) & 0xff
  buf[at + 3] = spi & 0xff
  buf[at + 4] = seq >>> 24
  buf[at + 5] = (seq >>> 16) & 0xff
  buf[at + 6] = (seq >>> 8) & 0xff
  buf[at + 7] = seq & 0xff
}

/** High word of the RFC 6054 IV (SID in the top bits); the low word is the sequence number. */
function senderIvHigh(suite: EspSuite, sender: SenderId | undefined): number {
  if (suite.mode === 'cbc' || suite.mode === 'null') return 0
  if (sender === undefined) return -1
  const { sid, sidBits } = sender
  if (!Number.isInteger(sidBits) || sidBits < 1 || sidBits > 32 || !Number.isInteger(sid) || sid < 0 || sid >= 2 ** sidBits) {
    throw new RangeError(`sender ID ${sid} does not fit NUMBER_OF_SID_BITS ${sidBits}`)
  }
  return (sid * 2 ** (32 - sidBits)) >>> 0
}

function writeCounterIv(buf: Uint8Array, at: number, hi: number, seq: number): void {
  writeHeader(buf, at, hi, seq) // same layout: two big-endian u32
}

class NativeEspSa implements FastEspSa {
  readonly spi: number
  readonly suite: EspSuite
  readonly engine = 'native' as const
  readonly canSeal: boolean
  readonly #n: NativeAddon
  readonly #h: NativeHandle
  readonly #ivHigh: number
  readonly #ivRandom: number

  constructor(n: NativeAddon, p: EspSaParams, suite: EspSuite, sender: SenderId | undefined) {
    this.#n = n
    this.spi = p.spi
    this.suite = suite
    this.#ivHigh = senderIvHigh(suite, sender)
    this.canSeal = this.#ivHigh >= 0
    this.#ivRandom = suite.mode === 'cbc' ? 1 : 0
    this.#h = n.espNew(MODE[suite.mode], suite.cipher ?? null, p.encKey, suite.saltBytes, suite.ivBytes, suite.blockBytes,
      suite.icvBytes, suite.hmac === undefined ? 0 : HMAC[suite.hmac], p.authKey ?? EMPTY)
  }

  seal(buf: Uint8Array, espOff: number, payloadBytes: number, nextHeader: number, seq: number): number {
    if (this.#ivHigh < 0) return EspResult.NO_IV
    writeHeader(buf, espOff, this.spi, seq)
    if (this.#ivRandom === 0 && this.suite.ivBytes === 8) writeCounterIv(buf, espOff + 8, this.#ivHigh, seq)
    return this.#n.espSeal(this.#h, buf, espOff, payloadBytes, nextHeader, this.#ivRandom)
  }

  open(buf: Uint8Array, espOff: number, espBytes: number): number {
    return this.#n.espOpen(this.#h, buf, espOff, espBytes)
  }

  destroy(): void {
    this.#n.espFree(this.#h)
  }
}

const IV_POOL_BYTES = 4096

class NodeEspSa implements FastEspSa {
  readonly spi: number
  readonly suite: EspSuite
  readonly engine = 'node' as const
  readonly canSeal: boolean
  readonly #cipher: string
  #key: KeyObject | undefined
  #authKey: KeyObject | undefined
  readonly #salt: Uint8Array
  readonly #nonce: Uint8Array // salt ‖ IV (‖ 00000001 for CTR)
  readonly #ivHigh: number
  readonly #ivPool = new Uint8Array(IV_POOL_BYTES)
  #ivPos = IV_POOL_BYTES
  #dead = false

  constructor(p: EspSaParams, suite: EspSuite, sender: SenderId | undefined) {
    this.spi = p.spi
    this.suite = suite
    this.#cipher = suite.cipher ?? ''
    this.#ivHigh = senderIvHigh(suite, sender)
    this.canSeal = this.#ivHigh >= 0
    this.#key = suite.keyBytes > 0 ? createSecretKey(p.encKey.subarray(0, suite.keyBytes)) : undefined
    this.#authKey = p.authKey !== undefined && p.authKey.length > 0 ? createSecretKey(p.authKey) : undefined
    this.#salt = new Uint8Array(p.encKey.subarray(suite.keyBytes, suite.keyBytes + suite.saltBytes)) // a copy (Buffer#slice is a view)
    this.#nonce = new Uint8Array(suite.mode === 'ctr' ? 16 : 12)
    this.#nonce.set(this.#salt, 0)
    if (suite.mode === 'ctr') this.#nonce[15] = 1
  }

  seal(buf: Uint8Array, espOff: number, payloadBytes: number, nextHeader: number, seq: number): number {
    if (this.#dead) return EspResult.DEAD
    if (this.#ivHigh < 0) return EspResult.NO_IV
    const s = this.suite
    const r = (payloadBytes + 2) % s.blockBytes
    const pad = r === 0 ? 0 : s.blockBytes - r
    const encBytes = payloadBytes + pad + 2
    const total = s.headerBytes + encBytes + s.icvBytes
    if (espOff < 0 || payloadBytes < 0 || espOff + total > buf.length) return EspResult.ROOM
    const p = espOff + s.headerBytes
    const t = p + payloadBytes
    for (let i = 1; i <= pad; i++) buf[t + i - 1] = i
    buf[t + pad] = pad
    buf[t + pad + 1] = nextHeader
    writeHeader(buf, espOff, this.spi, seq)
    const ivAt = espOff + 8
    if (s.mode === 'cbc') {
      if (this.#ivPos + s.ivBytes > IV_POOL_BYTES) { randomFillSync(this.#ivPool); this.#ivPos = 0 }
      for (let i = 0; i < s.ivBytes; i++) buf[ivAt + i] = this.#ivPool[this.#ivPos + i] as number
      this.#ivPos += s.ivBytes
    } else if (s.ivBytes === 8) {
      writeCounterIv(buf, ivAt, this.#ivHigh, seq)
    }
    const body = buf.subarray(espOff, p + encBytes)
    switch (s.mode) {
      case 'cbc':
      case 'ctr':
      case 'null': {
        if (s.mode !== 'null') {
          const c = createCipheriv(this.#cipher, this.#key as KeyObject, this.#ivFor(buf, ivAt))
          c.setAutoPadding(false)
          buf.set(c.update(buf.subarray(p, p + encBytes)), p)
          c.final()
        }
        const mac = createHmac(s.hmac ?? 'sha1', this.#authKey as KeyObject).update(body).digest()
        for (let i = 0; i < s.icvBytes; i++) buf[p + encBytes + i] = mac[i] as number
        return total
      }
      case 'gcm':
      case 'gmac': {
        const c = createCipheriv(this.#cipher as 'aes-256-gcm', this.#key as KeyObject, this.#ivFor(buf, ivAt), { authTagLength: s.icvBytes })
        if (s.mode === 'gcm') {
          c.setAAD(buf.subarray(espOff, espOff + 8))
          buf.set(c.update(buf.subarray(p, p + encBytes)), p)
        } else {
          c.setAAD(body)
        }
        c.final()
        buf.set(c.getAuthTag(), p + encBytes)
        return total
      }
    }
  }

  open(buf: Uint8Array, espOff: number, espBytes: number): number {
    if (this.#dead) return EspResult.DEAD
    const s = this.suite
    const encBytes = espBytes - s.headerBytes - s.icvBytes
    if (espOff < 0 || espOff + espBytes > buf.length || encBytes < 2 || encBytes % s.blockBytes !== 0) return EspResult.MALFORMED
    const p = espOff + s.headerBytes
    const ivAt = espOff + 8
    const body = buf.subarray(espOff, p + encBytes)
    const icv = buf.subarray(p + encBytes, p + encBytes + s.icvBytes)
    switch (s.mode) {
      case 'cbc':
      case 'ctr':
      case 'null': {
        const mac = createHmac(s.hmac ?? 'sha1', this.#authKey as KeyObject).update(body).digest()
        if (!timingSafeEqual(mac.subarray(0, s.icvBytes), icv)) return EspResult.AUTH
        if (s.mode !== 'null') {
          const d = createDecipheriv(this.#cipher, this.#key as KeyObject, this.#ivFor(buf, ivAt))
          d.setAutoPadding(false)
          buf.set(d.update(buf.subarray(p, p + encBytes)), p)
          d.final()
        }
        break
      }
      case 'gcm':
      case 'gmac': {
        const d = createDecipheriv(this.#cipher as 'aes-256-gcm', this.#key as KeyObject, this.#ivFor(buf, ivAt), { authTagLength: s.icvBytes })
        d.setAuthTag(icv)
        try {
          if (s.mode === 'gcm') {
            d.setAAD(buf.subarray(espOff, espOff + 8))
            const out = d.update(buf.subarray(p, p + encBytes))
            d.final()
            buf.set(out, p)
          } else {
            d.setAAD(body)
            d.final()
          }
        } catch {
          return EspResult.AUTH
        }
        break
      }
    }
    const padLen = buf[p + encBytes - 2] as number
    const nextHeader = buf[p + encBytes - 1] as number
    const inner = encBytes - 2 - padLen
    if (inner < 0) return EspResult.MALFORMED
    for (let i = 1; i <= padLen; i++) if (buf[p + inner + i - 1] !== i) return EspResult.MALFORMED
    return inner + 65536 * nextHeader
  }

  destroy(): void {
    // KeyObjects keep their own copy of the key and have no wipe API; dropping them is all node allows.
    this.#dead = true
    this.#key = undefined
    this.#authKey = undefined
    this.#salt.fill(0)
    this.#nonce.fill(0)
    this.#ivPool.fill(0)
  }

  /** CBC: the IV in the packet; counter modes: salt ‖ IV (‖ 00000001). */
  #ivFor(buf: Uint8Array, ivAt: number): Uint8Array {
    if (this.suite.mode === 'cbc') return buf.subarray(ivAt, ivAt + this.suite.ivBytes)
    for (let i = 0; i < 8; i++) this.#nonce[this.suite.saltBytes + i] = buf[ivAt + i] as number
    return this.#nonce
  }
}
