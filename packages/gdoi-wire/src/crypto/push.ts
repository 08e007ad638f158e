// GROUPKEY-PUSH crypto (spec §5.1, §5.2; RFC 6407 §4, §5.3.6.1).
//   P     = SEQ ‖ [D…] ‖ [SA] ‖ [KD]            plaintext chain before SIG (its last Next Payload = 9)
//   HDR'  = KEK-SPI(16) ‖ 12 10 21 01 ‖ 00000000 ‖ uint32(28 + len(P) + 4 + S)   (S = signature octets)
//   h     = H_sig("rekey" ‖ HDR' ‖ P)          "rekey" is 5 ASCII octets, no NUL
//   'bare' form (gdoid, trace B): SIG = PKCS#1 v1.5 type 1 of h, no DigestInfo
//   'rfc'  form (RFC 6407 §5.3.6.1): standard RSASSA-PKCS1-v1_5 over "rekey" ‖ HDR' ‖ P
// The hashed Length is the *unpadded* message length; the on-wire header carries the padded one.
// Receivers also try the on-wire Length for tolerance (spec §5.2), and report which one matched.
import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { ExchangeType, ISAKMP_HEADER_BYTES, ISAKMP_VERSION, Flags, PayloadType } from '../constants.js'
import { cbcCipher, type CbcCipherName, type HashName } from './algorithms.js'
import { copyBytes, requireLength } from './bytes.js'
import { CryptoError } from './errors.js'
import { keyHolder } from './key-holder.js'
import { hash } from './prf.js'
import { rsaPublicKeyFromSpki, rsaSignRaw, rsaVerifyRaw } from './rsa.js'

export type PushSigForm = 'rfc' | 'bare'
export type PushLengthVariant = 'unpadded' | 'on-wire'
export type PushVerifyResult = { ok: true; form: PushSigForm; lengthVariant: PushLengthVariant } | { ok: false }

const REKEY = new TextEncoder().encode('rekey')
const SIG_HEADER_BYTES = 4 // generic header of the SIG payload

/**
 * KD KEK_ALGORITHM_KEY = IV ‖ key (RFC 6407 §5.6.2.1): IV = one cipher block, then the key. The
 * value comes from the wire, so a wrong length is a CryptoError('ERR_BAD_KEY_LENGTH').
 * The result prints as '[key]'.
 */
export function splitKekKey(c: CbcCipherName, kekAlgorithmKey: Uint8Array): { iv: Uint8Array; key: Uint8Array } {
  const { blockBytes, keyBytes } = cbcCipher(c)
  if (kekAlgorithmKey.length !== blockBytes + keyBytes) {
    throw new CryptoError('ERR_BAD_KEY_LENGTH', `KEK_ALGORITHM_KEY for ${c} must be ${blockBytes}+${keyBytes} octets, got ${kekAlgorithmKey.length}`)
  }
  return keyHolder({ iv: copyBytes(kekAlgorithmKey, 0, blockBytes), key: copyBytes(kekAlgorithmKey, blockBytes) })
}

/** "rekey" ‖ HDR' ‖ P with an explicit header Length. */
function signedBytesWithLength(kekSpi: Uint8Array, plaintextBeforeSig: Uint8Array, headerLength: number): Uint8Array {
  requireLength(kekSpi, 16, 'KEK SPI')
  const out = new Uint8Array(REKEY.length + ISAKMP_HEADER_BYTES + plaintextBeforeSig.length)
  const v = new DataView(out.buffer)
  out.set(REKEY, 0)
  const h = REKEY.length
  out.set(kekSpi, h)
  out[h + 16] = PayloadType.SEQ
  out[h + 17] = ISAKMP_VERSION
  out[h + 18] = ExchangeType.GROUPKEY_PUSH
  out[h + 19] = Flags.ENCRYPTION
  v.setUint32(h + 20, 0) // Message ID
  v.setUint32(h + 24, headerLength)
  out.set(plaintextBeforeSig, h + ISAKMP_HEADER_BYTES)
  return out
}

/** The bytes the KS signs: "rekey" ‖ HDR' (Length = unpadded message length) ‖ P. */
export function pushSignedBytes(kekSpi: Uint8Array, plaintextBeforeSig: Uint8Array, sigLen: number): Uint8Array {
  if (!Number.isInteger(sigLen) || sigLen <= 0) throw new RangeError('sigLen: must be a positive integer')
  return signedBytesWithLength(kekSpi, plaintextBeforeSig, ISAKMP_HEADER_BYTES + plaintextBeforeSig.length + SIG_HEADER_BYTES + sigLen)
}

/** Signs pushSignedBytes(...) with the KS key; the result is the SIG payload body. */
export function signPush(h: HashName, privateKey: KeyObject | string, signedBytes: Uint8Array, form: PushSigForm): Uint8Array {
  return form === 'bare'
    ? rsaSignRaw(privateKey, hash(h, signedBytes))
    : new Uint8Array(cryptoSign(h, signedBytes, privateKey))
}

function verifyForm(h: HashName, key: KeyObject, data: Uint8Array, sig: Uint8Array): PushSigForm | undefined {
  let rfc = false
  try {
    rfc = cryptoVerify(h, data, key, sig)
  } catch {
    rfc = false
  }
  if (rfc) return 'rfc'
  return rsaVerifyRaw(key, hash(h, data), sig) ? 'bare' : undefined
}

/**
 * Verifies a push SIG in both forms and both header-Length variants (unpadded first: that is what
 * gdoid and our KS sign). `onWireLength` is the Length field of the received header. A bad SPKI,
 * wrong-length signature or mismatch all give { ok: false }.
 */
export function verifyPush(
  h: HashName, publicKeySpkiDer: Uint8Array, kekSpi: Uint8Array, plaintextBeforeSig: Uint8Array,
  sig: Uint8Array, onWireLength: number,
): PushVerifyResult {
  const key = rsaPublicKeyFromSpki(publicKeySpkiDer)
  if (key === undefined) return { ok: false }
  const unpadded = ISAKMP_HEADER_BYTES + plaintextBeforeSig.length + SIG_HEADER_BYTES + sig.length
  const variants: [PushLengthVariant, number][] = [['unpadded', unpadded]]
  if (onWireLength !== unpadded) variants.push(['on-wire', onWireLength])
  for (const [lengthVariant, len] of variants) {
    if (!Number.isInteger(len) || len < 0 || len > 0xffffffff) continue
    const form = verifyForm(h, key, signedBytesWithLength(kekSpi, plaintextBeforeSig, len), sig)
    if (form !== undefined) return { ok: true, form, lengthVariant }
  }
  return { ok: false }
}
