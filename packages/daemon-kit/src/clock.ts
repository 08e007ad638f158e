// Time as an injected dependency: the daemons never call Date.now()/setTimeout directly, so tests run
// whole rekey schedules (hours of TEK/KEK lifetimes) in milliseconds with `createFakeClock()`.

export interface Clock {
  /** Wall-clock milliseconds since the epoch (persisted in state, compared with created/expires). */
  nowMs(): number
  /** Calls `fn` once after `ms`. Returns a cancel function (idempotent, safe after firing). */
  setTimer(ms: number, fn: () => void): () => void
}

/** setTimeout's delay is a signed 32-bit number; longer delays (30-day lifetimes) are chained. */
const MAX_TIMEOUT_MS = 0x7fffffff

export interface RealClockOptions {
  /** Unref timers so a pending rekey timer alone does not keep the process alive (default true). */
  readonly unref?: boolean
}

export function createRealClock(opts: RealClockOptions = {}): Clock {
  const unref = opts.unref ?? true
  return {
    nowMs: () => Date.now(),
    setTimer(ms, fn) {
      let handle: NodeJS.Timeout | undefined
      let cancelled = false
      const dueMs = Date.now() + Math.max(0, ms)
      const arm = (delay: number): void => {
        handle = setTimeout(() => {
          if (cancelled) return
          const left = dueMs - Date.now()
          if (left > 0 && delay === MAX_TIMEOUT_MS) arm(Math.min(left, MAX_TIMEOUT_MS))
          else fn()
        }, delay)
        if (unref) handle.unref()
      }
      arm(Math.min(Math.max(0, ms), MAX_TIMEOUT_MS))
      return () => {
        cancelled = true
        if (handle !== undefined) clearTimeout(handle)
      }
    },
  }
}

export interface FakeClock extends Clock {
  /** Moves time forward by `ms`, firing every timer that falls due (in due order; equal due times in the
   *  order they were set). Timers set by a firing timer fire too if they fall due within the window. */
  advance(ms: number): void
  /** Like `advance`, but lets promise jobs and I/O callbacks (setImmediate) run after each timer, for
   *  code that does async work in timer callbacks. */
  advanceAsync(ms: number): Promise<void>
  /** Fires timers until none is left or `limitMs` of fake time has passed (default one day). */
  runAll(limitMs?: number): void
  pendingTimers(): number
  /** Due time of the next timer, if any. */
  nextDueMs(): number | undefined
}

interface FakeTimer {
  readonly id: number
  readonly dueMs: number
  readonly fn: () => void
}

export function createFakeClock(startMs = 0): FakeClock {
  let now = startMs
  let nextId = 0
  const timers = new Map<number, FakeTimer>()

  const nextDue = (limit: number): FakeTimer | undefined => {
    let best: FakeTimer | undefined
    for (const t of timers.values()) {
      if (t.dueMs > limit) continue
      if (best === undefined || t.dueMs < best.dueMs || (t.dueMs === best.dueMs && t.id < best.id)) best = t
    }
    return best
  }

  const fireOne = (limit: number): boolean => {
    const t = nextDue(limit)
    if (t === undefined) return false
    timers.delete(t.id)
    now = Math.max(now, t.dueMs)
    t.fn()
    return true
  }

  const clock: FakeClock = {
    nowMs: () => now,
    setTimer(ms, fn) {
      const id = nextId++
      timers.set(id, { id, dueMs: now + Math.max(0, ms), fn })
      return () => {
        timers.delete(id)
      }
    },
    advance(ms) {
      if (!(ms >= 0)) throw new RangeError('advance(ms): ms must be >= 0')
      const target = now + ms
      while (fireOne(target));
      now = target
    },
    async advanceAsync(ms) {
      if (!(ms >= 0)) throw new RangeError('advanceAsync(ms): ms must be >= 0')
      const target = now + ms
      await settle()
      while (fireOne(target)) await settle()
      now = target
      await settle()
    },
    runAll(limitMs = 86_400_000) {
      const target = now + limitMs
      while (fireOne(target));
    },
    pendingTimers: () => timers.size,
    nextDueMs() {
      return nextDue(Number.POSITIVE_INFINITY)?.dueMs
    },
  }
  return clock
}

/** Lets queued promise jobs and setImmediate callbacks run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
