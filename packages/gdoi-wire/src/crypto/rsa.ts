// RSA "sign the bare hash": PKCS#1 v1.5 type-1 padding around the hash with no DigestInfo — the
// IKEv1 SIG payload and the gdoid form of the GROUPKEY-PUSH SIG (spec §1.2, §5.2, §3.7).
import { constants, createPublicKey, privateEncrypt, publicDecrypt, type KeyObject } from 'node:crypto'
import { macEqual } from './bytes.js'

export function rsaSignRaw(privateKeyPem: string | KeyObject, digest: Uint8Array): Uint8Array {
  return new Uint8Array(privateEncrypt({ key: privateKeyPem, padding: constants.RSA_PKCS1_PADDING }, digest))
}

/**
 * An RSA public key from a DER SubjectPublicKeyInfo (KD SIG_ALGORITHM_KEY), or undefined when the
 * bytes are not an RSA SPKI. The bytes come from the wire, so failure is a value, not an exception.
 */
export function rsaPublicKeyFromSpki(spkiDer: Uint8Array): KeyObject | undefined {
  const id = Buffer.from(spkiDer.buffer, spkiDer.byteOffset, spkiDer.byteLength).toString('base64')
  const hit = parsedKeys.get(id)
  if (hit !== undefined) return hit
  let k: KeyObject
  try {
    k = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' })
  } catch {
    return undefined
  }
  if (k.asymmetricKeyType !== 'rsa') return undefined
  if (parsedKeys.size >= PARSED_KEYS_MAX) parsedKeys.delete(parsedKeys.keys().next().value as string)
  parsedKeys.set(id, k)
  return k
}

/**
 * Parsed push-signing keys by SPKI (public values): every push is verified with the group's one key,
 * and parsing the DER costs more than the RSA verification itself (≈140 µs against ≈50 µs; a member
 * simulator verifying one push for 10,000 members spent 1.4 s here, bench/README.md "fanout").
 * A few entries: KEK rollovers and several groups; the oldest goes first.
 */
const parsedKeys = new Map<string, KeyObject>()
const PARSED_KEYS_MAX = 8

/** True when publicDecrypt(sig) yields exactly `digest` (constant-time compare). Never throws on bad input. */
export function rsaVerifyRaw(publicKey: KeyObject | Uint8Array, digest: Uint8Array, sig: Uint8Array): boolean {
  const key = publicKey instanceof Uint8Array ? rsaPublicKeyFromSpki(publicKey) : publicKey
  if (key === undefined) return false
  let recovered: Uint8Array
  try {
    recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, sig)
  } catch {
    return false // wrong length, bad padding, not a signature of this key
  }
  return macEqual(recovered, digest)
}
