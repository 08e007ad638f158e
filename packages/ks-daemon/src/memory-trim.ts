// After a burst of work — a registration storm, the ACKs of a rekey to every member — the key server's
// V8 heap is sized for the burst: twice or three times the live data, with the young generation grown to
// its maximum. V8 gives that back by itself only once its memory reducer notices the process is idle
// (seen: 20–120 s after a 10,000-member storm; bench/README.md "storm"). A key server is idle after a
// storm, so it does that at once: when at least `minDatagrams` datagrams came in and then none for
// `quietMs`, a full garbage collection (two, ≈ 60–150 ms in all at 10,000 members), at most once per
// `minIntervalMs`. Under steady traffic it never runs and V8's own heuristics apply.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Clock, Logger } from '@gdoi/daemon-kit'

export interface IdleTrimOptions {
  readonly clock: Clock
  readonly log: Logger
  /** No datagram for this long counts as idle (default 2 s). */
  readonly quietMs?: number
  /** Datagrams since the last trim that make a burst (default 1,000: ≈ 140 registrations). */
  readonly minDatagrams?: number
  /** At most one trim per this long (default 60 s). */
  readonly minIntervalMs?: number
  /** The full GC (default: V8's, see fullGc). */
  readonly gc?: () => void
}

/**
 * Keeps V8's young generation at its initial size (two 1 MiB semi-spaces) instead of letting it grow to
 * 2 × 16 MiB under a registration storm's allocation rate. The grown young generation stays committed
 * until a memory-reducing GC long after the storm, and it is most of what a storm leaves in RSS beyond
 * the members' own state (bench/README.md "storm": ≈ 30 MiB, 3 KiB per member at 10,000, 30 KiB per
 * member at 1,000). Measured cost: see the storm's KS CPU ratio. `--max-semi-space-size` cannot be
 * changed once the heap exists; the growth factor is read each time the young generation would grow,
 * so setting it to 1 at start-up has the same effect. Not done when the operator set the semi-space
 * size (node option or NODE_OPTIONS). Returns whether it was set.
 */
export function capYoungGeneration(): boolean {
  const opts = `${process.execArgv.join(' ')} ${process.env['NODE_OPTIONS'] ?? ''}`
  if (/semi[-_]space/.test(opts)) return false
  try {
    setFlagsFromString('--semi-space-growth-factor=1')
    return true
  } catch {
    return false
  }
}

let cachedGc: (() => void) | null | undefined

/** V8's full garbage collection: `gc` when node runs with --expose-gc, else taken from a fresh context
 *  with the flag set for that moment (the documented way to reach it at run time); null if neither. */
export function fullGc(): (() => void) | null {
  if (cachedGc !== undefined) return cachedGc
  const g = (globalThis as { gc?: unknown }).gc
  if (typeof g === 'function') return (cachedGc = g as () => void)
  try {
    setFlagsFromString('--expose-gc')
    const f = runInNewContext('gc') as unknown
    setFlagsFromString('--no-expose-gc')
    cachedGc = typeof f === 'function' ? (f as () => void) : null
  } catch {
    cachedGc = null
  }
  return cachedGc
}

export class IdleTrim {
  readonly #o: Required<Omit<IdleTrimOptions, 'gc'>> & { readonly gc: (() => void) | undefined }
  #datagrams = 0
  #lastActivityMs = 0
  #lastTrimMs = -Infinity
  #cancel: (() => void) | undefined
  #closed = false
  /** Trims done (tests, status). */
  trims = 0

  constructor(o: IdleTrimOptions) {
    this.#o = { quietMs: 2000, minDatagrams: 1000, minIntervalMs: 60_000, ...o, gc: o.gc }
  }

  /** A datagram came in. */
  activity(): void {
    this.#datagrams++
    this.#lastActivityMs = this.#o.clock.nowMs()
    if (this.#cancel === undefined && !this.#closed && this.#datagrams >= this.#o.minDatagrams) this.#arm(this.#o.quietMs)
  }

  close(): void {
    this.#closed = true
    this.#cancel?.()
    this.#cancel = undefined
  }

  #arm(ms: number): void {
    this.#cancel = this.#o.clock.setTimer(Math.max(1, ms), () => {
      this.#cancel = undefined
      this.#check()
    })
  }

  #check(): void {
    if (this.#closed) return
    const now = this.#o.clock.nowMs()
    const quietAt = this.#lastActivityMs + this.#o.quietMs
    const allowedAt = this.#lastTrimMs + this.#o.minIntervalMs
    if (now < quietAt || now < allowedAt) return this.#arm(Math.max(quietAt, allowedAt) - now)
    this.#datagrams = 0
    this.#lastTrimMs = now
    const gc = this.#o.gc ?? fullGc()
    if (gc === null) return
    const before = process.memoryUsage()
    const t0 = performance.now()
    gc()
    gc() // the pages the first one emptied are released only once they are swept: the second frees them
    const after = process.memoryUsage()
    this.trims++
    this.#o.log.debug(
      { ms: Math.round(performance.now() - t0), rssMiB: [mib(before.rss), mib(after.rss)], heapUsedMiB: [mib(before.heapUsed), mib(after.heapUsed)], heapTotalMiB: [mib(before.heapTotal), mib(after.heapTotal)] },
      'idle after a burst: memory given back (full GC)',
    )
  }
}

function mib(n: number): number {
  return Math.round((n / 1048576) * 10) / 10
}
