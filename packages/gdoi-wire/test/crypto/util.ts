// Test helpers for the crypto tests: hex conversion and a minimal payload-chain walk, so HASH inputs
// can be cut out of decrypted plaintexts without depending on the codec workstream.

export const b = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'))
export const hex = (u: Uint8Array): string => Buffer.from(u).toString('hex')
export const u32 = (hex8: string): number => parseInt(hex8, 16)

export interface ChainPayload {
  readonly type: number // from the previous Next Payload (or the header's)
  readonly start: number
  readonly end: number
  readonly body: Uint8Array // without the 4-octet generic header
}

/**
 * Walks a plaintext payload chain from offset 0 using only the generic headers (Next Payload at +0,
 * Length at +2..3) until Next Payload = 0; whatever follows is encryption padding.
 */
export function walkChain(plain: Uint8Array, firstType: number): { payloads: ChainPayload[]; end: number } {
  const payloads: ChainPayload[] = []
  let off = 0
  let type = firstType
  for (;;) {
    const np = plain[off]
    const len = ((plain[off + 2] ?? 0) << 8) | (plain[off + 3] ?? 0)
    if (np === undefined || len < 4 || off + len > plain.length) throw new Error(`bad chain at ${off}`)
    payloads.push({ type, start: off, end: off + len, body: plain.subarray(off + 4, off + len) })
    off += len
    if (np === 0) return { payloads, end: off }
    type = np
  }
}

/** The HASH payload body (first payload) and every payload after it up to the end of the chain. */
export function splitAfterHash(plain: Uint8Array): { hash: Uint8Array; rest: Uint8Array; padding: Uint8Array } {
  const { payloads, end } = walkChain(plain, 8)
  const first = payloads[0]
  if (first === undefined) throw new Error('empty chain')
  return { hash: first.body, rest: plain.subarray(first.end, end), padding: plain.subarray(end) }
}

/** Ciphertext of an ISAKMP datagram (everything after the 28-octet header). */
export const body = (wire: Uint8Array): Uint8Array => wire.subarray(28)
/** Message ID from an ISAKMP header. */
export const messageIdOf = (wire: Uint8Array): number => new DataView(wire.buffer, wire.byteOffset).getUint32(20)
