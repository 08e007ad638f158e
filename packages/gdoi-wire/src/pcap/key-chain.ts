// The key chain gdoi-pcap follows through a capture (spec §3.4, §5): phase-1 SAs by initiator cookie,
// one CBC IV context per (icookie, Message ID), KEKs by SPI with their last accepted SEQ and the key
// server's public key, ESP SAs by SPI. Pure state: decode-isakmp.ts and decode-esp.ts drive it.
import type { CbcCipher, HashName } from '../crypto/algorithms.js'
import { toHex } from '../crypto/bytes.js'
import type { EspSaParams } from '../esp/suite.js'
import type { SaKekPayload, IpsecTek } from '../payloads/types.js'

/** Phase-1 key material from a key file (Wireshark table: icookie + encKey; our keylog: more). */
export interface Phase1KeyEntry {
  readonly icookie: Uint8Array
  readonly rcookie?: Uint8Array
  /** Ka, the phase-1 cipher key (what Wireshark's ikev1_decryption_table holds). */
  readonly encKey?: Uint8Array
  /** SKEYID: lets HASH_I/HASH_R be checked. */
  readonly skeyid?: Uint8Array
  /** SKEYID_a: lets PULL / Quick Mode / Informational hashes be checked. */
  readonly skeyidA?: Uint8Array
  /** SKEYID_e: Ka is derived from it when encKey is absent (RFC 2409 App. B). */
  readonly skeyidE?: Uint8Array
  /** Cipher and hash when the key file names them (our keylog): MM1/MM2 need not be in the capture. */
  readonly cipher?: CbcCipher
  readonly hash?: HashName
}

/** An ESP SA from a key file; src/dst ('*' or absent = any) narrow the match to the outer addresses. */
export interface EspKeyEntry extends EspSaParams {
  readonly src?: string
  readonly dst?: string
}

/** A KEK given directly (no PULL in the capture): decrypts pushes with these cookies. */
export interface KekKeyEntry {
  readonly spi: Uint8Array // 16 octets
  readonly cipher: CbcCipher
  readonly iv: Uint8Array
  readonly key: Uint8Array
  readonly sigHash?: HashName
  readonly publicKey?: Uint8Array
}

export interface CaptureKeys {
  readonly phase1: readonly Phase1KeyEntry[]
  readonly esp: readonly EspKeyEntry[]
  readonly keks?: readonly KekKeyEntry[]
}

export const NO_KEYS: CaptureKeys = { phase1: [], esp: [] }

/** What one Main Mode taught us, message by message. */
export interface Phase1State {
  readonly icookie: Uint8Array
  rcookie?: Uint8Array
  /** "addr:port" of the MM1 sender. */
  initiator?: string
  doi?: number
  /** Body of the initiator's SA payload (MM1): for HASH_I/HASH_R. */
  saiB?: Uint8Array
  hash?: HashName
  cipher?: CbcCipher
  authMethod?: number
  gxi?: Uint8Array
  gxr?: Uint8Array
  niB?: Uint8Array
  nrB?: Uint8Array
  keys?: Phase1KeyEntry
  encKey?: Uint8Array
  /** Last ciphertext block of MM6: seeds every phase-2 IV. */
  lastBlock?: Uint8Array
}

export interface DecryptedMessage {
  readonly plaintext: Uint8Array
  readonly iv: Uint8Array
}

/** CBC IV chaining of one exchange: Main Mode (M-ID 0) or one phase-2 exchange. */
export interface IvContext {
  /** IV for the next new message. */
  nextIv?: Uint8Array
  /** Datagram hex → what it decrypted to: retransmissions reuse it and do not move the chain. */
  readonly seen: Map<string, DecryptedMessage>
  /** Distinct messages decrypted so far (1-based index of the next one = count + 1). */
  count: number
  /** "addr:port" of the first message's sender (the exchange initiator). */
  initiator?: string
  niB?: Uint8Array
  nrB?: Uint8Array
  /** SAK and SATs from the responder's SA payload (PULL2), matched to PULL4's key packets. */
  sak?: SaKekPayload
  /** Exchange 32: a GDOI pull (no SA in message 1) or an IKEv1 Quick Mode (SA in message 1). */
  kind?: 'pull' | 'quick-mode'
}

export interface KekState {
  readonly spi: Uint8Array
  readonly cipher: CbcCipher
  readonly iv: Uint8Array
  readonly key: Uint8Array
  readonly sigHash?: HashName
  publicKey?: Uint8Array
  /** Last accepted push SEQ (PULL4's SEQ until the first push). */
  lastSeq: number
  /** Last ciphertext block of the last accepted push (fallback IV, spec §5.1). */
  lastBlock?: Uint8Array
  /** Hex of accepted pushes: a retransmission is recognised as a duplicate, not a replay. */
  readonly accepted: Set<string>
}

export class KeyChain {
  readonly #phase1 = new Map<string, Phase1State>()
  readonly #keyEntries = new Map<string, Phase1KeyEntry>()
  readonly #ivs = new Map<string, IvContext>()
  readonly #keks = new Map<string, KekState>()
  readonly #esp = new Map<number, EspKeyEntry[]>()
  /** SA KEK policies seen (PULL2 / push SA), by KEK SPI hex. */
  readonly #sakBySpi = new Map<string, SaKekPayload>()
  /** SA TEK policies seen, by SPI. */
  readonly #satBySpi = new Map<number, IpsecTek>()

  constructor(keys: CaptureKeys) {
    for (const k of keys.phase1) this.#keyEntries.set(toHex(k.icookie), k)
    for (const e of keys.esp) this.addEsp(e)
    for (const k of keys.keks ?? []) {
      this.#keks.set(toHex(k.spi), {
        spi: k.spi, cipher: k.cipher, iv: k.iv, key: k.key,
        ...(k.sigHash === undefined ? {} : { sigHash: k.sigHash }),
        ...(k.publicKey === undefined ? {} : { publicKey: k.publicKey }),
        lastSeq: 0, accepted: new Set(),
      })
    }
  }

  phase1(icookie: Uint8Array): Phase1State {
    const id = toHex(icookie)
    let s = this.#phase1.get(id)
    if (!s) {
      const keys = this.#keyEntries.get(id)
      s = { icookie: icookie.slice(), ...(keys ? { keys } : {}) }
      this.#phase1.set(id, s)
    }
    return s
  }

  hasPhase1Keys(icookie: Uint8Array): boolean {
    return this.#keyEntries.has(toHex(icookie))
  }

  /** The IV context of a phase-2 exchange (icookie, M-ID), or of Main Mode itself with `mainMode`. */
  ivContext(icookie: Uint8Array, messageId: number, mainMode = false): IvContext {
    const id = `${toHex(icookie)}/${mainMode ? 'mm' : messageId.toString(16).padStart(8, '0')}`
    let c = this.#ivs.get(id)
    if (!c) {
      c = { seen: new Map(), count: 0 }
      this.#ivs.set(id, c)
    }
    return c
  }

  kek(spi: Uint8Array): KekState | undefined {
    return this.#keks.get(toHex(spi))
  }

  setKek(k: KekState): void {
    this.#keks.set(toHex(k.spi), k)
  }

  noteSak(sak: SaKekPayload): void {
    this.#sakBySpi.set(toHex(sak.spi), sak)
  }

  sak(spi: Uint8Array): SaKekPayload | undefined {
    return this.#sakBySpi.get(toHex(spi))
  }

  noteSat(tek: IpsecTek): void {
    this.#satBySpi.set(tek.spi, tek)
  }

  sat(spi: number): IpsecTek | undefined {
    return this.#satBySpi.get(spi)
  }

  addEsp(p: EspKeyEntry): void {
    const list = this.#esp.get(p.spi) ?? []
    if (!list.some((q) => sameEsp(p, q))) list.push(p)
    this.#esp.set(p.spi, list)
  }

  /** SAs with this SPI whose src/dst (when given) match the outer addresses. */
  esp(spi: number, src?: string, dst?: string): readonly EspKeyEntry[] {
    return (this.#esp.get(spi) ?? []).filter(
      (e) => (e.src === undefined || e.src === '*' || src === undefined || e.src === src) && (e.dst === undefined || e.dst === '*' || dst === undefined || e.dst === dst),
    )
  }
}

function sameEsp(a: EspKeyEntry, b: EspKeyEntry): boolean {
  return (
    a.src === b.src &&
    a.dst === b.dst &&
    a.transformId === b.transformId &&
    a.authAlgorithm === b.authAlgorithm &&
    toHex(a.encKey) === toHex(b.encKey) &&
    toHex(a.authKey ?? new Uint8Array(0)) === toHex(b.authKey ?? new Uint8Array(0))
  )
}
