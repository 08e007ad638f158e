// Helpers for ID payloads and IPv4 addresses (spec §2.9). The GDOI group identity is ID_KEY_ID with a
// 4-octet big-endian group number (Cisco `identity number N`), or ID_IPV4_ADDR (`identity address ipv4`).
import { IdType, PayloadType } from './constants.js'
import { DecodeError, EncodeError } from './errors.js'
import type { IdPayload } from './payloads/types.js'

/** ID payload for `identity number n`: ID_KEY_ID, protocol 0, port 0, n as 4 octets (RFC 6407 §5.1). */
export function groupIdKeyId(n: number): IdPayload {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new EncodeError('ERR_OUT_OF_RANGE', `group number ${n} is not in 0..4294967295`)
  const data = Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)
  return { type: PayloadType.ID, idType: IdType.KEY_ID, protocol: 0, port: 0, data }
}

/** ID payload ID_IPV4_ADDR, protocol 0, port 0 (phase-1 identity, or `identity address ipv4`). */
export function idIpv4(addr: string): IdPayload {
  return { type: PayloadType.ID, idType: IdType.IPV4_ADDR, protocol: 0, port: 0, data: ipv4ToBytes(addr) }
}

const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

/** Dotted quad → 4 octets; throws EncodeError ERR_BAD_VALUE for anything else (no leading zeros beyond "0"). */
export function ipv4ToBytes(a: string): Uint8Array {
  const m = DOTTED_QUAD.exec(a)
  const parts = m?.slice(1).map((s) => (s.length > 1 && s.startsWith('0') ? 256 : Number(s)))
  if (parts === undefined || parts.some((x) => x > 255)) throw new EncodeError('ERR_BAD_VALUE', `not an IPv4 address: ${JSON.stringify(a)}`)
  return Uint8Array.from(parts)
}

/** 4 octets → dotted quad; throws DecodeError ERR_BAD_LENGTH (offset 0) for any other length. */
export function bytesToIpv4(b: Uint8Array): string {
  if (b.length !== 4) throw new DecodeError('ERR_BAD_LENGTH', 0, `IPv4 address must be 4 octets, got ${b.length}`)
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`
}
