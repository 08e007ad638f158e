// Every vector we have, as decode targets: whole datagrams (decodeMessage) and decrypted plaintexts
// (decodeChain with the exchange's SA kind). `decode` returns the octets it claims to have understood
// re-encoded, so callers can check that anything accepted also re-encodes byte for byte.
import { decodeChain, decodeMessage, encodeChain, encodeEncryptedMessage, encodeMessage, saKindFor } from '../../src/message.js'
import { allGdoidDatagrams, allGdoidPlaintexts, hex } from '../fixtures/gdoid-vectors.js'
import { ciscoIkev1Datagrams, openswanNattDatagrams, strongswanDatagrams, strongswanPlaintexts } from '../fixtures/ikev1-vectors.js'

export interface CorpusEntry {
  readonly name: string
  readonly bytes: Uint8Array
  /** Octets that must be present for decoding to succeed (the chain, without padding). */
  readonly needed: number
  /** Decodes `buf`; returns [re-encoding, the octets it should equal]. Throws DecodeError on bad input. */
  readonly decode: (buf: Uint8Array) => readonly [Uint8Array, Uint8Array]
}

function datagram(name: string, h: string): CorpusEntry {
  const bytes = hex(h)
  return {
    name, bytes, needed: bytes.length,
    decode: (buf) => {
      const m = decodeMessage(buf)
      const { length: _l, ...rest } = m.header
      if (m.chain === undefined) return [encodeEncryptedMessage(rest, m.ciphertext ?? new Uint8Array(0)), buf]
      const { nextPayload: _n, ...h2 } = rest
      return [encodeMessage(h2, m.chain.payloads), buf]
    },
  }
}

function plaintext(name: string, v: { exchange: number; first: number; hex: string }): CorpusEntry {
  const bytes = hex(v.hex)
  const decode = (buf: Uint8Array) => {
    const c = decodeChain(buf, 0, buf.length, v.first, saKindFor(v.exchange))
    return [encodeChain(c.payloads), buf.subarray(0, c.end)] as const
  }
  return { name, bytes, needed: decodeChain(bytes, 0, bytes.length, v.first, saKindFor(v.exchange)).end, decode }
}

export const corpus: readonly CorpusEntry[] = [
  ...allGdoidDatagrams.map((h, i) => datagram(`gdoid datagram ${i}`, h)),
  ...allGdoidPlaintexts.map((v, i) => plaintext(`gdoid plaintext ${i}`, v)),
  ...[...strongswanDatagrams, ...ciscoIkev1Datagrams, ...openswanNattDatagrams].map((d, i) => datagram(`ikev1 datagram ${i} (frame ${d.frame})`, d.hex)),
  ...Object.entries(strongswanPlaintexts).map(([n, v]) => plaintext(`strongSwan ${n}`, v)),
]
