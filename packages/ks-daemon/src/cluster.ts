// The key server's side of a cluster on etcd (README "Clustering on etcd"): which instance rekeys,
// and how every instance keeps answering registrations with the same keys.
//
//   primary  — runs the rekey schedule and sends the pushes; every push is saved first with a fenced
//              etcd transaction (store/etcd-store.ts), so a deposed primary sends nothing. On election
//              it reloads the group state from etcd (the SEQ continues from what was saved; it is never
//              lowered), creates what is missing or expired, and finishes the retransmissions of the
//              last push its predecessor saved.
//   follower — answers GROUPKEY-PULLs from the replicated state (the etcd watch brings new KEKs, TEKs
//              and SEQs), writes the members that register with it (the primary sees them through the
//              watch and rekeys them), runs no rekey timer.
// Policy: the cluster serves the primary's group policy (cluster-policy.ts); a follower whose own
// configuration differs logs gdoi.cluster.policy-mismatch, counts cluster.policy-mismatch and shows it
// in status, and answers PULLs with the primary's policy anyway (what Cisco COOP secondaries do).
// etcd unreachable: nothing changes keys (no push can be saved, so none is sent; a rekey that could not
// be saved is rolled back to the saved keys); registrations keep working with the keys in memory; the
// primary steps down once its lease may have expired. When etcd is back the instances re-sync from it.
import type { Logger } from '@gdoi/daemon-kit'
import { LogEvent } from '@gdoi/daemon-kit'
import type { KsGroupConfig } from './config/index.js'
import { Counter } from './counters.js'
import type { GroupRuntime } from './groups.js'
import { memberKey } from './groups.js'
import type { KsContext } from './main.js'
import { kekKeylogLine, tekKeylogLine } from './policy.js'
import type { PreparedPush } from './rekey.js'
import type { ClusterInfo, ClusterStore, PushRecord } from './store/etcd-store.js'
import { groupPolicyOf, policyDifferences, policyDigest, withPolicy, type PublishedPolicy } from './cluster-policy.js'
import type { GroupState, KsState, KsStore } from './store/index.js'

/** A store shared by several key servers (etcd-store.ts; checked without loading the etcd client). */
export function isClusterStore(s: KsStore): s is ClusterStore {
  return (s as Partial<ClusterStore>).kind === 'etcd'
}

/** Sender IDs reserved from etcd at a time, and the level at which the next block is fetched. */
const SID_BLOCK = 64
const SID_LOW = 16

export interface ClusterStatus {
  readonly backend: 'etcd'
  readonly instance: string
  readonly role: 'primary' | 'follower'
  readonly primary: string | null
  /** How long the current primary has been primary (s). */
  readonly primaryForSec: number | null
  readonly leaseId: string | null
  readonly leaseTtlSec: number
  /** Seconds since this instance's last successful lease keepalive. */
  readonly leaseAgeSec: number | null
  readonly store: {
    readonly available: boolean
    readonly since: string
    readonly lastError: string | null
    /** auth | permission | tls | unavailable (see EtcdErrorKind), while unavailable. */
    readonly lastErrorKind: ClusterInfo['lastErrorKind']
    /** Failed etcd requests since start, by kind. */
    readonly errors: ClusterInfo['errors']
    readonly security: ClusterInfo['security']
    readonly prefix: string
    readonly keyFingerprint: string
    readonly endpoints: ClusterInfo['endpoints']
  }
  readonly instances: readonly {
    readonly id: string
    readonly listen: string
    readonly host: string
    readonly pid: number
    readonly startedAt: string
    readonly primary: boolean
    /** Its own configuration's policy equals the primary's for every group (null: not known). */
    readonly policyMatchesPrimary: boolean | null
  }[]
  /** Per group: this instance's own policy digest, the primary's, and which one it serves. */
  readonly policy: readonly { readonly group: string; readonly own: string; readonly primary: string | null; readonly matches: boolean | null; readonly differs: readonly string[]; readonly serving: 'own' | 'primary' }[]
  /** Groups whose policy here (own configuration) differs from the primary's. */
  readonly policyMismatches: number
  readonly fencedWrites: number
  readonly fenceFailures: number
}

interface SidPool {
  /** Reserved, not yet handed out. */
  readonly ids: number[]
  refill: Promise<void> | undefined
}

export class ClusterNode {
  readonly #ctx: KsContext
  readonly #store: ClusterStore
  readonly #log: Logger
  #chain: Promise<void> = Promise.resolve()
  readonly #sids = new Map<string, SidPool>()
  #closed = false
  /** Primary and done taking over (state loaded, keys checked, schedule armed): rekeys may run. */
  #ready = false
  /** Group → the primary's policy digest this instance last warned about (own configuration differs). */
  readonly #mismatch = new Map<string, { digest: string; differs: string[] }>()

  constructor(ctx: KsContext, store: ClusterStore) {
    this.#ctx = ctx
    this.#store = store
    this.#log = ctx.log.child({ c: 'cluster' })
  }

  /** True once this instance is primary AND has taken over (rekeys are allowed from then on). */
  get isPrimary(): boolean {
    return this.#store.isPrimary && this.#ready
  }

  get store(): ClusterStore {
    return this.#store
  }

  /**
   * Start: campaign once, build the groups (the primary creates missing keys, a follower takes what
   * etcd has), then start the watch, the keepalive and the election loop.
   */
  async start(state: KsState | undefined, create: (cfg: KsGroupConfig, saved: GroupState | undefined, createKeys: boolean) => Promise<GroupRuntime>): Promise<void> {
    this.#store.publishPolicy((name) => this.#publishedPolicy(name))
    await this.#store.setPolicyDigests(this.#ownDigests())
    const primary = await this.#store.campaign()
    for (const cfg of this.#ctx.config.groups) {
      const g = await create(cfg, state?.groups[cfg.name], primary)
      this.#ctx.groups.add(g)
    }
    await this.#store.start({
      role: (p, reason) => this.#enqueue(() => (p ? this.#becomePrimary(reason) : this.#becomeFollower(reason))),
      groupState: (name, st, push) => this.#remoteGroup(name, st, push),
      member: (name, key, m) => {
        const g = this.#ctx.groups.get(name)
        if (g === undefined) return
        if (m === null) {
          g.members.delete(key)
          g.ackKek.delete(key)
          return
        }
        const had = g.members.get(key)
        g.members.set(key, m)
        if (had === undefined || had.registeredAtMs !== m.registeredAtMs) {
          g.ackKek.delete(key)
          this.#ctx.rekeyer.memberRegistered(g, key)
        }
      },
      storeError: (kind) => this.#ctx.counters.inc(`store.error.${kind}`),
      availability: (ok) => {
        if (!ok) return
        // etcd is back: followers re-sync; everyone writes the members it could not write.
        this.#enqueue(async () => {
          if (!this.isPrimary) await this.#sync('etcd available again')
          this.#ctx.persist.saveSoon('etcd available again')
        })
      },
    })
    if (primary) await this.#enqueue(() => this.#becomePrimary('elected at start'))
    else await this.#enqueue(() => this.#sync('start'))
    for (const g of this.#ctx.groups.all()) await this.attach(g)
  }

  /** Hooks a group (new at start or by a reload) to the cluster: sender IDs from etcd blocks. */
  async attach(g: GroupRuntime): Promise<void> {
    const pool: SidPool = { ids: [], refill: undefined }
    this.#sids.set(g.name, pool)
    g.sidSource = (count, bits) => {
      const limit = 2 ** bits
      if (pool.ids.length < count) {
        void this.#refill(g.name, pool)
        return undefined
      }
      if ((pool.ids[count - 1] ?? limit) >= limit) return undefined
      const out = pool.ids.splice(0, count)
      if (pool.ids.length < SID_LOW) void this.#refill(g.name, pool)
      return out
    }
    if (g.cfg.transform.cipher === 'aes-gcm') await this.#refill(g.name, pool)
  }

  #refill(name: string, pool: SidPool): Promise<void> {
    pool.refill ??= this.#store
      .reserveSids(name, SID_BLOCK)
      .then((first) => {
        for (let i = 0; i < SID_BLOCK; i++) pool.ids.push(first + i)
      })
      .catch((err: unknown) => this.#log.warn({ group: name, err }, 'sender IDs could not be reserved in etcd'))
      .finally(() => (pool.refill = undefined))
    return pool.refill
  }

  #enqueue(fn: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(() => (this.#closed ? undefined : fn()))
    this.#chain = next.catch((err: unknown) => {
      this.#ctx.counters.inc(Counter.INTERNAL_ERROR)
      this.#log.error({ err }, 'cluster role change failed')
    })
    return this.#chain
  }

  // ---- roles ---------------------------------------------------------------------------------------

  async #becomePrimary(reason: string): Promise<void> {
    const ctx = this.#ctx
    this.#ready = false
    for (const g of ctx.groups.all()) ctx.rekeyer.unschedule(g)
    await ctx.rekeyer.idle() // a rekey of an earlier term finishes (or is fenced) before we load
    if (!this.#store.isPrimary) return
    let state: KsState | undefined
    try {
      state = await this.#store.load()
    } catch (err) {
      this.#log.error({ err }, 'elected, but the state cannot be read from etcd: stepping down')
      this.#store.stepDown('state unreadable')
      return
    }
    if (!this.#store.isPrimary) return
    const now = ctx.clock.nowMs()
    for (const g of ctx.groups.all()) {
      // The primary serves (and publishes with its first save) its own configuration's policy.
      const own = this.#ownCfg(g.name)
      if (own !== undefined) g.cfg = own
      this.#mismatch.delete(g.name)
      const saved = state?.groups[g.name]
      if (saved !== undefined) this.#apply(g, saved, true)
      this.#ensureKeys(g, now)
    }
    try {
      await ctx.persist.save('elected primary')
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'elected, but the state cannot be written: stepping down')
      this.#store.stepDown('state unwritable')
      return
    }
    if (!this.#store.isPrimary) return
    this.#ready = true
    ctx.counters.inc(Counter.CLUSTER_ELECTED)
    for (const g of ctx.groups.all()) {
      ctx.rekeyer.unschedule(g)
      ctx.rekeyer.schedule(g)
      this.#resume(g, now)
    }
    this.#log.info(
      { event: LogEvent.CLUSTER_PRIMARY, reason, groups: ctx.groups.all().map((g) => ({ group: g.name, seq: g.kek?.seq ?? null, teks: g.teks.length, members: g.members.size })) },
      'primary: rekeys are sent from here',
    )
  }

  async #becomeFollower(reason: string): Promise<void> {
    this.#ready = false
    this.#ctx.counters.inc(Counter.CLUSTER_STEPPED_DOWN)
    if (reason.startsWith('fenced')) this.#ctx.counters.inc(Counter.CLUSTER_FENCED)
    for (const g of this.#ctx.groups.all()) this.#ctx.rekeyer.unschedule(g)
    await this.#sync(`stepped down: ${reason}`)
  }

  /** A follower takes the group state from etcd (when etcd answers; otherwise keeps what it has). */
  async #sync(why: string): Promise<void> {
    if (this.#store.isPrimary) return
    let state: KsState | undefined
    try {
      state = await this.#store.load()
    } catch (err) {
      this.#log.warn({ why, err: (err as Error).message }, 'cannot re-sync from etcd now; the keys in memory stay in use')
      return
    }
    if (this.#store.isPrimary) return
    for (const g of this.#ctx.groups.all()) {
      const saved = state?.groups[g.name]
      if (saved !== undefined) this.#apply(g, saved, true)
      this.#adoptPolicy(g)
    }
    this.#ctx.counters.inc(Counter.CLUSTER_SYNCED)
    this.#log.info({ event: LogEvent.CLUSTER_SYNC, why, groups: this.#ctx.groups.all().map((g) => ({ group: g.name, seq: g.kek?.seq ?? null, teks: g.teks.length })) }, 'group state taken from etcd')
  }

  #remoteGroup(name: string, st: GroupState, _push: PushRecord | null): void {
    const g = this.#ctx.groups.get(name)
    if (g === undefined) return
    this.#apply(g, st, false)
    this.#adoptPolicy(g)
    this.#log.debug({ event: LogEvent.CLUSTER_SYNC, group: name, seq: g.kek?.seq ?? null, teks: g.teks.map((t) => t.tek.spi) }, 'group keys updated by the primary')
  }

  /** Puts saved keys (and members, when `members`) into a group; the SEQ under the same KEK is never lowered. */
  #apply(g: GroupRuntime, st: GroupState, members: boolean): void {
    const prevKek = g.kek
    let kek = st.kek
    if (kek !== null && prevKek !== null && Buffer.from(kek.spi).equals(Buffer.from(prevKek.spi)) && prevKek.seq > kek.seq && this.#store.isPrimary) {
      this.#log.warn({ group: g.name, etcdSeq: kek.seq, localSeq: prevKek.seq }, 'etcd holds a lower SEQ than this key server used: continuing from the higher one')
      kek = { ...kek, seq: prevKek.seq }
    }
    if (kek !== null && (prevKek === null || !Buffer.from(kek.spi).equals(Buffer.from(prevKek.spi)))) this.#keylog(kekKeylogLine(kek, g.cfg.rekey?.sigHash ?? 'sha1', g.signing))
    g.kek = kek
    const acl = new Map(g.teks.map((t) => [t.tek.spi, t.acl]))
    for (const t of st.teks) if (!acl.has(t.spi)) this.#keylog(tekKeylogLine(t))
    g.teks = st.teks.map((tek) => ({ tek, acl: acl.get(tek.spi) ?? g.cfg.acl }))
    g.senderIdNext = Math.max(g.senderIdNext, st.senderIdNext)
    if (st.signingKey !== null && g.signing !== undefined && st.signingKey.spkiSha256 !== g.signing.spkiSha256) {
      this.#log.error({ group: g.name, etcd: st.signingKey.spkiSha256, local: g.signing.spkiSha256 }, 'this key server signs with another RSA key than the cluster: check signingKey on every instance')
    }
    if (members) {
      g.members.clear()
      for (const m of st.members) g.members.set(memberKey(m), m)
    }
  }

  /** What a new primary must fix before it rekeys: an expired or missing KEK, no live TEK. */
  #ensureKeys(g: GroupRuntime, now: number): void {
    const { rekeyer } = this.#ctx
    if (g.cfg.rekey === null) g.kek = null
    else if (g.kek === null || g.kek.expiresMs <= now) {
      if (g.kek !== null) this.#log.warn({ event: LogEvent.KEK_EXPIRED, group: g.name }, 'the KEK expired while no key server was primary: new KEK, members must re-register')
      g.kek = rekeyer.newKek(g, now)
    }
    g.teks = g.teks.filter((t) => t.tek.expiresMs > now)
    if (g.teks.length === 0) rekeyer.addTek(g, now)
  }

  /** Finishes the retransmissions of the last push the previous primary saved, if they are not over. */
  #resume(g: GroupRuntime, now: number): void {
    const p = this.#store.lastPush(g.name)
    if (p === undefined || g.cfg.rekey === null) return
    const remaining = p.atMs + p.windowMs + (g.cfg.rekey.retransmitPeriodSec * 1000) - now
    if (remaining <= 0) return
    const kekSpi = new Uint8Array(Buffer.from(p.kekSpi, 'hex'))
    const current = g.kek !== null && Buffer.from(g.kek.spi).equals(Buffer.from(kekSpi))
    // Only a push under the current KEK (or the KEK rollover that introduced it) is worth repeating.
    if (!current && p.kind !== 'kek-rekey') return
    this.#ctx.rekeyer.resumePush(g, { kind: p.kind, kekSpi, seq: p.seq, bytes: new Uint8Array(Buffer.from(p.bytes, 'base64')) }, remaining)
  }

  // ---- policy --------------------------------------------------------------------------------------

  #ownCfg(name: string): KsGroupConfig | undefined {
    return this.#ctx.config.groups.find((c) => c.name === name)
  }

  #ownDigests(): Record<string, string> {
    return Object.fromEntries(this.#ctx.config.groups.map((c) => [c.name, policyDigest(groupPolicyOf(c))]))
  }

  /** What the primary writes with a group record: its own policy and the ACL of each live TEK. */
  #publishedPolicy(name: string): PublishedPolicy | undefined {
    const own = this.#ownCfg(name)
    const g = this.#ctx.groups.get(name)
    if (own === undefined || g === undefined) return undefined
    const policy = groupPolicyOf(own)
    return { digest: policyDigest(policy), writer: this.#store.instanceId, policy, teks: g.teks.map((t) => ({ spi: t.tek.spi, acl: t.acl })) }
  }

  /**
   * A follower serves the primary's policy (the TEKs with the ACL the primary created them under); when
   * its own configuration differs it says so once per change (log event, counter) and in status.
   */
  #adoptPolicy(g: GroupRuntime): void {
    const own = this.#ownCfg(g.name)
    const pub = this.#store.primaryPolicy(g.name)
    if (own === undefined || pub === undefined || this.#store.isPrimary || pub.writer === this.#store.instanceId) return
    const mine = groupPolicyOf(own)
    if (policyDigest(mine) !== pub.digest) {
      const differs = policyDifferences(mine, pub.policy)
      if (this.#mismatch.get(g.name)?.digest !== pub.digest) {
        this.#ctx.counters.inc('cluster.policy-mismatch')
        this.#log.warn(
          { event: LogEvent.CLUSTER_POLICY_MISMATCH, group: g.name, primary: pub.writer, ownDigest: policyDigest(mine), primaryDigest: pub.digest, differs },
          `the group policy in this key server's configuration differs from the primary's (${differs.join(', ')}): serving the primary's policy; make the configurations equal`,
        )
      }
      this.#mismatch.set(g.name, { digest: pub.digest, differs })
    } else if (this.#mismatch.delete(g.name)) {
      this.#log.info({ event: LogEvent.CLUSTER_POLICY_MISMATCH, group: g.name, primary: pub.writer, resolved: true }, 'the group policy here matches the primary again')
    }
    g.cfg = withPolicy(own, pub.policy)
    const acls = new Map(pub.teks.map((t) => [t.spi, t.acl]))
    g.teks = g.teks.map((t) => ({ tek: t.tek, acl: acls.get(t.tek.spi) ?? g.cfg.acl }))
  }

  /** After a configuration reload: new digests in the instance record; the primary publishes its new
   *  policy (next save), a follower goes back to serving the primary's. */
  async configReloaded(): Promise<void> {
    await this.#store.setPolicyDigests(this.#ownDigests())
    if (this.isPrimary) this.#ctx.persist.saveSoon('policy reloaded')
    else for (const g of this.#ctx.groups.all()) this.#adoptPolicy(g)
  }

  // ---- rekey hooks ---------------------------------------------------------------------------------

  pushPrepared(g: GroupRuntime, p: PreparedPush): void {
    this.#store.notePush(g.name, {
      kind: p.kind,
      kekSpi: Buffer.from(p.kekSpi).toString('hex'),
      seq: p.seq,
      atMs: p.atMs,
      windowMs: p.windowMs,
      bytes: Buffer.from(p.bytes).toString('base64'),
    })
  }

  /** A rekey whose SEQ could not be saved: back to the keys etcd has (a follower must never answer a
   *  PULL with a TEK the other key servers do not know). */
  pushAborted(g: GroupRuntime): void {
    const saved = this.#store.committedGroup(g.name)
    if (saved !== undefined) {
      this.#apply(g, saved, false)
      const spi = g.kek !== null ? Buffer.from(g.kek.spi) : undefined
      for (let i = g.retiredKeks.length - 1; i >= 0; i--) if (spi !== undefined && spi.equals(Buffer.from(g.retiredKeks[i]?.kek.spi ?? []))) g.retiredKeks.splice(i, 1)
    }
    if (this.isPrimary) {
      // Still primary (etcd slow or away for less than the lease): the schedule tries again.
      this.#ctx.rekeyer.unschedule(g)
      this.#ctx.rekeyer.schedule(g)
    }
  }

  #keylog(line: string): void {
    try {
      this.#ctx.keylog?.write(line)
    } catch (err) {
      this.#log.warn({ err }, 'key log write failed')
    }
  }

  // ---- status / close ------------------------------------------------------------------------------

  status(): ClusterStatus {
    const i = this.#store.info()
    const now = Date.now()
    return {
      backend: 'etcd',
      instance: i.instance,
      role: this.isPrimary ? 'primary' : 'follower',
      primary: i.primaryId,
      primaryForSec: i.primarySinceMs !== null ? Math.max(0, Math.round((now - i.primarySinceMs) / 1000)) : null,
      leaseId: i.leaseId,
      leaseTtlSec: i.leaseTtlSec,
      leaseAgeSec: i.lastKeepaliveMs !== null ? Math.max(0, Math.round((now - i.lastKeepaliveMs) / 100) / 10) : null,
      store: {
        available: i.available,
        since: new Date(i.availableSinceMs).toISOString(),
        lastError: i.available ? null : i.lastError,
        lastErrorKind: i.available ? null : i.lastErrorKind,
        errors: i.errors,
        security: i.security,
        prefix: i.prefix,
        keyFingerprint: i.keyFingerprint,
        endpoints: i.endpoints,
      },
      instances: i.instances.map((x) => ({
        id: x.id,
        listen: x.listen,
        host: x.host,
        pid: x.pid,
        startedAt: new Date(x.startedAtMs).toISOString(),
        primary: x.id === i.primaryId,
        policyMatchesPrimary: this.#matchesPrimary(x.policy, i),
      })),
      policy: this.#ctx.groups.all().map((g) => {
        const own = this.#ownCfg(g.name)
        const ownDigest = own !== undefined ? policyDigest(groupPolicyOf(own)) : ''
        const primary = this.isPrimary ? ownDigest : (this.#store.primaryPolicy(g.name)?.digest ?? null)
        const m = this.#mismatch.get(g.name)
        return { group: g.name, own: ownDigest, primary, matches: primary === null ? null : primary === ownDigest, differs: m?.differs ?? [], serving: !this.isPrimary && primary !== null ? 'primary' : 'own' }
      }),
      policyMismatches: this.isPrimary ? 0 : this.#mismatch.size,
      fencedWrites: i.fencedWrites,
      fenceFailures: i.fenceFailures,
    }
  }

  /** An instance's published digests against the primary instance's (null when either is unknown). */
  #matchesPrimary(digests: Readonly<Record<string, string>> | undefined, i: ClusterInfo): boolean | null {
    const primary = i.instances.find((x) => x.id === i.primaryId)?.policy
    if (digests === undefined || primary === undefined) return null
    const names = new Set([...Object.keys(digests), ...Object.keys(primary)])
    return [...names].every((n) => digests[n] === primary[n])
  }

  async close(): Promise<void> {
    this.#closed = true
    await this.#chain
  }
}
