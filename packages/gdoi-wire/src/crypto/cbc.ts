// CBC encryption of ISAKMP bodies (phase 1, PULL, Informational, push). Spec §3.5: zero padding up
// to the block, none when the chain is already aligned; receivers never check padding. OpenSSL's
// own padding is always off.
import { createCipheriv, createDecipheriv } from 'node:crypto'
import { DecodeError } from '../errors.js'
import { cbcCipher, type CbcCipherName } from './algorithms.js'
import { concatBytes } from './bytes.js'

/**
 * Single DES is only in OpenSSL 3's legacy provider, which Node does not load. EDE3 with
 * K1 = K2 = K3 = K is exactly single DES (E_K ∘ D_K ∘ E_K = E_K), so use that.
 */
function opensslCipher(c: CbcCipherName, key: Uint8Array, iv: Uint8Array): [string, Uint8Array] {
  const spec = cbcCipher(c)
  if (key.length !== spec.keyBytes) throw new RangeError(`${c}: key must be ${spec.keyBytes} octets, got ${key.length}`)
  if (iv.length !== spec.blockBytes) throw new RangeError(`${c}: IV must be ${spec.blockBytes} octets, got ${iv.length}`)
  return c === 'des-cbc' ? ['des-ede3-cbc', concatBytes(key, key, key)] : [c, key]
}

/** Zero-pads the plaintext to the block size (no padding when already aligned), then CBC-encrypts. */
export function cbcEncrypt(c: CbcCipherName, key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const [name, k] = opensslCipher(c, key, iv)
  const block = cbcCipher(c).blockBytes
  if (plaintext.length === 0) throw new RangeError('cbcEncrypt: empty plaintext')
  const rem = plaintext.length % block
  const padded = rem === 0 ? plaintext : concatBytes(plaintext, new Uint8Array(block - rem))
  const ci = createCipheriv(name, k, iv).setAutoPadding(false)
  return concatBytes(ci.update(padded), ci.final())
}

/**
 * CBC-decrypts; the result still carries the sender's padding (walk the payload chain, ignore the
 * rest). Ciphertext that is empty or not a multiple of the block throws DecodeError('ERR_BAD_BLOCK');
 * its offset is relative to the ciphertext (where the incomplete block starts).
 */
export function cbcDecrypt(c: CbcCipherName, key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const [name, k] = opensslCipher(c, key, iv)
  const block = cbcCipher(c).blockBytes
  if (ciphertext.length === 0 || ciphertext.length % block !== 0) {
    const at = ciphertext.length - (ciphertext.length % block)
    throw new DecodeError('ERR_BAD_BLOCK', at, `${ciphertext.length} octets is not a non-zero multiple of the ${block}-octet ${c} block`)
  }
  const de = createDecipheriv(name, k, iv).setAutoPadding(false)
  return concatBytes(de.update(ciphertext), de.final())
}
