// Which MM1s the key server dropped at its half-open cap, remembered so that a GM retransmitting one
// (same initiator cookie, same source) is admitted next time like a member would be: under a flood of
// spoofed MM1s, a real GM's retransmission is then not a lottery ticket again (README "Half-open SAs
// under a flood"). A fixed table of keyed hashes, overwritten freely: no allocation per drop, no
// eviction policy, and an attacker who does not know the key cannot aim collisions at a GM's slot.
import type { Endpoint } from '@gdoi/daemon-kit'

/** 2^21 slots (8 MiB): at 100 000 drops/s a GM's retransmission 7 s later still finds its first MM1
 *  with probability e^(-0.7 M / 2^21) ≈ 0.7. */
export const DROPPED_MM1_SLOTS = 1 << 21

export class DroppedMm1Memory {
  readonly #key: number
  readonly #slots: number
  /** Allocated at the first drop: a key server that never hits its cap never pays for it. */
  #table: Uint32Array | undefined

  /** key: 4 random octets (the hash key); slots: a power of two (tests use small tables). */
  constructor(key: Uint8Array, slots = DROPPED_MM1_SLOTS) {
    if (slots <= 0 || (slots & (slots - 1)) !== 0) throw new RangeError(`slots must be a power of two, got ${slots}`)
    this.#key = (((key[0] ?? 0) << 24) | ((key[1] ?? 0) << 16) | ((key[2] ?? 0) << 8) | (key[3] ?? 0)) >>> 0
    this.#slots = slots
  }

  remember(icookie: Uint8Array, from: Endpoint): void {
    const h = this.#hash(icookie, from)
    ;(this.#table ??= new Uint32Array(this.#slots))[h & (this.#slots - 1)] = h
  }

  /** Was this MM1 (cookie and source) dropped before, and not overwritten since? */
  seen(icookie: Uint8Array, from: Endpoint): boolean {
    if (this.#table === undefined) return false
    const h = this.#hash(icookie, from)
    return this.#table[h & (this.#slots - 1)] === h
  }

  /** Slot and tag: a keyed FNV-1a hash of the initiator cookie and the source, finalised (never 0, the empty tag). */
  #hash(icookie: Uint8Array, from: Endpoint): number {
    let h = this.#key
    for (const b of icookie) h = Math.imul(h ^ b, 0x01000193)
    const a = from.address
    for (let i = 0; i < a.length; i++) h = Math.imul(h ^ a.charCodeAt(i), 0x01000193)
    h = Math.imul(h ^ (from.port & 0xff), 0x01000193)
    h = Math.imul(h ^ (from.port >>> 8), 0x01000193)
    // FNV's low bits depend only on the inputs' and the key's low bits (a product's low bits do): mix
    // the high ones down (murmur3's finaliser) before the low bits pick the slot.
    h ^= h >>> 16
    h = Math.imul(h, 0x85ebca6b)
    h ^= h >>> 13
    h = Math.imul(h, 0xc2b2ae35)
    h ^= h >>> 16
    return h >>> 0 || 1
  }
}
