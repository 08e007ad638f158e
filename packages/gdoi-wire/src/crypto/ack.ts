// RFC 8263 GROUPKEY-PUSH-ACK key and HASH (spec §5.6):
//   ack_key = prf(base_key, "GROUPKEY-PUSH ACK" ‖ 0x00 ‖ SPI ‖ L)     SPI = push ICOOKIE‖RCOOKIE (16), L = uint16
//   HASH    = prf(ack_key, SEQ ‖ ID)                                    whole SEQ and ID payloads
// prf = HMAC-SHA-256 for KEK_ACK_REQUESTED 1/2, HMAC-SHA-512 for 3/4. base_key = the KEK key without
// its IV (1/3) or the first LKH key (2/4) — the caller picks it. L defaults to the HMAC block size in
// bits (512 / 1024), the IEC 62351-9 reading; it stays a parameter because the RFC text is ambiguous.
import { KekAck } from '../constants.js'
import type { HashName } from './algorithms.js'
import { requireLength, u16be } from './bytes.js'
import { CryptoError } from './errors.js'
import { prf } from './prf.js'

const LABEL = new TextEncoder().encode('GROUPKEY-PUSH ACK\0')

function ackPrf(ackRequested: number): { h: HashName; defaultLBits: number } {
  switch (ackRequested) {
    case KekAck.KEK_SHA256:
    case KekAck.LKH_SHA256:
      return { h: 'sha256', defaultLBits: 512 }
    case KekAck.KEK_SHA512:
    case KekAck.LKH_SHA512:
      return { h: 'sha512', defaultLBits: 1024 }
    default:
      throw new CryptoError('ERR_UNSUPPORTED_ALGORITHM', `KEK_ACK_REQUESTED ${ackRequested}`)
  }
}

export function ackKey(ackRequested: number, baseKey: Uint8Array, kekSpi: Uint8Array, lBits?: number): Uint8Array {
  const { h, defaultLBits } = ackPrf(ackRequested)
  requireLength(kekSpi, 16, 'KEK SPI')
  return prf(h, baseKey, LABEL, kekSpi, u16be(lBits ?? defaultLBits, 'L'))
}

export function ackHash(ackRequested: number, ackKey: Uint8Array, seqPayload: Uint8Array, idPayload: Uint8Array): Uint8Array {
  return prf(ackPrf(ackRequested).h, ackKey, seqPayload, idPayload)
}
