// The group member's metrics (gdoi_gm_*), every series labelled with the member's group. Sources:
//  - the status object (`gm.status()`, what `gdoi-gm status` shows), read at each scrape: registration
//    state and counts, rekeys received/rejected/acknowledged, KEK/TEK lifetimes, decode errors and,
//    while the TUN data plane runs, its counters (global and per SA: packets/bytes encrypted and
//    decrypted, drops by reason) — the data plane counts in plain integers per packet, the metrics only
//    read them;
//  - the diagnostics channels, for what the status keeps no count of: phase-1 results, failed
//    registration rounds and key-server failovers. Only messages with a `gm` field are counted (the key
//    server publishes on the shared ike channels too); `member` narrows that to one member.
import type { Registry } from 'prom-client'
import { DiagChannel, subscribe, type DiagMessage } from './diag.js'
import { Tally, derivedCounter, derivedGauge, labelOf, viewCache, type Labels, type Sample } from './metrics-util.js'

/** What the metrics read from the group member; gm-daemon's GmStatus has this shape. */
export interface GmMetricsView {
  readonly group: { readonly name: string }
  readonly registration: { readonly status: string; readonly succeeded: number; readonly attempted: number }
  readonly rekeys: {
    readonly receivedUnicast: number
    readonly receivedMulticast: number
    readonly acksSent: number
    readonly lastSeq: number | null
    readonly rejected: Readonly<Record<string, number>>
  }
  readonly keks: readonly { readonly spi: string; readonly lifetimeSec: number | null }[]
  readonly ipsecSas: readonly { readonly spiHex: string; readonly remainingSec: number }[]
  readonly isakmpSas: readonly { readonly kind: string }[]
  readonly decodeErrors: Readonly<Record<string, number>>
  readonly dataPlane: GmDataPlaneView | null
}

export interface GmDataPlaneView {
  readonly running: boolean
  /** gm-daemon DataPlaneCounters: rxPackets, encryptedBytes, dropAuth, … */
  readonly counters: { readonly [name: string]: number }
  readonly sas: readonly {
    readonly spi: string
    readonly packetsEncrypted: number
    readonly bytesEncrypted: number
    readonly packetsDecrypted: number
    readonly bytesDecrypted: number
    readonly drops: { readonly [reason: string]: number }
  }[]
}

export interface GmMetricsOptions {
  readonly source?: () => GmMetricsView
  /** Count only diagnostics messages of this member (`gm` field: its local address:port). */
  readonly member?: string
}

export interface GmMetrics {
  setSource(source: (() => GmMetricsView) | undefined): void
  close(): void
}

type G = 'group'

/** DataPlaneCounters field → (family, label value). Fields not listed (future ones) are skipped;
 *  drop* fields are drops by reason. */
const DATAPLANE_PACKETS: Readonly<Record<string, string>> = {
  encryptedPackets: 'encrypted',
  decryptedPackets: 'decrypted',
  clearPackets: 'clear',
  noSaClearPackets: 'clear-no-sa',
  controlPackets: 'control',
  icmpFragNeeded: 'icmp-frag-needed',
}
const DATAPLANE_BYTES: Readonly<Record<string, string>> = { encryptedBytes: 'encrypted', decryptedBytes: 'decrypted' }
const TUN_PACKETS: Readonly<Record<string, string>> = { rxPackets: 'read', txPackets: 'written' }

/** `dropUnknownSpi` → `unknown-spi`, `seqExhausted` → `seq-exhausted`. */
function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/^-/, '')
}

export function createGmMetrics(registry: Registry, opts: GmMetricsOptions = {}): GmMetrics {
  const view = viewCache<GmMetricsView>(opts.source)
  const withGroup = <L extends string>(f: (v: GmMetricsView, group: string) => Iterable<Sample<L>>) => (): Sample<L | G>[] => {
    const v = view.get()
    if (v === undefined) return []
    const out: Sample<L | G>[] = []
    for (const [labels, value] of f(v, v.group.name)) out.push([{ group: v.group.name, ...labels } as Labels<L | G>, value])
    return out
  }
  const one = (f: (v: GmMetricsView) => number | null | undefined) =>
    withGroup<never>((v) => {
      const n = f(v)
      return n === null || n === undefined ? [] : [[{}, n]]
    })
  const fields = <L extends string>(label: L, table: Readonly<Record<string, string>>, f: (v: GmMetricsView) => { readonly [k: string]: number } | undefined) =>
    withGroup<L>((v) => {
      const c = f(v)
      if (c === undefined) return []
      return Object.entries(table).flatMap(([field, value]): Sample<L>[] => (typeof c[field] === 'number' ? [[{ [label]: value } as Labels<L>, c[field]]] : []))
    })
  const dp = (v: GmMetricsView): GmDataPlaneView | undefined => v.dataPlane ?? undefined

  // ---- event counters (diagnostics channels) ----
  const accept = (m: DiagMessage): boolean => typeof m['gm'] === 'string' && (opts.member === undefined || m['gm'] === opts.member)
  const phase1 = new Tally<G | 'result'>()
  const failedRounds = new Tally<G>()
  const failovers = new Tally<G | 'reason'>()
  // 'gdoi:gm:ks-failover' is one of gm-daemon's own channel names (its diag.ts), not in DiagChannel.
  const on = (channel: DiagChannel | 'gdoi:gm:ks-failover', fn: (m: DiagMessage) => void): (() => void) =>
    subscribe(channel as DiagChannel, (m) => {
      if (accept(m)) fn(m)
    })
  const unsubscribe = [
    on(DiagChannel.IKE_ESTABLISHED, (m) => phase1.add({ group: labelOf(m.group), result: 'established' })),
    on(DiagChannel.IKE_FAILED, (m) => phase1.add({ group: labelOf(m.group), result: labelOf(m['reason']) })),
    on(DiagChannel.GM_REGISTRATION_FAILED, (m) => failedRounds.add({ group: labelOf(m.group) })),
    on('gdoi:gm:ks-failover', (m) => failovers.add({ group: labelOf(m.group), reason: labelOf(m['reason']) })),
  ]
  const phase1Results = (established: boolean) => (): Sample<G | 'reason'>[] =>
    [...phase1.samples()]
      .filter(([l]) => (l.result === 'established') === established)
      .map(([l, v]) => [established ? { group: l.group ?? '' } : { group: l.group ?? '', reason: l.result ?? '' }, v])

  // ---- control plane ----
  derivedCounter(registry, 'gdoi_gm_registrations_total', 'Registrations by result: "registered" (completed GROUPKEY-PULLs) or "failed" (rounds in which no key server answered)', ['group', 'result'], () => [
    ...withGroup<'result'>((v) => [[{ result: 'registered' }, v.registration.succeeded]])(),
    ...[...failedRounds.samples()].map(([l, n]): Sample<G | 'result'> => [{ ...l, result: 'failed' }, n]),
  ])
  derivedCounter(registry, 'gdoi_gm_registration_attempts_total', 'Registration attempts (one per key server tried)', ['group'], one((v) => v.registration.attempted))
  derivedCounter(registry, 'gdoi_gm_key_server_failovers_total', 'Registrations that moved on to the next key server, by reason', ['group', 'reason'], () => failovers.samples())
  derivedCounter(registry, 'gdoi_gm_phase1_established_total', 'IKEv1 Main Mode (phase 1) SAs established with a key server', ['group'], phase1Results(true))
  derivedCounter(registry, 'gdoi_gm_phase1_failures_total', 'IKEv1 Main Mode (phase 1) exchanges that failed, by reason', ['group', 'reason'], phase1Results(false))
  derivedCounter(registry, 'gdoi_gm_rekeys_received_total', 'Accepted GROUPKEY-PUSH rekeys, by transport (unicast, multicast)', ['group', 'transport'], withGroup<'transport'>((v) => [
    [{ transport: 'unicast' }, v.rekeys.receivedUnicast],
    [{ transport: 'multicast' }, v.rekeys.receivedMulticast],
  ]))
  derivedCounter(registry, 'gdoi_gm_rekeys_rejected_total', 'GROUPKEY-PUSH messages rejected, by reason', ['group', 'reason'], withGroup<'reason'>((v) => Object.entries(v.rekeys.rejected).map(([reason, n]) => [{ reason }, n])))
  derivedCounter(registry, 'gdoi_gm_rekey_acks_sent_total', 'RFC 8263 rekey acknowledgements sent', ['group'], one((v) => v.rekeys.acksSent))
  derivedCounter(registry, 'gdoi_gm_decode_errors_total', 'Undecodable datagrams dropped, by DecodeError code', ['group', 'code'], withGroup<'code'>((v) => Object.entries(v.decodeErrors).map(([code, n]) => [{ code }, n])))
  derivedGauge(registry, 'gdoi_gm_registered', '1 while registered (keys from a key server in use), else 0', ['group'], one((v) => (v.registration.status === 'Registered' ? 1 : 0)))
  derivedGauge(registry, 'gdoi_gm_rekey_sequence', 'Sequence number of the last accepted rekey', ['group'], one((v) => v.rekeys.lastSeq))
  derivedGauge(registry, 'gdoi_gm_phase1_sas', 'IKEv1 SAs with key servers (registration; the rekey KEKs are not counted)', ['group'], one((v) => v.isakmpSas.filter((s) => s.kind === 'registration').length))
  derivedGauge(registry, 'gdoi_gm_kek_remaining_lifetime_seconds', 'Seconds until each KEK expires, by SPI (the ISAKMP cookie pair)', ['group', 'spi'], withGroup<'spi'>((v) =>
    v.keks.flatMap((k): Sample<'spi'>[] => (k.lifetimeSec === null ? [] : [[{ spi: k.spi }, k.lifetimeSec]])),
  ))
  derivedGauge(registry, 'gdoi_gm_tek_remaining_lifetime_seconds', 'Seconds until each installed TEK expires, by SPI', ['group', 'spi'], withGroup<'spi'>((v) => {
    const bySpi = new Map(v.ipsecSas.map((s) => [s.spiHex, s.remainingSec]))
    return [...bySpi].map(([spi, sec]) => [{ spi }, sec])
  }))

  // ---- data plane (only while it runs) ----
  derivedGauge(registry, 'gdoi_gm_dataplane_up', '1 while the TUN data plane loop runs, 0 when it stopped (absent without a data plane)', ['group'], one((v) => {
    const d = dp(v)
    return d === undefined ? undefined : d.running ? 1 : 0
  }))
  derivedCounter(registry, 'gdoi_gm_tun_packets_total', 'Packets read from / written to the TUN device', ['group', 'direction'], fields('direction', TUN_PACKETS, (v) => dp(v)?.counters))
  derivedCounter(registry, 'gdoi_gm_dataplane_packets_total', 'Data plane packets by action: encrypted, decrypted, clear (policy deny/no match), clear-no-sa, control (GDOI itself), icmp-frag-needed', ['group', 'action'], fields('action', DATAPLANE_PACKETS, (v) => dp(v)?.counters))
  derivedCounter(registry, 'gdoi_gm_dataplane_bytes_total', 'Data plane bytes encrypted / decrypted', ['group', 'action'], fields('action', DATAPLANE_BYTES, (v) => dp(v)?.counters))
  derivedCounter(registry, 'gdoi_gm_dataplane_drops_total', 'Packets the data plane dropped, by reason', ['group', 'reason'], withGroup<'reason'>((v) =>
    Object.entries(dp(v)?.counters ?? {}).flatMap(([k, n]): Sample<'reason'>[] => (k.startsWith('drop') && k.length > 4 ? [[{ reason: kebab(k.slice(4)) }, n]] : [])),
  ))
  derivedCounter(registry, 'gdoi_gm_tun_read_errors_total', 'Failed reads from the TUN device', ['group'], one((v) => dp(v)?.counters['readErrors']))
  const perSa = (f: (sa: GmDataPlaneView['sas'][number]) => number) => withGroup<'spi'>((v) => (dp(v)?.sas ?? []).map((sa) => [{ spi: sa.spi }, f(sa)]))
  derivedCounter(registry, 'gdoi_gm_sa_encrypted_packets_total', 'Packets encrypted with each outbound SA', ['group', 'spi'], perSa((sa) => sa.packetsEncrypted))
  derivedCounter(registry, 'gdoi_gm_sa_encrypted_bytes_total', 'Bytes encrypted with each outbound SA', ['group', 'spi'], perSa((sa) => sa.bytesEncrypted))
  derivedCounter(registry, 'gdoi_gm_sa_decrypted_packets_total', 'Packets decrypted with each inbound SA', ['group', 'spi'], perSa((sa) => sa.packetsDecrypted))
  derivedCounter(registry, 'gdoi_gm_sa_decrypted_bytes_total', 'Bytes decrypted with each inbound SA', ['group', 'spi'], perSa((sa) => sa.bytesDecrypted))
  derivedCounter(registry, 'gdoi_gm_sa_drops_total', 'Packets dropped per SA, by reason (auth, replay, malformed, policy, seq-exhausted)', ['group', 'spi', 'reason'], withGroup<'spi' | 'reason'>((v) =>
    (dp(v)?.sas ?? []).flatMap((sa) => Object.entries(sa.drops).map(([reason, n]): Sample<'spi' | 'reason'> => [{ spi: sa.spi, reason: kebab(reason) }, n])),
  ))

  return {
    setSource: (source) => view.set(source),
    close: () => {
      for (const u of unsubscribe) u()
    },
  }
}
