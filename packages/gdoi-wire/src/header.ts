// The 28-octet ISAKMP header (RFC 2408 §3.1, spec §2.2).
//  0 | Initiator Cookie (8) | 8 | Responder Cookie (8) | 16 Next Payload | 17 MjVer.MnVer | 18 Exchange
// 19 | Flags | 20 Message ID (4) | 24 Length (4): the whole datagram, header and padding included.
import { ISAKMP_HEADER_BYTES } from './constants.js'
import { DecodeError, EncodeError } from './errors.js'
import { Reader } from './reader.js'
import type { Writer } from './writer.js'
import type { IsakmpHeader } from './payloads/types.js'

const COOKIE_BYTES = 8

/**
 * Decodes the header at `offset`. Checks major version 1 and that Length is at least 28 and does not
 * run past `buf` (it may be shorter: decodeMessage decides about bytes after it).
 */
export function decodeHeader(buf: Uint8Array, offset = 0): IsakmpHeader {
  const r = new Reader(buf, offset)
  const icookie = r.bytes(COOKIE_BYTES, 'initiator cookie')
  const rcookie = r.bytes(COOKIE_BYTES, 'responder cookie')
  const nextPayload = r.u8('next payload')
  const versionAt = r.pos
  const version = r.u8('version')
  if (version >> 4 !== 1) throw new DecodeError('ERR_BAD_VERSION', versionAt, `ISAKMP major version ${version >> 4}, expected 1`)
  const exchange = r.u8('exchange type')
  const flags = r.u8('flags')
  const messageId = r.u32('message id')
  const lengthAt = r.pos
  const length = r.u32('length')
  if (length < ISAKMP_HEADER_BYTES) throw new DecodeError('ERR_BAD_LENGTH', lengthAt, `message length ${length} < 28`)
  if (length > buf.length - offset) {
    throw new DecodeError('ERR_BAD_LENGTH', lengthAt, `message length ${length} > ${buf.length - offset} octets received`)
  }
  return { icookie, rcookie, nextPayload, version, exchange, flags, messageId, length }
}

export function encodeHeader(h: IsakmpHeader, w: Writer): void {
  if (h.icookie.length !== COOKIE_BYTES || h.rcookie.length !== COOKIE_BYTES) {
    throw new EncodeError('ERR_BAD_VALUE', `cookies must be 8 octets (got ${h.icookie.length}/${h.rcookie.length})`)
  }
  w.bytes(h.icookie, 'initiator cookie')
    .bytes(h.rcookie, 'responder cookie')
    .u8(h.nextPayload, 'next payload')
    .u8(h.version, 'version')
    .u8(h.exchange, 'exchange type')
    .u8(h.flags, 'flags')
    .u32(h.messageId, 'message id')
    .u32(h.length, 'length')
}
