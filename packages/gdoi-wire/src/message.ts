// Whole messages and payload chains (RFC 2408 §3.1–§3.2, spec §2.1–§2.3): the header's Next Payload
// names the first payload, each generic header the next, 0 ends the chain. After decryption the
// plaintext is the chain followed by padding, which decodeChain ignores. Payload bodies are decoded by
// the per-payload codecs in payloads/; the allowed payloads per message are checked in rules.ts.
import { ExchangeType, Flags, ISAKMP_HEADER_BYTES, PayloadType } from './constants.js'
import { DecodeError, EncodeError } from './errors.js'
import { decodeHeader, encodeHeader } from './header.js'
import { Reader } from './reader.js'
import { Writer } from './writer.js'
import type { BodyCodec, SaKind } from './payloads/body-codec.js'
import { readPayload, walkChain, writeChain } from './payloads/chain.js'
import { cert, cr } from './payloads/cert.js'
import { del } from './payloads/delete.js'
import { gap } from './payloads/gap.js'
import { hash } from './payloads/hash.js'
import { id } from './payloads/id.js'
import { ke } from './payloads/ke.js'
import { keyDownload } from './payloads/key-download.js'
import { nonce } from './payloads/nonce.js'
import { notification } from './payloads/notification.js'
import { sa } from './payloads/sa.js'
import { seq } from './payloads/seq.js'
import { sig } from './payloads/sig.js'
import { unknown } from './payloads/unknown.js'
import { vendorId } from './payloads/vendor-id.js'
import type { EncodeOptions, IsakmpHeader, Payload, PayloadSpan } from './payloads/types.js'

export type { SaKind } from './payloads/body-codec.js'

/**
 * Top-level payload codecs by type. SA KEK (15) and SA TEK (16) are missing on purpose: they exist
 * only inside a GDOI SA (sa.ts); at top level they stay opaque (Cisco IKEv1 uses 15 for NAT-D).
 */
const TOP_LEVEL: Readonly<Partial<Record<number, BodyCodec<Payload>>>> = {
  [PayloadType.SA]: sa,
  [PayloadType.KE]: ke,
  [PayloadType.ID]: id,
  [PayloadType.CERT]: cert,
  [PayloadType.CR]: cr,
  [PayloadType.HASH]: hash,
  [PayloadType.SIG]: sig,
  [PayloadType.NONCE]: nonce,
  [PayloadType.NOTIFICATION]: notification,
  [PayloadType.DELETE]: del,
  [PayloadType.VENDOR_ID]: vendorId,
  [PayloadType.KEY_DOWNLOAD]: keyDownload,
  [PayloadType.SEQ]: seq,
  [PayloadType.GAP]: gap,
} as Readonly<Partial<Record<number, BodyCodec<Payload>>>>

const OPAQUE = unknown as BodyCodec<Payload>

const GDOI_EXCHANGES: ReadonlySet<number> = new Set([ExchangeType.GROUPKEY_PULL, ExchangeType.GROUPKEY_PUSH, ExchangeType.GROUPKEY_PUSH_ACK])

/** 32, 33 and 35 carry GDOI SAs; every other exchange uses the IKE/IPsec SA layout. */
export function saKindFor(exchange: number): SaKind {
  return GDOI_EXCHANGES.has(exchange) ? 'gdoi' : 'ike'
}

function codecFor(p: Payload): BodyCodec<Payload> {
  if ('unknown' in p) return OPAQUE
  const c = TOP_LEVEL[p.type]
  if (c === undefined) throw new EncodeError('ERR_BAD_VALUE', `payload type ${p.type} cannot be encoded at top level (use { unknown: true, body })`)
  return c
}

// ---- chains --------------------------------------------------------------------------------------

export interface DecodedChain {
  readonly payloads: Payload[]
  /** Per payload, the absolute [start, end) in the decoded buffer, generic header included. */
  readonly spans: PayloadSpan[]
  /** Absolute offset one past the last payload (where padding, if any, starts). */
  readonly end: number
}

/**
 * Walks a payload chain in buf[start, end) starting with type `first`; stops at next payload 0;
 * bytes after the chain (encryption padding) are ignored. Offsets in errors/spans are absolute in buf.
 */
export function decodeChain(buf: Uint8Array, start: number, end: number, first: number, saKind: SaKind): DecodedChain {
  if (!(start >= 0 && start <= end && end <= buf.length)) throw new DecodeError('ERR_BAD_LENGTH', Math.max(0, start), `chain [${start}, ${end}) outside a ${buf.length}-octet buffer`)
  const r = new Reader(buf, start, end)
  const spans: PayloadSpan[] = []
  const payloads = walkChain(r, first, 'top-level', (raw) => {
    spans.push({ start: raw.start, end: raw.end })
    return (TOP_LEVEL[raw.type] ?? OPAQUE).decodeBody(raw.body, { saKind, type: raw.type })
  })
  return { payloads, spans, end: r.pos }
}

export function chainLength(payloads: readonly Payload[], opts?: EncodeOptions): number {
  let n = 0
  for (const p of payloads) n += 4 + codecFor(p).bodyLength(p, opts)
  return n
}

/** Writes a chain into a caller-owned buffer at w.pos (no intermediate copy). */
export function encodeChainInto(payloads: readonly Payload[], w: Writer, opts?: EncodeOptions): void {
  writeChain(payloads, w, (p) => p.type, (p, pw) => codecFor(p).encodeBody(p, pw, opts))
}

/** Encodes a payload list as a chain: each generic header's Next Payload = the type of the next item, last = 0. */
export function encodeChain(payloads: readonly Payload[], opts?: EncodeOptions): Uint8Array {
  const w = Writer.alloc(chainLength(payloads, opts))
  encodeChainInto(payloads, w, opts)
  return w.buf
}

// ---- single payloads (dns-packet style encode/decode/encodingLength) --------------------------------

/** Octets of one payload, generic header included. */
export function payloadLength(p: Payload, opts?: EncodeOptions): number {
  return 4 + codecFor(p).bodyLength(p, opts)
}

/** Encodes one payload (generic header included, Next Payload = `next`) into `buf` at `offset`, or a new buffer. */
export function encodePayload(p: Payload, buf?: Uint8Array, offset = 0, opts?: EncodeOptions, next = 0): Uint8Array {
  const out = buf ?? new Uint8Array(offset + payloadLength(p, opts))
  writeChain([p], new Writer(out, offset), (x) => x.type, (x, w) => codecFor(x).encodeBody(x, w, opts), next)
  return out
}

export interface DecodedPayload {
  readonly payload: Payload
  /** The Next Payload field of its generic header. */
  readonly next: number
  /** Absolute offset one past the payload. */
  readonly end: number
}

/** Decodes one payload of type `type` (its generic header at `offset`) from buf[offset, end). */
export function decodePayload(buf: Uint8Array, offset: number, type: number, saKind: SaKind, end = buf.length): DecodedPayload {
  if (!(offset >= 0 && offset <= end && end <= buf.length)) throw new DecodeError('ERR_BAD_LENGTH', Math.max(0, offset), `payload at ${offset} outside a ${buf.length}-octet buffer`)
  const raw = readPayload(new Reader(buf, offset, end), type, `payload ${type}`)
  const payload = (TOP_LEVEL[type] ?? OPAQUE).decodeBody(raw.body, { saKind, type })
  raw.body.done(`payload ${type}`)
  return { payload, next: raw.next, end: raw.end }
}

// ---- messages ------------------------------------------------------------------------------------

export interface DecodedMessage {
  readonly header: IsakmpHeader
  /** E flag clear: the decoded chain. E flag set: undefined (decrypt `ciphertext`, then decodeChain). */
  readonly chain?: DecodedChain
  /** View of buf[28, header.length) when the E flag is set. */
  readonly ciphertext?: Uint8Array
}

/**
 * Decodes a datagram. Header Length must equal the datagram length (bytes after it are an error);
 * a plaintext chain must fill the message exactly (unencrypted messages carry no padding).
 */
export function decodeMessage(buf: Uint8Array): DecodedMessage {
  const header = decodeHeader(buf, 0)
  if (header.length !== buf.length) throw new DecodeError('ERR_TRAILING_BYTES', header.length, `${buf.length - header.length} octets after the message length`)
  if ((header.flags & Flags.ENCRYPTION) !== 0) return { header, ciphertext: buf.subarray(ISAKMP_HEADER_BYTES, header.length) }
  const chain = decodeChain(buf, ISAKMP_HEADER_BYTES, header.length, header.nextPayload, saKindFor(header.exchange))
  if (chain.end !== header.length) throw new DecodeError('ERR_TRAILING_BYTES', chain.end, `${header.length - chain.end} octets after the payload chain`)
  return { header, chain }
}

/** A whole plaintext message; header.length and header.nextPayload are computed. */
export function encodeMessage(h: Omit<IsakmpHeader, 'length' | 'nextPayload'>, payloads: readonly Payload[], opts?: EncodeOptions): Uint8Array {
  const length = ISAKMP_HEADER_BYTES + chainLength(payloads, opts)
  const w = Writer.alloc(length)
  encodeHeader({ ...h, nextPayload: payloads[0]?.type ?? 0, length }, w)
  encodeChainInto(payloads, w, opts)
  return w.buf
}

/** A whole encrypted message: header (E flag forced on, length computed) + ciphertext. */
export function encodeEncryptedMessage(h: Omit<IsakmpHeader, 'length'>, ciphertext: Uint8Array): Uint8Array {
  const length = ISAKMP_HEADER_BYTES + ciphertext.length
  const w = Writer.alloc(length)
  encodeHeader({ ...h, flags: h.flags | Flags.ENCRYPTION, length }, w)
  w.bytes(ciphertext, 'ciphertext')
  return w.buf
}
