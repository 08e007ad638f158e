// Small byte helpers for the crypto files. Other gdoi-wire modules import them by path; of these only
// `macEqual` is public API (index.ts). Inputs are Uint8Array; node:crypto's Buffers are Uint8Arrays too.
import { timingSafeEqual } from 'node:crypto'

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/** 4 octets, network order. Throws RangeError unless 0 <= v < 2^32 (a caller bug, not wire input). */
export function u32be(v: number, what: string): Uint8Array {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${what}: not a uint32`)
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, v)
  return out
}

export function u16be(v: number, what: string): Uint8Array {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`${what}: not a uint16`)
  return Uint8Array.of(v >>> 8, v & 0xff)
}

export function requireLength(b: Uint8Array, n: number, what: string): void {
  if (b.length !== n) throw new RangeError(`${what}: need ${n} octets, got ${b.length}`)
}

/**
 * Constant-time equality for MACs, HASH payloads and hashes. A length mismatch returns false at
 * once: lengths are public (they are on the wire), only the contents are secret.
 */
export function macEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

/** Strict hex → bytes (even length, [0-9a-fA-F] only); undefined when it is not hex. */
export function fromHex(s: string): Uint8Array | undefined {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return undefined
  return Uint8Array.from(Buffer.from(s, 'hex'))
}

/** A copy (never a view: Buffer#slice returns a view, and keys get zeroed independently). */
export function copyBytes(b: Uint8Array, start = 0, end = b.length): Uint8Array {
  return new Uint8Array(b.subarray(start, end))
}
