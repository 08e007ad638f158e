// ESP transform table (spec §4.1): what a TEK's SAT transform + key packet turn into on the wire.
// One row per (Transform ID, Auth Algorithm, Key Length). The octets of TEK_ALGORITHM_KEY and
// TEK_INTEGRITY_KEY are the ESP keys as delivered (no derivation); counter modes append a 4-octet salt.

import { AuthAlgorithm, EspTransform } from '../constants.js'

export interface EspSaParams {
  readonly spi: number
  /** EspTransform: 3 3DES, 12 AES-CBC, 13 AES-CTR, 18/19/20 AES-GCM-8/12/16, 23 AES-GMAC, 11 NULL. */
  readonly transformId: number
  /** AuthAlgorithm: 1 md5, 2 sha1, 5 sha256, 6 sha384, 7 sha512 (absent for GCM/GMAC). */
  readonly authAlgorithm?: number
  /** AES 128/192/256; when absent it is taken from the key length. */
  readonly keyLengthBits?: number
  /** TEK_ALGORITHM_KEY as delivered (GCM/GMAC/CTR: key ‖ 4-octet salt). */
  readonly encKey: Uint8Array
  /** TEK_INTEGRITY_KEY. */
  readonly authKey?: Uint8Array
}

/** How the payload is protected. */
export type EspMode = 'cbc' | 'gcm' | 'ctr' | 'gmac' | 'null'
export type EspHmacName = 'md5' | 'sha1' | 'sha256' | 'sha384' | 'sha512'

export interface EspSuite {
  readonly transformId: number
  readonly mode: EspMode
  /** node:crypto / OpenSSL cipher name ('aes-256-cbc', 'des-ede3-cbc', 'aes-128-gcm', 'aes-256-ctr'); undefined for NULL. */
  readonly cipher: string | undefined
  /** Cipher key octets, without the salt. */
  readonly keyBytes: number
  /** Salt octets at the end of TEK_ALGORITHM_KEY (RFC 4106/4543/3686): 4 or 0. */
  readonly saltBytes: number
  /** Explicit IV carried in each packet. */
  readonly ivBytes: number
  /** Payload‖Pad‖PadLen‖NextHdr is padded to a multiple of this (cipher block, or 4). */
  readonly blockBytes: number
  readonly icvBytes: number
  /** HMAC digest for CBC/CTR/NULL; undefined for GCM/GMAC (the AEAD tag is the ICV). */
  readonly hmac: EspHmacName | undefined
  readonly authKeyBytes: number
  /** SPI ‖ Seq ‖ IV. */
  readonly headerBytes: number
  /** Largest number of octets ESP adds to an inner packet (header, IV, padding, pad length, next header, ICV). */
  readonly maxOverheadBytes: number
}

export type EspSuiteErrorCode = 'ERR_ESP_UNSUPPORTED' | 'ERR_ESP_KEY_LENGTH'

export class EspSuiteError extends Error {
  override name = 'EspSuiteError'
  readonly code: EspSuiteErrorCode
  constructor(code: EspSuiteErrorCode, detail: string) {
    super(`${code}: ${detail}`)
    this.code = code
  }
}

export const ESP_HEADER_BYTES = 8

interface HmacRow { readonly name: EspHmacName; readonly keyBytes: number; readonly icvBytes: number }
const HMACS: ReadonlyMap<number, HmacRow> = new Map([
  [AuthAlgorithm.HMAC_MD5, { name: 'md5', keyBytes: 16, icvBytes: 12 }],
  [AuthAlgorithm.HMAC_SHA1, { name: 'sha1', keyBytes: 20, icvBytes: 12 }],
  [AuthAlgorithm.HMAC_SHA2_256, { name: 'sha256', keyBytes: 32, icvBytes: 16 }],
  [AuthAlgorithm.HMAC_SHA2_384, { name: 'sha384', keyBytes: 48, icvBytes: 24 }],
  [AuthAlgorithm.HMAC_SHA2_512, { name: 'sha512', keyBytes: 64, icvBytes: 32 }],
])

const GCM_ICV: ReadonlyMap<number, number> = new Map([
  [EspTransform.AES_GCM_8, 8],
  [EspTransform.AES_GCM_12, 12],
  [EspTransform.AES_GCM_16, 16],
])

function aesKeyBytes(p: EspSaParams, saltBytes: number): number {
  const fromKey = p.encKey.length - saltBytes
  const bytes = p.keyLengthBits === undefined ? fromKey : p.keyLengthBits / 8
  if (bytes !== 16 && bytes !== 24 && bytes !== 32) {
    throw new EspSuiteError('ERR_ESP_KEY_LENGTH', `AES key length ${p.keyLengthBits ?? fromKey * 8} bits`)
  }
  return bytes
}

function hmacRow(p: EspSaParams, required: boolean): HmacRow | undefined {
  if (p.authAlgorithm === undefined) {
    if (required) throw new EspSuiteError('ERR_ESP_UNSUPPORTED', `transform ${p.transformId} needs an auth algorithm`)
    return undefined
  }
  if (!required) throw new EspSuiteError('ERR_ESP_UNSUPPORTED', `transform ${p.transformId} takes no auth algorithm`)
  const row = HMACS.get(p.authAlgorithm)
  if (row === undefined) throw new EspSuiteError('ERR_ESP_UNSUPPORTED', `auth algorithm ${p.authAlgorithm}`)
  return row
}

function build(
  p: EspSaParams, mode: EspMode, cipher: string | undefined, keyBytes: number, saltBytes: number,
  ivBytes: number, blockBytes: number, icvBytes: number, h: HmacRow | undefined,
): EspSuite {
  if (p.encKey.length !== keyBytes + saltBytes) {
    throw new EspSuiteError('ERR_ESP_KEY_LENGTH', `TEK_ALGORITHM_KEY is ${p.encKey.length} octets, transform ${p.transformId} needs ${keyBytes + saltBytes}`)
  }
  const authKeyBytes = h?.keyBytes ?? 0
  if ((p.authKey?.length ?? 0) !== authKeyBytes) {
    throw new EspSuiteError('ERR_ESP_KEY_LENGTH', `TEK_INTEGRITY_KEY is ${p.authKey?.length ?? 0} octets, ${h?.name ?? 'no HMAC'} needs ${authKeyBytes}`)
  }
  const headerBytes = ESP_HEADER_BYTES + ivBytes
  return {
    transformId: p.transformId, mode, cipher, keyBytes, saltBytes, ivBytes, blockBytes, icvBytes,
    hmac: h?.name, authKeyBytes, headerBytes,
    maxOverheadBytes: headerBytes + (blockBytes - 1) + 2 + icvBytes,
  }
}

/** The suite of an SA; throws EspSuiteError for transforms we do not implement or keys of the wrong length. */
export function espSuite(p: EspSaParams): EspSuite {
  if (!Number.isInteger(p.spi) || p.spi < 0 || p.spi > 0xffffffff) {
    throw new EspSuiteError('ERR_ESP_UNSUPPORTED', `SPI ${p.spi} is not a 32-bit unsigned integer`)
  }
  switch (p.transformId) {
    case EspTransform.TRIPLE_DES: {
      if (p.keyLengthBits !== undefined && p.keyLengthBits !== 192) {
        throw new EspSuiteError('ERR_ESP_KEY_LENGTH', `3DES key length ${p.keyLengthBits} bits`)
      }
      const h = hmacRow(p, true)
      return build(p, 'cbc', 'des-ede3-cbc', 24, 0, 8, 8, h?.icvBytes ?? 0, h)
    }
    case EspTransform.AES_CBC: {
      const k = aesKeyBytes(p, 0)
      const h = hmacRow(p, true)
      return build(p, 'cbc', `aes-${k * 8}-cbc`, k, 0, 16, 16, h?.icvBytes ?? 0, h)
    }
    case EspTransform.AES_CTR: {
      const k = aesKeyBytes(p, 4)
      const h = hmacRow(p, true)
      return build(p, 'ctr', `aes-${k * 8}-ctr`, k, 4, 8, 4, h?.icvBytes ?? 0, h)
    }
    case EspTransform.AES_GCM_8:
    case EspTransform.AES_GCM_12:
    case EspTransform.AES_GCM_16: {
      const k = aesKeyBytes(p, 4)
      hmacRow(p, false)
      return build(p, 'gcm', `aes-${k * 8}-gcm`, k, 4, 8, 4, GCM_ICV.get(p.transformId) ?? 16, undefined)
    }
    case EspTransform.NULL_AUTH_AES_GMAC: {
      const k = aesKeyBytes(p, 4)
      hmacRow(p, false)
      return build(p, 'gmac', `aes-${k * 8}-gcm`, k, 4, 8, 4, 16, undefined)
    }
    case EspTransform.NULL: {
      const h = hmacRow(p, true)
      return build(p, 'null', undefined, 0, 0, 0, 4, h?.icvBytes ?? 0, h)
    }
    default:
      throw new EspSuiteError('ERR_ESP_UNSUPPORTED', `ESP transform ${p.transformId}`)
  }
}

/** Octets of Pad so that payload ‖ Pad ‖ PadLen ‖ NextHdr is a multiple of blockBytes. */
export function espPadBytes(payloadBytes: number, blockBytes: number): number {
  const r = (payloadBytes + 2) % blockBytes
  return r === 0 ? 0 : blockBytes - r
}

/** Total ESP length (header, IV, encrypted part, ICV) for an inner packet of payloadBytes. */
export function espLength(s: EspSuite, payloadBytes: number): number {
  return s.headerBytes + payloadBytes + espPadBytes(payloadBytes, s.blockBytes) + 2 + s.icvBytes
}

/**
 * The largest inner packet whose ESP tunnel packet (with an outer header of outerHeaderBytes) fits in
 * pathMtuBytes. Used for the ICMP "fragmentation needed" MTU.
 */
export function espMaxInnerBytes(s: EspSuite, pathMtuBytes: number, outerHeaderBytes = 20): number {
  const room = pathMtuBytes - outerHeaderBytes - s.headerBytes - s.icvBytes
  return Math.max(0, room - (room % s.blockBytes) - 2)
}
