// Time as an injected dependency (STYLE "The I/O boundary"), so SA activation/expiry is testable.
export interface Clock {
  /** Milliseconds (epoch or monotonic: only differences matter here). */
  now(): number
  /** Calls fn after ms; returns a cancel function. */
  setTimer(ms: number, fn: () => void): () => void
}

// setTimeout fires at once (with a warning) beyond 2^31 − 1 ms (24.8 days); longer delays are chained.
const MAX_TIMEOUT_MS = 0x7fffffff

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const due = Date.now() + Math.max(0, ms)
    let t: NodeJS.Timeout
    const arm = (): void => {
      const left = due - Date.now()
      t = setTimeout(left > MAX_TIMEOUT_MS ? arm : fn, Math.min(Math.max(0, left), MAX_TIMEOUT_MS))
      t.unref()
    }
    arm()
    return () => clearTimeout(t)
  },
}
