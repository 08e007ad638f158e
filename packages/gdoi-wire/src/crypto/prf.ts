// prf = HMAC with the negotiated hash, H = the plain hash (spec §3.1). Data is fed in pieces so
// callers never concatenate large buffers just to hash them.
import { createHash, createHmac } from 'node:crypto'
import type { HashName } from './algorithms.js'

export function prf(hash: HashName, key: Uint8Array, ...data: Uint8Array[]): Uint8Array {
  const m = createHmac(hash, key)
  for (const d of data) m.update(d)
  return m.digest()
}

export function hash(hash: HashName, ...data: Uint8Array[]): Uint8Array {
  const m = createHash(hash)
  for (const d of data) m.update(d)
  return m.digest()
}
