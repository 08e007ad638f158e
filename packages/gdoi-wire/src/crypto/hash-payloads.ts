// Values of the HASH payloads (spec §1.2, §1.3, §1.4; RFC 2409 §5, RFC 6407 §3.2). `rest` is always
// every payload after the HASH payload, generic headers included, up to the end of the chain
// (encryption padding excluded), byte for byte as on the wire.
import type { HashName } from './algorithms.js'
import { u32be } from './bytes.js'
import { prf } from './prf.js'

/** HASH_I = prf(SKEYID, g^xi ‖ g^xr ‖ CKY-I ‖ CKY-R ‖ SAi_b ‖ IDii_b). */
export function hashI(
  h: HashName, skeyid: Uint8Array, gxi: Uint8Array, gxr: Uint8Array,
  ckyI: Uint8Array, ckyR: Uint8Array, saiB: Uint8Array, idiiB: Uint8Array,
): Uint8Array {
  return prf(h, skeyid, gxi, gxr, ckyI, ckyR, saiB, idiiB)
}

/**
 * HASH_R = prf(SKEYID, g^xr ‖ g^xi ‖ CKY-R ‖ CKY-I ‖ SAi_b ‖ IDir_b). Arguments are in formula
 * order, so the responder values come first. SAi_b is the *initiator's* SA body here too.
 */
export function hashR(
  h: HashName, skeyid: Uint8Array, gxr: Uint8Array, gxi: Uint8Array,
  ckyR: Uint8Array, ckyI: Uint8Array, saiB: Uint8Array, idirB: Uint8Array,
): Uint8Array {
  return prf(h, skeyid, gxr, gxi, ckyR, ckyI, saiB, idirB)
}

/**
 * GROUPKEY-PULL hashes (also IKEv1 Quick Mode HASH(1)/HASH(2)):
 *   HASH(1)      = prf(SKEYID_a, M-ID ‖ rest)                 niB, nrB undefined
 *   HASH(2)      = prf(SKEYID_a, M-ID ‖ Ni_b ‖ rest)          nrB undefined
 *   HASH(3)/(4)  = prf(SKEYID_a, M-ID ‖ Ni_b ‖ Nr_b ‖ rest)
 */
export function pullHash(
  h: HashName, skeyidA: Uint8Array, messageId: number,
  niB: Uint8Array | undefined, nrB: Uint8Array | undefined, rest: Uint8Array,
): Uint8Array {
  if (nrB !== undefined && niB === undefined) throw new RangeError('pullHash: Nr_b without Ni_b')
  const parts: Uint8Array[] = [u32be(messageId, 'messageId')]
  if (niB !== undefined) parts.push(niB)
  if (nrB !== undefined) parts.push(nrB)
  parts.push(rest)
  return prf(h, skeyidA, ...parts)
}

/** Informational after phase 1: HASH(1) = prf(SKEYID_a, M-ID ‖ N|D …). */
export function informationalHash(h: HashName, skeyidA: Uint8Array, messageId: number, rest: Uint8Array): Uint8Array {
  return prf(h, skeyidA, u32be(messageId, 'messageId'), rest)
}
