// ISAKMP data attributes (RFC 2408 §3.3, spec §2.4), used by transforms, SAK, SAT, GAP and KD key packets.
//   TV  (AF=1): |1|   type (15)   |          value (16)           |
//   TLV (AF=0): |0|   type (15)   |          length (16)          |  value (length octets)
// The AF bit is kept as found, so a decoded list re-encodes byte for byte; unknown types are kept too
// (Cisco KSs add private ones; rejecting them is a policy decision for the caller, never the codec's).
import { EncodeError } from './errors.js'
import type { Reader } from './reader.js'
import type { Writer } from './writer.js'
import type { DataAttribute } from './payloads/types.js'

const AF = 0x8000
const MAX_TYPE = 0x7fff
/** Larger TLV integers than this do not fit a JS number exactly (2^48 is well below 2^53). */
const MAX_NUMERIC_BYTES = 6

/** Decodes attributes until `r` is exhausted. */
export function decodeAttributes(r: Reader): DataAttribute[] {
  const attrs: DataAttribute[] = []
  while (r.remaining > 0) {
    const word = r.u16('attribute type')
    const type = word & MAX_TYPE
    if ((word & AF) !== 0) {
      attrs.push({ type, tv: true, value: r.u16(`attribute ${type} value`) })
    } else {
      const length = r.u16(`attribute ${type} length`)
      attrs.push({ type, tv: false, value: r.bytes(length, `attribute ${type} value`) })
    }
  }
  return attrs
}

export function encodeAttributes(attrs: readonly DataAttribute[], w: Writer): void {
  for (const a of attrs) {
    if (!Number.isInteger(a.type) || a.type < 0 || a.type > MAX_TYPE) {
      throw new EncodeError('ERR_OUT_OF_RANGE', `attribute type ${a.type} is not in 0..${MAX_TYPE}`)
    }
    if (a.tv) {
      w.u16(AF | a.type, 'attribute type').u16(a.value, `attribute ${a.type} value`)
    } else {
      w.u16(a.type, 'attribute type').u16(a.value.length, `attribute ${a.type} length`).bytes(a.value, `attribute ${a.type} value`)
    }
  }
}

export function attributesLength(attrs: readonly DataAttribute[]): number {
  let n = 0
  for (const a of attrs) n += a.tv ? 4 : 4 + a.value.length
  return n
}

/**
 * The first attribute of `type` as an unsigned integer: TV value, or a TLV value read big-endian.
 * Leading zero octets are ignored; undefined when absent, empty, or wider than 6 significant octets.
 */
export function attrNumber(attrs: readonly DataAttribute[], type: number): number | undefined {
  const a = attrs.find((x) => x.type === type)
  if (a === undefined) return undefined
  if (a.tv) return a.value
  let i = 0
  while (i < a.value.length && a.value[i] === 0) i++
  if (a.value.length === 0 || a.value.length - i > MAX_NUMERIC_BYTES) return undefined
  let n = 0
  for (; i < a.value.length; i++) n = n * 256 + (a.value[i] as number)
  return n
}

/** The first attribute of `type` as bytes: a TLV value (a view), or a TV value as 2 big-endian octets. */
export function attrBytes(attrs: readonly DataAttribute[], type: number): Uint8Array | undefined {
  const a = attrs.find((x) => x.type === type)
  if (a === undefined) return undefined
  return a.tv ? Uint8Array.of(a.value >>> 8, a.value & 0xff) : a.value
}

export function tv(type: number, value: number): DataAttribute {
  return { type, tv: true, value }
}

export function tlv(type: number, value: Uint8Array): DataAttribute {
  return { type, tv: false, value }
}

/** TV when the value fits 16 bits (RFC 2407 §4.5 allows it for Variable attributes), else the shortest TLV ≥ 4 octets. */
export function numAttr(type: number, value: number): DataAttribute {
  if (Number.isInteger(value) && value >= 0 && value <= 0xffff) return tv(type, value)
  return tlv(type, beBytes(value, value <= 0xffffffff ? 4 : MAX_NUMERIC_BYTES))
}

/** Always a 4-octet TLV: KEK_KEY_LIFETIME is defined as a 4-octet value (RFC 6407 §5.3.4). */
export function u32Attr(type: number, value: number): DataAttribute {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new EncodeError('ERR_OUT_OF_RANGE', `attribute ${type}: ${value} is not a 32-bit unsigned integer`)
  }
  return tlv(type, beBytes(value, 4))
}

function beBytes(value: number, n: number): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** (8 * n)) {
    throw new EncodeError('ERR_OUT_OF_RANGE', `${value} does not fit ${n} octets`)
  }
  const out = new Uint8Array(n)
  for (let i = n - 1, v = value; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v % 256
  return out
}
