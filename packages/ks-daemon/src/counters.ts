// Counters the status output shows (like `show crypto gdoi ks` and the drop counters of the router).
// Protocol failures and dropped datagrams are counted by reason; nothing here is ever key material.

export class Counters {
  readonly #values = new Map<string, number>()

  inc(name: string, by = 1): void {
    this.#values.set(name, (this.#values.get(name) ?? 0) + by)
  }

  get(name: string): number {
    return this.#values.get(name) ?? 0
  }

  /** A sorted plain object, for status answers and tests. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.#values.entries()].sort(([a], [b]) => a.localeCompare(b)))
  }
}

/** Counter names (dotted: area.what[.reason]); reason suffixes are ours, never taken from packets. */
export const Counter = {
  DATAGRAMS_IN: 'datagrams.in',
  DATAGRAMS_OUT: 'datagrams.out',
  DECODE_ERROR: 'drop.decode', // + '.' + DecodeError code
  DROP: 'drop', // + '.' + reason
  IKE_ESTABLISHED: 'ike.established',
  IKE_FAILED: 'ike.failed', // + '.' + reason
  IKE_RETRANSMIT_ANSWERED: 'ike.retransmit-answered',
  /** An MM1 dropped: the half-open table was full and every half-open SA was past MM3. */
  HALF_OPEN_LIMIT: 'ike.half-open-limit',
  /** A half-open SA still waiting for MM3 evicted to make room for a new MM1 (a flood, sessions.ts). */
  HALF_OPEN_EVICTED: 'ike.half-open-evicted',
  /** A retransmitted MM1 (same cookie and source as one dropped at the cap) admitted ahead of the flood. */
  HALF_OPEN_RETRANSMIT_ADMITTED: 'ike.half-open-retransmit-admitted',
  /** Datagrams over `limits.maxDatagramBytes`, dropped before decoding. */
  DROP_OVERSIZED: 'drop.oversized',
  PULL_RETRANSMIT_ANSWERED: 'pull.retransmit-answered',
  REGISTRATIONS: 'registrations',
  REFUSED: 'registrations.refused', // + '.' + reason
  PULL_FAILED: 'pull.failed', // + '.' + reason
  PUSH_SENT: 'rekey.sent',
  PUSH_DATAGRAMS: 'rekey.datagrams',
  PUSH_RETRANSMITS: 'rekey.retransmits',
  /** A new primary retransmitting the previous primary's last push. */
  PUSH_RESUMED: 'rekey.resumed',
  ACK_RECEIVED: 'rekey.acks',
  ACK_REJECTED: 'rekey.acks.rejected', // + '.' + reason
  ACK_MISSING: 'rekey.acks.missing',
  MEMBERS_REMOVED: 'members.removed',
  STATE_SAVED: 'state.saved',
  STATE_SAVE_FAILED: 'state.save-failed',
  /** Clustered store: became primary / stopped being primary / a write refused because another is primary. */
  CLUSTER_ELECTED: 'cluster.elected',
  CLUSTER_STEPPED_DOWN: 'cluster.stepped-down',
  CLUSTER_FENCED: 'cluster.fenced',
  CLUSTER_SYNCED: 'cluster.synced',
  INTERNAL_ERROR: 'internal-error',
} as const
