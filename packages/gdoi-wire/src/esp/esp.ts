// ESP (RFC 4303) seal and open, the reference implementation on node:crypto: one call per packet,
// fresh buffers, no state. The gm-daemon fast path is tested against it byte for byte.
//
//   SPI(4) ‖ Seq(4) ‖ IV(ivBytes) ‖ Enc( inner ‖ Pad 1,2,3… ‖ PadLen(1) ‖ NextHdr(1) ) ‖ ICV
//
// CBC / CTR / NULL: ICV = HMAC(authKey, SPI ‖ Seq ‖ IV ‖ ciphertext) truncated (encrypt-then-MAC).
// GCM (RFC 4106): nonce = salt ‖ IV, AAD = SPI ‖ Seq, tag = ICV.
// GMAC (RFC 4543): nonce = salt ‖ IV, AAD = SPI ‖ Seq ‖ IV ‖ payload ‖ Pad ‖ PadLen ‖ NextHdr, empty plaintext.
// CTR (RFC 3686): counter block = salt ‖ IV ‖ 0x00000001.

import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto'
import { EncodeError } from '../errors.js'
import { ESP_HEADER_BYTES, espPadBytes, espSuite, type EspSaParams, type EspSuite } from './suite.js'

export type EspOpenResult =
  | { ok: true; seq: number; nextHeader: number; inner: Uint8Array }
  | { ok: false; reason: 'auth' | 'malformed' | 'spi' }

/** Next Header values of the inner packet. */
export const EspNextHeader = { IPV4: 4, IPV6: 41, NO_NEXT_HEADER: 59 } as const

function be32(v: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, v)
  return b
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

function cipherKey(s: EspSuite, p: EspSaParams): Uint8Array {
  return p.encKey.subarray(0, s.keyBytes)
}

/** The 12-octet GCM nonce or the 16-octet CTR counter block. */
function counterIv(s: EspSuite, p: EspSaParams, iv: Uint8Array): Uint8Array {
  const salt = p.encKey.subarray(s.keyBytes, s.keyBytes + s.saltBytes)
  return s.mode === 'ctr' ? concat(salt, iv, be32(1)) : concat(salt, iv)
}

function icv(s: EspSuite, p: EspSaParams, authenticated: Uint8Array): Uint8Array {
  const h = createHmac(s.hmac ?? 'sha1', p.authKey ?? new Uint8Array(0))
  h.update(authenticated)
  return new Uint8Array(h.digest().subarray(0, s.icvBytes))
}

function plaintextTrailer(s: EspSuite, inner: Uint8Array, nextHeader: number): Uint8Array {
  const pad = espPadBytes(inner.length, s.blockBytes)
  const out = new Uint8Array(inner.length + pad + 2)
  out.set(inner, 0)
  for (let i = 1; i <= pad; i++) out[inner.length + i - 1] = i
  out[inner.length + pad] = pad
  out[inner.length + pad + 1] = nextHeader
  return out
}

/** ESP header ‖ IV ‖ ciphertext ‖ ICV for an inner packet (no outer IP header). */
export function sealEsp(p: EspSaParams, seq: number, iv: Uint8Array, inner: Uint8Array, nextHeader: number): Uint8Array {
  const s = espSuite(p)
  if (!Number.isInteger(seq) || seq < 0 || seq > 0xffffffff) throw new EncodeError('ERR_OUT_OF_RANGE', `seq ${seq}`)
  if (!Number.isInteger(nextHeader) || nextHeader < 0 || nextHeader > 0xff) throw new EncodeError('ERR_OUT_OF_RANGE', `nextHeader ${nextHeader}`)
  if (iv.length !== s.ivBytes) throw new EncodeError('ERR_BAD_VALUE', `IV is ${iv.length} octets, transform needs ${s.ivBytes}`)
  const header = concat(be32(p.spi), be32(seq), iv)
  const pt = plaintextTrailer(s, inner, nextHeader)
  switch (s.mode) {
    case 'cbc':
    case 'ctr': {
      const c = createCipheriv(s.cipher ?? '', cipherKey(s, p), s.mode === 'ctr' ? counterIv(s, p, iv) : iv)
      c.setAutoPadding(false)
      const ct = concat(c.update(pt), c.final())
      const body = concat(header, ct)
      return concat(body, icv(s, p, body))
    }
    case 'null': {
      const body = concat(header, pt)
      return concat(body, icv(s, p, body))
    }
    case 'gcm': {
      const c = createCipheriv(s.cipher as 'aes-128-gcm', cipherKey(s, p), counterIv(s, p, iv), { authTagLength: s.icvBytes })
      c.setAAD(header.subarray(0, ESP_HEADER_BYTES))
      const ct = concat(c.update(pt), c.final())
      return concat(header, ct, c.getAuthTag())
    }
    case 'gmac': {
      const c = createCipheriv(s.cipher as 'aes-128-gcm', cipherKey(s, p), counterIv(s, p, iv), { authTagLength: s.icvBytes })
      const body = concat(header, pt)
      c.setAAD(body)
      c.final()
      return concat(body, c.getAuthTag())
    }
  }
}

/** Verifies and decrypts one ESP packet (SPI onwards, no outer IP header). Never throws on packet content. */
export function openEsp(p: EspSaParams, esp: Uint8Array): EspOpenResult {
  const s = espSuite(p)
  if (esp.length < ESP_HEADER_BYTES) return { ok: false, reason: 'malformed' }
  const view = new DataView(esp.buffer, esp.byteOffset, esp.byteLength)
  if (view.getUint32(0) !== p.spi) return { ok: false, reason: 'spi' }
  const seq = view.getUint32(4)
  const encBytes = esp.length - s.headerBytes - s.icvBytes
  if (encBytes < 2 || encBytes % s.blockBytes !== 0) return { ok: false, reason: 'malformed' }
  const body = esp.subarray(0, esp.length - s.icvBytes)
  const tag = esp.subarray(esp.length - s.icvBytes)
  const iv = esp.subarray(ESP_HEADER_BYTES, s.headerBytes)
  const enc = esp.subarray(s.headerBytes, esp.length - s.icvBytes)
  let pt: Uint8Array
  switch (s.mode) {
    case 'cbc':
    case 'ctr':
    case 'null': {
      if (!timingSafeEqual(icv(s, p, body), tag)) return { ok: false, reason: 'auth' }
      if (s.mode === 'null') { pt = enc; break }
      const d = createDecipheriv(s.cipher ?? '', cipherKey(s, p), s.mode === 'ctr' ? counterIv(s, p, iv) : iv)
      d.setAutoPadding(false)
      pt = concat(d.update(enc), d.final())
      break
    }
    case 'gcm':
    case 'gmac': {
      const d = createDecipheriv(s.cipher as 'aes-128-gcm', cipherKey(s, p), counterIv(s, p, iv), { authTagLength: s.icvBytes })
      d.setAuthTag(tag)
      try {
        if (s.mode === 'gmac') {
          d.setAAD(body)
          d.final()
          pt = enc
        } else {
          d.setAAD(esp.subarray(0, ESP_HEADER_BYTES))
          const out = d.update(enc)
          d.final()
          pt = out
        }
      } catch {
        return { ok: false, reason: 'auth' }
      }
      break
    }
  }
  const padLen = pt[pt.length - 2] ?? 0
  const nextHeader = pt[pt.length - 1] ?? 0
  const innerBytes = pt.length - 2 - padLen
  if (innerBytes < 0) return { ok: false, reason: 'malformed' }
  // RFC 4303 §2.4: the default padding is 1, 2, 3, …; the receiver SHOULD check it.
  for (let i = 1; i <= padLen; i++) if (pt[innerBytes + i - 1] !== i) return { ok: false, reason: 'malformed' }
  return { ok: true, seq, nextHeader, inner: new Uint8Array(pt.subarray(0, innerBytes)) }
}
