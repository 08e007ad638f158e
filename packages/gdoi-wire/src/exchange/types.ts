// Shared types of the sans-I/O exchanges (spec §1; STYLE "Exchanges as small explicit states").
// Each role is a state value plus a pure `step(state, event, ctx)` returning `[nextState, actions]`.
// Randomness and time are injected through ExchangeCtx so whole exchanges replay from vectors.
// Owned by the Main Mode workstream; the PULL/PUSH workstream may ADD members.
import type { CbcCipherName, HashName } from '../crypto/algorithms.js'
import type { IdPayload } from '../payloads/types.js'

export interface ExchangeCtx {
  /** n random octets (cookies, nonces, DH private keys, message IDs). */
  readonly rng: (n: number) => Uint8Array
  /** Milliseconds on any monotonic-enough clock; only stored (establishedAtMs), never compared here. */
  readonly nowMs: () => number
}

export type TimerName = 'retransmit' | 'expire'

export type Action =
  | { readonly type: 'send'; readonly bytes: Uint8Array }
  /** (Re)arm a one-shot timer: an armed timer of the same name is replaced. */
  | { readonly type: 'arm'; readonly timer: TimerName; readonly ms: number }
  | { readonly type: 'cancel'; readonly timer: TimerName }

export type ExchangeEvent =
  | { readonly type: 'start' }
  | { readonly type: 'datagram'; readonly bytes: Uint8Array }
  | { readonly type: 'timer'; readonly timer: TimerName }

/**
 * Requester retransmission: the last message is re-sent every `intervalMs`, at most `maxTries`
 * times after the first transmission; the next 'retransmit' timer after that fails the exchange
 * with reason 'timeout'. Independently, the whole exchange is abandoned after EXCHANGE_MAX_MS
 * (the 'expire' timer).
 */
export interface RetransmitPolicy {
  readonly intervalMs: number
  readonly maxTries: number
}

/** Cisco reference implementation defaults (spec §1.3): 7 s, 5 retransmissions. */
export const DEFAULT_RETRANSMIT: RetransmitPolicy = { intervalMs: 7000, maxTries: 5 }

/** An exchange that has not completed after this long is abandoned (spec §1.3, "Exchange-max-time"). */
export const EXCHANGE_MAX_MS = 120_000

/** The cipher of a phase-1 SA as returned by crypto `ikeCipher()`. */
export interface Phase1Cipher {
  readonly name: CbcCipherName
  readonly keyBytes: number
  readonly blockBytes: number
}

/** The result of Main Mode: everything a later exchange under this phase-1 SA needs. Keys must never be logged. */
export interface Phase1Sa {
  readonly role: 'initiator' | 'responder'
  readonly icookie: Uint8Array
  readonly rcookie: Uint8Array
  readonly hash: HashName
  readonly cipher: Phase1Cipher
  /** SKEYID itself (HASH_I/HASH_R key; exported only to a keylog so a decoder can check them). */
  readonly skeyid: Uint8Array
  readonly skeyidD: Uint8Array
  readonly skeyidA: Uint8Array
  readonly skeyidE: Uint8Array
  readonly encKey: Uint8Array
  /** Last ciphertext block of MM6: seeds every phase-2 / Informational IV. */
  readonly lastBlock: Uint8Array
  readonly localId: IdPayload
  readonly peerId: IdPayload
  /** SPKI DER when RSA-signature authenticated. */
  readonly peerPublicKey?: Uint8Array
  readonly lifetimeSec: number
  readonly establishedAtMs: number
}

/** A random, non-zero 32-bit Message ID (PULL, Informational) from the injected rng. */
export function randomMessageId(rng: (n: number) => Uint8Array): number {
  for (let i = 0; i < 16; i++) {
    const b = rng(4)
    const v = (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0
    if (v !== 0) return v
  }
  return 1 // an rng that returns zeros sixteen times in a row is a test double
}
