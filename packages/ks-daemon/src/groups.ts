// The key server's groups: configuration + live keys + members, and the read-only GroupProvider the
// GROUPKEY-PULL responder asks (spec §1.7 "KS" PULL1–PULL4). Key generation lives in keygen.ts, the
// wire form in policy.ts, the rekey schedule in rekey.ts; this file owns the state those share.
import type { AclEntry, Endpoint, Prefix } from '@gdoi/daemon-kit'
import { ipv4ToNumber, isIpv4, maskOf } from '@gdoi/daemon-kit'
import type { GroupId, GroupLookupError, GroupLookupOk, GroupPolicy, GroupProvider, SenderIds } from '@gdoi/wire/exchange/index'
import { idPayloadToGroupId, sameGroupId } from '@gdoi/wire/exchange/index'
import type { IdPayload } from '@gdoi/wire'
import type { KsGroupConfig } from './config/index.js'
import type { GroupState, KekState, MemberState, SigningKey, TekState } from './store/index.js'
import { signingKeyRef } from './store/index.js'
import { policyAndKeys, type RekeyTransport } from './policy.js'

/** A TEK and the ACL it was created under (ACL changes apply to the next TEK, spec: reload). */
export interface LiveTek {
  readonly tek: TekState
  readonly acl: readonly AclEntry[]
}

/** A KEK replaced by a rollover, kept in memory while its pushes are retransmitted and acknowledged. */
export interface RetiredKek {
  readonly kek: KekState
  readonly ackRequested: number | undefined
  readonly retireAtMs: number
}

export function memberKey(e: Endpoint): string {
  return `${e.address}:${e.port}`
}

/** One frozen empty sender-ID list for every member that has none (not an array per member). */
export const NO_SENDER_IDS: readonly number[] = Object.freeze([])

/**
 * A group's members by `address:port`, remembering which keys changed since the last save took them
 * (persist.ts writes only those — a journal record per member — instead of the whole list).
 */
export class MemberMap extends Map<string, MemberState> {
  #dirty = new Set<string>()

  override set(key: string, m: MemberState): this {
    // a member without sender IDs shares one empty list
    const v = m.senderIds.length === 0 && m.senderIds !== NO_SENDER_IDS ? { ...m, senderIds: NO_SENDER_IDS } : m
    super.set(key, v)
    this.#dirty.add(key)
    return this
  }

  override delete(key: string): boolean {
    const had = super.delete(key)
    if (had) this.#dirty.add(key)
    return had
  }

  override clear(): void {
    for (const k of this.keys()) this.#dirty.add(k)
    super.clear()
  }

  /** The keys changed since the last call (or since `markSaved`), and forgets them. */
  takeDirty(): Set<string> {
    const d = this.#dirty
    this.#dirty = new Set()
    return d
  }

  /** A full save took everything: nothing is pending. */
  markSaved(): void {
    this.#dirty.clear()
  }

  /** A write of `keys` failed: they are pending again. */
  restoreDirty(keys: Iterable<string>): void {
    for (const k of keys) this.#dirty.add(k)
  }
}

export class GroupRuntime {
  cfg: KsGroupConfig
  kek: KekState | null
  readonly retiredKeks: RetiredKek[] = []
  teks: LiveTek[]
  readonly members = new MemberMap()
  senderIdNext: number
  signing: SigningKey | undefined
  /** Rekeys sent since start (status: "Rekeys sent"). */
  rekeysSent = 0
  /** Which KEK (SPI hex) each member's lastAckSeq counts under (in memory; SEQs restart per KEK). */
  readonly ackKek = new Map<string, string>()

  constructor(cfg: KsGroupConfig, state: GroupState | undefined, signing: SigningKey | undefined) {
    this.cfg = cfg
    this.kek = state?.kek ?? null
    this.teks = (state?.teks ?? []).map((tek) => ({ tek, acl: cfg.acl }))
    for (const m of state?.members ?? []) this.members.set(memberKey(m), m)
    this.senderIdNext = Math.max(1, state?.senderIdNext ?? 1)
    this.signing = signing
  }

  get name(): string {
    return this.cfg.name
  }

  get groupId(): GroupId {
    const i = this.cfg.identity
    return i.kind === 'number' ? { kind: 'number', value: i.number } : { kind: 'ipv4', address: i.address }
  }

  /** Live (not yet expired) TEKs, oldest first. */
  liveTeks(nowMs: number): LiveTek[] {
    return this.teks.filter((t) => t.tek.expiresMs > nowMs)
  }

  /** Does the KEK with this SPI belong to this group (current or retired)? */
  kekBySpi(spi: Uint8Array): { kek: KekState; ackRequested: number | undefined } | undefined {
    if (this.kek !== null && equal(this.kek.spi, spi)) return { kek: this.kek, ackRequested: this.ackRequested }
    const r = this.retiredKeks.find((x) => equal(x.kek.spi, spi))
    return r === undefined ? undefined : { kek: r.kek, ackRequested: r.ackRequested }
  }

  /** KEK_ACK_REQUESTED value the current configuration asks for (RFC 8263 REKEY_ACK_KEK_SHA256). */
  get ackRequested(): number | undefined {
    return this.cfg.rekey?.ack === 'rfc8263' ? 1 : undefined
  }

  isAuthorized(peerAddress: string): boolean {
    const list = this.cfg.authorization
    if (list === null) return true
    return isIpv4(peerAddress) && list.some((p) => inPrefix(peerAddress, p))
  }

  /** Policy + keys as of now, for PULL2/PULL4 (KEK keys included). */
  snapshot(transport: RekeyTransport, nowMs: number): { policy: GroupPolicy; keys: GroupLookupOk['keysNow'] } {
    return policyAndKeys({
      group: this.cfg,
      kek: this.kek,
      signing: this.signing,
      transport,
      teks: this.liveTeks(nowMs),
      includeKek: this.kek !== null,
      includeKekKeys: true,
      nowMs,
    })
  }

  /** Clustered store: sender IDs come from blocks reserved in etcd (cluster.ts), not from senderIdNext. */
  sidSource: ((count: number, bits: number) => readonly number[] | undefined) | undefined

  /** `count` fresh RFC 6054 sender IDs, or undefined when the SID space is exhausted. */
  allocateSids(count: number): SenderIds | undefined {
    const bits = this.cfg.senderIdBits
    if (this.sidSource !== undefined) {
      const values = this.sidSource(count, bits)
      return values === undefined ? undefined : { bits, values: [...values] }
    }
    const limit = 2 ** bits
    if (this.senderIdNext + count > limit) return undefined
    const values: number[] = []
    for (let i = 0; i < count; i++) values.push(this.senderIdNext++)
    return { bits, values }
  }

  /** What the store keeps of this group. */
  toState(): GroupState {
    return {
      kek: this.kek,
      teks: this.teks.map((t) => t.tek),
      members: [...this.members.values()],
      senderIdNext: this.senderIdNext,
      signingKey: this.signing !== undefined ? signingKeyRef(this.signing) : null,
    }
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

export function inPrefix(address: string, p: Prefix): boolean {
  const m = maskOf(p.length)
  return ((ipv4ToNumber(address) & m) >>> 0) === ((ipv4ToNumber(p.address) & m) >>> 0)
}

/** The groups of one key server, found by their PULL1 identity. */
export class GroupTable {
  readonly #groups = new Map<string, GroupRuntime>()

  add(g: GroupRuntime): void {
    this.#groups.set(g.name, g)
  }

  delete(name: string): void {
    this.#groups.delete(name)
  }

  get(name: string): GroupRuntime | undefined {
    return this.#groups.get(name)
  }

  all(): GroupRuntime[] {
    return [...this.#groups.values()]
  }

  byId(id: IdPayload | GroupId): GroupRuntime | undefined {
    const gid = 'kind' in id ? id : idPayloadToGroupId(id)
    if (gid === undefined) return undefined
    return this.all().find((g) => sameGroupId(g.groupId, gid))
  }

  /** A KEK SPI → its group (current or retired KEK). */
  byKekSpi(spi: Uint8Array): GroupRuntime | undefined {
    return this.all().find((g) => g.kekBySpi(spi) !== undefined)
  }

  /**
   * The GroupProvider of one phase-1 SA. `lookup` changes nothing (RFC 6407 §7.2.5: no group state
   * changes before a valid PULL3); `allocateSids` is called after PULL3 and changes the SID counter.
   */
  provider(peer: Endpoint, transport: (g: GroupRuntime) => RekeyTransport, nowMs: () => number): GroupProvider {
    return {
      lookup: (id): GroupLookupOk | GroupLookupError => {
        const g = this.byId(id)
        if (g === undefined) return { ok: false, error: 'unknown-group' }
        if (!g.isAuthorized(peer.address)) return { ok: false, error: 'unauthorized' }
        const now = nowMs()
        const { policy, keys } = g.snapshot(transport(g), now)
        if (policy.kek === undefined && policy.teks.length === 0) return { ok: false, error: 'unknown-group' }
        return { ok: true, policyNow: policy, keysNow: keys, seq: g.kek?.seq ?? 0 }
      },
      allocateSids: (policy, count) => {
        const g = policy.groupId !== undefined ? this.byId(policy.groupId) : undefined
        return g?.allocateSids(count)
      },
    }
  }
}
