// The key server: startKeyServer({ config, transport, clock, log, store }) → { status(), reload(), close() }.
// All I/O comes in through the arguments (STYLE "The I/O boundary"): the CLI passes node:dgram, the
// real clock and the file store; tests pass the memory network, a fake clock and the memory store.
//
//   datagram → decodeHeader ─┬─ exchange 2/5/32 → sessions.ts (Main Mode → Phase1Sa → GROUPKEY-PULL)
//                            ├─ exchange 35     → rekey.ts (RFC 8263 ACK)
//                            └─ anything else   → dropped and counted
//   timers → rekey.ts (TEK/KEK rekeys, pushes, retransmissions, ejection); state → persist.ts → KsStore
import { randomBytes } from 'node:crypto'
import type { Clock, Endpoint, KeyLog, Logger, Transport } from '@gdoi/daemon-kit'
import { DiagChannel, LogEvent, DatagramSizeCap, formatEndpoint, publish } from '@gdoi/daemon-kit'
import { DecodeError, decodeHeader } from '@gdoi/wire'
import { ExchangeType } from '@gdoi/wire/constants'
import { HashMemory, type PullKsFailure, type PullRegistration, type Phase1Sa, type ResponderConfig } from '@gdoi/wire/exchange/index'
import type { PushSigForm } from '@gdoi/wire/crypto/push'
import type { KsConfig } from './config/index.js'
import type { GroupState, KsStore, SigningKey } from './store/index.js'
import { loadOrCreateSigningKey } from './store/index.js'
import type { KsGroupConfig, SigningKeyConfig } from './config/index.js'
import { Counter, Counters } from './counters.js'
import { GroupRuntime, GroupTable, memberKey } from './groups.js'
import { describeId, groupIdentityText } from './identity.js'
import { loadRsaIdentity, responderConfig } from './ike-config.js'
import { kekKeylogLine, tekKeylogLine, type RekeyTransport } from './policy.js'
import { StatePersister } from './persist.js'
import { Rekeyer } from './rekey.js'
import { DEFAULT_SESSION_LIMITS, Sessions, type SessionLimits } from './sessions.js'
import { buildStatus, type KsStatus } from './status.js'
import { applyReload, type ReloadResult } from './reload.js'
import type { Rng } from './keygen.js'
import { ClusterNode, isClusterStore } from './cluster.js'
import { IdleTrim } from './memory-trim.js'

/** Switches for test captures and older peers (spec §8.2, §5.2); override `config.compat`. */
export interface KsCompat {
  /** SAK/SAT ID Data Length width: 1 (RFC 6407, default) or 2 (what tshark 4.0 parses; captures only). */
  readonly idLengthWidth?: 1 | 2
  /** Push signature: 'rfc' (DigestInfo, default) or 'bare' (the gdoid reference implementation). */
  readonly sigForm?: PushSigForm
}

export interface StartKeyServerOptions {
  readonly config: KsConfig
  readonly transport: Transport
  readonly clock: Clock
  readonly log: Logger
  readonly store: KsStore
  readonly keylog?: KeyLog
  /** Randomness for cookies, nonces, SPIs and keys (default node:crypto randomBytes). */
  readonly rng?: Rng
  /** Override `config.limits` (and the per-peer limits that are not configurable). */
  readonly limits?: Partial<SessionLimits>
  readonly compat?: KsCompat
  /** Where a group's push-signing RSA key comes from (default: generated/loaded in config.stateDir). */
  readonly loadSigningKey?: (cfg: SigningKeyConfig, stateDir: string) => Promise<SigningKey>
}

export interface KeyServer {
  /** What `gdoi-ks status` shows. */
  status(): KsStatus
  /** Applies a new configuration; what cannot change without a restart is listed, not applied. */
  reload(config: KsConfig): Promise<ReloadResult>
  /** A TEK or KEK rekey now (like IOS `crypto gdoi ks rekey`). */
  rekey(group: string, kind: 'tek' | 'kek'): Promise<void>
  /** Stops receiving and all timers, then saves the state. The caller closes transport and store. */
  close(): Promise<void>
  readonly counters: Counters
}

/** Everything the key server's parts share (main.ts builds it once; reload.ts changes `config`). */
export interface KsContext {
  config: KsConfig
  ike: ResponderConfig
  readonly clock: Clock
  readonly log: Logger
  readonly rng: Rng
  readonly transport: Transport
  readonly counters: Counters
  readonly groups: GroupTable
  readonly persist: StatePersister
  readonly rekeyer: Rekeyer
  readonly loadSigningKey: (cfg: SigningKeyConfig, stateDir: string) => Promise<SigningKey>
  readonly keylog: KeyLog | undefined
  readonly startedMs: number
  /** Set when the store is shared by several key servers (etcd): roles, replication, fencing. */
  cluster: ClusterNode | undefined
}

const defaultRng: Rng = (n) => new Uint8Array(randomBytes(n))

export function buildResponderConfig(config: KsConfig, log: Logger, clock: Clock, exchangeMaxMs: number): ResponderConfig {
  const rsa = loadRsaIdentity(config.ike, log, () => clock.nowMs())
  return responderConfig(config.ike, { localAddress: config.listen.address, ...(rsa !== undefined ? { rsa } : {}), exchangeMaxMs })
}

export async function startKeyServer(opts: StartKeyServerOptions): Promise<KeyServer> {
  const { clock, transport, store } = opts
  const root = opts.log
  const log = root.child({ c: 'ks' })
  const rng = opts.rng ?? defaultRng
  const limits: SessionLimits = {
    ...DEFAULT_SESSION_LIMITS,
    maxHalfOpen: opts.config.limits.maxHalfOpenSa,
    exchangeMaxMs: opts.config.limits.exchangeTimeoutSec * 1000,
    ...(opts.limits ?? {}),
  }
  const idLengthWidth = opts.compat?.idLengthWidth ?? opts.config.compat.idLengthWidth
  const counters = new Counters()
  const groups = new GroupTable()
  const persist = new StatePersister(store, groups, clock, log, counters)
  const send = (bytes: Uint8Array, to: Endpoint): void => {
    counters.inc(Counter.DATAGRAMS_OUT)
    transport.send(bytes, to)
  }
  const transportOf = (g: GroupRuntime): RekeyTransport => {
    const r = g.cfg.rekey
    const address = ctx.config.listen.address !== '0.0.0.0' ? ctx.config.listen.address : transport.local.address
    return {
      source: { address, port: transport.local.port },
      ...(r?.transport === 'multicast' && r.multicastAddress !== null ? { multicastAddress: r.multicastAddress } : {}),
    }
  }
  const cluster = isClusterStore(store) ? store : undefined
  const rekeyer = new Rekeyer({
    clock,
    log: root.child({ c: 'rekey' }),
    counters,
    rng,
    send,
    keylog: opts.keylog,
    persist,
    groups,
    transportOf,
    sigForm: opts.compat?.sigForm ?? opts.config.compat.pushSignature,
    idLengthWidth,
    ackMemory: new HashMemory(4096, 600_000),
    onPushPrepared: (g, p) => ctx.cluster?.pushPrepared(g, p),
    onPushAborted: (g) => ctx.cluster?.pushAborted(g),
  })
  const ctx: KsContext = {
    config: opts.config,
    ike: buildResponderConfig(opts.config, log, clock, limits.exchangeMaxMs),
    clock,
    log,
    rng,
    transport,
    counters,
    groups,
    persist,
    rekeyer,
    loadSigningKey: opts.loadSigningKey ?? (cluster !== undefined ? (c) => cluster.signingKey(c) : loadOrCreateSigningKey),
    keylog: opts.keylog,
    startedMs: clock.nowMs(),
    cluster: undefined,
  }

  // ---- state and keys ----
  const state = await store.load()
  if (state !== undefined) {
    log.info({ event: LogEvent.STATE_LOADED, groups: Object.keys(state.groups), savedAtMs: state.savedAtMs }, 'state loaded')
    for (const name of Object.keys(state.groups)) {
      if (!opts.config.groups.some((g) => g.name === name)) log.warn({ group: name }, 'group in the saved state is no longer configured; its keys are dropped')
    }
  }
  if (cluster !== undefined) {
    // Several key servers on etcd: the primary creates and rekeys, the others follow (cluster.ts).
    const node = new ClusterNode(ctx, cluster)
    ctx.cluster = node
    await node.start(state, (cfg, saved, createKeys) => createGroup(ctx, cfg, saved, { createKeys }))
  } else {
    for (const cfg of opts.config.groups) {
      const g = await createGroup(ctx, cfg, state?.groups[cfg.name])
      groups.add(g)
    }
    await persist.save('start')
    for (const g of groups.all()) rekeyer.schedule(g)
  }

  // ---- datagrams ----
  const sessions = new Sessions({
    clock,
    log: root.child({ c: 'ike' }),
    counters,
    ctx: { rng, nowMs: () => clock.nowMs() },
    send,
    keylog: opts.keylog,
    responderConfig: () => ctx.ike,
    provider: (peer) => groups.provider(peer, transportOf, () => clock.nowMs()),
    onRegistered: (reg, peer, sa) => registered(ctx, reg, peer, sa),
    onPullFailed: (reason, peer, sa) => pullFailed(ctx, reason, peer, sa),
    replay: new HashMemory(16_384, limits.exchangeMaxMs * 5),
    limits,
    idLengthWidth,
    // a registered member's MM1 may evict a young half-open SA under a flood (sessions.ts)
    knownPeer: (peer) => {
      const key = memberKey(peer)
      return groups.all().some((g) => g.members.has(key))
    },
  })
  let closed = false
  // Oversized datagrams are dropped before the copy and the decode (daemon-kit size-cap.ts).
  const sizeCap = new DatagramSizeCap({
    maxBytes: () => opts.config.limits.maxDatagramBytes,
    count: () => counters.inc(Counter.DROP_OVERSIZED),
    log,
    nowMs: () => clock.nowMs(),
  })
  const trim = new IdleTrim({ clock, log }) // memory back after a storm (memory-trim.ts)
  transport.onDatagram((bytes, from) => {
    if (closed) return
    counters.inc(Counter.DATAGRAMS_IN)
    trim.activity()
    if (!sizeCap.admit(bytes, from)) return
    const data = Uint8Array.from(bytes) // receive buffers are only ours during the callback
    const peer = { address: from.address, port: from.port }
    try {
      const h = decodeHeader(data)
      if (h.exchange === ExchangeType.GROUPKEY_PUSH_ACK) rekeyer.handleAck(data, peer)
      else if (h.exchange === ExchangeType.GROUPKEY_PUSH) {
        counters.inc(`${Counter.DROP}.push-from-peer`)
      } else sessions.handle(h, data, peer)
    } catch (err) {
      if (err instanceof DecodeError) {
        counters.inc(`${Counter.DECODE_ERROR}.${err.code}`)
        log.debug({ event: LogEvent.DECODE_ERROR, peer: formatEndpoint(peer), code: err.code, offset: err.offset }, 'undecodable datagram dropped')
        publish(DiagChannel.DECODE_ERROR, { peer: formatEndpoint(peer), code: err.code, offset: err.offset })
        return
      }
      counters.inc(Counter.INTERNAL_ERROR)
      log.error({ err, peer: formatEndpoint(peer) }, 'internal error while handling a datagram')
    }
  })

  const listen = formatEndpoint(transport.local)
  log.info({ event: LogEvent.DAEMON_STARTED, listen, groups: groups.all().map((g) => g.name) }, 'key server started')
  publish(DiagChannel.KS_STARTED, { listen, groups: groups.all().map((g) => g.name) })

  return {
    counters,
    status: () => buildStatus(ctx, sessions),
    reload: (config) => applyReload(ctx, config, limits.exchangeMaxMs),
    rekey: (name, kind) => {
      const g = groups.get(name)
      if (g === undefined) return Promise.reject(Object.assign(new Error(`no group named ${name}`), { code: 'ERR_NO_GROUP' }))
      if (ctx.cluster !== undefined && !ctx.cluster.isPrimary) {
        const primary = ctx.cluster.status().primary
        return Promise.reject(Object.assign(new Error(`this key server is not the primary; rekey on the primary (${primary ?? 'none elected now'})`), { code: 'ERR_NOT_PRIMARY' }))
      }
      return rekeyer.rekey(g, kind)
    },
    async close() {
      if (closed) return
      closed = true
      log.info({ event: LogEvent.DAEMON_STOPPING }, 'key server stopping')
      transport.onDatagram(() => {})
      await ctx.cluster?.close()
      await rekeyer.close()
      sessions.closeAll()
      trim.close()
      await persist.close()
    },
  }
}

/** A group from its configuration and saved state: signing key, a usable KEK and at least one live TEK. */
export async function createGroup(ctx: KsContext, cfg: KsGroupConfig, saved: GroupState | undefined, opts: { readonly createKeys?: boolean } = {}): Promise<GroupRuntime> {
  const createKeys = opts.createKeys ?? true
  const { log, clock, rekeyer } = ctx
  let signing: SigningKey | undefined
  if (cfg.rekey !== null) {
    signing = await ctx.loadSigningKey(cfg.rekey.signingKey, ctx.config.stateDir)
    log.info(
      { event: signing.created ? LogEvent.SIGNING_KEY_GENERATED : LogEvent.SIGNING_KEY_LOADED, group: cfg.name, label: signing.label, bits: signing.bits, path: signing.path, spkiSha256: signing.spkiSha256 },
      signing.created ? 'rekey signing key generated' : 'rekey signing key loaded',
    )
  }
  const g = new GroupRuntime(cfg, saved, signing)
  const now = clock.nowMs()
  if (cfg.rekey === null) {
    g.kek = null
  } else if (!createKeys) {
    // A follower of a cluster: the primary makes keys; we answer with what etcd has.
    if (g.kek !== null) writeKeylog(ctx, kekKeylogLine(g.kek, cfg.rekey.sigHash, signing))
  } else {
    const stored = saved?.signingKey
    if (g.kek !== null && stored != null && signing !== undefined && stored.spkiSha256 !== signing.spkiSha256) {
      log.warn({ group: cfg.name, label: signing.label }, 'the rekey signing key changed since the state was saved: new KEK, members must re-register')
      g.kek = null
    }
    if (g.kek !== null && g.kek.expiresMs <= now) {
      log.warn({ event: LogEvent.KEK_EXPIRED, group: cfg.name }, 'the KEK expired while the key server was down: new KEK, members must re-register')
      g.kek = null
    }
    if (g.kek === null) g.kek = rekeyer.newKek(g, now)
    else writeKeylog(ctx, kekKeylogLine(g.kek, cfg.rekey.sigHash, signing))
  }
  const expired = g.teks.filter((t) => t.tek.expiresMs <= now)
  g.teks = g.teks.filter((t) => t.tek.expiresMs > now)
  if (expired.length > 0) log.info({ group: cfg.name, expired: expired.length }, 'expired TEKs dropped')
  for (const t of g.teks) writeKeylog(ctx, tekKeylogLine(t.tek))
  if (g.teks.length === 0 && createKeys) rekeyer.addTek(g, now)
  log.info(
    { group: cfg.name, identity: groupIdentityText(cfg.identity), members: g.members.size, seq: g.kek?.seq ?? null, teks: g.teks.length },
    'group ready',
  )
  return g
}

function writeKeylog(ctx: KsContext, line: string): void {
  try {
    ctx.keylog?.write(line)
  } catch (err) {
    ctx.log.warn({ err }, 'key log write failed')
  }
}

/** PULL3 was valid: the member joins the group (replacing an older registration from the same address). */
async function registered(ctx: KsContext, reg: PullRegistration, peer: Endpoint, sa: Phase1Sa): Promise<void> {
  const g = ctx.groups.byId(reg.groupIdPayload)
  if (g === undefined) return
  const key = memberKey(peer)
  const identity = describeId(sa.peerId)
  g.members.set(key, {
    address: peer.address,
    port: peer.port,
    identity,
    registeredAtMs: reg.atMs,
    missedPushes: 0,
    lastAckSeq: null,
    senderIds: reg.sids?.values ?? [],
  })
  g.ackKek.delete(key)
  ctx.rekeyer.memberRegistered(g, key)
  ctx.counters.inc(Counter.REGISTRATIONS)
  const fields = {
    group: g.name,
    member: key,
    identity,
    seq: reg.seq ?? null,
    teks: reg.tekSpis.map((s) => `0x${s.toString(16).toUpperCase().padStart(8, '0')}`),
    ...(reg.sids !== undefined ? { senderIds: reg.sids.values } : {}),
  }
  ctx.log.info({ event: LogEvent.MEMBER_ADDED, ...fields }, 'registration complete for member')
  publish(DiagChannel.KS_MEMBER_REGISTERED, { group: g.name, peer: key, seq: reg.seq ?? 0, spi: reg.tekSpis[0] ?? 0, teks: reg.tekSpis, ...(reg.kekSpi !== undefined ? { kekSpi: Buffer.from(reg.kekSpi).toString('hex') } : {}) })
  await ctx.persist.save('registration')
}

function pullFailed(ctx: KsContext, reason: PullKsFailure, peer: Endpoint, sa: Phase1Sa): void {
  const p = formatEndpoint(peer)
  const identity = describeId(sa.peerId)
  if (reason.code === 'unknown-group' || reason.code === 'unauthorized') {
    ctx.counters.inc(`${Counter.REFUSED}.${reason.code}`)
    ctx.log.warn({ event: LogEvent.MEMBER_REFUSED, peer: p, identity, reason: reason.code }, 'registration refused (INVALID-ID-INFORMATION sent)')
    publish(DiagChannel.KS_MEMBER_REFUSED, { peer: p, reason: reason.code })
    return
  }
  const level = reason.code === 'bad-hash' ? 'warn' : 'debug'
  ctx.log[level]({ event: LogEvent.REGISTRATION_FAILED, peer: p, reason: reason.code, ...('detail' in reason ? { detail: reason.detail } : {}) }, 'GROUPKEY-PULL failed')
}
