// Hex-vector and error helpers shared by the payload tests.
import type { Test } from 'tap'
import { DecodeError, type DecodeErrorCode } from '../../src/errors.js'
import { decodePayload, encodePayload } from '../../src/message.js'
import type { SaKind } from '../../src/payloads/body-codec.js'
import type { EncodeOptions, GdoiSaPayload, Payload, SaAttributePayload } from '../../src/payloads/types.js'

export function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/[\s|]/g, ''), 'hex'))
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex')
}

/** Decodes a whole payload vector (generic header included) and checks it re-encodes to the same octets. */
export function assertVector(t: Test, vector: string, type: number, want: Payload, saKind: SaKind = 'ike', opts?: EncodeOptions): Payload {
  const buf = hex(vector)
  const d = decodePayload(buf, 0, type, saKind)
  t.same(d.payload, want, `vector decodes to the expected value`)
  t.equal(d.end, buf.length, 'vector consumed exactly')
  t.equal(toHex(encodePayload(d.payload, undefined, 0, opts, d.next)), toHex(buf), 'vector re-encodes byte for byte')
  return d.payload
}

/** A GDOI SA header (16 octets) around nested payload octets whose first type is `first`. */
export function inGdoiSa(first: number, nestedHex: string): string {
  const nested = hex(nestedHex)
  const len = 16 + nested.length
  return `0000${len.toString(16).padStart(4, '0')} 00000002 00000000 ${first.toString(16).padStart(4, '0')}0000 ${toHex(nested)}`
}

/** Decodes a nested SAK/GAP/SAT vector through a GDOI SA and checks the SA re-encodes identically. */
export function assertNestedVector(t: Test, first: number, nestedHex: string, want: SaAttributePayload, opts?: EncodeOptions): SaAttributePayload {
  const sa = assertVector(t, inGdoiSa(first, nestedHex), 1, { type: 1, kind: 'gdoi', doi: 2, situation: 0, attributePayloads: [want] }, 'gdoi', opts)
  return (sa as GdoiSaPayload).attributePayloads[0]!
}

/** Asserts fn throws a DecodeError with `code` (and `offset` when given). */
export function assertDecodeError(t: Test, fn: () => unknown, code: DecodeErrorCode, offset?: number, msg: string = code): void {
  try {
    fn()
    t.fail(`${msg}: no error thrown`)
  } catch (e) {
    if (!(e instanceof DecodeError)) {
      t.fail(`${msg}: ${String(e)} is not a DecodeError`)
      return
    }
    t.equal(e.code, code, `${msg}: code (${e.message})`)
    if (offset !== undefined) t.equal(e.offset, offset, `${msg}: offset (${e.message})`)
  }
}

/** A payload in hex: generic header (Next Payload `next`, correct length) + body hex. */
export function gp(next: number, bodyHex: string): string {
  const body = hex(bodyHex)
  return `${next.toString(16).padStart(2, '0')}00${(body.length + 4).toString(16).padStart(4, '0')} ${toHex(body)}`
}
