// ESP transforms in IOS spelling (`esp-aes 256 esp-sha-hmac`), as written in a YAML `transform:` or a
// `crypto ipsec transform-set`, and their SA TEK attribute values.
import { EspTransform, AuthAlgorithm, KekAlgorithm, IkeEncryption, IkeHash, IkeAuth } from '@gdoi/wire/constants'

export type EspCipher = 'aes-cbc' | 'aes-gcm' | '3des-cbc'
export type EspIntegrity = 'hmac-sha1' | 'hmac-sha256' | 'hmac-sha384' | 'hmac-sha512'

export interface EspTransformConfig {
  readonly cipher: EspCipher
  /** 128/192/256 for AES; 192 for 3DES. */
  readonly keyBits: number
  /** null for AES-GCM (an AEAD). */
  readonly integrity: EspIntegrity | null
}

export const DEFAULT_ESP_TRANSFORM: EspTransformConfig = { cipher: 'aes-cbc', keyBits: 256, integrity: 'hmac-sha1' }

const INTEGRITY: Readonly<Record<string, EspIntegrity>> = {
  'esp-sha-hmac': 'hmac-sha1',
  'esp-sha256-hmac': 'hmac-sha256',
  'esp-sha384-hmac': 'hmac-sha384',
  'esp-sha512-hmac': 'hmac-sha512',
}

export type TransformResult = { readonly ok: true; readonly transform: EspTransformConfig } | { readonly ok: false; readonly reason: string }

/** Parses IOS transform words: `esp-aes [128|192|256]`, `esp-gcm [128|256]`, `esp-3des` and one of
 *  `esp-sha-hmac`, `esp-sha256-hmac`, `esp-sha384-hmac`, `esp-sha512-hmac`. */
export function parseEspTransform(words: readonly string[]): TransformResult {
  let cipher: { c: EspCipher; bits: number } | undefined
  let integrity: EspIntegrity | undefined
  const fail = (reason: string): TransformResult => ({ ok: false, reason })
  for (let i = 0; i < words.length; i++) {
    const w = (words[i] ?? '').toLowerCase()
    const next = words[i + 1]
    const bitsArg = next !== undefined && /^\d+$/.test(next) ? Number(next) : undefined
    if (w === 'esp-aes' || w === 'esp-gcm') {
      if (cipher) return fail('more than one encryption transform')
      const bits = bitsArg ?? 128
      if (bitsArg !== undefined) i++
      const allowed = w === 'esp-aes' ? [128, 192, 256] : [128, 256]
      if (!allowed.includes(bits)) return fail(`${w} key size must be ${allowed.join(', ')}`)
      cipher = { c: w === 'esp-aes' ? 'aes-cbc' : 'aes-gcm', bits }
    } else if (w === 'esp-3des') {
      if (cipher) return fail('more than one encryption transform')
      cipher = { c: '3des-cbc', bits: 192 }
    } else if (INTEGRITY[w] !== undefined) {
      if (integrity) return fail('more than one integrity transform')
      integrity = INTEGRITY[w]
    } else if (w.startsWith('ah-')) {
      return fail(`${w}: AH is refused for group SAs (ESP only)`)
    } else if (w === 'esp-md5-hmac' || w === 'esp-des' || w === 'esp-null' || w === 'esp-gmac' || w === 'esp-seal') {
      return fail(`${w} is not supported (use esp-aes/esp-gcm with esp-sha-hmac/esp-sha256-hmac)`)
    } else if (w === 'comp-lzs') {
      return fail('comp-lzs (IPComp) is not supported for group SAs')
    } else {
      return fail(`unknown transform "${w}"`)
    }
  }
  if (!cipher) return fail('no encryption transform (esp-aes, esp-gcm or esp-3des)')
  if (cipher.c === 'aes-gcm') {
    if (integrity) return fail('esp-gcm is authenticated encryption: remove the integrity transform')
    return { ok: true, transform: { cipher: 'aes-gcm', keyBits: cipher.bits, integrity: null } }
  }
  if (!integrity) return fail(`${cipher.c === '3des-cbc' ? 'esp-3des' : 'esp-aes'} needs an integrity transform (esp-sha-hmac or esp-sha256-hmac)`)
  return { ok: true, transform: { cipher: cipher.c, keyBits: cipher.bits, integrity } }
}

/** Config spelling: `esp-aes 256 esp-sha-hmac`. */
export function espTransformName(t: EspTransformConfig): string {
  const enc = t.cipher === 'aes-cbc' ? `esp-aes ${t.keyBits}` : t.cipher === 'aes-gcm' ? `esp-gcm ${t.keyBits}` : 'esp-3des'
  const integ = Object.entries(INTEGRITY).find(([, v]) => v === t.integrity)?.[0]
  return integ ? `${enc} ${integ}` : enc
}

/** `show crypto gdoi` spelling: `esp-256-aes esp-sha-hmac`. */
export function espTransformShowName(t: EspTransformConfig): string {
  const enc = t.cipher === 'aes-cbc' ? `esp-${t.keyBits}-aes` : t.cipher === 'aes-gcm' ? `esp-${t.keyBits}-gcm` : 'esp-3des'
  const integ = Object.entries(INTEGRITY).find(([, v]) => v === t.integrity)?.[0]
  return integ ? `${enc} ${integ}` : enc
}

/** SA TEK values: ESP transform ID, AUTH_ALGORITHM (absent for GCM) and KEY_LENGTH (absent for 3DES). */
export function espTransformWire(t: EspTransformConfig): { readonly transformId: number; readonly authAlgorithm?: number; readonly keyLengthBits?: number } {
  const auth =
    t.integrity === 'hmac-sha1' ? AuthAlgorithm.HMAC_SHA1
    : t.integrity === 'hmac-sha256' ? AuthAlgorithm.HMAC_SHA2_256
    : t.integrity === 'hmac-sha384' ? AuthAlgorithm.HMAC_SHA2_384
    : t.integrity === 'hmac-sha512' ? AuthAlgorithm.HMAC_SHA2_512
    : undefined
  const id = t.cipher === 'aes-cbc' ? EspTransform.AES_CBC : t.cipher === 'aes-gcm' ? EspTransform.AES_GCM_16 : EspTransform.TRIPLE_DES
  return {
    transformId: id,
    ...(auth !== undefined ? { authAlgorithm: auth } : {}),
    ...(t.cipher !== '3des-cbc' ? { keyLengthBits: t.keyBits } : {}),
  }
}

export type KekAlgorithmName = 'aes-256-cbc' | 'aes-128-cbc' | '3des'
export const KEK_ALGORITHMS: readonly KekAlgorithmName[] = ['aes-256-cbc', 'aes-128-cbc', '3des']

/** SA KEK KEK_ALGORITHM / KEK_KEY_LENGTH. */
export function kekAlgorithmWire(a: KekAlgorithmName): { readonly kekAlgorithm: number; readonly keyLengthBits: number } {
  if (a === '3des') return { kekAlgorithm: KekAlgorithm.TRIPLE_DES, keyLengthBits: 192 }
  return { kekAlgorithm: KekAlgorithm.AES, keyLengthBits: a === 'aes-256-cbc' ? 256 : 128 }
}

export type IkeEncryptionName = 'aes-128' | 'aes-256' | '3des'
export type IkeHashName = 'sha1' | 'sha256'
export type IkeAuthName = 'pre-share' | 'rsa-sig'
export type DhGroupId = 2 | 5 | 14

/** Phase-1 transform attribute values (RFC 2409 App. A). */
export function ikePolicyWire(p: { readonly encryption: IkeEncryptionName; readonly hash: IkeHashName; readonly authentication: IkeAuthName }): {
  readonly encryption: number
  readonly keyLengthBits?: number
  readonly hash: number
  readonly authentication: number
} {
  return {
    encryption: p.encryption === '3des' ? IkeEncryption.TRIPLE_DES_CBC : IkeEncryption.AES_CBC,
    ...(p.encryption === '3des' ? {} : { keyLengthBits: p.encryption === 'aes-256' ? 256 : 128 }),
    hash: p.hash === 'sha1' ? IkeHash.SHA1 : IkeHash.SHA2_256,
    authentication: p.authentication === 'pre-share' ? IkeAuth.PRE_SHARED_KEY : IkeAuth.RSA_SIG,
  }
}
