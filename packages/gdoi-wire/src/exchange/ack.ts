// RFC 8263 GROUPKEY-PUSH-ACK (exchange 35, spec §1.6, §5.6): HDR, HASH, SEQ, ID — not encrypted.
//   HDR      cookies = the push's (KEK SPI), Next Payload 8, exchange 35, flags 0, M-ID 0
//   ack_key  = prf(base_key, "GROUPKEY-PUSH ACK" ‖ 0x00 ‖ SPI ‖ L)     (crypto/ack.ts)
//   HASH     = prf(ack_key, SEQ ‖ ID)                                  whole SEQ and ID payloads
// GM: buildAck() after a push was accepted with `ack` set (push-member.ts). KS: verifyAck(), dropping
// duplicates (by HASH value, before any crypto) and ACKs for KEKs that did not ask for them.
import { ExchangeType, IdType, ISAKMP_VERSION, PayloadType } from '../constants.js'
import { DecodeError } from '../errors.js'
import { ackHash, ackKey } from '../crypto/ack.js'
import { macEqual } from '../crypto/bytes.js'
import { decodeMessage, encodeChain, encodeMessage } from '../message.js'
import { checkRules, Rules } from '../rules.js'
import type { IdPayload, Payload } from '../payloads/types.js'
import { formatIp, parseIp } from './ip-address.js'
import { payloadsOf, toHexString } from './pull-common.js'
import type { HashMemory } from './replay-memory.js'

export interface AckInput {
  readonly kekSpi: Uint8Array // the push's ICOOKIE ‖ RCOOKIE
  readonly ackRequested: number // KEK_ACK_REQUESTED value (1/3 with a KEK base key)
  /** KEK key without its IV (values 1/3), as PushAccepted.ack.baseKey. */
  readonly baseKey: Uint8Array
  readonly seq: number // SEQ of the push being acknowledged
  /** The GM address used as source of its latest GROUPKEY-PULL (RFC 8263 §3.4), or a ready ID payload. */
  readonly member: string | IdPayload
  /** L in bits; default 512 (SHA-256) / 1024 (SHA-512), spec §5.6. */
  readonly lBits?: number
}

export function memberIdPayload(member: string | IdPayload): IdPayload {
  if (typeof member !== 'string') return member
  const data = parseIp(member)
  if (data === undefined) throw new RangeError(`not an IP address: ${member}`)
  return { type: PayloadType.ID, idType: data.length === 4 ? IdType.IPV4_ADDR : IdType.IPV6_ADDR, protocol: 0, port: 0, data }
}

export function buildAck(a: AckInput): Uint8Array {
  if (a.kekSpi.length !== 16) throw new RangeError('KEK SPI must be 16 octets')
  const rest: Payload[] = [{ type: PayloadType.SEQ, seq: a.seq }, memberIdPayload(a.member)]
  const restBytes = encodeChain(rest)
  const seqBytes = restBytes.subarray(0, 8)
  const idBytes = restBytes.subarray(8)
  const key = ackKey(a.ackRequested, a.baseKey, a.kekSpi, a.lBits)
  const data = ackHash(a.ackRequested, key, seqBytes, idBytes)
  return encodeMessage(
    { icookie: a.kekSpi.subarray(0, 8), rcookie: a.kekSpi.subarray(8, 16), version: ISAKMP_VERSION, exchange: ExchangeType.GROUPKEY_PUSH_ACK, flags: 0, messageId: 0 },
    [{ type: PayloadType.HASH, data }, ...rest],
  )
}

/** What the KS knows about a KEK it pushes under. */
export interface AckKek {
  readonly ackRequested?: number // undefined = ACKs not requested: every ACK is dropped
  readonly baseKey: Uint8Array
  readonly lBits?: number
}

export type AckVerdict =
  | { readonly ok: true; readonly kekSpi: Uint8Array; readonly seq: number; readonly memberId: IdPayload; readonly memberAddress?: string }
  | { readonly ok: false; readonly reason: 'malformed' | 'unknown-kek' | 'not-requested' | 'duplicate' | 'bad-hash'; readonly detail?: string }

export interface VerifyAckOptions {
  /** Recently accepted ACK HASH values (RFC 8263 §5): duplicates are dropped before any crypto. */
  readonly memory?: HashMemory
  readonly nowMs?: number
}

export function verifyAck(bytes: Uint8Array, lookupKek: (spi: Uint8Array) => AckKek | undefined, opts: VerifyAckOptions = {}): AckVerdict {
  let msg
  try {
    msg = decodeMessage(bytes)
    if (msg.header.exchange !== ExchangeType.GROUPKEY_PUSH_ACK || msg.header.flags !== 0 || msg.chain === undefined) {
      return { ok: false, reason: 'malformed', detail: 'not an unencrypted GROUPKEY-PUSH-ACK' }
    }
    checkRules(Rules.ACK, msg.chain)
  } catch (e) {
    if (e instanceof DecodeError) return { ok: false, reason: 'malformed', detail: e.message }
    throw e
  }
  const { header, chain } = msg
  const spi = new Uint8Array(16)
  spi.set(header.icookie, 0)
  spi.set(header.rcookie, 8)
  const kek = lookupKek(spi)
  if (kek === undefined) return { ok: false, reason: 'unknown-kek' }
  if (kek.ackRequested === undefined) return { ok: false, reason: 'not-requested' }
  const hashPayload = chain.payloads[0]
  const seq = payloadsOf.seq(chain.payloads)[0]
  const id = payloadsOf.id(chain.payloads)[0]
  const seqSpan = chain.spans[1]
  const idSpan = chain.spans[2]
  if (hashPayload === undefined || !('data' in hashPayload) || !(hashPayload.data instanceof Uint8Array) || seq === undefined || id === undefined || seqSpan === undefined || idSpan === undefined) {
    return { ok: false, reason: 'malformed', detail: 'HASH, SEQ, ID expected' }
  }
  const key = toHexString(hashPayload.data)
  const now = opts.nowMs ?? 0
  if (opts.memory?.has(key, now) === true) return { ok: false, reason: 'duplicate' }
  const k = ackKey(kek.ackRequested, kek.baseKey, spi, kek.lBits)
  const expected = ackHash(kek.ackRequested, k, bytes.subarray(seqSpan.start, seqSpan.end), bytes.subarray(idSpan.start, idSpan.end))
  if (!macEqual(hashPayload.data, expected)) return { ok: false, reason: 'bad-hash' }
  opts.memory?.add(key, now)
  const memberId: IdPayload = { ...id, data: id.data.slice() }
  const address = id.idType === IdType.IPV4_ADDR || id.idType === IdType.IPV6_ADDR ? formatIp(id.data) : undefined
  return { ok: true, kekSpi: spi, seq: seq.seq, memberId, ...(address !== undefined ? { memberAddress: address } : {}) }
}
