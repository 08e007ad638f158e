// CBC IVs of phase 1 and of every exchange protected by it (RFC 2409 App. B; spec §3.4):
//   MM5 IV                = H(g^xi ‖ g^xr)[0:block]
//   MM6 IV                = last ciphertext block of MM5
//   first msg of M-ID M   = H(last phase-1 block ‖ M)[0:block]   (PULL, Informational)
//   next msg of that M-ID = last ciphertext block of the previous message of that exchange
// H is the plain negotiated hash, not the prf. The push uses the KEK IV instead (push.ts).
import type { HashName } from './algorithms.js'
import { copyBytes, u32be } from './bytes.js'
import { hash } from './prf.js'

function checkBlock(h: HashName, digest: Uint8Array, blockBytes: number): void {
  if (!Number.isInteger(blockBytes) || blockBytes <= 0 || blockBytes > digest.length) {
    throw new RangeError(`blockBytes ${blockBytes} does not fit a ${h} digest`)
  }
}

export function phase1Iv(h: HashName, gxi: Uint8Array, gxr: Uint8Array, blockBytes: number): Uint8Array {
  const d = hash(h, gxi, gxr)
  checkBlock(h, d, blockBytes)
  return copyBytes(d, 0, blockBytes)
}

/** IV of the first message of a post-phase-1 exchange (GROUPKEY-PULL, Informational) with Message ID M. */
export function exchangeIv(h: HashName, lastPhase1Block: Uint8Array, messageId: number, blockBytes: number): Uint8Array {
  const d = hash(h, lastPhase1Block, u32be(messageId, 'messageId'))
  checkBlock(h, d, blockBytes)
  return copyBytes(d, 0, blockBytes)
}

/** The last cipher block of a ciphertext (the next IV in the chain), as a copy. */
export function lastBlock(ciphertext: Uint8Array, blockBytes: number): Uint8Array {
  if (!Number.isInteger(blockBytes) || blockBytes <= 0 || ciphertext.length < blockBytes) {
    throw new RangeError(`ciphertext shorter than one ${blockBytes}-octet block`)
  }
  return copyBytes(ciphertext, ciphertext.length - blockBytes)
}
