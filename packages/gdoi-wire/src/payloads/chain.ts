// Walks and writes payload chains: the top-level chain of a message, the nested SAK/GAP/SAT chain of
// a GDOI SA, and the proposal/transform chains of a phase-1 SA all share the 4-octet generic header
//   | Next Payload  |   RESERVED    |        Payload Length         |
// (RFC 2408 §3.2). Length includes the header; a payload may not run past its enclosing buffer.
import { GENERIC_HEADER_BYTES } from '../constants.js'
import { DecodeError } from '../errors.js'
import type { Reader } from '../reader.js'
import type { Writer } from '../writer.js'

export interface RawPayload {
  readonly type: number
  readonly next: number
  /** Absolute offset of the generic header. */
  readonly start: number
  /** Absolute offset one past the payload. */
  readonly end: number
  /** Bounded to the body; the caller must exhaust it. */
  readonly body: Reader
}

/** Reads the generic header of a payload of type `type` at r.pos; r moves past the whole payload. */
export function readPayload(r: Reader, type: number, what: string): RawPayload {
  const start = r.pos
  const next = r.u8(`${what} next payload`)
  r.zero(1, `${what} reserved`)
  const lengthAt = r.pos
  const length = r.u16(`${what} payload length`)
  if (length < GENERIC_HEADER_BYTES) throw new DecodeError('ERR_BAD_LENGTH', lengthAt, `${what}: payload length ${length} < 4`)
  if (length - GENERIC_HEADER_BYTES > r.remaining) {
    throw new DecodeError('ERR_BAD_LENGTH', lengthAt, `${what}: payload length ${length} runs past the enclosing buffer (${r.remaining + 4} left)`)
  }
  const body = r.sub(length - GENERIC_HEADER_BYTES, what)
  return { type, next, start, end: r.pos, body }
}

/**
 * Decodes a chain whose first payload has type `first`, until a Next Payload of 0. Each item's body
 * must be consumed exactly. `decodeOne` sees the raw payload (type, bounded body, offsets).
 */
export function walkChain<T>(r: Reader, first: number, what: string, decodeOne: (p: RawPayload) => T): T[] {
  const items: T[] = []
  let type = first
  while (type !== 0) {
    const raw = readPayload(r, type, `${what} payload ${type}`)
    items.push(decodeOne(raw))
    raw.body.done(`${what} payload ${type}`)
    type = raw.next
  }
  return items
}

/**
 * Writes items as a chain: each generic header's Next Payload is the next item's type, the last one
 * `lastNext` (0 ends the chain). Lengths are patched after each body, so bodies are walked once.
 */
export function writeChain<T>(
  items: readonly T[],
  w: Writer,
  typeOf: (x: T) => number,
  encodeBody: (x: T, w: Writer) => void,
  lastNext = 0,
): void {
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as T
    const nextItem = items[i + 1]
    const start = w.pos
    w.u8(nextItem === undefined ? lastNext : typeOf(nextItem), 'next payload')
    w.u8(0, 'reserved')
    w.u16(0, 'payload length')
    encodeBody(item, w)
    w.setU16(start + 2, w.pos - start, `payload ${typeOf(item)} length`)
  }
}
