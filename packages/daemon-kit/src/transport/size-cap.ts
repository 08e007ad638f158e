// The receive-size cap of both daemons' control planes (`limits.maxDatagramBytes`): a datagram over the
// cap is dropped before anything decodes it, counted, and logged at debug (at most one line a second).
//
// Why: decoding is linear in the input but allocates up to ~270× it for the worst 64 KB datagram
// (chains of empty 4-octet payloads, RELIABILITY.md "Worst cases"): ~17 MiB of transient garbage per
// datagram. 16 KiB cuts that to ~4 MiB and is far above every legitimate GDOI message:
//   * KS ← GM: MM1/MM3 < 300 octets, MM5 with an RSA-4096 certificate chain of three ≈ 5 KiB,
//     PULL1/PULL3/ACK < 200 octets;
//   * GM ← KS: PULL2 and pushes grow by ~63 octets per permit ACE per live TEK (measured: 1 ACE 236 /
//     460 octets, 100 ACEs 6 476 / 6 700 octets), so 16 KiB holds ~120 ACEs during a TEK overlap
//     (Cisco recommends keeping GET VPN ACLs far smaller); PULL4 stays ~500 octets.
// strongSwan drops IKE datagrams over 10 000 octets by default (`charon.max_packet`) for the same reason.
// The transport has already received the datagram (node:dgram reads up to 64 KiB); what the cap saves
// is the decode, the copy and everything after.
import type { Endpoint } from './types.js'
import { formatEndpoint } from './types.js'
import type { Logger } from '../log.js'
import { LogEvent } from '../log-events.js'

/** Default `limits.maxDatagramBytes` (see above). */
export const DEFAULT_MAX_DATAGRAM_BYTES = 16_384
/** Smallest cap a configuration may set: an MM5 with a certificate must still fit. */
export const MIN_MAX_DATAGRAM_BYTES = 2_048
/** Largest: the largest IPv4 UDP payload (65 507) fits, i.e. no cap. */
export const MAX_MAX_DATAGRAM_BYTES = 65_535

export interface SizeCapOptions {
  /** Datagrams of more octets than this are dropped (read at every datagram: a reload may change it). */
  readonly maxBytes: () => number
  /** Counts one dropped datagram (the daemon's own counter: `drop.oversized` / `decodeErrors.oversized`). */
  readonly count: () => void
  readonly log: Logger
  readonly nowMs: () => number
}

/** The check at a daemon's receive entry: `if (!cap.admit(bytes, from)) return` before anything else. */
export class DatagramSizeCap {
  readonly #o: SizeCapOptions
  /** Drops not logged yet: one debug line a second at most, however fast they come. */
  #unlogged = 0
  #loggedAtMs = -Infinity

  constructor(o: SizeCapOptions) {
    this.#o = o
  }

  /** false: the datagram is over the cap, and it was counted (and maybe logged). */
  admit(bytes: Uint8Array, from: Endpoint): boolean {
    const max = this.#o.maxBytes()
    if (bytes.length <= max) return true
    this.#o.count()
    this.#unlogged++
    const now = this.#o.nowMs()
    if (now - this.#loggedAtMs >= 1000) {
      this.#o.log.debug({ event: LogEvent.DATAGRAM_OVERSIZED, peer: formatEndpoint(from), bytes: bytes.length, limit: max, dropped: this.#unlogged }, 'oversized datagram dropped before decoding')
      this.#unlogged = 0
      this.#loggedAtMs = now
    }
    return false
  }
}
