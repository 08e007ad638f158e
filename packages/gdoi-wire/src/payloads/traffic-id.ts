// SRC/DST identities of an SA KEK / SA TEK: | ID Type (1) | ID Port (2) | ID Data Len (1 or 2) | ID Data |
// RFC 6407 §5.3/§5.5.1 give the length 1 octet; Wireshark 4.0 (SAT) and DigiCert read 2 (spec §2.19).
// The width is detected once per payload from the SRC field and reused for DST:
//   - ID types with a fixed data length (IPv4/IPv6 address, subnet, range): 1 octet if the first octet
//     equals that length, 2 octets if it is 0 and the 16-bit value equals it, otherwise malformed;
//   - other ID types: a first octet of 0 means the 2-octet form (a zero-length 1-octet ID is meaningless).
// Encoding refuses values this rule would read back differently, so every encoded value round-trips.
import { IdType } from '../constants.js'
import { DecodeError, EncodeError } from '../errors.js'
import type { Reader } from '../reader.js'
import type { Writer } from '../writer.js'
import type { IdLengthWidth, TrafficId } from './types.js'

const FIXED_LENGTH: Readonly<Partial<Record<number, number>>> = {
  [IdType.IPV4_ADDR]: 4,
  [IdType.IPV4_ADDR_SUBNET]: 8,
  [IdType.IPV4_ADDR_RANGE]: 8,
  [IdType.IPV6_ADDR]: 16,
  [IdType.IPV6_ADDR_SUBNET]: 32,
  [IdType.IPV6_ADDR_RANGE]: 32,
}

/** The ID data length an ID type implies, or undefined for variable-length types (FQDN, KEY_ID, …). */
export function impliedIdLength(idType: number): number | undefined {
  return FIXED_LENGTH[idType]
}

function detectWidth(r: Reader, idType: number, what: string): IdLengthWidth {
  const first = r.peekU8(0, `${what} ID data length`)
  const implied = impliedIdLength(idType)
  if (implied === undefined) return first === 0 ? 2 : 1
  if (first === implied) return 1
  if (first === 0 && r.peekU16(0, `${what} ID data length`) === implied) return 2
  throw new DecodeError('ERR_BAD_LENGTH', r.pos, `${what} ID data length fits neither form for ID type ${idType} (${implied} octets)`)
}

/** Reads one identity; `width` undefined means detect it here (the SRC identity). */
export function readTrafficId(r: Reader, width: IdLengthWidth | undefined, what: string): { id: TrafficId; width: IdLengthWidth } {
  const idType = r.u8(`${what} ID type`)
  const port = r.u16(`${what} ID port`)
  const w = width ?? detectWidth(r, idType, what)
  const lengthAt = r.pos
  const length = w === 1 ? r.u8(`${what} ID data length`) : r.u16(`${what} ID data length`)
  const implied = impliedIdLength(idType)
  if (implied !== undefined && length !== implied) {
    throw new DecodeError('ERR_BAD_LENGTH', lengthAt, `${what} ID data length ${length}, ID type ${idType} needs ${implied}`)
  }
  return { id: { idType, port, data: r.bytes(length, `${what} ID data`) }, width: w }
}

export function trafficIdLength(id: TrafficId, width: IdLengthWidth): number {
  return 3 + width + id.data.length
}

export function writeTrafficId(id: TrafficId, width: IdLengthWidth, w: Writer, what: string): void {
  const n = id.data.length
  const implied = impliedIdLength(id.idType)
  if (implied !== undefined ? n !== implied : width === 1 ? n < 1 || n > 0xff : n > 0xff) {
    throw new EncodeError('ERR_BAD_VALUE', `${what} ID: ${n} data octets cannot be sent for ID type ${id.idType} with a ${width}-octet length`)
  }
  w.u8(id.idType, `${what} ID type`).u16(id.port, `${what} ID port`)
  if (width === 1) w.u8(n, `${what} ID data length`)
  else w.u16(n, `${what} ID data length`)
  w.bytes(id.data, `${what} ID data`)
}
