// Many deadlines, one timer: a binary min-heap of (atMs, key, sub) with a single Clock timer armed for
// the earliest. The key server has one long deadline per registered member (its phase-1 SA's lifetime)
// and, for a while after each registration, one per finished GROUPKEY-PULL (how long PULL4 is kept for
// a repeated PULL3); a Node timer (+ closures) for each costs ≈0.5 KiB per member (bench/README.md).
// Entries are never removed early: when a deadline falls due, `onDue` decides whether its key still
// matters (the owner compares the deadline with its own record). `compact` drops the stale ones.
import type { Clock } from '@gdoi/daemon-kit'

interface Deadline {
  readonly atMs: number
  readonly key: string
  readonly sub: number
}

export class DeadlineQueue {
  readonly #clock: Clock
  readonly #onDue: (key: string, sub: number, atMs: number) => void
  #heap: Deadline[] = []
  #cancel: (() => void) | undefined
  #armedAtMs: number | undefined

  constructor(clock: Clock, onDue: (key: string, sub: number, atMs: number) => void) {
    this.#clock = clock
    this.#onDue = onDue
  }

  get size(): number {
    return this.#heap.length
  }

  add(key: string, sub: number, atMs: number): void {
    const h = this.#heap
    h.push({ atMs, key, sub })
    let i = h.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      const a = h[parent] as Deadline
      const b = h[i] as Deadline
      if (a.atMs <= b.atMs) break
      h[parent] = b
      h[i] = a
      i = parent
    }
    this.#arm()
  }

  /** Keeps only the deadlines `live` says still matter (call when many owners went away early). */
  compact(live: (key: string, sub: number, atMs: number) => boolean): void {
    const kept = this.#heap.filter((d) => live(d.key, d.sub, d.atMs)).sort((a, b) => a.atMs - b.atMs)
    this.#heap = kept // a sorted array is a valid heap
    this.#disarm()
    this.#arm()
  }

  clear(): void {
    this.#heap = []
    this.#disarm()
  }

  #pop(): Deadline | undefined {
    const h = this.#heap
    const top = h[0]
    const last = h.pop()
    if (top === undefined || last === undefined || h.length === 0) return top
    h[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < h.length && (h[l] as Deadline).atMs < (h[m] as Deadline).atMs) m = l
      if (r < h.length && (h[r] as Deadline).atMs < (h[m] as Deadline).atMs) m = r
      if (m === i) break
      const t = h[m] as Deadline
      h[m] = h[i] as Deadline
      h[i] = t
      i = m
    }
    return top
  }

  #disarm(): void {
    this.#cancel?.()
    this.#cancel = undefined
    this.#armedAtMs = undefined
  }

  #arm(): void {
    const top = this.#heap[0]
    if (top === undefined) return this.#disarm()
    if (this.#armedAtMs !== undefined && this.#armedAtMs <= top.atMs) return
    this.#disarm()
    this.#armedAtMs = top.atMs
    this.#cancel = this.#clock.setTimer(Math.max(0, top.atMs - this.#clock.nowMs()), () => this.#fire())
  }

  #fire(): void {
    this.#cancel = undefined
    this.#armedAtMs = undefined
    const now = this.#clock.nowMs()
    for (let top = this.#heap[0]; top !== undefined && top.atMs <= now; top = this.#heap[0]) {
      this.#pop()
      this.#onDue(top.key, top.sub, top.atMs)
    }
    this.#arm()
  }
}
