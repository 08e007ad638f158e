// Algorithm numbers (IKE phase-1 attributes, SA KEK attributes) → node:crypto names and sizes.
// Spec §3.1, §3.3, §2.13. Unknown numbers throw CryptoError('ERR_UNSUPPORTED_ALGORITHM'): RFC 6407
// §5.3.2 says to abort on an algorithm we do not understand, and the exchange turns that into a
// failed state.
import { IkeEncryption, IkeHash, KekAlgorithm, SigHash } from '../constants.js'
import { CryptoError } from './errors.js'

export type HashName = 'md5' | 'sha1' | 'sha256' | 'sha384' | 'sha512'
export type CbcCipherName = 'des-cbc' | 'des-ede3-cbc' | 'aes-128-cbc' | 'aes-192-cbc' | 'aes-256-cbc'

export interface CbcCipher {
  readonly name: CbcCipherName
  readonly keyBytes: number
  readonly blockBytes: number
}

const HASH_BYTES: Readonly<Record<HashName, number>> = { md5: 16, sha1: 20, sha256: 32, sha384: 48, sha512: 64 }

/** Output length of the hash (and of its HMAC) in octets. */
export function hashLength(h: HashName): number {
  return HASH_BYTES[h]
}

export function isHashName(s: string): s is HashName {
  return Object.hasOwn(HASH_BYTES, s)
}

// Frozen: callers get these shared objects back from ikeCipher/kekCipher.
const CIPHERS: Readonly<Record<CbcCipherName, CbcCipher>> = Object.freeze({
  'des-cbc': Object.freeze({ name: 'des-cbc', keyBytes: 8, blockBytes: 8 }),
  'des-ede3-cbc': Object.freeze({ name: 'des-ede3-cbc', keyBytes: 24, blockBytes: 8 }),
  'aes-128-cbc': Object.freeze({ name: 'aes-128-cbc', keyBytes: 16, blockBytes: 16 }),
  'aes-192-cbc': Object.freeze({ name: 'aes-192-cbc', keyBytes: 24, blockBytes: 16 }),
  'aes-256-cbc': Object.freeze({ name: 'aes-256-cbc', keyBytes: 32, blockBytes: 16 }),
})

export function cbcCipher(name: CbcCipherName): CbcCipher {
  return CIPHERS[name]
}

export function isCbcCipherName(s: string): s is CbcCipherName {
  return Object.hasOwn(CIPHERS, s)
}

/** Phase-1 Hash Algorithm attribute (RFC 2409 App. A; 3 = Tiger is not supported). */
export function ikeHashName(ikeHashAttr: number): HashName {
  switch (ikeHashAttr) {
    case IkeHash.MD5:
      return 'md5'
    case IkeHash.SHA1:
      return 'sha1'
    case IkeHash.SHA2_256:
      return 'sha256'
    case IkeHash.SHA2_384:
      return 'sha384'
    case IkeHash.SHA2_512:
      return 'sha512'
    default:
      throw new CryptoError('ERR_UNSUPPORTED_ALGORITHM', `IKE hash algorithm ${ikeHashAttr}`)
  }
}

/** KEK SIG_HASH_ALGORITHM attribute (RFC 6407 §5.3.5): 1 MD5 … 5 SHA-512. */
export function sigHashName(sigHashAttr: number): HashName {
  switch (sigHashAttr) {
    case SigHash.MD5:
      return 'md5'
    case SigHash.SHA1:
      return 'sha1'
    case SigHash.SHA256:
      return 'sha256'
    case SigHash.SHA384:
      return 'sha384'
    case SigHash.SHA512:
      return 'sha512'
    default:
      throw new CryptoError('ERR_UNSUPPORTED_ALGORITHM', `SIG_HASH_ALGORITHM ${sigHashAttr}`)
  }
}

/** AES needs an explicit key length (RFC 3602 §5.3 for IKE, RFC 6407 §5.3.3 for the KEK). */
function aes(keyLenBits: number | undefined, what: string): CbcCipher {
  if (keyLenBits === 128) return CIPHERS['aes-128-cbc']
  if (keyLenBits === 192) return CIPHERS['aes-192-cbc']
  if (keyLenBits === 256) return CIPHERS['aes-256-cbc']
  throw new CryptoError('ERR_BAD_KEY_LENGTH', `${what}: AES key length ${String(keyLenBits)} (need 128/192/256)`)
}

/**
 * Phase-1 Encryption Algorithm attribute (1 DES, 5 3DES, 7 AES-CBC). The key length attribute is
 * required for AES and ignored for the fixed-size ciphers.
 */
export function ikeCipher(encAttr: number, keyLenBits?: number): CbcCipher {
  switch (encAttr) {
    case IkeEncryption.DES_CBC:
      return CIPHERS['des-cbc']
    case IkeEncryption.TRIPLE_DES_CBC:
      return CIPHERS['des-ede3-cbc']
    case IkeEncryption.AES_CBC:
      return aes(keyLenBits, 'IKE encryption')
    default:
      throw new CryptoError('ERR_UNSUPPORTED_ALGORITHM', `IKE encryption algorithm ${encAttr}`)
  }
}

/** SA KEK KEK_ALGORITHM attribute (RFC 6407 §5.3.2: 1 DES, 2 3DES, 3 AES, all CBC). */
export function kekCipher(kekAlg: number, keyLenBits?: number): CbcCipher {
  switch (kekAlg) {
    case KekAlgorithm.DES:
      return CIPHERS['des-cbc']
    case KekAlgorithm.TRIPLE_DES:
      return CIPHERS['des-ede3-cbc']
    case KekAlgorithm.AES:
      return aes(keyLenBits, 'KEK_ALGORITHM')
    default:
      throw new CryptoError('ERR_UNSUPPORTED_ALGORITHM', `KEK_ALGORITHM ${kekAlg}`)
  }
}
