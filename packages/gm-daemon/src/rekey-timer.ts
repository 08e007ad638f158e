// When to re-register (spec §1.7 step 11, §6.2): a GM whose keys are not refreshed by a push starts a
// new registration about `beforeExpirySec` before the earliest expiry of what it holds, minus a random
// 0..jitterSec so that a whole group does not hit the key server in the same second. After every
// accepted push or registration the deadline is recomputed. When every key server failed, the next
// round starts after an exponential backoff (with jitter too). Randomness comes from the injected rng.
import type { Clock } from '@gdoi/daemon-kit'

export type Rng = (n: number) => Uint8Array

/** Uniform integer in [0, maxInclusive] from the injected rng. */
export function randomInt(rng: Rng, maxInclusive: number): number {
  if (maxInclusive <= 0) return 0
  const b = rng(4)
  const v = (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0
  return Math.floor((v / 0x1_0000_0000) * (maxInclusive + 1))
}

export interface ReregisterPolicy {
  readonly beforeExpirySec: number
  readonly jitterSec: number
}

/**
 * Absolute time to re-register for keys that expire at `deadlineMs`: deadline − before − jitter, but
 * never earlier than half-way between now and the deadline (short lifetimes must not make a GM
 * re-register in a loop), and never in the past.
 */
export function reregisterAtMs(nowMs: number, deadlineMs: number, p: ReregisterPolicy, rng: Rng): number {
  const jitterMs = randomInt(rng, p.jitterSec * 1000)
  const wanted = deadlineMs - p.beforeExpirySec * 1000 - jitterMs
  const halfway = nowMs + Math.floor(Math.max(0, deadlineMs - nowMs) / 2)
  return Math.max(nowMs, Math.max(wanted, Math.min(halfway, deadlineMs)))
}

export interface BackoffPolicy {
  /** First retry delay after a round in which every key server failed. */
  readonly baseMs: number
  /** Upper bound of the doubling delay. */
  readonly maxMs: number
  /** Random extra delay, 0..jitterMs. */
  readonly jitterMs: number
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 10_000, maxMs: 300_000, jitterMs: 5_000 }

/** Delay before round `round` (1 = after the first failed round). */
export function backoffMs(round: number, p: BackoffPolicy, rng: Rng): number {
  const exp = Math.min(p.maxMs, p.baseMs * 2 ** Math.max(0, Math.min(30, round - 1)))
  return exp + randomInt(rng, p.jitterMs)
}

/** One re-arming one-shot timer with its due time visible (for `status`). */
export class OneShot {
  readonly #clock: Clock
  #cancel: (() => void) | undefined
  #dueMs: number | undefined
  #reason: string | undefined

  constructor(clock: Clock) {
    this.#clock = clock
  }

  get dueMs(): number | undefined {
    return this.#dueMs
  }

  get reason(): string | undefined {
    return this.#reason
  }

  /** (Re)arms for absolute time `atMs`; a pending arm is replaced. */
  at(atMs: number, reason: string, fn: () => void): void {
    this.cancel()
    const delay = Math.max(0, atMs - this.#clock.nowMs())
    this.#dueMs = this.#clock.nowMs() + delay
    this.#reason = reason
    this.#cancel = this.#clock.setTimer(delay, () => {
      this.#cancel = undefined
      this.#dueMs = undefined
      this.#reason = undefined
      fn()
    })
  }

  cancel(): void {
    this.#cancel?.()
    this.#cancel = undefined
    this.#dueMs = undefined
    this.#reason = undefined
  }
}
