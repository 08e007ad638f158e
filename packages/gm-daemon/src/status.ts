// `gdoi-gm status`: the status object (JSON over the control socket, never key material) and its text
// rendering after Cisco's `show crypto gdoi` (group member view, spec §6.3, captures/references.md
// §2a), `show crypto isakmp sa` and, when the data plane runs, `show crypto ipsec sa` counters.
import { isMulticastIpv4, type GroupIdentity } from '@gdoi/daemon-kit'
import type { PushMemberState } from '@gdoi/wire/exchange/index'
import type { DataSa } from './dataplane/sa-table.js'
import type { DataPlaneSnapshot } from './dataplane/dataplane.js'
import { ciscoAclLine, selectorId } from './acl.js'
import type { KekRecord } from './kek-store.js'
import { toHex } from './kek-store.js'
import type { PushCounters } from './push.js'
import type { IsakmpSaStatus, RegistrarStatus } from './registration.js'
import { ackShowName, kekAlgorithmShowName, sigHashShowName, spiHex, transformKeySizes, transformShowName } from './show-names.js'
import type { TekRecord } from './tek-store.js'
import { FAIL_CLOSE_METRIC, type RouteSpec, type RoutingStatus } from './routing.js'

export interface KekStatus {
  readonly spi: string
  readonly transport: 'Unicast' | 'Multicast'
  readonly src: string
  readonly dst: string
  /** Remaining seconds; null when the SAK carried no lifetime. */
  readonly lifetimeSec: number | null
  readonly algorithm: string
  readonly keySizeBits: number
  readonly sigHash: string
  /** DER public key length in bits, as Cisco prints "Sig Key Length (bits)". */
  readonly sigKeyLengthBits: number
  readonly sigKeyModulusBits: number | null
  readonly acknowledgement: string
  readonly lastSeq: number | null
  readonly from: string
}

export interface IpsecSaCounters {
  readonly packets: number
  readonly bytes: number
  readonly dropAuth: number
  readonly dropReplay: number
  readonly dropMalformed: number
  readonly dropPolicy: number
}

export interface IpsecSaStatus {
  readonly spi: number
  readonly spiHex: string
  readonly direction: 'inbound' | 'outbound'
  /** active; pending (outbound after the activation delay); retiring (inbound until the deactivation delay). */
  readonly state: 'active' | 'pending' | 'retiring'
  readonly transform: string
  readonly remainingSec: number
  readonly activatesInSec: number | null
  readonly retiresInSec: number | null
  readonly antiReplay: string
  readonly algKeyBytes: number
  readonly sigKeyBytes: number
  readonly encaps: 'ENCAPS_TUNNEL' | 'ENCAPS_TRANSPORT'
  readonly selectors: readonly string[]
  /** Only while the data plane runs. */
  readonly counters: IpsecSaCounters | null
}

export interface IsakmpRow extends Omit<IsakmpSaStatus, 'kind'> {
  readonly kind: 'registration' | 'rekey'
}

/** The kernel policy routing the member installed for its TUN (routing.ts), or why there is none. */
export type RoutingView =
  | {
      readonly state: 'on'
      readonly tun: string
      /** The transit interface ESP arrives on; null: unknown, ESP is not diverted. */
      readonly wan: string | null
      readonly preference: number
      /** `ip rule` lines, in preference order. */
      readonly rules: readonly string[]
      /** Table of plaintext for protected destinations → TUN (own side thrown), and its routes. */
      readonly tableOut: { readonly id: number; readonly routes: readonly string[] }
      /** Table of ESP from the transit side for destinations behind this member → TUN. */
      readonly tableIn: { readonly id: number; readonly routes: readonly string[] }
      readonly protected: readonly string[]
      readonly local: readonly string[]
      /** Fail-close, not yet registered: the destinations blocked until the ACL is downloaded. */
      readonly blockedBeforeRegistration: readonly string[]
      readonly updates: number
      readonly errors: number
      readonly lastError: string | null
    }
  | { readonly state: 'off'; readonly reason: string }

/** `throw 10.1.1.0/24`, `10.1.0.0/16 mtu 1342`: a table's route as `ip route` words. */
const routeText = (r: RouteSpec): string =>
  r.type === 'throw' ? `throw ${r.dst}` : r.type === 'blackhole' ? `blackhole ${r.dst} metric ${FAIL_CLOSE_METRIC}` : `${r.dst}${r.mtu !== undefined ? ` mtu ${r.mtu}` : ''}`

/** What `status` says of the routing: the data plane's when it installed one, else why not. */
export function routingView(dataPlane: { routing?(): RoutingStatus } | undefined, configured: { readonly enabled: boolean } | undefined): RoutingView {
  if (dataPlane === undefined) return { state: 'off', reason: 'no data plane' }
  const r = dataPlane.routing?.()
  if (r === undefined) return { state: 'off', reason: configured?.enabled === false ? 'routing: none in the configuration' : 'the data plane installs none' }
  return {
    state: 'on',
    tun: r.tun,
    wan: r.wan,
    preference: r.preference,
    rules: r.rules,
    tableOut: { id: r.tableOut, routes: r.plan.out.map(routeText) },
    tableIn: { id: r.tableIn, routes: r.plan.in.map(routeText) },
    protected: r.protected,
    local: r.local,
    blockedBeforeRegistration: r.blockedBeforeRegistration,
    updates: r.updates,
    errors: r.errors,
    lastError: r.lastError,
  }
}

export interface GmStatus {
  readonly atMs: number
  readonly uptimeSec: number
  readonly group: { readonly name: string; readonly identity: string; readonly type: 'GDOI (ISAKMP)' }
  readonly member: { readonly address: string; readonly port: number }
  readonly keyServers: readonly string[]
  readonly registration: {
    readonly status: 'Registered' | 'Registering' | 'Not registered'
    readonly state: RegistrarStatus['state']
    readonly registeredWith: string | null
    readonly registeredAtMs: number | null
    readonly succeeded: number
    readonly attempted: number
    readonly reregisterInSec: number | null
    readonly reregisterReason: string | null
    readonly retryInSec: number | null
    readonly lastFailure: RegistrarStatus['lastFailure']
  }
  readonly rekeys: Omit<PushCounters, 'lastAtMs'> & { readonly lastAgoSec: number | null }
  readonly rekeyTransport: 'Unicast' | 'Multicast' | null
  readonly acl: { readonly name: string; readonly from: string | null; readonly entries: readonly string[]; readonly selectors: readonly string[] }
  readonly kek: KekStatus | null
  readonly keks: readonly KekStatus[]
  readonly ipsecSas: readonly IpsecSaStatus[]
  readonly activeTeks: number
  readonly awaitingKeys: readonly string[]
  readonly isakmpSas: readonly IsakmpRow[]
  readonly decodeErrors: Readonly<Record<string, number>>
  readonly dataPlane: DataPlaneSnapshot | null
  /** Config `dataPlane.failClose`: protected traffic without an SA is dropped (counted as "no sa"), not sent in clear. */
  readonly failClose: boolean
  readonly routing: RoutingView
}

export interface StatusSources {
  readonly nowMs: number
  readonly startedAtMs: number
  readonly groupName: string
  readonly identity: GroupIdentity
  readonly localAddress: string
  readonly localPort: number
  readonly keyServers: readonly string[]
  readonly registrar: RegistrarStatus
  readonly registeredWith: string | null
  readonly registeredAtMs: number | null
  readonly succeeded: number
  readonly reregister: { readonly dueMs: number | undefined; readonly reason: string | undefined }
  readonly push: PushCounters
  readonly pushState: PushMemberState
  readonly keks: readonly KekRecord[]
  readonly teks: readonly TekRecord[]
  readonly awaitingKeys: readonly number[]
  readonly sas: readonly DataSa[]
  readonly dataPlane: DataPlaneSnapshot | null
  /** Default false (fail-open). */
  readonly failClose?: boolean
  /** Default: off, no data plane. */
  readonly routing?: RoutingView
  readonly decodeErrors: Readonly<Record<string, number>>
}

const secs = (ms: number): number => Math.max(0, Math.round(ms / 1000))

function kekStatus(k: KekRecord, s: StatusSources): KekStatus {
  const p = k.policy
  const held = s.pushState.keks.find((m) => toHex(m.spi) === k.spiHex)
  return {
    spi: `0x${k.spiHex.toUpperCase()}`,
    transport: isMulticastIpv4(p.transport.dst.address) ? 'Multicast' : 'Unicast',
    src: p.transport.src.address,
    dst: p.transport.dst.address,
    lifetimeSec: k.expiresAtMs === undefined ? null : secs(k.expiresAtMs - s.nowMs),
    algorithm: kekAlgorithmShowName(p),
    keySizeBits: p.keyBits,
    sigHash: sigHashShowName(p.sigHash),
    sigKeyLengthBits: k.sigKeyDerBits,
    sigKeyModulusBits: k.sigKeyModulusBits ?? null,
    acknowledgement: ackShowName(held?.ackRequested ?? p.ackRequested),
    lastSeq: held?.lastSeq ?? null,
    from: k.from,
  }
}

function antiReplay(sa: DataSa): string {
  const r = sa.replay
  if (r.mode === 'off') return 'disabled'
  if (r.mode === 'sa') return `Counter Based ${r.windowBits}`
  return `Counter Based ${r.windowBits} per sender (${r.senders} senders)`
}

function ipsecRows(s: StatusSources): IpsecSaStatus[] {
  const rows: IpsecSaStatus[] = []
  const bySpi = new Map(s.teks.map((t) => [t.spi, t]))
  for (const sa of s.sas) {
    const rec = bySpi.get(sa.spi)
    if (rec === undefined || sa.state === 'removed') continue
    const t = rec.policy
    const sizes = transformKeySizes(t.transform)
    const base = {
      spi: sa.spi,
      spiHex: spiHex(sa.spi),
      transform: transformShowName(t.transform),
      remainingSec: secs(sa.expiresAtMs - s.nowMs),
      antiReplay: antiReplay(sa),
      algKeyBytes: sizes.algKeyBytes,
      sigKeyBytes: sizes.sigKeyBytes,
      encaps: t.encapsulation === 'tunnel' ? ('ENCAPS_TUNNEL' as const) : ('ENCAPS_TRANSPORT' as const),
      selectors: rec.policyIds,
    }
    const dp = s.dataPlane !== null
    if (sa.inbound) {
      rows.push({
        ...base,
        direction: 'inbound',
        state: sa.state === 'previous' || sa.retireAtMs !== undefined ? 'retiring' : 'active',
        activatesInSec: null,
        retiresInSec: sa.retireAtMs !== undefined ? secs(sa.retireAtMs - s.nowMs) : null,
        counters: dp ? { packets: sa.packetsDecrypted, bytes: sa.bytesDecrypted, dropAuth: sa.dropAuth, dropReplay: sa.dropReplay, dropMalformed: sa.dropMalformed, dropPolicy: sa.dropPolicy } : null,
      })
    }
    if (sa.outbound && (sa.state === 'current' || sa.state === 'pending')) {
      rows.push({
        ...base,
        direction: 'outbound',
        state: sa.state === 'current' ? 'active' : 'pending',
        activatesInSec: sa.state === 'pending' && sa.activateAtMs !== undefined ? secs(sa.activateAtMs - s.nowMs) : null,
        retiresInSec: null,
        counters: dp ? { packets: sa.packetsEncrypted, bytes: sa.bytesEncrypted, dropAuth: 0, dropReplay: 0, dropMalformed: 0, dropPolicy: sa.dropSeqExhausted } : null,
      })
    }
  }
  return rows
}

export function buildStatus(s: StatusSources): GmStatus {
  const keks = s.keks.map((k) => kekStatus(k, s))
  const kek = keks.at(-1) ?? null
  const selectors = new Map<string, string>()
  for (const t of s.teks) for (const sel of t.selectors) if (!selectors.has(selectorId(sel))) selectors.set(selectorId(sel), ciscoAclLine(sel))
  const reg = s.registrar
  const isakmp: IsakmpRow[] = [...reg.isakmpSas]
  for (const k of s.keks) {
    const multicast = isMulticastIpv4(k.policy.transport.dst.address)
    isakmp.push({
      dst: multicast ? k.policy.transport.dst.address : s.localAddress,
      src: k.policy.transport.src.address,
      state: 'GDOI_REKEY',
      connId: k.connId,
      status: 'ACTIVE',
      kind: 'rekey',
      ...(k.expiresAtMs !== undefined ? { remainingSec: secs(k.expiresAtMs - s.nowMs) } : {}),
    })
  }
  const { lastAtMs, ...counters } = s.push
  const ipsecSas = ipsecRows(s)
  return {
    atMs: s.nowMs,
    uptimeSec: secs(s.nowMs - s.startedAtMs),
    group: {
      name: s.groupName,
      identity: s.identity.kind === 'number' ? String(s.identity.number) : s.identity.address,
      type: 'GDOI (ISAKMP)',
    },
    member: { address: s.localAddress, port: s.localPort },
    keyServers: s.keyServers,
    registration: {
      status: s.registeredWith !== null && (s.teks.length > 0 || keks.length > 0) ? 'Registered' : reg.state === 'phase1' || reg.state === 'pull' ? 'Registering' : 'Not registered',
      state: reg.state,
      registeredWith: s.registeredWith,
      registeredAtMs: s.registeredAtMs,
      succeeded: s.succeeded,
      attempted: reg.attempted,
      reregisterInSec: s.reregister.dueMs === undefined ? null : secs(s.reregister.dueMs - s.nowMs),
      reregisterReason: s.reregister.reason ?? null,
      retryInSec: reg.retryAtMs === null ? null : secs(reg.retryAtMs - s.nowMs),
      lastFailure: reg.lastFailure,
    },
    rekeys: { ...counters, rejected: { ...counters.rejected }, lastAgoSec: lastAtMs === null ? null : secs(s.nowMs - lastAtMs) },
    rekeyTransport: kek?.transport ?? null,
    acl: { name: `gdoi_group_${s.groupName}_temp_acl`, from: s.registeredWith, entries: [...selectors.values()], selectors: [...selectors.keys()] },
    kek,
    keks,
    ipsecSas,
    activeTeks: new Set(ipsecSas.map((r) => r.spi)).size,
    awaitingKeys: s.awaitingKeys.map(spiHex),
    isakmpSas: isakmp,
    decodeErrors: { ...s.decodeErrors },
    dataPlane: s.dataPlane,
    failClose: s.failClose ?? false,
    routing: s.routing ?? { state: 'off', reason: 'no data plane' },
  }
}

// ---- text ---------------------------------------------------------------------------------------

const field = (indent: number, name: string, value: string | number): string => `${' '.repeat(indent)}${name.padEnd(25 - (indent - 4))}: ${value}`

function hms(sec: number): string {
  const h = Math.floor(sec / 3600)
  const m = Math.floor((sec % 3600) / 60)
  const s = sec % 60
  return [h, m, s].map((v) => String(v).padStart(2, '0')).join(':')
}

function rejectedText(r: Readonly<Record<string, number>>): string {
  const parts = Object.entries(r).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`)
  const total = Object.values(r).reduce((a, b) => a + b, 0)
  return parts.length === 0 ? '0' : `${total} (${parts.join(', ')})`
}

function renderKek(k: KekStatus): string[] {
  return [
    field(4, 'Rekey Transport Type', k.transport),
    field(4, 'Lifetime (secs)', k.lifetimeSec ?? 'not limited'),
    field(4, 'Encrypt Algorithm', k.algorithm),
    field(4, 'Key Size', k.keySizeBits),
    field(4, 'Sig Hash Algorithm', k.sigHash),
    field(4, 'Sig Key Length (bits)', k.sigKeyLengthBits),
    field(4, 'Acknowledgement', k.acknowledgement),
    field(4, 'SPI', k.spi),
  ]
}

function renderSa(r: IpsecSaStatus): string[] {
  const lines = [
    `    IPsec SA:`,
    `        spi: ${r.spiHex}(${r.spi})`,
    `        direction: ${r.direction}${r.state === 'active' ? '' : ` (${r.state}${r.activatesInSec !== null ? `, sending in ${r.activatesInSec} sec` : ''}${r.retiresInSec !== null ? `, removed in ${r.retiresInSec} sec` : ''})`}`,
    `        transform: ${r.transform}`,
    `        sa timing:remaining key lifetime (sec): (${r.remainingSec})`,
    `        Anti-Replay : ${r.antiReplay}`,
    `        alg key size: ${r.algKeyBytes} (bytes)`,
    `        sig key size: ${r.sigKeyBytes} (bytes)`,
    `        encaps: ${r.encaps}`,
  ]
  if (r.counters !== null) {
    const c = r.counters
    lines.push(
      r.direction === 'inbound'
        ? `        #pkts decrypt: ${c.packets}, #bytes: ${c.bytes}, #verify failed: ${c.dropAuth}, #replay: ${c.dropReplay}, #malformed: ${c.dropMalformed}, #policy: ${c.dropPolicy}`
        : `        #pkts encrypt: ${c.packets}, #bytes: ${c.bytes}, #seq exhausted: ${c.dropPolicy}`,
    )
  }
  return [...lines, '']
}

export function renderStatus(s: GmStatus): string {
  const reg = s.registration
  const rk = s.rekeys
  const out: string[] = [
    'GROUP INFORMATION',
    '',
    field(4, 'Group Name', s.group.name),
    field(4, 'Group Identity', s.group.identity),
    field(4, 'Group Type', s.group.type),
    field(4, 'Rekeys received', rk.received),
    field(4, 'IPSec SA Direction', 'Both'),
    '',
    field(5, 'Group Server list', s.keyServers.join(', ')),
    '',
    `Group Member Information For Group ${s.group.name}:`,
    field(4, 'IPSec SA Direction', 'Both'),
    field(4, 'ACL Received From KS', s.acl.entries.length > 0 ? s.acl.name : 'none'),
    '',
    field(4, 'Group member', s.member.address),
    field(7, 'Local addr/port', `${s.member.address}/${s.member.port}`),
    field(7, 'Registration status', reg.status),
    field(7, 'Registered with', reg.registeredWith ?? 'none'),
    field(7, 'Re-registers in', reg.reregisterInSec === null ? 'not scheduled' : `${reg.reregisterInSec} sec`),
  ]
  if (reg.retryInSec !== null) out.push(field(7, 'Retry registration in', `${reg.retryInSec} sec`))
  if (reg.lastFailure !== null) out.push(field(7, 'Last failure', `${reg.lastFailure.stage}: ${reg.lastFailure.detail ?? reg.lastFailure.reason}`))
  out.push(
    field(7, 'Succeeded registration', reg.succeeded),
    field(7, 'Attempted registration', reg.attempted),
    field(7, 'Last rekey from', rk.lastFrom ?? 'none'),
    field(7, 'Last rekey seq num', rk.lastSeq ?? 0),
    field(7, 'Unicast rekey received', rk.receivedUnicast),
    field(7, 'Multicast rekey received', rk.receivedMulticast),
    field(7, 'Rekey ACKs sent', rk.acksSent),
    field(7, 'Rekey Rcvd(hh:mm:ss)', rk.lastAgoSec === null ? 'never' : hms(rk.lastAgoSec)),
    field(7, 'Rekeys rejected', rejectedText(rk.rejected)),
    field(7, 'Active TEK Number', s.activeTeks),
    '',
    '    Rekeys cumulative',
    field(7, 'Total received', rk.received),
    field(7, 'After latest register', rk.afterRegister),
    field(7, 'Rekey Acks sents', rk.acksSent),
    '',
    ` ACL Downloaded From KS ${s.acl.from ?? ''}:`.replace(/ :$/, ':'),
    ...(s.acl.entries.length === 0 ? ['   (none)'] : s.acl.entries.map((e) => `   access-list   ${e}`)),
    '',
    'KEK POLICY:',
    ...(s.kek === null ? ['    (no rekey SA: re-registration only)'] : renderKek(s.kek)),
    '',
    'TEK POLICY for the current KS-Policy ACEs Downloaded:',
  )
  if (s.ipsecSas.length === 0) out.push('    (no IPsec SA)', '')
  for (const r of s.ipsecSas) out.push(...renderSa(r))
  if (s.awaitingKeys.length > 0) out.push(`    SATs waiting for keys: ${s.awaitingKeys.join(', ')}`, '')
  out.push('IPv4 Crypto ISAKMP SA', 'dst             src             state              conn-id status')
  for (const r of s.isakmpSas) {
    out.push(`${r.dst.padEnd(16)}${r.src.padEnd(16)}${r.state.padEnd(19)}${String(r.connId).padStart(7)} ${r.status}`)
  }
  const decode = Object.entries(s.decodeErrors)
  if (decode.length > 0) out.push('', `Dropped undecodable datagrams: ${decode.map(([k, n]) => `${k} ${n}`).join(', ')}`)
  if (s.dataPlane !== null) {
    const d = s.dataPlane
    const c = d.counters
    out.push(
      '',
      `Data plane: ${d.running ? 'running' : 'stopped'} on ${d.tun.name} (mtu ${d.tun.mtuBytes}, path mtu ${d.pathMtuBytes})`,
      `    #pkts encrypted: ${c.encryptedPackets}, #pkts decrypted: ${c.decryptedPackets}, #pkts clear: ${c.clearPackets}, #control: ${c.controlPackets}`,
      `    #drops: auth ${c.dropAuth}, unknown spi ${c.dropUnknownSpi}, replay ${c.dropReplay}, policy ${c.dropPolicy}, no sa ${c.dropNoSa}, malformed ${c.dropMalformed}, too big ${c.dropTooBig}`,
      offloadLine(d),
      d.espOut === 'socket'
        ? `    ESP out: on the ESP socket (${c.espSocketPackets} packets; ${c.espSocketFallbacks} it refused went through the TUN)`
        : '    ESP out: through the TUN',
      s.failClose
        ? `    fail-close: active (protected traffic without an SA is dropped, ${c.dropNoSa} so far; kept blocked by blackhole routes if the member dies)`
        : `    fail-close: off (fail-open: protected traffic without an SA passes in clear, ${c.noSaClearPackets} so far)`,
    )
  }
  out.push('', ...renderRouting(s.routing))
  return `${out.join('\n')}\n`
}

function offloadLine(d: DataPlaneSnapshot): string {
  const o = d.tun.offload
  if (o === undefined) return '    TUN offloads: off'
  const st = o.stats
  return `    TUN offloads: ${o.tso ? 'TSO' : 'refused by the kernel'}; ${st.superPacketsRead} super-packets read → ${st.segmentsCut} segments; ` +
    `${st.coalescedWrites} coalesced writes of ${st.coalescedPackets} packets, ${st.singleWrites} single`
}

function renderRouting(r: RoutingView): string[] {
  if (r.state === 'off') return [`Routing: off (${r.reason})`]
  const routes = (rs: readonly string[]): string => (rs.length === 0 ? '(empty)' : rs.join(', '))
  const lines = [
    `Routing: policy routing into ${r.tun} (transit interface ${r.wan ?? 'unknown: ESP not diverted'})`,
    ...r.rules.map((rule) => `    ip rule ${rule}`),
    `    table ${r.tableOut.id} (plaintext to the TUN): ${routes(r.tableOut.routes)}`,
    `    table ${r.tableIn.id} (ESP from ${r.wan ?? 'the transit side'} to the TUN): ${routes(r.tableIn.routes)}`,
    ...(r.blockedBeforeRegistration.length > 0 ? [`    fail-close, not registered yet: blocking ${r.blockedBeforeRegistration.join(', ')}`] : []),
    `    #updates: ${r.updates}, #errors: ${r.errors}${r.lastError !== null ? ` (last: ${r.lastError})` : ''}`,
  ]
  return lines
}
