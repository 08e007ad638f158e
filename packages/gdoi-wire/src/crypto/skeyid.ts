// SKEYID family and the phase-1 encryption key (RFC 2409 §5, App. B; spec §3.2, §3.3).
import type { HashName } from './algorithms.js'
import { concatBytes, copyBytes, requireLength } from './bytes.js'
import { keyHolder } from './key-holder.js'
import { prf } from './prf.js'

/** Pre-shared key: SKEYID = prf(PSK, Ni_b ‖ Nr_b). */
export function skeyidPsk(h: HashName, psk: Uint8Array, niB: Uint8Array, nrB: Uint8Array): Uint8Array {
  return prf(h, psk, niB, nrB)
}

/** Signatures: SKEYID = prf(Ni_b ‖ Nr_b, g^xy). */
export function skeyidSig(h: HashName, niB: Uint8Array, nrB: Uint8Array, gxy: Uint8Array): Uint8Array {
  return prf(h, concatBytes(niB, nrB), gxy)
}

export interface Skeyids {
  readonly skeyid: Uint8Array
  readonly d: Uint8Array
  readonly a: Uint8Array
  readonly e: Uint8Array
}

const ZERO = Uint8Array.of(0)
const ONE = Uint8Array.of(1)
const TWO = Uint8Array.of(2)

/**
 * SKEYID_d = prf(SKEYID, g^xy ‖ CKY-I ‖ CKY-R ‖ 0)
 * SKEYID_a = prf(SKEYID, SKEYID_d ‖ g^xy ‖ CKY-I ‖ CKY-R ‖ 1)
 * SKEYID_e = prf(SKEYID, SKEYID_a ‖ g^xy ‖ CKY-I ‖ CKY-R ‖ 2)
 * g^xy must already be left-padded to the prime length (dh.ts does that).
 * The result prints as '[key]' in JSON and util.inspect.
 */
export function deriveSkeyids(h: HashName, skeyid: Uint8Array, gxy: Uint8Array, ckyI: Uint8Array, ckyR: Uint8Array): Skeyids {
  requireLength(ckyI, 8, 'CKY-I')
  requireLength(ckyR, 8, 'CKY-R')
  const d = prf(h, skeyid, gxy, ckyI, ckyR, ZERO)
  const a = prf(h, skeyid, d, gxy, ckyI, ckyR, ONE)
  const e = prf(h, skeyid, a, gxy, ckyI, ckyR, TWO)
  return keyHolder({ skeyid, d, a, e })
}

/**
 * The cipher key Ka from SKEYID_e (RFC 2409 App. B): its first keyBytes octets when it is long
 * enough, else K1 = prf(SKEYID_e, 0x00), Kn = prf(SKEYID_e, Kn-1), Ka = (K1 ‖ K2 ‖ …)[0:keyBytes].
 * SHA-1 with 3DES/AES-192/AES-256 takes the expansion path.
 */
export function encryptionKey(h: HashName, skeyidE: Uint8Array, keyBytes: number): Uint8Array {
  if (!Number.isInteger(keyBytes) || keyBytes <= 0) throw new RangeError('keyBytes: must be a positive integer')
  if (skeyidE.length >= keyBytes) return copyBytes(skeyidE, 0, keyBytes)
  const blocks: Uint8Array[] = []
  let k: Uint8Array = ZERO
  let have = 0
  while (have < keyBytes) {
    k = prf(h, skeyidE, k)
    blocks.push(k)
    have += k.length
  }
  return concatBytes(...blocks).slice(0, keyBytes)
}
