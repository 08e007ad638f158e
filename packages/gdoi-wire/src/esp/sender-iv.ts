// RFC 6054 §3 IVs for counter modes (GCM, GMAC, CTR, CCM) in a group SA with many senders (spec §4.5):
//   64-bit IV = SID in the most significant n bits ‖ per-sender counter (SSIV) in the low 64 − n bits.
// n (NUMBER_OF_SID_BITS) is group-wide; implementations must support 8, 12 and 16. The counter is kept
// as a JS number, so the usable space is min(2^(64−n), 2^53) − 1 IVs per SID and SA — 2^48 − 1 for n = 16.

import { EncodeError } from '../errors.js'

/** Largest SSIV value for a SID width (the counter starts at 1; 0 is not used). */
export function maxSenderCounter(sidBits: number): number {
  checkSidBits(sidBits)
  return Math.min(2 ** (64 - sidBits), 2 ** 53) - 1
}

function checkSidBits(sidBits: number): void {
  if (!Number.isInteger(sidBits) || sidBits < 1 || sidBits > 32) {
    throw new EncodeError('ERR_OUT_OF_RANGE', `NUMBER_OF_SID_BITS ${sidBits} (1..32 supported)`)
  }
}

/** Writes the 8-octet RFC 6054 IV at out[offset]. Throws if sid or counter does not fit. */
export function writeSenderIv(out: Uint8Array, offset: number, sid: number, sidBits: number, counter: number): void {
  checkSidBits(sidBits)
  if (!Number.isInteger(sid) || sid < 0 || sid >= 2 ** sidBits) throw new EncodeError('ERR_OUT_OF_RANGE', `SID ${sid} does not fit ${sidBits} bits`)
  if (!Number.isInteger(counter) || counter < 0 || counter > maxSenderCounter(sidBits)) {
    throw new EncodeError('ERR_OUT_OF_RANGE', `sender counter ${counter} exceeds ${sidBits}-bit SID space`)
  }
  if (offset < 0 || offset + 8 > out.length) throw new EncodeError('ERR_BUFFER_TOO_SMALL', `IV at ${offset}`)
  const hiCounter = Math.floor(counter / 0x100000000)
  const lo = counter >>> 0
  // sid << (32 − n) can reach bit 31, so combine with unsigned arithmetic.
  const hi = (sid * 2 ** (32 - sidBits) + hiCounter) >>> 0
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength)
  v.setUint32(offset, hi)
  v.setUint32(offset + 4, lo)
}

/** The 8-octet RFC 6054 IV. */
export function senderIv(sid: number, sidBits: number, counter: number): Uint8Array {
  const iv = new Uint8Array(8)
  writeSenderIv(iv, 0, sid, sidBits, counter)
  return iv
}

/** The SID of a received IV (for per-sender replay windows). */
export function senderIdOfIv(iv: Uint8Array, offset: number, sidBits: number): number {
  checkSidBits(sidBits)
  const v = new DataView(iv.buffer, iv.byteOffset, iv.byteLength)
  return v.getUint32(offset) >>> (32 - sidBits)
}
