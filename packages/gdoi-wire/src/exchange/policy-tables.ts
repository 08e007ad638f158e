// Name <-> number tables between the semantic group policy (group-policy.ts) and the wire values of
// spec §2.13 (SAK), §2.14 (SAT) and §4.1 (TEK key sizes). Data, not code.
import { AuthAlgorithm, EspTransform, KekAlgorithm, SigHash } from '../constants.js'
import type { HashName } from '../crypto/algorithms.js'

export type KekCipherName = 'des' | '3des' | 'aes'
export type SigHashName = HashName
export type EspCipherName = '3des' | 'aes-cbc' | 'aes-ctr' | 'aes-gcm-8' | 'aes-gcm-12' | 'aes-gcm-16' | 'aes-gmac' | 'null'
export type EspIntegrityName = 'md5' | 'sha1' | 'sha256' | 'sha384' | 'sha512'

export interface KekCipherInfo {
  readonly wire: number
  /** node:crypto cipher name for a given key size in bits. */
  readonly nodeName: (keyBits: number) => 'des-cbc' | 'des-ede3-cbc' | 'aes-128-cbc' | 'aes-192-cbc' | 'aes-256-cbc' | undefined
  readonly keyBits: readonly number[]
  readonly defaultKeyBits: number
  readonly blockBytes: number
}

export const KEK_CIPHERS: Readonly<Record<KekCipherName, KekCipherInfo>> = {
  des: { wire: KekAlgorithm.DES, nodeName: (b) => (b === 64 ? 'des-cbc' : undefined), keyBits: [64], defaultKeyBits: 64, blockBytes: 8 },
  '3des': { wire: KekAlgorithm.TRIPLE_DES, nodeName: (b) => (b === 192 ? 'des-ede3-cbc' : undefined), keyBits: [192], defaultKeyBits: 192, blockBytes: 8 },
  aes: {
    wire: KekAlgorithm.AES,
    nodeName: (b) => (b === 128 ? 'aes-128-cbc' : b === 192 ? 'aes-192-cbc' : b === 256 ? 'aes-256-cbc' : undefined),
    keyBits: [128, 192, 256],
    defaultKeyBits: 128,
    blockBytes: 16,
  },
}

export const SIG_HASHES: Readonly<Record<SigHashName, number>> = {
  md5: SigHash.MD5,
  sha1: SigHash.SHA1,
  sha256: SigHash.SHA256,
  sha384: SigHash.SHA384,
  sha512: SigHash.SHA512,
}

export interface EspCipherInfo {
  readonly transformId: number
  /** Allowed Key Length attribute values; empty = the attribute is not sent (fixed-size cipher). */
  readonly keyBits: readonly number[]
  /** TEK_ALGORITHM_KEY octets for a key size: key plus salt/nonce for counter modes (spec §4.1). */
  readonly encKeyBytes: (keyBits: number | undefined) => number
  /** true = AEAD/GMAC: no Authentication Algorithm attribute, no TEK_INTEGRITY_KEY. */
  readonly combined: boolean
  /** Counter-based IVs: senders need RFC 6054 sender IDs (spec §4.5). */
  readonly counterMode: boolean
}

const aesWithSalt = (b: number | undefined): number => (b ?? 128) / 8 + 4

export const ESP_CIPHERS: Readonly<Record<EspCipherName, EspCipherInfo>> = {
  '3des': { transformId: EspTransform.TRIPLE_DES, keyBits: [], encKeyBytes: () => 24, combined: false, counterMode: false },
  'aes-cbc': { transformId: EspTransform.AES_CBC, keyBits: [128, 192, 256], encKeyBytes: (b) => (b ?? 128) / 8, combined: false, counterMode: false },
  'aes-ctr': { transformId: EspTransform.AES_CTR, keyBits: [128, 192, 256], encKeyBytes: aesWithSalt, combined: false, counterMode: true },
  'aes-gcm-8': { transformId: EspTransform.AES_GCM_8, keyBits: [128, 192, 256], encKeyBytes: aesWithSalt, combined: true, counterMode: true },
  'aes-gcm-12': { transformId: EspTransform.AES_GCM_12, keyBits: [128, 192, 256], encKeyBytes: aesWithSalt, combined: true, counterMode: true },
  'aes-gcm-16': { transformId: EspTransform.AES_GCM_16, keyBits: [128, 192, 256], encKeyBytes: aesWithSalt, combined: true, counterMode: true },
  'aes-gmac': { transformId: EspTransform.NULL_AUTH_AES_GMAC, keyBits: [128, 192, 256], encKeyBytes: aesWithSalt, combined: true, counterMode: true },
  null: { transformId: EspTransform.NULL, keyBits: [], encKeyBytes: () => 0, combined: false, counterMode: false },
}

export interface EspIntegrityInfo {
  readonly wire: number
  readonly keyBytes: number
}

export const ESP_INTEGRITY: Readonly<Record<EspIntegrityName, EspIntegrityInfo>> = {
  md5: { wire: AuthAlgorithm.HMAC_MD5, keyBytes: 16 },
  sha1: { wire: AuthAlgorithm.HMAC_SHA1, keyBytes: 20 },
  sha256: { wire: AuthAlgorithm.HMAC_SHA2_256, keyBytes: 32 },
  sha384: { wire: AuthAlgorithm.HMAC_SHA2_384, keyBytes: 48 },
  sha512: { wire: AuthAlgorithm.HMAC_SHA2_512, keyBytes: 64 },
}

/** Reverse lookup in one of the tables above by wire number. */
export function byWire<K extends string>(table: Readonly<Record<K, { readonly wire: number }>>, wire: number): K | undefined {
  for (const k of Object.keys(table) as K[]) if (table[k].wire === wire) return k
  return undefined
}

export function espCipherByTransform(transformId: number): EspCipherName | undefined {
  for (const k of Object.keys(ESP_CIPHERS) as EspCipherName[]) if (ESP_CIPHERS[k].transformId === transformId) return k
  return undefined
}

export function sigHashByWire(wire: number): SigHashName | undefined {
  for (const k of Object.keys(SIG_HASHES) as SigHashName[]) if (SIG_HASHES[k] === wire) return k
  return undefined
}
