// RFC 8263 GROUPKEY-PUSH-ACK (exchange 35, spec §5.6): HDR, HASH, SEQ, ID, sent in the clear. Its HASH
// is checked when the key chain knows the KEK named by the cookies (from PULL4, a push, or a KEK line of
// the key file):
//   ack_key = prf(KEK key without its IV, "GROUPKEY-PUSH ACK" ‖ 0x00 ‖ SPI ‖ L)    HASH = prf(ack_key, SEQ ‖ ID)
// KEK_ACK_REQUESTED comes from the SA KEK seen for that SPI; without one, the HASH length tells
// SHA-256 (1) from SHA-512 (3). The LKH forms (2/4) need a key we never learn: 'unknown'.
import { attrNumber } from '../attributes.js'
import { ISAKMP_HEADER_BYTES, KekAck, KekAttr, PayloadType } from '../constants.js'
import { ackHash, ackKey } from '../crypto/ack.js'
import { concatBytes, macEqual, toHex } from '../crypto/bytes.js'
import type { IsakmpHeader, PayloadSpan } from '../payloads/types.js'
import type { KeyChain } from './key-chain.js'
import type { IsakmpResult } from './result.js'

export function observeAck(chain: KeyChain, header: IsakmpHeader, body: Uint8Array, spans: readonly PayloadSpan[], out: IsakmpResult): void {
  const payloads = out.payloads
  const hashP = payloads[0]
  const seqSpan = spans[1]
  const idSpan = spans[2]
  if (hashP?.type !== PayloadType.HASH || !('data' in hashP) || payloads[1]?.type !== PayloadType.SEQ || payloads[2]?.type !== PayloadType.ID || seqSpan === undefined || idSpan === undefined) {
    out.checks.hash = 'unknown'
    out.notes.push('GROUPKEY-PUSH-ACK is not HASH, SEQ, ID: HASH not checked')
    return
  }
  const spi = concatBytes(header.icookie, header.rcookie)
  const kek = chain.kek(spi)
  if (kek === undefined) {
    out.checks.hash = 'unknown'
    out.notes.push(`ACK HASH not checked: no KEK for SPI ${toHex(spi)}`)
    return
  }
  const sak = chain.sak(spi)
  const requested = sak === undefined ? undefined : attrNumber(sak.attributes, KekAttr.KEK_ACK_REQUESTED)
  if (sak !== undefined && requested === undefined) out.notes.push('the SA KEK of this SPI did not request ACKs (a key server drops this ACK)')
  const ackRequested = requested ?? (hashP.data.length === 64 ? KekAck.KEK_SHA512 : KekAck.KEK_SHA256)
  if (ackRequested !== KekAck.KEK_SHA256 && ackRequested !== KekAck.KEK_SHA512) {
    out.checks.hash = 'unknown'
    out.notes.push(`ACK HASH not checked: KEK_ACK_REQUESTED ${ackRequested} (LKH key or unassigned value)`)
    return
  }
  const expected = ackHash(ackRequested, ackKey(ackRequested, kek.key, spi), body.subarray(seqSpan.start, seqSpan.end), body.subarray(idSpan.start, idSpan.end))
  const ok = macEqual(expected, hashP.data)
  out.checks.hash = ok ? 'ok' : 'bad'
  if (!ok) {
    out.errors.push({ layer: 'isakmp', code: 'ERR_BAD_HASH', offset: spans[0]?.start ?? ISAKMP_HEADER_BYTES, detail: 'ACK HASH does not verify with the KEK' })
  }
}
