// The key server's metrics (gdoi_ks_*). Two sources, neither of which needs code in the daemon:
//  - the status object (`ks.status()`, what `gdoi-ks status` shows), read at each scrape: members,
//    KEK/TEK lifetimes, sequence numbers and the daemon's own counters (decode errors, phase-1
//    failures, pull failures, drops …);
//  - the diagnostics channels (diag.ts), for the per-group event counts the status object does not
//    keep: registrations, rekeys sent, retransmissions, ACKs, members removed. Counted from the moment
//    createKsMetrics() subscribes, so create the metrics before starting the key server.
// Diagnostics messages of the key server carry no instance id; with several key servers in one process
// pass `filter`, otherwise all of them are counted.
import type { Registry } from 'prom-client'
import { DiagChannel, subscribe, type DiagMessage } from './diag.js'
import { Tally, derivedCounter, derivedGauge, labelOf, suffixed, viewCache, type Sample } from './metrics-util.js'

/** What the metrics read from the key server; ks-daemon's KsStatus has this shape. */
export interface KsMetricsView {
  readonly groups: readonly {
    readonly name: string
    readonly seq: number | null
    readonly members: readonly unknown[]
    readonly kek: { readonly spi: string; readonly remainingSec: number } | null
    readonly teks: readonly { readonly spi: string; readonly remainingSec: number }[]
  }[]
  readonly ikeSas: readonly unknown[]
  /** Main Modes in progress and their cap (absent in older key servers). */
  readonly ikeHalfOpen?: { readonly count: number; readonly limit: number }
  readonly pushesInProgress: readonly unknown[]
  /** ks-daemon counters.ts names: `pull.failed.bad-hash`, `drop.decode.ERR_TRUNCATED`, … */
  readonly counters: Readonly<Record<string, number>>
  /** Key servers sharing their state on etcd (ks-daemon cluster.ts); null/absent with a state file. */
  readonly cluster?: {
    readonly role: 'primary' | 'follower'
    readonly leaseAgeSec: number | null
    readonly instances: readonly unknown[]
    readonly fenceFailures: number
    /** Groups whose policy in this key server's own configuration differs from the primary's. */
    readonly policyMismatches?: number
    readonly store: {
      readonly available: boolean
      readonly endpoints: readonly { readonly endpoint: string; readonly healthy: boolean }[]
      /** Failed etcd requests by kind (auth, permission, tls, unavailable). */
      readonly errors?: Readonly<Record<string, number>>
    }
  } | null
}

export interface KsMetricsOptions {
  readonly source?: () => KsMetricsView
  /** Which diagnostics messages belong to this key server (default: all of them). */
  readonly filter?: (msg: DiagMessage) => boolean
}

export interface KsMetrics {
  /** The status object to read at each scrape (undefined: only the event counters are exported). */
  setSource(source: (() => KsMetricsView) | undefined): void
  /** Unsubscribes from the diagnostics channels. */
  close(): void
}

export function createKsMetrics(registry: Registry, opts: KsMetricsOptions = {}): KsMetrics {
  const view = viewCache<KsMetricsView>(opts.source)
  const counters = (): Readonly<Record<string, number>> => view.get()?.counters ?? {}
  const counter = (name: string): Sample<never>[] => {
    const c = counters()[name]
    return c === undefined ? [] : [[{}, c]]
  }
  const byReason = <L extends string>(label: L, prefix: string, skip?: string): Sample<L>[] =>
    [...suffixed(counters(), prefix)]
      .filter(([reason]) => skip === undefined || !reason.startsWith(skip))
      .map(([reason, v]) => [{ [label]: reason } as Record<L, string>, v])

  // ---- event counters (diagnostics channels) ----
  const registered = new Tally<'group' | 'result'>()
  const rekeys = new Tally<'group' | 'kind'>()
  const retransmits = new Tally<'group'>()
  const acks = new Tally<'group'>()
  const removed = new Tally<'group' | 'reason'>()
  const accept = opts.filter ?? (() => true)
  const on = (channel: DiagChannel, fn: (m: DiagMessage) => void): (() => void) =>
    subscribe(channel, (m) => {
      if (accept(m)) fn(m)
    })
  const unsubscribe = [
    on(DiagChannel.KS_MEMBER_REGISTERED, (m) => registered.add({ group: labelOf(m.group), result: 'registered' })),
    on(DiagChannel.KS_PUSH_SENT, (m) => rekeys.add({ group: labelOf(m.group), kind: labelOf(m['kind']).replace(/-rekey$/, '') })), // 'tek-rekey' → tek
    on(DiagChannel.KS_PUSH_RETRANSMIT, (m) => retransmits.add({ group: labelOf(m.group) })),
    on(DiagChannel.KS_ACK_RECEIVED, (m) => acks.add({ group: labelOf(m.group) })),
    on(DiagChannel.KS_MEMBER_REMOVED, (m) => removed.add({ group: labelOf(m.group), reason: labelOf(m['reason']) })),
  ]

  derivedCounter(
    registry,
    'gdoi_ks_registrations_total',
    'GROUPKEY-PULL registrations by group and result: "registered", or the failure (bad-hash, unknown-group, unauthorized, replay, timeout, malformed; group "" because a failed pull may name no group)',
    ['group', 'result'],
    () => [...registered.samples(), ...byReason('result', 'pull.failed.').map(([l, v]): Sample<'group' | 'result'> => [{ group: '', ...l }, v])],
  )
  derivedCounter(registry, 'gdoi_ks_rekeys_sent_total', 'GROUPKEY-PUSH rekeys sent (first transmission), by group and kind (tek, kek)', ['group', 'kind'], () => rekeys.samples())
  derivedCounter(registry, 'gdoi_ks_rekey_datagrams_sent_total', 'GROUPKEY-PUSH datagrams sent, retransmissions included (one per member for unicast rekeys)', [], () => counter('rekey.datagrams'))
  derivedCounter(registry, 'gdoi_ks_push_retransmissions_total', 'GROUPKEY-PUSH retransmission rounds, by group', ['group'], () => retransmits.samples())
  derivedCounter(registry, 'gdoi_ks_rekey_acks_received_total', 'Valid RFC 8263 rekey acknowledgements, by group', ['group'], () => acks.samples())
  derivedCounter(registry, 'gdoi_ks_rekey_acks_rejected_total', 'Rekey acknowledgements dropped, by reason', ['reason'], () => byReason('reason', 'rekey.acks.rejected.'))
  derivedCounter(registry, 'gdoi_ks_rekey_acks_missing_total', 'Members that did not acknowledge a rekey after all retransmissions', [], () => counter('rekey.acks.missing'))
  derivedCounter(registry, 'gdoi_ks_members_removed_total', 'Members dropped from a group, by group and reason', ['group', 'reason'], () => removed.samples())
  derivedCounter(registry, 'gdoi_ks_phase1_established_total', 'IKEv1 Main Mode (phase 1) SAs established', [], () => counter('ike.established'))
  derivedCounter(registry, 'gdoi_ks_phase1_failures_total', 'IKEv1 Main Mode (phase 1) exchanges that failed, by reason', ['reason'], () => byReason('reason', 'ike.failed.'))
  derivedCounter(registry, 'gdoi_ks_decode_errors_total', 'Undecodable datagrams dropped, by DecodeError code', ['code'], () => byReason('code', 'drop.decode.'))
  derivedCounter(registry, 'gdoi_ks_datagrams_dropped_total', 'Datagrams dropped for reasons other than decoding, by reason', ['reason'], () => byReason('reason', 'drop.', 'decode.'))
  derivedCounter(registry, 'gdoi_ks_datagrams_received_total', 'UDP datagrams received on the GDOI port', [], () => counter('datagrams.in'))
  derivedCounter(registry, 'gdoi_ks_datagrams_sent_total', 'UDP datagrams sent from the GDOI port', [], () => counter('datagrams.out'))
  derivedCounter(registry, 'gdoi_ks_state_saves_total', 'State file saves, by result (ok, failed)', ['result'], () => [
    ...counter('state.saved').map(([, v]): Sample<'result'> => [{ result: 'ok' }, v]),
    ...counter('state.save-failed').map(([, v]): Sample<'result'> => [{ result: 'failed' }, v]),
  ])
  derivedCounter(registry, 'gdoi_ks_internal_errors_total', 'Bugs caught at the receive boundary or in timers (see the error log)', [], () => counter('internal-error'))

  // ---- gauges (status object) ----
  const groups = (): KsMetricsView['groups'] => view.get()?.groups ?? []
  derivedGauge(registry, 'gdoi_ks_members', 'Registered group members, by group', ['group'], () => groups().map((g) => [{ group: g.name }, g.members.length]))
  derivedGauge(registry, 'gdoi_ks_rekey_sequence', 'Current GROUPKEY-PUSH sequence number, by group', ['group'], () =>
    groups().flatMap((g): Sample<'group'>[] => (g.seq === null ? [] : [[{ group: g.name }, g.seq]])),
  )
  derivedGauge(registry, 'gdoi_ks_kek_remaining_lifetime_seconds', 'Seconds until the KEK expires, by group and KEK SPI (the ISAKMP cookie pair)', ['group', 'spi'], () =>
    groups().flatMap((g): Sample<'group' | 'spi'>[] => (g.kek === null ? [] : [[{ group: g.name, spi: g.kek.spi }, g.kek.remainingSec]])),
  )
  derivedGauge(registry, 'gdoi_ks_tek_remaining_lifetime_seconds', 'Seconds until each live TEK expires, by group and SPI', ['group', 'spi'], () =>
    groups().flatMap((g) => g.teks.map((t): Sample<'group' | 'spi'> => [{ group: g.name, spi: t.spi }, t.remainingSec])),
  )
  derivedGauge(registry, 'gdoi_ks_phase1_sas', 'IKEv1 SAs (established or being negotiated)', [], () => {
    const v = view.get()
    return v === undefined ? [] : [[{}, v.ikeSas.length]]
  })
  derivedGauge(registry, 'gdoi_ks_phase1_half_open', 'IKEv1 Main Modes in progress (half-open SAs); at most gdoi_ks_phase1_half_open_limit', [], () => {
    const h = view.get()?.ikeHalfOpen
    return h === undefined ? [] : [[{}, h.count]]
  })
  derivedGauge(registry, 'gdoi_ks_phase1_half_open_limit', 'The cap on half-open SAs (limits.maxHalfOpenSa); when reached, MM1s evict the oldest SA waiting for MM3', [], () => {
    const h = view.get()?.ikeHalfOpen
    return h === undefined ? [] : [[{}, h.limit]]
  })
  derivedGauge(registry, 'gdoi_ks_pushes_in_progress', 'Rekeys still being retransmitted or waiting for acknowledgements', [], () => {
    const v = view.get()
    return v === undefined ? [] : [[{}, v.pushesInProgress.length]]
  })

  // ---- key-server cluster on etcd (only when the status has one) ----
  const cluster = (): NonNullable<KsMetricsView['cluster']> | undefined => view.get()?.cluster ?? undefined
  const one = (f: (c: NonNullable<KsMetricsView['cluster']>) => number | null): Sample<never>[] => {
    const c = cluster()
    const v = c === undefined ? null : f(c)
    return v === null ? [] : [[{}, v]]
  }
  derivedGauge(registry, 'gdoi_ks_cluster_primary', '1 when this key server is the primary of its etcd cluster (sends the rekeys), 0 when a follower', [], () => one((c) => (c.role === 'primary' ? 1 : 0)))
  derivedGauge(registry, 'gdoi_ks_cluster_instances', 'Key servers of the cluster that hold a live lease', [], () => one((c) => c.instances.length))
  derivedGauge(registry, 'gdoi_ks_cluster_lease_age_seconds', "Seconds since this key server's etcd lease was last renewed", [], () => one((c) => c.leaseAgeSec))
  derivedGauge(registry, 'gdoi_ks_store_available', '1 while etcd answers this key server, 0 while it does not (no rekey can be saved or sent)', [], () => one((c) => (c.store.available ? 1 : 0)))
  derivedGauge(registry, 'gdoi_ks_store_endpoint_healthy', 'Each etcd endpoint: 1 healthy, 0 not (polled every 5 s)', ['endpoint'], () =>
    (cluster()?.store.endpoints ?? []).map((e): Sample<'endpoint'> => [{ endpoint: e.endpoint }, e.healthy ? 1 : 0]),
  )
  derivedCounter(registry, 'gdoi_ks_cluster_fence_refusals_total', 'Writes etcd refused because another key server had become primary (no push was sent)', [], () => one((c) => c.fenceFailures))
  derivedGauge(registry, 'gdoi_ks_cluster_policy_mismatch', "Groups whose policy in this key server's configuration differs from the primary's (it serves the primary's)", [], () => one((c) => c.policyMismatches ?? null))
  derivedCounter(registry, 'gdoi_ks_store_errors_total', 'Failed etcd requests, by kind (auth: user/password refused, permission, tls, unavailable)', ['kind'], () =>
    Object.entries(cluster()?.store.errors ?? {}).map(([kind, v]): Sample<'kind'> => [{ kind }, v]),
  )

  return {
    setSource: (source) => view.set(source),
    close: () => {
      for (const u of unsubscribe) u()
    },
  }
}
