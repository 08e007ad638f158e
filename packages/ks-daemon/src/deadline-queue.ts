// Many deadlines, one timer: a binary min-heap of (atMs, key, sub) with a single Clock timer armed for
// the earliest. The key server has one long deadline per registered member (its phase-1 SA's lifetime)
// and, for a while after each registration, one per finished GROUPKEY-PULL (how long PULL4 is kept for
// a repeated PULL3); a Node timer (+ closures) for each costs ≈0.5 KiB per member (bench/README.md).
// The heap is three parallel arrays (times and subs in Float64Arrays, keys in an array of the owner's
// own key strings): ≈ 24 bytes per deadline instead of an object with a boxed time (≈ 80).
// Entries are never removed early: when a deadline falls due, `onDue` decides whether its key still
// matters (the owner compares the deadline with its own record). `compact` drops the stale ones.
import type { Clock } from '@gdoi/daemon-kit'

const MIN_CAPACITY = 64

export class DeadlineQueue {
  readonly #clock: Clock
  readonly #onDue: (key: string, sub: number, atMs: number) => void
  #keys: string[] = []
  #at = new Float64Array(MIN_CAPACITY)
  #sub = new Float64Array(MIN_CAPACITY)
  #n = 0
  #cancel: (() => void) | undefined
  #armedAtMs: number | undefined

  constructor(clock: Clock, onDue: (key: string, sub: number, atMs: number) => void) {
    this.#clock = clock
    this.#onDue = onDue
  }

  get size(): number {
    return this.#n
  }

  add(key: string, sub: number, atMs: number): void {
    if (this.#n === this.#at.length) this.#resize(this.#n * 2)
    let i = this.#n++
    this.#keys[i] = key
    this.#at[i] = atMs
    this.#sub[i] = sub
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((this.#at[parent] as number) <= atMs) break
      this.#swap(parent, i)
      i = parent
    }
    this.#arm()
  }

  /** Keeps only the deadlines `live` says still matter (call when many owners went away early). */
  compact(live: (key: string, sub: number, atMs: number) => boolean): void {
    const kept: number[] = []
    for (let i = 0; i < this.#n; i++) if (live(this.#keys[i] as string, this.#sub[i] as number, this.#at[i] as number)) kept.push(i)
    kept.sort((a, b) => (this.#at[a] as number) - (this.#at[b] as number))
    const keys = kept.map((i) => this.#keys[i] as string)
    const cap = Math.max(MIN_CAPACITY, kept.length * 2)
    const at = new Float64Array(cap)
    const sub = new Float64Array(cap)
    kept.forEach((i, j) => {
      at[j] = this.#at[i] as number
      sub[j] = this.#sub[i] as number
    })
    this.#keys = keys // sorted by time: a valid heap
    this.#at = at
    this.#sub = sub
    this.#n = kept.length
    this.#disarm()
    this.#arm()
  }

  clear(): void {
    this.#keys = []
    this.#at = new Float64Array(MIN_CAPACITY)
    this.#sub = new Float64Array(MIN_CAPACITY)
    this.#n = 0
    this.#disarm()
  }

  #resize(cap: number): void {
    const at = new Float64Array(cap)
    const sub = new Float64Array(cap)
    at.set(this.#at.subarray(0, this.#n))
    sub.set(this.#sub.subarray(0, this.#n))
    this.#at = at
    this.#sub = sub
    this.#keys.length = this.#n
  }

  #swap(i: number, j: number): void {
    const k = this.#keys[i] as string
    this.#keys[i] = this.#keys[j] as string
    this.#keys[j] = k
    const a = this.#at[i] as number
    this.#at[i] = this.#at[j] as number
    this.#at[j] = a
    const s = this.#sub[i] as number
    this.#sub[i] = this.#sub[j] as number
    this.#sub[j] = s
  }

  /** Removes the earliest deadline (the caller read it at index 0). */
  #pop(): void {
    const last = --this.#n
    if (last > 0) this.#swap(0, last)
    this.#keys.pop()
    const n = this.#n
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < n && (this.#at[l] as number) < (this.#at[m] as number)) m = l
      if (r < n && (this.#at[r] as number) < (this.#at[m] as number)) m = r
      if (m === i) break
      this.#swap(m, i)
      i = m
    }
    if (this.#at.length > MIN_CAPACITY && n < this.#at.length / 4) this.#resize(Math.max(MIN_CAPACITY, n * 2))
  }

  #disarm(): void {
    this.#cancel?.()
    this.#cancel = undefined
    this.#armedAtMs = undefined
  }

  #arm(): void {
    if (this.#n === 0) return this.#disarm()
    const top = this.#at[0] as number
    if (this.#armedAtMs !== undefined && this.#armedAtMs <= top) return
    this.#disarm()
    this.#armedAtMs = top
    this.#cancel = this.#clock.setTimer(Math.max(0, top - this.#clock.nowMs()), () => this.#fire())
  }

  #fire(): void {
    this.#cancel = undefined
    this.#armedAtMs = undefined
    const now = this.#clock.nowMs()
    while (this.#n > 0 && (this.#at[0] as number) <= now) {
      const key = this.#keys[0] as string
      const sub = this.#sub[0] as number
      const at = this.#at[0] as number
      this.#pop()
      this.#onDue(key, sub, at)
    }
    this.#arm()
  }
}
