// Fresh KEKs and TEKs for a group (spec §1.7 "KS": TEK timer / KEK timer). All randomness comes from
// the injected rng (node:crypto randomBytes in the daemon), so tests can make runs reproducible.
// The results hold KeyBytes (asKey): they never reach a log line or a status answer.
import { asKey, type EspTransformConfig, type KekAlgorithmName } from '@gdoi/daemon-kit'
import { tekEncKeyBytes, type KekState, type TekState } from './store/index.js'

export type Rng = (n: number) => Uint8Array

/** IV ‖ key octets of KEK_ALGORITHM_KEY (spec §5.1: the IV comes first). */
export const KEK_ALGORITHM_KEY_BYTES: Readonly<Record<KekAlgorithmName, number>> = {
  'aes-256-cbc': 16 + 32,
  'aes-128-cbc': 16 + 16,
  '3des': 8 + 24,
}

export const AUTH_KEY_BYTES = { 'hmac-sha1': 20, 'hmac-sha256': 32, 'hmac-sha384': 48, 'hmac-sha512': 64 } as const

function isZero(b: Uint8Array): boolean {
  return b.every((x) => x === 0)
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/** A 16-octet KEK SPI (the push cookie pair): both halves non-zero, unlike any in `avoid`. */
export function newKekSpi(rng: Rng, avoid: readonly Uint8Array[] = []): Uint8Array {
  for (;;) {
    const spi = Uint8Array.from(rng(16))
    if (isZero(spi.subarray(0, 8)) || isZero(spi.subarray(8, 16))) continue
    if (avoid.some((a) => sameBytes(a, spi))) continue
    return spi
  }
}

/** A TEK SPI: 32 bits, above the IANA-reserved 1..255, unlike any in `avoid`. */
export function newTekSpi(rng: Rng, avoid: readonly number[] = []): number {
  for (;;) {
    const b = rng(4)
    const spi = (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0
    if (spi > 255 && !avoid.includes(spi)) return spi
  }
}

export function newKek(algorithm: KekAlgorithmName, lifetimeSec: number, nowMs: number, rng: Rng, avoid: readonly Uint8Array[] = []): KekState {
  return {
    spi: newKekSpi(rng, avoid),
    algorithm,
    algorithmKey: asKey(Uint8Array.from(rng(KEK_ALGORITHM_KEY_BYTES[algorithm]))),
    createdMs: nowMs,
    expiresMs: nowMs + lifetimeSec * 1000,
    seq: 0,
  }
}

export function newTek(transform: EspTransformConfig, lifetimeSec: number, nowMs: number, rng: Rng, avoid: readonly number[] = []): TekState {
  return {
    spi: newTekSpi(rng, avoid),
    transform,
    encKey: asKey(Uint8Array.from(rng(tekEncKeyBytes(transform)))),
    authKey: transform.integrity === null ? null : asKey(Uint8Array.from(rng(AUTH_KEY_BYTES[transform.integrity]))),
    createdMs: nowMs,
    expiresMs: nowMs + lifetimeSec * 1000,
  }
}

/** The KEK key without its leading IV: the RFC 8263 ACK base key (spec §5.6). */
export function kekKeyWithoutIv(k: Pick<KekState, 'algorithm' | 'algorithmKey'>): Uint8Array {
  const ivBytes = k.algorithm === '3des' ? 8 : 16
  return asKey(k.algorithmKey.subarray(ivBytes))
}
