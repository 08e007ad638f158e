// Small byte helpers shared by the exchange files (internal; not re-exported from index.ts).
import { timingSafeEqual } from 'node:crypto'
import { DecodeError } from '../errors.js'

/** Byte equality, not constant time: for cookies, datagrams and other public values only. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Constant-time equality for MACs (HASH payloads). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}

/** CKY-I ‖ CKY-R: the 16-octet SPI naming an ISAKMP SA in N and D payloads. */
export function isakmpSpi(icookie: Uint8Array, rcookie: Uint8Array): Uint8Array {
  const spi = new Uint8Array(16)
  spi.set(icookie, 0)
  spi.set(rcookie, 8)
  return spi
}

export function isZero(b: Uint8Array): boolean {
  for (const x of b) if (x !== 0) return false
  return true
}

/** A short description of a caught error for failure details (never key material). */
export function describeError(e: unknown): string {
  if (e instanceof DecodeError) return e.message
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e)
}
