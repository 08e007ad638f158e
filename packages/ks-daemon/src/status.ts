// The status object behind `gdoi-ks status [--json]`: groups, members, the current KEK/TEKs with
// remaining lifetimes, the rekey sequence number, the transport, ISAKMP SAs and counters. Plain JSON,
// never key material (SPIs, lifetimes and public-key hashes only).
import { espTransformShowName, formatEndpoint, kekAlgorithmWire } from '@gdoi/daemon-kit'
import type { AclEntry } from '@gdoi/daemon-kit'
import type { KsContext } from './main.js'
import type { IkeSaInfo, Sessions } from './sessions.js'
import { groupIdentityText } from './identity.js'
import { rekeyLeadSec, spiText, type PushInfo } from './rekey.js'
import type { GroupRuntime } from './groups.js'
import type { ClusterStatus } from './cluster.js'

export const KS_VERSION = '0.1.0'

export interface KekStatus {
  readonly spi: string
  readonly algorithm: string
  readonly keySizeBytes: number
  readonly ivLengthBytes: number
  readonly origLifetimeSec: number
  readonly remainingSec: number
  readonly timeToRekeySec: number
  readonly seq: number
  readonly sigHash: string
  readonly sigKeyName: string | null
  readonly sigKeyBits: number | null
  /** DER SubjectPublicKeyInfo length (IOS "sig key length"). */
  readonly sigKeyLengthBytes: number | null
  readonly ack: 'rfc8263' | 'none'
}

export interface TekStatus {
  readonly spi: string
  readonly transform: string
  readonly acl: readonly string[]
  readonly algKeySizeBytes: number
  readonly sigKeySizeBytes: number
  readonly origLifetimeSec: number
  readonly remainingSec: number
  readonly elapsedSec: number
  /** null when a newer TEK exists (IOS "n/a"). */
  readonly timeToRekeySec: number | null
}

export interface MemberStatus {
  readonly address: string
  readonly port: number
  readonly identity: string
  readonly registeredAt: string
  readonly lastAckSeq: number | null
  readonly missedPushes: number
  readonly senderIds: readonly number[]
}

export interface GroupStatus {
  readonly name: string
  readonly identity: string
  readonly transport: 'unicast' | 'multicast' | 'none'
  readonly multicastAddress: string | null
  readonly retransmitPeriodSec: number | null
  readonly retransmitCount: number | null
  readonly seq: number | null
  readonly rekeysSent: number
  readonly kek: KekStatus | null
  readonly teks: readonly TekStatus[]
  readonly tekLifetimeSec: number
  readonly members: readonly MemberStatus[]
  readonly acl: readonly string[]
  readonly authorization: readonly string[] | null
}

export interface KsStatus {
  readonly daemon: 'gdoi-ks'
  readonly version: string
  readonly pid: number
  readonly now: string
  readonly startedAt: string
  readonly uptimeSec: number
  readonly listen: string
  readonly stateSavedAt: string | null
  readonly groups: readonly GroupStatus[]
  readonly ikeSas: readonly IkeSaInfo[]
  /** Main Modes in progress and their cap (limits.maxHalfOpenSa); a flood keeps `count` at `limit`. */
  readonly ikeHalfOpen: { readonly count: number; readonly limit: number }
  readonly pushesInProgress: readonly PushInfo[]
  readonly counters: Readonly<Record<string, number>>
  /** Key servers sharing the state on etcd (null with the local state file). */
  readonly cluster: ClusterStatus | null
}

function prefixText(p: { readonly address: string; readonly length: number }): string {
  if (p.length === 0) return 'any'
  if (p.length === 32) return `host ${p.address}`
  const wildcard = (~(p.length === 0 ? 0 : (0xffffffff << (32 - p.length)) >>> 0)) >>> 0
  return `${p.address} ${[wildcard >>> 24, (wildcard >>> 16) & 255, (wildcard >>> 8) & 255, wildcard & 255].join('.')}`
}

const PROTO_NAMES: Readonly<Record<number, string>> = { 0: 'ip', 1: 'icmp', 6: 'tcp', 17: 'udp', 47: 'gre', 50: 'esp', 89: 'ospf' }

/** IOS access-list spelling: `permit udp any eq 848 any eq 848`. */
export function aclEntryText(e: AclEntry): string {
  const port = (p: number | null): string => (p === null ? '' : ` eq ${p}`)
  return `${e.action} ${PROTO_NAMES[e.protocol] ?? String(e.protocol)} ${prefixText(e.source)}${port(e.sourcePort)} ${prefixText(e.destination)}${port(e.destinationPort)}`
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}

function secs(ms: number): number {
  return Math.max(0, Math.round(ms / 1000))
}

function groupStatus(ctx: KsContext, g: GroupRuntime, nowMs: number): GroupStatus {
  const cfg = g.cfg
  const r = cfg.rekey
  const atd = cfg.gap?.activationDelaySec ?? 0
  const kek = g.kek
  const live = g.liveTeks(nowMs)
  const newest = live.reduce<GroupRuntime['teks'][number] | undefined>((a, t) => (a === undefined || t.tek.createdMs > a.tek.createdMs ? t : a), undefined)
  const kekStatus: KekStatus | null =
    kek === null || r === null ? null : (() => {
      const w = kekAlgorithmWire(kek.algorithm)
      const life = kek.expiresMs - kek.createdMs
      return {
        spi: `0x${Buffer.from(kek.spi).toString('hex').toUpperCase()}`,
        algorithm: kek.algorithm === '3des' ? '3DES' : 'AES',
        keySizeBytes: w.keyLengthBits / 8,
        ivLengthBytes: kek.algorithm === '3des' ? 8 : 16,
        origLifetimeSec: secs(life),
        remainingSec: secs(kek.expiresMs - nowMs),
        timeToRekeySec: secs(kek.expiresMs - rekeyLeadSec(secs(life), atd) * 1000 - nowMs),
        seq: kek.seq,
        sigHash: r.sigHash,
        sigKeyName: g.signing?.label ?? null,
        sigKeyBits: g.signing?.bits ?? null,
        sigKeyLengthBytes: g.signing?.publicKeySpkiDer.length ?? null,
        ack: r.ack,
      }
    })()
  const teks: TekStatus[] = live.map((t) => {
    const life = t.tek.expiresMs - t.tek.createdMs
    const w = t.tek.transform
    return {
      spi: spiText(t.tek.spi),
      transform: espTransformShowName(w),
      acl: t.acl.map(aclEntryText),
      algKeySizeBytes: t.tek.encKey.length,
      sigKeySizeBytes: t.tek.authKey?.length ?? 0,
      origLifetimeSec: secs(life),
      remainingSec: secs(t.tek.expiresMs - nowMs),
      elapsedSec: secs(nowMs - t.tek.createdMs),
      timeToRekeySec: t === newest ? secs(t.tek.expiresMs - rekeyLeadSec(secs(life), atd) * 1000 - nowMs) : null,
    }
  })
  return {
    name: g.name,
    identity: groupIdentityText(cfg.identity),
    transport: r === null ? 'none' : r.transport,
    multicastAddress: r?.multicastAddress ?? null,
    retransmitPeriodSec: r?.retransmitPeriodSec ?? null,
    retransmitCount: r?.retransmitCount ?? null,
    seq: kek?.seq ?? null,
    rekeysSent: g.rekeysSent,
    kek: kekStatus,
    teks,
    tekLifetimeSec: cfg.tekLifetimeSec,
    members: [...g.members.values()].map((m) => ({
      address: m.address,
      port: m.port,
      identity: m.identity,
      registeredAt: iso(m.registeredAtMs),
      lastAckSeq: m.lastAckSeq,
      missedPushes: m.missedPushes,
      senderIds: m.senderIds,
    })),
    acl: cfg.acl.map(aclEntryText),
    authorization: cfg.authorization?.map((p) => `${p.address}/${p.length}`) ?? null,
  }
}

export function buildStatus(ctx: KsContext, sessions: Sessions): KsStatus {
  const now = ctx.clock.nowMs()
  return {
    daemon: 'gdoi-ks',
    version: KS_VERSION,
    pid: process.pid,
    now: iso(now),
    startedAt: iso(ctx.startedMs),
    uptimeSec: secs(now - ctx.startedMs),
    listen: formatEndpoint(ctx.transport.local),
    stateSavedAt: ctx.persist.lastSavedMs !== undefined ? iso(ctx.persist.lastSavedMs) : null,
    groups: ctx.groups.all().map((g) => groupStatus(ctx, g, now)),
    ikeSas: sessions.list(now),
    ikeHalfOpen: { count: sessions.halfOpen, limit: sessions.maxHalfOpen },
    pushesInProgress: ctx.rekeyer.pushes(),
    counters: ctx.counters.snapshot(),
    cluster: ctx.cluster?.status() ?? null,
  }
}
