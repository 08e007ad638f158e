// A FIFO with lazy deletion, for the half-open SAs waiting for MM3 (the eviction candidates when the
// table is full, oldest first). An entry that moved on or went away is not removed when that happens
// but skipped when it reaches the head: a Map's iterator would walk over the holes of every deleted
// entry on each eviction, which is quadratic under a flood. The array is compacted when mostly stale.
export class LazyQueue<T> {
  #items: (T | undefined)[] = []
  #head = 0
  /** Is this entry still a live member of the queue? (Decided by the owner: state, identity.) */
  readonly #live: (item: T) => boolean

  constructor(live: (item: T) => boolean) {
    this.#live = live
  }

  /** Entries held, stale ones included (what compaction looks at). */
  get length(): number {
    return this.#items.length - this.#head
  }

  /**
   * Appends an entry. Without evictions stale entries never reach the head: once more than
   * `2 × liveBound + 1024` are held, the stale ones are dropped in one pass.
   */
  push(item: T, liveBound: number): void {
    this.#items.push(item)
    if (this.length > 2 * liveBound + 1024) {
      this.#items = this.#items.slice(this.#head).filter((x) => x !== undefined && this.#live(x))
      this.#head = 0
    }
  }

  /** The oldest live entry, stale ones before it discarded; undefined when there is none. */
  peek(): T | undefined {
    const q = this.#items
    let found: T | undefined
    while (found === undefined && this.#head < q.length) {
      const e = q[this.#head]
      if (e !== undefined && this.#live(e)) found = e
      else q[this.#head++] = undefined
    }
    if (this.#head >= 1024 && this.#head * 2 >= q.length) {
      this.#items = q.slice(this.#head)
      this.#head = 0
    }
    return found
  }

  /** Removes the head (after peek() returned it). */
  shift(): void {
    if (this.#head < this.#items.length) this.#items[this.#head++] = undefined
  }

  clear(): void {
    this.#items = []
    this.#head = 0
  }
}
