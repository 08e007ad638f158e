// Encrypted ISAKMP messages under a phase-1 SA (spec §3.4, §3.5): HDR* ‖ CBC(encKey, iv, chain ‖ zero pad).
// The IV is the caller's business (phase-1 IV, last block of the previous message of the exchange, or
// H(last phase-1 block ‖ M-ID) for the first message of a phase-2 exchange); both functions return the
// last ciphertext block so the caller can chain the next IV.
import { DecodeError } from '../errors.js'
import { Flags, ISAKMP_VERSION } from '../constants.js'
import { cbcDecrypt, cbcEncrypt } from '../crypto/cbc.js'
import { lastBlock as lastCipherBlock } from '../crypto/iv-chain.js'
import { decodeChain, decodeMessage, encodeChain, encodeEncryptedMessage, saKindFor } from '../message.js'
import type { DecodedChain } from '../message.js'
import type { EncodeOptions, IsakmpHeader, Payload } from '../payloads/types.js'
import type { Phase1Sa } from './types.js'
import { equalBytes } from './util.js'

/** The part of a phase-1 SA that encryption needs (a full Phase1Sa fits; Main Mode uses it before MM6). */
export type SealKeys = Pick<Phase1Sa, 'icookie' | 'rcookie' | 'cipher' | 'encKey'>

export interface SealedMessage {
  readonly bytes: Uint8Array
  /** Last ciphertext block: the IV of the next message of the same exchange. */
  readonly lastBlock: Uint8Array
  /** The encoded payload chain before zero padding (what was encrypted, minus the pad). */
  readonly plaintext: Uint8Array
}

export interface OpenedMessage {
  readonly header: IsakmpHeader
  /** Decoded from `plaintext`; spans are offsets in `plaintext`; payload bytes are views into it. */
  readonly chain: DecodedChain
  /** The decrypted body, padding included. */
  readonly plaintext: Uint8Array
  readonly lastBlock: Uint8Array
}

/** Encodes `payloads` as a chain, encrypts it with the SA cipher under `iv` and prepends HDR* (E flag set). */
export function sealMessage(
  sa: SealKeys,
  exchange: number,
  messageId: number,
  iv: Uint8Array,
  payloads: readonly Payload[],
  opts?: EncodeOptions,
): SealedMessage {
  const first = payloads[0]
  if (first === undefined) throw new RangeError('sealMessage: empty payload list')
  const plaintext = encodeChain(payloads, opts)
  const ciphertext = cbcEncrypt(sa.cipher.name, sa.encKey, iv, plaintext)
  const bytes = encodeEncryptedMessage(
    {
      icookie: sa.icookie,
      rcookie: sa.rcookie,
      nextPayload: first.type,
      version: ISAKMP_VERSION,
      exchange,
      flags: Flags.ENCRYPTION,
      messageId,
    },
    ciphertext,
  )
  return { bytes, lastBlock: lastCipherBlock(ciphertext, sa.cipher.blockBytes), plaintext }
}

/**
 * Decodes the header of an encrypted message, checks its cookies against the SA, decrypts with `iv`
 * and decodes the payload chain (trailing padding ignored). Throws DecodeError on anything malformed,
 * including a plaintext that is not a valid chain (wrong key or IV).
 */
export function openMessage(sa: SealKeys, bytes: Uint8Array, iv: Uint8Array): OpenedMessage {
  const msg = decodeMessage(bytes)
  const { header } = msg
  if ((header.flags & Flags.ENCRYPTION) === 0 || msg.ciphertext === undefined) {
    throw new DecodeError('ERR_BAD_VALUE', 19, 'flags: E (encryption) flag expected')
  }
  if (!equalBytes(header.icookie, sa.icookie) || !equalBytes(header.rcookie, sa.rcookie)) {
    throw new DecodeError('ERR_BAD_VALUE', 0, 'cookies: not this SA')
  }
  const plaintext = cbcDecrypt(sa.cipher.name, sa.encKey, iv, msg.ciphertext)
  const chain = decodeChain(plaintext, 0, plaintext.length, header.nextPayload, saKindFor(header.exchange))
  return { header, chain, plaintext, lastBlock: lastCipherBlock(msg.ciphertext, sa.cipher.blockBytes) }
}

/** "Everything after the first (HASH) payload up to the end of the chain" (spec §1.3; padding excluded). */
export function bytesAfterFirstPayload(plaintext: Uint8Array, chain: DecodedChain): Uint8Array {
  const first = chain.spans[0]
  if (first === undefined) return plaintext.subarray(0, 0)
  return plaintext.subarray(first.end, chain.end)
}
