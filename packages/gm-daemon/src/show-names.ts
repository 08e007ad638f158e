// The names Cisco's `show crypto gdoi` uses for algorithms (spec §6.3, captures/references.md §2a),
// so that people who know the router output recognise ours.
import type { EspTransformPolicy, KekPolicy, SigHashName } from '@gdoi/wire/exchange/index'
import { ESP_CIPHERS, ESP_INTEGRITY, KEK_CIPHERS } from '@gdoi/wire/exchange/policy-tables'

/** `esp-256-aes esp-sha256-hmac`, `esp-3des esp-md5-hmac`, `esp-256-gcm`. */
export function transformShowName(t: EspTransformPolicy): string {
  const bits = t.keyBits
  const sized = (base: string): string => (bits === undefined || bits === 128 ? `esp-${base}` : `esp-${bits}-${base}`)
  let cipher: string
  switch (t.cipher) {
    case '3des': cipher = 'esp-3des'; break
    case 'aes-cbc': cipher = sized('aes'); break
    case 'aes-ctr': cipher = sized('aes-ctr'); break
    case 'aes-gcm-8': cipher = `${sized('gcm')}-8`; break
    case 'aes-gcm-12': cipher = `${sized('gcm')}-12`; break
    case 'aes-gcm-16': cipher = sized('gcm'); break
    case 'aes-gmac': cipher = sized('gmac'); break
    case 'null': cipher = 'esp-null'; break
  }
  if (t.integrity === undefined) return cipher
  const integ = t.integrity === 'sha1' ? 'esp-sha-hmac' : `esp-${t.integrity}-hmac`
  return `${cipher} ${integ}`
}

/** ESP wire numbers of a SAT transform (EspSaParams fields). */
export function transformWire(t: EspTransformPolicy): { transformId: number; authAlgorithm?: number; keyLengthBits?: number } {
  return {
    transformId: ESP_CIPHERS[t.cipher].transformId,
    ...(t.integrity !== undefined ? { authAlgorithm: ESP_INTEGRITY[t.integrity].wire } : {}),
    ...(t.keyBits !== undefined ? { keyLengthBits: t.keyBits } : {}),
  }
}

/** "alg key size" / "sig key size" in bytes, as `show crypto gdoi` prints them. */
export function transformKeySizes(t: EspTransformPolicy): { algKeyBytes: number; sigKeyBytes: number } {
  return {
    algKeyBytes: t.cipher === 'null' ? 0 : (t.keyBits ?? (t.cipher === '3des' ? 192 : 128)) / 8,
    sigKeyBytes: t.integrity === undefined ? 0 : ESP_INTEGRITY[t.integrity].keyBytes,
  }
}

/** "Encrypt Algorithm" of the KEK POLICY block: AES / 3DES / DES. */
export function kekAlgorithmShowName(k: Pick<KekPolicy, 'algorithm'>): string {
  return k.algorithm === 'aes' ? 'AES' : k.algorithm === '3des' ? '3DES' : 'DES'
}

/** KEK IV length (octets) of its cipher. */
export function kekIvBytes(k: Pick<KekPolicy, 'algorithm'>): number {
  return KEK_CIPHERS[k.algorithm].blockBytes
}

/** "Sig Hash Algorithm": HMAC_AUTH_SHA (SHA-1), HMAC_AUTH_SHA256, … */
export function sigHashShowName(h: SigHashName): string {
  return h === 'sha1' ? 'HMAC_AUTH_SHA' : `HMAC_AUTH_${h.toUpperCase()}`
}

/** RFC 8263 KEK_ACK_REQUESTED values (spec §5.6). */
export function ackShowName(v: number | undefined): string {
  switch (v) {
    case undefined: return 'none'
    case 1: return 'RFC 8263 (KEK, SHA-256)'
    case 2: return 'RFC 8263 (LKH, SHA-256)'
    case 3: return 'RFC 8263 (KEK, SHA-512)'
    case 4: return 'RFC 8263 (LKH, SHA-512)'
    default: return `RFC 8263 (unknown value ${v})`
  }
}

export function spiHex(spi: number): string {
  return `0x${spi.toString(16).toUpperCase().padStart(8, '0')}`
}
