// The RFC 8263 ACKs this member sent, kept so that a retransmitted push can be acknowledged again.
// A key server retransmits a push to every member it has not heard from and counts the silent ones
// as missing (three misses in a row: removed from the rekey list). When our first ACK was lost, the
// retransmission is a byte-identical copy that processPush drops as 'duplicate' before any crypto —
// so the ACK must come from here, not from a second acceptance.
//
// Entries are keyed by (KEK SPI, SEQ) and remember the SHA-256 of the accepted push datagram (the same
// digest processPush's duplicate memory uses): only a duplicate of a push that WAS accepted and
// acknowledged finds an entry, so nothing that was not accepted is ever acknowledged. Bounded: the
// oldest entries go first, and each ACK is re-sent at most `maxResends` times (a KS retransmits at most
// 10 times; a replayed capture cannot make us an unbounded reflector).
import { createHash } from 'node:crypto'

export interface SentAck {
  readonly kekSpiHex: string
  readonly seq: number
  /** The ACK datagram as first sent (no key material: HDR, HASH, SEQ, ID). */
  readonly bytes: Uint8Array
  resends: number
}

/** The digest processPush keys its duplicate memory with (hex SHA-256 of the whole datagram). */
export function pushDigest(push: Uint8Array): string {
  return createHash('sha256').update(push).digest('hex')
}

export class AckCache {
  readonly capacity: number
  readonly maxResends: number
  /** `${kekSpiHex}/${seq}` → entry; Map order = insertion order, oldest first. */
  readonly #byKey = new Map<string, SentAck & { readonly pushDigest: string }>()

  constructor(capacity = 32, maxResends = 10) {
    this.capacity = capacity
    this.maxResends = maxResends
  }

  get size(): number {
    return this.#byKey.size
  }

  /** Records the ACK sent for an accepted push (`digest` = pushDigest() of that push). */
  remember(kekSpiHex: string, seq: number, digest: string, ack: Uint8Array): void {
    const key = `${kekSpiHex}/${seq}`
    this.#byKey.delete(key)
    this.#byKey.set(key, { kekSpiHex, seq, bytes: ack, resends: 0, pushDigest: digest })
    for (const k of this.#byKey.keys()) {
      if (this.#byKey.size <= this.capacity) break
      this.#byKey.delete(k)
    }
  }

  /**
   * The ACK to send again for a duplicate push, or undefined (not a push we acknowledged, or its
   * re-sends are used up). Counts the re-send.
   */
  resendFor(duplicatePush: Uint8Array): SentAck | undefined {
    if (this.#byKey.size === 0) return undefined
    const digest = pushDigest(duplicatePush)
    for (const e of this.#byKey.values()) {
      if (e.pushDigest !== digest) continue
      if (e.resends >= this.maxResends) return undefined
      e.resends++
      return e
    }
    return undefined
  }

  clear(): void {
    this.#byKey.clear()
  }
}
