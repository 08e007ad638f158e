// Memory of recently processed message hashes: RFC 6407 §7.2.5 (KS drops replayed PULL messages) and
// §7.3.4 (GM drops duplicate pushes before any crypto). Bounded in size and age so a flood cannot grow
// it. This is the one mutable helper of the exchange layer: the daemon owns one instance (per phase-1
// SA or global) and passes it in; time comes from the caller, never from a clock.

export class HashMemory {
  readonly capacity: number
  readonly ttlMs: number
  readonly #expiry = new Map<string, number>()

  constructor(capacity = 4096, ttlMs = 600_000) {
    this.capacity = capacity
    this.ttlMs = ttlMs
  }

  get size(): number {
    return this.#expiry.size
  }

  has(key: string, nowMs: number): boolean {
    const exp = this.#expiry.get(key)
    if (exp === undefined) return false
    if (exp <= nowMs) {
      this.#expiry.delete(key)
      return false
    }
    return true
  }

  add(key: string, nowMs: number): void {
    this.#expiry.delete(key)
    this.#expiry.set(key, nowMs + this.ttlMs)
    // Map iteration is insertion order: evict the oldest entries first.
    for (const [k, exp] of this.#expiry) {
      if (this.#expiry.size <= this.capacity && exp > nowMs) break
      this.#expiry.delete(k)
    }
  }
}
