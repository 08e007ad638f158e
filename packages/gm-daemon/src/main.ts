// startGroupMember(): the group member's control plane over an injected transport, clock and logger
// (STYLE "The I/O boundary"). It registers (registration.ts: Main Mode + GROUPKEY-PULL, key server
// failover), installs the policy, TEKs (tek-store.ts → the data plane's SaTable) and KEK
// (kek-store.ts), processes pushes (push.ts), re-registers before expiry when no push came
// (rekey-timer.ts), and answers status (status.ts). The data plane, when a factory is given, runs over
// the same SaTable and gets the downloaded ACL (data-plane-seam.ts).
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import { decodeHeader, DecodeError, ExchangeType, type IsakmpHeader } from '@gdoi/wire'
import type { RetransmitPolicy } from '@gdoi/wire/exchange/index'
import { keylogLines, gdoiKeylogLines, type GroupId } from '@gdoi/wire/exchange/index'
import { DatagramSizeCap, formatEndpoint, isMulticastIpv4, LogEvent, type Clock, type Endpoint, type KeyLog, type Transport } from '@gdoi/daemon-kit'
import type { GmConfig } from './config/types.js'
import { SaTable } from './dataplane/sa-table.js'
import type { ReplayOptions } from './dataplane/replay.js'
import type { EspEngineName } from './dataplane/esp-fast.js'
import { selectorsToAcl } from './acl.js'
import type { DataPlaneFactory, GmDataPlane } from './data-plane-seam.js'
import { GmChannel, publishGm } from './diag.js'
import { initiatorFor, loadRsaMaterial } from './ike.js'
import { KekStore, toHex } from './kek-store.js'
import { PushReceiver } from './push.js'
import { Registrar, type RegistrationOutcome } from './registration.js'
import { OneShot, reregisterAtMs, type BackoffPolicy, type Rng } from './rekey-timer.js'
import { buildStatus, routingView, type GmStatus } from './status.js'
import { TekStore } from './tek-store.js'
import { spiHex } from './show-names.js'

export interface GroupMemberOptions {
  readonly config: GmConfig
  /** Bound to the member's UDP 848 (or a memory transport). Not closed by close(): it is the caller's. */
  readonly transport: Transport
  readonly clock: Clock
  readonly log: Logger
  /** Start a data plane over the SaTable (TUN enabled); absent: control plane only. */
  readonly dataPlane?: DataPlaneFactory
  /** Random bytes (cookies, nonces, jitter). Default node:crypto randomBytes. */
  readonly rng?: Rng
  /** Key log (Wireshark + gdoi records), already opened 0600 by the caller. */
  readonly keylog?: KeyLog
  /** Our address in ID payloads and ACKs. Default: the transport's bound address, else config.local.address. */
  readonly localAddress?: string
  /** Opens a receive transport for a multicast rekey group (real UDP binds the group address). Default:
   *  `transport.joinGroup` when the transport has it. */
  readonly openMulticast?: (group: string, port: number) => Promise<Transport>
  readonly retransmit?: RetransmitPolicy
  readonly exchangeMaxMs?: number
  readonly backoff?: BackoffPolicy
  /** Data-plane anti-replay (default off: a group SA has many senders, spec §4.3). */
  readonly replay?: ReplayOptions
  readonly espEngine?: EspEngineName | 'auto'
  /** Register at once (default true). */
  readonly autoStart?: boolean
}

export interface ReloadResult {
  readonly reregistering: boolean
  /** Settings that only take effect after a restart (listed, not applied). */
  readonly restartNeeded: readonly string[]
}

export interface GroupMember {
  readonly sas: SaTable
  readonly config: GmConfig
  readonly localAddress: string
  status(): GmStatus
  /** Re-reads settings: re-registers with the new key servers / identity / IKE policy. */
  reload(config: GmConfig): Promise<ReloadResult>
  /** Starts a registration now (no-op while one runs). */
  reregister(reason?: string): void
  close(): Promise<void>
}

function groupIdOf(c: GmConfig): GroupId {
  const id = c.group.identity
  return id.kind === 'number' ? { kind: 'number', value: id.number } : { kind: 'ipv4', address: id.address }
}

/** Scheduled re-registrations never come sooner than this after a successful one. */
const MIN_REREGISTER_INTERVAL_MS = 30_000

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

export async function startGroupMember(o: GroupMemberOptions): Promise<GroupMember> {
  const m = new Member(o)
  await m.start()
  return m
}

class Member implements GroupMember {
  readonly sas: SaTable
  readonly localAddress: string
  #config: GmConfig
  readonly #o: GroupMemberOptions
  readonly #log: Logger
  readonly #rng: Rng
  readonly #clock: Clock
  readonly #diagId: string
  readonly #teks: TekStore
  readonly #keks: KekStore
  readonly #push: PushReceiver
  readonly #reregister: OneShot
  readonly #decodeErrors: Record<string, number> = {}
  readonly #sizeCap: DatagramSizeCap
  readonly #multicast = new Map<string, Transport | 'joined'>()
  readonly #startedAtMs: number
  #registrar: Registrar
  #dataPlane: GmDataPlane | undefined
  #acl: unknown
  #registeredWith: string | null = null
  #registeredAtMs: number | null = null
  #succeeded = 0
  #registrationHadTeks = false
  #lastTriggerDeadlineMs: number | undefined
  #closed = false

  constructor(o: GroupMemberOptions) {
    this.#o = o
    this.#config = o.config
    this.#clock = o.clock
    this.#rng = o.rng ?? ((n) => new Uint8Array(randomBytes(n)))
    const bound = o.transport.local.address
    this.localAddress = o.localAddress ?? (bound !== '0.0.0.0' ? bound : o.config.local.address)
    if (this.localAddress === '0.0.0.0') throw new Error('local address unknown: bind a unicast address or pass localAddress')
    this.#diagId = `${this.localAddress}:${o.transport.local.port}`
    this.#log = o.log.child({ c: 'gm', group: o.config.group.name })
    this.#startedAtMs = o.clock.nowMs()
    this.#sizeCap = new DatagramSizeCap({
      maxBytes: () => this.#config.limits.maxDatagramBytes,
      count: () => this.#countDecode('oversized'),
      log: this.#log,
      nowMs: () => o.clock.nowMs(),
    })
    this.sas = new SaTable({
      clock: { now: () => o.clock.nowMs(), setTimer: (ms, fn) => o.clock.setTimer(ms, fn) },
      engine: o.espEngine ?? 'auto',
      ...(o.replay !== undefined ? { replay: o.replay } : {}),
    })
    const common = { clock: o.clock, log: o.log, keylog: o.keylog, diagId: this.#diagId, groupName: o.config.group.name }
    this.#teks = new TekStore({ ...common, sas: this.sas, onChange: () => this.#keysChanged() })
    this.#keks = new KekStore({ ...common, onExpired: (spi) => this.#push.dropKek(spi) })
    this.#push = new PushReceiver({
      clock: o.clock,
      log: o.log,
      rng: this.#rng,
      transport: o.transport,
      teks: this.#teks,
      keks: this.#keks,
      ackMode: o.config.rekeyAck,
      localAddress: () => this.localAddress,
      groupName: o.config.group.name,
      diagId: this.#diagId,
      countDecodeError: (code) => this.#countDecode(code),
      events: {
        onAccepted: () => this.#keysChanged(),
        onKeksChanged: () => {
          this.#syncMulticast()
          this.#keysChanged()
        },
        onRekeyPathLost: (reason) => this.reregister(reason),
      },
    })
    this.#reregister = new OneShot(o.clock)
    this.#registrar = this.#newRegistrar(o.config)
  }

  get config(): GmConfig {
    return this.#config
  }

  async start(): Promise<void> {
    this.#o.transport.onDatagram((bytes, from) => this.#onDatagram(bytes, from, 'unicast'))
    if (this.#o.dataPlane !== undefined) {
      this.#dataPlane = await this.#o.dataPlane({
        config: this.#config,
        sas: this.sas,
        acl: [],
        clock: { now: () => this.#clock.nowMs(), setTimer: (ms, fn) => this.#clock.setTimer(ms, fn) },
        log: this.#o.log.child({ c: 'dataplane' }),
      })
    }
    this.#log.info(
      { event: LogEvent.DAEMON_STARTED, local: this.#diagId, keyServers: this.#config.keyServers.map(formatEndpoint), dataPlane: this.#dataPlane !== undefined },
      'group member started',
    )
    publishGm(GmChannel.STARTED, { gm: this.#diagId, group: this.#config.group.name })
    if (this.#o.autoStart !== false) this.#registrar.start('startup')
  }

  /** The options' policy (tests, the simulator) or the configuration's `retransmit`. */
  #retransmitPolicy(c: GmConfig): RetransmitPolicy {
    return this.#o.retransmit ?? { intervalMs: c.retransmit.intervalSec * 1000, maxTries: c.retransmit.count }
  }

  #newRegistrar(c: GmConfig): Registrar {
    const rsa = loadRsaMaterial(c.ike)
    return new Registrar({
      groupId: groupIdOf(c),
      groupName: c.group.name,
      keyServers: c.keyServers,
      localAddress: this.localAddress,
      initiatorFor: initiatorFor({
        ike: c.ike,
        localAddress: this.localAddress,
        rsa,
        nowMs: () => this.#clock.nowMs(),
        retransmit: this.#retransmitPolicy(c),
        ...(this.#o.exchangeMaxMs !== undefined ? { exchangeMaxMs: this.#o.exchangeMaxMs } : {}),
      }),
      transport: this.#o.transport,
      clock: this.#clock,
      rng: this.#rng,
      log: this.#o.log,
      retransmit: this.#retransmitPolicy(c),
      ...(this.#o.exchangeMaxMs !== undefined ? { exchangeMaxMs: this.#o.exchangeMaxMs } : {}),
      ...(this.#o.backoff !== undefined ? { backoff: this.#o.backoff } : {}),
      diagId: this.#diagId,
      events: {
        onPhase1: (sa) => {
          if (this.#o.keylog === undefined) return
          try {
            this.#o.keylog.writeLines([...keylogLines(sa), ...gdoiKeylogLines(sa)])
          } catch (err) {
            this.#log.warn({ err: (err as Error).message }, 'key log write failed')
          }
        },
        onRegistered: (r) => this.#registered(r),
        onRoundFailed: (round, retryInMs, last) => {
          this.#log.warn(
            { event: LogEvent.REGISTRATION_FAILED, round, retryInSec: Math.round(retryInMs / 1000), reason: last?.reason ?? null, teksKept: this.#teks.records().length, keksKept: this.#keks.records().length },
            'no key server answered; current keys stay in use until they expire',
          )
        },
      },
    })
  }

  // ---- receive boundary -------------------------------------------------------------------------

  #onDatagram(bytes: Uint8Array, from: Endpoint, via: 'unicast' | 'multicast'): void {
    if (this.#closed) return
    // oversized: dropped before decoding (daemon-kit size-cap.ts), counted as decodeErrors.oversized
    if (!this.#sizeCap.admit(bytes, from)) return
    let h: IsakmpHeader
    try {
      h = decodeHeader(bytes)
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err
      this.#countDecode(err.code)
      this.#log.debug({ event: LogEvent.DECODE_ERROR, from: formatEndpoint(from), code: err.code, offset: err.offset }, 'undecodable datagram dropped')
      return
    }
    try {
      if (h.exchange === ExchangeType.GROUPKEY_PUSH) {
        this.#push.onDatagram(bytes, from, via === 'multicast' || this.#joinedFor(h) ? 'multicast' : 'unicast')
        return
      }
      if (via === 'multicast' || h.exchange === ExchangeType.GROUPKEY_PUSH_ACK) return
      if (!this.#registrar.onDatagram(bytes, from, h)) {
        this.#log.debug({ from: formatEndpoint(from), exchange: h.exchange, messageId: h.messageId }, 'datagram for no exchange dropped')
      }
    } catch (err) {
      if (err instanceof DecodeError) {
        this.#countDecode(err.code)
        this.#log.debug({ event: LogEvent.DECODE_ERROR, from: formatEndpoint(from), code: err.code, offset: err.offset }, 'undecodable datagram dropped')
        return
      }
      this.#log.error({ err, from: formatEndpoint(from), exchange: h.exchange }, 'datagram handling failed; dropped')
    }
  }

  #countDecode(code: string): void {
    this.#decodeErrors[code] = (this.#decodeErrors[code] ?? 0) + 1
    publishGm(GmChannel.DECODE_ERROR, { gm: this.#diagId, group: this.#config.group.name, code })
  }

  /** A push whose KEK sends to a multicast group we joined on the main transport (memory networks). */
  #joinedFor(h: IsakmpHeader): boolean {
    const rec = this.#keks.get(toHex(h.icookie) + toHex(h.rcookie))
    const dst = rec?.policy.transport.dst
    return dst !== undefined && this.#multicast.get(`${dst.address}:${dst.port}`) === 'joined'
  }

  // ---- registration and keys --------------------------------------------------------------------

  #registered(r: RegistrationOutcome): void {
    const ks = formatEndpoint(r.ks)
    this.#succeeded++
    this.#registeredWith = r.ks.address
    this.#registeredAtMs = this.#clock.nowMs()
    this.#push.installFromRegistration(r.result, r.ks)
    this.#teks.setSenderIds(r.result.keys.sids)
    this.#registrationHadTeks = r.result.policy.teks.length > 0
    const inst = this.#teks.install(r.result.policy, r.result.keys, 'registration', r.ks.address)
    const kek = r.result.policy.kek
    this.#log.info(
      {
        event: LogEvent.REGISTRATION_COMPLETE,
        ks,
        teks: inst.installed.map(spiHex),
        kek: kek === undefined ? null : toHex(kek.spi),
        seq: r.result.seq ?? null,
        reusedPhase1: r.reusedPhase1,
      },
      'registration complete',
    )
    for (const x of inst.refused) this.#log.warn({ spi: spiHex(x.spi), reason: x.reason }, 'TEK from registration not installed')
    if (kek === undefined) this.#log.info({ ks }, 'no rekey SA (SAK) in the policy: this member re-registers before every TEK expiry')
    this.#log.info({ event: LogEvent.POLICY_INSTALLED, ks, acl: this.#teks.selectors().length, teks: inst.installed.length }, 'policy installed')
    publishGm(GmChannel.REGISTERED, { gm: this.#diagId, group: this.#config.group.name, peer: ks, teks: inst.installed, kek: kek === undefined ? null : toHex(kek.spi), seq: r.result.seq ?? 0 })
    this.#syncMulticast()
    this.#keysChanged()
  }

  /** Keys changed (install, push, expiry): ACL to the data plane, re-registration deadline. */
  #keysChanged(): void {
    if (this.#closed) return
    this.#syncAcl()
    this.#scheduleReregister()
  }

  #syncAcl(): void {
    const conv = selectorsToAcl(this.#teks.selectors())
    if (sameJson(conv.entries, this.#acl)) return
    this.#acl = conv.entries
    for (const s of conv.skipped) this.#log.warn({ selector: s.policyId, reason: s.reason }, 'selector not enforced by the data plane')
    this.#dataPlane?.setAcl(conv.entries)
  }

  #scheduleReregister(): void {
    const st = this.#registrar.status().state
    if (st !== 'idle') return // a registration round (or its backoff) is already on it
    const now = this.#clock.nowMs()
    const heldTeks = this.#teks.records().length > 0
    if (!heldTeks && this.#keks.records().length === 0) {
      this.#reregister.cancel()
      if (this.#succeeded > 0) this.reregister('no keys left')
      return
    }
    let deadline: number
    let reason: string
    const tekDeadline = this.#teks.deadlineMs()
    const kekDeadline = this.#keks.deadlineMs()
    if (!heldTeks && this.#registrationHadTeks) {
      deadline = now
      reason = 'TEKs expired'
    } else if (tekDeadline !== undefined && (kekDeadline === undefined || tekDeadline <= kekDeadline)) {
      deadline = tekDeadline
      reason = 'TEK expiry'
    } else if (kekDeadline !== undefined) {
      deadline = kekDeadline
      reason = 'KEK expiry'
    } else {
      this.#reregister.cancel() // a KEK without lifetime and no TEK yet: pushes will bring them
      return
    }
    let at = reregisterAtMs(now, deadline, this.#config.reregister, this.#rng)
    // The last re-registration did not move the deadline (the KS has nothing newer yet): asking again
    // before the keys actually run out would only load the KS.
    if (this.#lastTriggerDeadlineMs !== undefined && deadline <= this.#lastTriggerDeadlineMs) at = Math.max(at, deadline)
    if (this.#registeredAtMs !== null) at = Math.max(at, this.#registeredAtMs + MIN_REREGISTER_INTERVAL_MS)
    this.#reregister.at(at, reason, () => {
      this.#lastTriggerDeadlineMs = deadline
      const hasKek = this.#keks.records().length > 0
      this.#log.info(
        { event: hasKek ? LogEvent.REKEY_NOT_RECEIVED : LogEvent.REREGISTER, reason, expiresInSec: Math.round((deadline - this.#clock.nowMs()) / 1000) },
        hasKek ? 'no rekey before the keys expire: re-registering' : 're-registering before the keys expire',
      )
      this.reregister(`before ${reason}`)
    })
  }

  reregister(reason = 'requested'): void {
    if (this.#closed) return
    this.#reregister.cancel()
    if (this.#registrar.busy) return
    this.#log.info({ event: LogEvent.REREGISTER, reason }, 're-register')
    publishGm(GmChannel.REREGISTER, { gm: this.#diagId, group: this.#config.group.name, reason })
    this.#registrar.start(reason)
  }

  #syncMulticast(): void {
    const wanted = new Set<string>()
    for (const k of this.#keks.records()) {
      const d = k.policy.transport.dst
      if (isMulticastIpv4(d.address)) wanted.add(`${d.address}:${d.port}`)
    }
    for (const [key, t] of this.#multicast) {
      if (wanted.has(key)) continue
      this.#multicast.delete(key)
      const group = key.slice(0, key.lastIndexOf(':'))
      if (t === 'joined') this.#leave(group)
      else void t.close()
      this.#log.info({ group }, 'left multicast rekey group')
    }
    for (const key of wanted) {
      if (this.#multicast.has(key)) continue
      const i = key.lastIndexOf(':')
      const group = key.slice(0, i)
      const port = Number(key.slice(i + 1))
      if (this.#o.openMulticast !== undefined) {
        this.#multicast.set(key, 'joined') // placeholder until the socket is open
        this.#o.openMulticast(group, port).then(
          (t) => {
            if (this.#closed || !this.#multicast.has(key)) {
              void t.close()
              return
            }
            t.onDatagram((bytes, from) => this.#onDatagram(bytes, from, 'multicast'))
            this.#multicast.set(key, t)
            this.#log.info({ group, port }, 'joined multicast rekey group')
          },
          (err: unknown) => {
            this.#multicast.delete(key)
            this.#log.warn({ group, port, err: (err as Error).message }, 'cannot join the multicast rekey group; unicast rekeys and re-registration still work')
          },
        )
      } else if ('joinGroup' in this.#o.transport && typeof this.#o.transport.joinGroup === 'function') {
        try {
          ;(this.#o.transport as Transport & { joinGroup(g: string): void }).joinGroup(group)
          this.#multicast.set(key, 'joined')
          this.#log.info({ group }, 'joined multicast rekey group')
        } catch (err) {
          this.#log.warn({ group, err: (err as Error).message }, 'cannot join the multicast rekey group')
        }
      } else {
        this.#log.warn({ group }, 'transport cannot join multicast groups; relying on unicast rekeys and re-registration')
      }
    }
  }

  #leave(group: string): void {
    const t = this.#o.transport as Transport & { leaveGroup?: (g: string) => void }
    try {
      t.leaveGroup?.(group)
    } catch {
      // already left
    }
  }

  // ---- control ----------------------------------------------------------------------------------

  status(): GmStatus {
    const due = this.#reregister.dueMs
    return buildStatus({
      nowMs: this.#clock.nowMs(),
      startedAtMs: this.#startedAtMs,
      groupName: this.#config.group.name,
      identity: this.#config.group.identity,
      localAddress: this.localAddress,
      localPort: this.#o.transport.local.port,
      keyServers: this.#config.keyServers.map(formatEndpoint),
      registrar: this.#registrar.status(),
      registeredWith: this.#registeredWith,
      registeredAtMs: this.#registeredAtMs,
      succeeded: this.#succeeded,
      reregister: { dueMs: due, reason: this.#reregister.reason },
      push: this.#push.counters,
      pushState: this.#push.state,
      keks: this.#keks.records(),
      teks: this.#teks.records(),
      awaitingKeys: this.#teks.awaitingKeys,
      sas: this.sas.list(),
      dataPlane: this.#dataPlane?.snapshot() ?? null,
      failClose: this.#config.dataPlane?.failClose ?? false,
      routing: routingView(this.#dataPlane, this.#config.routing),
      decodeErrors: this.#decodeErrors,
    })
  }

  reload(next: GmConfig): Promise<ReloadResult> {
    const prev = this.#config
    const restartNeeded: string[] = []
    if (!sameJson(prev.local, next.local)) restartNeeded.push('local')
    if (!sameJson(prev.tun, next.tun)) restartNeeded.push('tun')
    if (!sameJson(prev.routing, next.routing)) restartNeeded.push('routing')
    if (!sameJson(prev.dataPlane ?? null, next.dataPlane ?? null)) restartNeeded.push('dataPlane')
    if (!sameJson(prev.metrics ?? null, next.metrics ?? null)) restartNeeded.push('metrics')
    if (prev.interface !== next.interface) restartNeeded.push('interface')
    if (prev.controlSocket !== next.controlSocket) restartNeeded.push('controlSocket')
    if (prev.keylog !== next.keylog) restartNeeded.push('keylog')
    if (prev.rekeyAck !== next.rekeyAck) restartNeeded.push('rekeyAck')
    if (prev.group.name !== next.group.name) restartNeeded.push('group.name')
    let registrar: Registrar
    try {
      registrar = this.#newRegistrar(next)
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err))) // unreadable RSA files: nothing changed
    }
    this.#registrar.shutdown()
    this.#registrar = registrar
    if (!sameJson(prev.group.identity, next.group.identity)) {
      this.#log.info({ from: prev.group.identity, to: next.group.identity }, 'group identity changed: dropping the old group\'s keys')
      this.#teks.clear('group changed')
      this.#push.clear()
      this.#syncMulticast()
      this.#registeredWith = null
    }
    const kept: GmConfig = { ...next, local: prev.local, tun: prev.tun, interface: prev.interface, controlSocket: prev.controlSocket, keylog: prev.keylog, rekeyAck: prev.rekeyAck, group: { ...next.group, name: prev.group.name } }
    // routing is bound to the running data plane like `tun`: the running value stays
    if (prev.routing !== undefined) this.#config = { ...kept, routing: prev.routing }
    else {
      const { routing: dropped, ...rest } = kept
      void dropped
      this.#config = rest
    }
    // so is dataPlane (fail-close is set when the data plane starts)
    const { dataPlane: nextDp, ...noDp } = this.#config
    void nextDp
    this.#config = prev.dataPlane !== undefined ? { ...noDp, dataPlane: prev.dataPlane } : noDp
    this.#o.log.level = next.log.level
    this.#reregister.cancel()
    this.#log.info({ event: LogEvent.CONFIG_RELOADED, keyServers: next.keyServers.map(formatEndpoint), restartNeeded }, 'configuration reloaded; re-registering')
    publishGm(GmChannel.RELOADED, { gm: this.#diagId, group: this.#config.group.name, restartNeeded })
    this.#registrar.start('configuration reloaded')
    return Promise.resolve({ reregistering: true, restartNeeded })
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#log.info({ event: LogEvent.DAEMON_STOPPING }, 'group member stopping')
    this.#reregister.cancel()
    this.#registrar.shutdown()
    this.#push.close()
    this.#keks.close()
    this.#teks.close()
    for (const [key, t] of this.#multicast) {
      if (t === 'joined') this.#leave(key.slice(0, key.lastIndexOf(':')))
      else await t.close()
    }
    this.#multicast.clear()
    if (this.#dataPlane !== undefined) {
      try {
        await this.#dataPlane.close()
      } catch (err) {
        this.#log.warn({ err: (err as Error).message }, 'data plane did not close cleanly')
      }
    }
    this.sas.close() // zeroes every TEK
    publishGm(GmChannel.STOPPED, { gm: this.#diagId, group: this.#config.group.name })
  }
}
