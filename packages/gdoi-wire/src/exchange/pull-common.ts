// Helpers shared by both roles of GROUPKEY-PULL (spec §1.3): sealing a message whose first payload is
// HASH(n) over M-ID ‖ [Ni_b] ‖ [Nr_b] ‖ (everything after the HASH payload), and checking one.
import { ExchangeType, PayloadType } from '../constants.js'
import { DecodeError } from '../errors.js'
import { checkRules, type MessageRule } from '../rules.js'
import { macEqual } from '../crypto/bytes.js'
import { pullHash } from '../crypto/hash-payloads.js'
import { encodeChain } from '../message.js'
import type {
  DeletePayload,
  EncodeOptions,
  GapPayload,
  GdoiSaPayload,
  HashPayload,
  IdPayload,
  KeyDownloadPayload,
  NoncePayload,
  NotificationPayload,
  Payload,
  SeqPayload,
  SigPayload,
} from '../payloads/types.js'
import { bytesAfterFirstPayload, sealMessage, type OpenedMessage, type SealedMessage } from './protect.js'
import type { Phase1Sa } from './types.js'
import { equalBytes } from './util.js'

/** Nonce length we send (RFC 6407 §5.8 allows 8–128). */
export const DEFAULT_NONCE_BYTES = 16

/** Seals HDR*, HASH(n), rest… for a PULL message. `ni`/`nr` are the nonce bodies the HASH covers. */
export function sealPull(
  sa: Phase1Sa,
  messageId: number,
  iv: Uint8Array,
  ni: Uint8Array | undefined,
  nr: Uint8Array | undefined,
  rest: readonly Payload[],
  opts?: EncodeOptions,
): SealedMessage {
  const restBytes = rest.length > 0 ? encodeChain(rest, opts) : new Uint8Array(0)
  const data = pullHash(sa.hash, sa.skeyidA, messageId, ni, nr, restBytes)
  const hashPayload: HashPayload = { type: PayloadType.HASH, data }
  return sealMessage(sa, ExchangeType.GROUPKEY_PULL, messageId, iv, [hashPayload, ...rest], opts)
}

/** true when the first payload is HASH and equals prf(SKEYID_a, M-ID ‖ [Ni_b] ‖ [Nr_b] ‖ rest) (constant time). */
export function checkPullHash(sa: Phase1Sa, m: OpenedMessage, ni: Uint8Array | undefined, nr: Uint8Array | undefined): boolean {
  const first = m.chain.payloads[0]
  if (first === undefined || first.type !== PayloadType.HASH || 'unknown' in first) return false
  const expected = pullHash(sa.hash, sa.skeyidA, m.header.messageId, ni, nr, bytesAfterFirstPayload(m.plaintext, m.chain))
  return macEqual((first as HashPayload).data, expected)
}

/** The message-rule violation of an opened message, or undefined when it obeys `rule`. */
export function rulesError(rule: MessageRule, m: OpenedMessage): string | undefined {
  try {
    checkRules(rule, m.chain)
    return undefined
  } catch (e) {
    if (e instanceof DecodeError) return e.message
    throw e
  }
}

// Typed lookups in a decoded chain (OpaquePayload has a numeric `type`, so narrow explicitly).
function known(p: Payload): boolean {
  return !('unknown' in p)
}
export const payloadsOf = {
  nonce: (ps: readonly Payload[]) => ps.filter((p): p is NoncePayload => p.type === PayloadType.NONCE && known(p)),
  id: (ps: readonly Payload[]) => ps.filter((p): p is IdPayload => p.type === PayloadType.ID && known(p)),
  sa: (ps: readonly Payload[]) => ps.filter((p): p is GdoiSaPayload => p.type === PayloadType.SA && known(p) && (p as { kind?: string }).kind === 'gdoi'),
  seq: (ps: readonly Payload[]) => ps.filter((p): p is SeqPayload => p.type === PayloadType.SEQ && known(p)),
  kd: (ps: readonly Payload[]) => ps.filter((p): p is KeyDownloadPayload => p.type === PayloadType.KEY_DOWNLOAD && known(p)),
  gap: (ps: readonly Payload[]) => ps.filter((p): p is GapPayload => p.type === PayloadType.GAP && known(p)),
  notify: (ps: readonly Payload[]) => ps.filter((p): p is NotificationPayload => p.type === PayloadType.NOTIFICATION && known(p)),
  del: (ps: readonly Payload[]) => ps.filter((p): p is DeletePayload => p.type === PayloadType.DELETE && known(p)),
  sig: (ps: readonly Payload[]) => ps.filter((p): p is SigPayload => p.type === PayloadType.SIG && known(p)),
}

/** Byte equality for public values (datagrams, cookies); undefined never matches. */
export function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && equalBytes(a, b)
}

/** Lower-case hex. One flat string: these are long-lived memory keys (replay and duplicate memories),
 *  and `s +=` per octet kept a rope of 2-character pieces alive per key (≈1 KiB each on the KS). */
export function toHexString(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}
