// GROUPKEY-PUSH from the key server (spec §1.5, §5): scheduling, fan-out, retransmission, RFC 8263
// acknowledgements and ejection of members that stop acknowledging.
//
// Schedule (per group; "lead" = min(max(90 s, 3·ATD), lifetime/3): 90 s (spec §1.7) keeps the rekey ahead
// of the members, which re-register about 60 s (+ jitter) before expiry when no rekey came (spec §6.2);
// the lifetime/3 cap makes short test lifetimes work):
//   TEK rekey   at  newest TEK created + TEK lifetime − lead: a new TEK (SPI, keys) is pushed; the old
//               TEK stays valid until it expires (the overlap is the lead time);
//   KEK rekey   at  KEK created + KEK lifetime − lead: a new KEK (SPI, IV ‖ key) and all live TEKs are
//               pushed, encrypted and signed under the CURRENT KEK; later pushes use the new KEK and
//               restart at SEQ 1 (RFC 6407 §4.3).
// Every push: SEQ = KEK counter + 1, persisted through KsStore BEFORE the first datagram leaves; then
// sent to the multicast group, or to each registered member at its registration address:port.
// Retransmission: the same bytes (same SEQ) every retransmitPeriodSec, retransmitCount times; with
// RFC 8263 ACKs only to the members that have not acknowledged. One period after the last
// retransmission, each unicast member still silent has missed the push; three misses in a row remove
// it from the rekey list (Cisco GET VPN behaviour; it must re-register). Multicast: no ejection.
import type { Endpoint, KeyLog, Logger } from '@gdoi/daemon-kit'
import { DiagChannel, LogEvent, formatEndpoint, publish } from '@gdoi/daemon-kit'
import type { Clock } from '@gdoi/daemon-kit'
import type { HashMemory } from '@gdoi/wire/exchange/index'
import { buildPush, verifyAck } from '@gdoi/wire/exchange/index'
import type { PushSigForm } from '@gdoi/wire/crypto/push'
import type { HashName } from '@gdoi/wire/crypto/algorithms'
import { Counter, type Counters } from './counters.js'
import { memberKey, type GroupRuntime, type GroupTable } from './groups.js'
import { kekKeyWithoutIv, newKek, newTek, type Rng } from './keygen.js'
import type { StatePersister } from './persist.js'
import { kekCipher, kekKeylogLine, policyAndKeys, tekKeylogLine, type RekeyTransport } from './policy.js'
import type { KekState, TekState } from './store/index.js'
import { TimerSet } from './timers.js'

/** Rekeys start at least this long before expiry (but never earlier than lifetime/3 before). */
export const MIN_REKEY_LEAD_SEC = 90
/** Consecutive unacknowledged pushes after which a unicast member is removed. */
export const MAX_MISSED_PUSHES = 3
/** How often a push whose state could not be saved is tried again before giving up. */
const SAVE_ATTEMPTS = 3
const SAVE_RETRY_MS = 2000

export function rekeyLeadSec(lifetimeSec: number, activationDelaySec: number): number {
  return Math.min(Math.max(MIN_REKEY_LEAD_SEC, 3 * activationDelaySec), Math.floor(lifetimeSec / 3))
}

export interface RekeyDeps {
  readonly clock: Clock
  readonly log: Logger
  readonly counters: Counters
  readonly rng: Rng
  readonly send: (bytes: Uint8Array, to: Endpoint) => void
  readonly keylog: KeyLog | undefined
  readonly persist: StatePersister
  readonly groups: GroupTable
  readonly transportOf: (g: GroupRuntime) => RekeyTransport
  readonly sigForm: PushSigForm
  readonly idLengthWidth: 1 | 2
  readonly ackMemory: HashMemory
  /** A push is about to be saved (clustered store: recorded with the SEQ so that a new primary can
   *  finish its retransmissions). Called before every save attempt. */
  readonly onPushPrepared?: (g: GroupRuntime, push: PreparedPush) => void
  /** A push was given up because its SEQ could not be saved (the caller restores the saved keys). */
  readonly onPushAborted?: (g: GroupRuntime, err: unknown) => void
}

export interface PreparedPush {
  readonly kind: PushKind
  readonly kekSpi: Uint8Array
  readonly seq: number
  readonly bytes: Uint8Array
  readonly atMs: number
  /** How long its retransmissions go on. */
  readonly windowMs: number
}

export type PushKind = 'tek-rekey' | 'kek-rekey'

interface PushJob {
  readonly id: number
  readonly group: GroupRuntime
  readonly kind: PushKind
  readonly kekSpi: Uint8Array
  readonly seq: number
  readonly bytes: Uint8Array
  readonly multicast: Endpoint | undefined
  readonly targets: ReadonlyMap<string, Endpoint>
  /** Unicast members whose ACK is outstanding (empty when ACKs are not requested). */
  readonly pending: Set<string>
  readonly ackMode: boolean
  readonly periodMs: number
  readonly maxRetransmits: number
  retransmits: number
}

export interface PushInfo {
  readonly group: string
  readonly kind: PushKind
  readonly seq: number
  readonly retransmits: number
  /** RFC 8263 ACKs requested (unicast): retransmissions go only to awaitingAck. */
  readonly ackMode: boolean
  readonly awaitingAck: readonly string[]
}

function hexOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

export class Rekeyer {
  readonly #d: RekeyDeps
  readonly #timers: TimerSet
  readonly #jobs = new Set<PushJob>()
  readonly #chains = new Map<string, Promise<void>>()
  #nextJob = 1
  #closed = false

  constructor(deps: RekeyDeps) {
    this.#d = deps
    this.#timers = new TimerSet(deps.clock)
  }

  // ---- schedule ----------------------------------------------------------------------------------

  /** Arms the TEK/KEK rekey timers and TEK expiry timers of a group (call after its keys exist). */
  schedule(g: GroupRuntime): void {
    this.#scheduleTek(g)
    this.#scheduleKek(g)
    for (const t of g.teks) this.#scheduleTekExpiry(g, t.tek)
    for (const r of g.retiredKeks) this.#scheduleRetire(g, r.kek.spi, r.retireAtMs)
  }

  /** Stops every timer and outstanding push of a group (group removed by a reload). */
  unschedule(g: GroupRuntime): void {
    for (const kind of ['tek', 'kek']) this.#timers.cancel(`${kind}-${g.name}`)
    for (const t of g.teks) this.#timers.cancel(`expire-${g.name}-${t.tek.spi}`)
    for (const j of [...this.#jobs]) {
      if (j.group !== g) continue
      this.#timers.cancel(`job-${j.id}`)
      this.#jobs.delete(j)
    }
  }

  #leadMs(g: GroupRuntime, lifetimeMs: number): number {
    return rekeyLeadSec(Math.round(lifetimeMs / 1000), g.cfg.gap?.activationDelaySec ?? 0) * 1000
  }

  #scheduleTek(g: GroupRuntime): void {
    const newest = g.teks.reduce<TekState | undefined>((a, t) => (a === undefined || t.tek.createdMs > a.createdMs ? t.tek : a), undefined)
    const at = newest === undefined ? this.#d.clock.nowMs() : newest.expiresMs - this.#leadMs(g, newest.expiresMs - newest.createdMs)
    this.#timers.armAt(`tek-${g.name}`, at, () => void this.rekey(g, 'tek').catch(() => {}))
  }

  #scheduleKek(g: GroupRuntime): void {
    const k = g.kek
    if (k === null) return
    const at = k.expiresMs - this.#leadMs(g, k.expiresMs - k.createdMs)
    this.#timers.armAt(`kek-${g.name}`, at, () => void this.rekey(g, 'kek').catch(() => {}))
  }

  #scheduleTekExpiry(g: GroupRuntime, tek: TekState): void {
    this.#timers.armAt(`expire-${g.name}-${tek.spi}`, tek.expiresMs, () => {
      g.teks = g.teks.filter((t) => t.tek !== tek)
      this.#d.log.info({ event: LogEvent.TEK_EXPIRED, group: g.name, spi: spiText(tek.spi) }, 'TEK expired')
      this.#d.persist.saveSoon('tek expired')
    })
  }

  #scheduleRetire(g: GroupRuntime, spi: Uint8Array, atMs: number): void {
    this.#timers.armAt(`retire-${hexOf(spi)}`, atMs, () => {
      const i = g.retiredKeks.findIndex((r) => hexOf(r.kek.spi) === hexOf(spi))
      if (i >= 0) g.retiredKeks.splice(i, 1)
    })
  }

  /** Runs a TEK or KEK rekey now (timers, the control socket's `rekey`, tests). Serialised per group. */
  rekey(g: GroupRuntime, kind: 'tek' | 'kek'): Promise<void> {
    const prev = this.#chains.get(g.name) ?? Promise.resolve()
    const next = prev.then(() => (this.#closed ? undefined : kind === 'tek' ? this.#tekRekey(g) : this.#kekRekey(g)))
    const settled = next.catch((err: unknown) => {
      this.#d.counters.inc(Counter.INTERNAL_ERROR)
      this.#d.log.error({ err, group: g.name, kind }, 'rekey failed')
    })
    this.#chains.set(g.name, settled)
    return next
  }

  // ---- TEK / KEK rekeys ----------------------------------------------------------------------------

  /** A new TEK; logged, key-logged and scheduled to expire. */
  addTek(g: GroupRuntime, nowMs: number): TekState {
    const cfg = g.cfg
    const tek = newTek(cfg.transform, cfg.tekLifetimeSec, nowMs, this.#d.rng, g.teks.map((t) => t.tek.spi))
    g.teks.push({ tek, acl: cfg.acl })
    this.#d.log.info({ event: LogEvent.TEK_CREATED, group: g.name, spi: spiText(tek.spi), lifetimeSec: cfg.tekLifetimeSec }, 'TEK created')
    publish(DiagChannel.KS_TEK_CREATED, { group: g.name, spi: tek.spi })
    this.#keylog(tekKeylogLine(tek))
    this.#scheduleTekExpiry(g, tek)
    return tek
  }

  /** A new KEK (the group's current one afterwards); logged and key-logged. */
  newKek(g: GroupRuntime, nowMs: number): KekState {
    const avoid = [...(g.kek !== null ? [g.kek.spi] : []), ...g.retiredKeks.map((r) => r.kek.spi)]
    const kek = newKek(g.cfg.kek.algorithm, g.cfg.kek.lifetimeSec, nowMs, this.#d.rng, avoid)
    this.#d.log.info({ event: LogEvent.KEK_CREATED, group: g.name, spi: hexOf(kek.spi), lifetimeSec: g.cfg.kek.lifetimeSec }, 'KEK created')
    publish(DiagChannel.KS_KEK_CREATED, { group: g.name, spi: hexOf(kek.spi) })
    this.#keylog(kekKeylogLine(kek, this.#sigHash(g), g.signing))
    return kek
  }

  #sigHash(g: GroupRuntime): HashName {
    return g.cfg.rekey?.sigHash ?? 'sha1'
  }

  async #tekRekey(g: GroupRuntime): Promise<void> {
    const now = this.#d.clock.nowMs()
    const tek = this.addTek(g, now)
    const kek = g.kek
    if (kek === null || g.signing === undefined || g.cfg.rekey === null) {
      // No rekey SA: members get the new TEK when they re-register.
      await this.#d.persist.save('tek created').catch(() => {})
      this.#scheduleTek(g)
      return
    }
    const { policy, keys } = policyAndKeys({
      group: g.cfg,
      kek,
      signing: g.signing,
      transport: this.#d.transportOf(g),
      teks: [{ tek, acl: g.cfg.acl }],
      includeKek: false,
      includeKekKeys: false,
      nowMs: now,
    })
    const seq = kek.seq + 1
    const bytes = this.#build(g, kek, seq, policy, keys)
    g.kek = { ...kek, seq }
    this.#scheduleTek(g)
    await this.#persistThenSend(g, 'tek-rekey', kek.spi, seq, bytes, spiText(tek.spi))
  }

  async #kekRekey(g: GroupRuntime): Promise<void> {
    const old = g.kek
    const rekey = g.cfg.rekey
    if (old === null || g.signing === undefined || rekey === null) return
    const now = this.#d.clock.nowMs()
    const fresh = this.newKek(g, now)
    const { policy, keys } = policyAndKeys({
      group: g.cfg,
      kek: fresh,
      signing: g.signing,
      transport: this.#d.transportOf(g),
      teks: g.liveTeks(now),
      includeKek: true,
      includeKekKeys: true,
      nowMs: now,
    })
    const seq = old.seq + 1
    const bytes = this.#build(g, old, seq, policy, keys)
    const windowMs = (rekey.retransmitCount + 2) * rekey.retransmitPeriodSec * 1000 + 10_000
    g.retiredKeks.push({ kek: { ...old, seq }, ackRequested: g.ackRequested, retireAtMs: now + windowMs })
    this.#scheduleRetire(g, old.spi, now + windowMs)
    g.kek = fresh
    this.#scheduleKek(g)
    await this.#persistThenSend(g, 'kek-rekey', old.spi, seq, bytes, hexOf(fresh.spi))
  }

  #build(g: GroupRuntime, kek: KekState, seq: number, policy: Parameters<typeof buildPush>[0]['policy'], keys: Parameters<typeof buildPush>[0]['keys']): Uint8Array {
    if (g.signing === undefined) throw new Error('no signing key')
    return buildPush({
      kek: { spi: kek.spi, cipher: kekCipher(kek.algorithm), algorithmKey: kek.algorithmKey },
      seq,
      ...(policy !== undefined ? { policy } : {}),
      ...(keys !== undefined ? { keys } : {}),
      signingKey: g.signing.privateKey,
      sigHash: this.#sigHash(g),
      sigForm: this.#d.sigForm,
      ...(this.#d.idLengthWidth !== 1 ? { idLengthWidth: this.#d.idLengthWidth } : {}),
    })
  }

  /** SEQ is durable before the first datagram leaves (a restart never reuses it). */
  async #persistThenSend(g: GroupRuntime, kind: PushKind, kekSpi: Uint8Array, seq: number, bytes: Uint8Array, newSpi: string): Promise<void> {
    const r = g.cfg.rekey
    const windowMs = (r?.retransmitCount ?? 0) * (r?.retransmitPeriodSec ?? 10) * 1000
    for (let attempt = 1; ; attempt++) {
      try {
        this.#d.onPushPrepared?.(g, { kind, kekSpi, seq, bytes, atMs: this.#d.clock.nowMs(), windowMs })
        await this.#d.persist.save(`${kind} seq ${seq}`)
        break
      } catch (err) {
        // Fenced (another key server is primary): never retried, never sent.
        const fenced = (err as { code?: string }).code === 'ERR_STATE_FENCED'
        if (attempt >= SAVE_ATTEMPTS || this.#closed || fenced) {
          this.#d.log.error(
            { event: LogEvent.REKEY_SENT, ok: false, group: g.name, seq, ...(fenced ? { reason: 'not-primary' } : {}) },
            fenced ? 'rekey NOT sent: this key server is not the primary any more' : 'rekey NOT sent: its sequence number could not be saved',
          )
          this.#d.onPushAborted?.(g, err)
          return
        }
        await new Promise<void>((resolve) => this.#d.clock.setTimer(SAVE_RETRY_MS, resolve))
      }
    }
    if (this.#closed) return
    this.#start(g, kind, kekSpi, seq, bytes, newSpi)
  }

  /**
   * A new primary finishes the retransmissions of the push its predecessor saved last (the same bytes,
   * the same SEQ: members that have it drop it as a replay, members that missed it get it).
   * `remainingMs` is what is left of the push's retransmission window.
   */
  resumePush(g: GroupRuntime, push: { kind: PushKind; kekSpi: Uint8Array; seq: number; bytes: Uint8Array }, remainingMs: number): void {
    if (this.#closed) return
    const period = (g.cfg.rekey?.retransmitPeriodSec ?? 10) * 1000
    const count = Math.max(0, Math.min(g.cfg.rekey?.retransmitCount ?? 0, Math.floor(remainingMs / period)))
    this.#start(g, push.kind, push.kekSpi, push.seq, push.bytes, 'resumed', { retransmits: count, resumed: true })
  }

  // ---- transmission ------------------------------------------------------------------------------

  #start(g: GroupRuntime, kind: PushKind, kekSpi: Uint8Array, seq: number, bytes: Uint8Array, newSpi: string, resume?: { retransmits: number; resumed: true }): void {
    const rekey = g.cfg.rekey
    const tr = this.#d.transportOf(g)
    const multicast = tr.multicastAddress !== undefined ? { address: tr.multicastAddress, port: tr.source.port } : undefined
    const targets = new Map<string, Endpoint>()
    if (multicast === undefined) for (const [k, m] of g.members) targets.set(k, { address: m.address, port: m.port })
    // A resumed push counts no misses: members that had it from the previous primary drop it silently.
    const ackMode = resume === undefined && multicast === undefined && g.kekBySpi(kekSpi)?.ackRequested !== undefined
    const job: PushJob = {
      id: this.#nextJob++,
      group: g,
      kind,
      kekSpi,
      seq,
      bytes,
      multicast,
      targets,
      pending: new Set(ackMode ? targets.keys() : []),
      ackMode,
      periodMs: (rekey?.retransmitPeriodSec ?? 10) * 1000,
      maxRetransmits: resume?.retransmits ?? rekey?.retransmitCount ?? 0,
      retransmits: 0,
    }
    this.#jobs.add(job)
    const n = this.#transmit(job, multicast !== undefined ? [multicast] : [...targets.values()])
    const transport = multicast !== undefined ? 'multicast' : 'unicast'
    if (resume !== undefined) {
      this.#d.counters.inc(Counter.PUSH_RESUMED)
      this.#d.log.info(
        { event: LogEvent.REKEY_RETRANSMIT, group: g.name, seq, kind, transport, destinations: n, kekSpi: hexOf(kekSpi), resumed: true },
        'retransmitting the previous primary\'s last rekey',
      )
      this.#timers.arm(`job-${job.id}`, job.periodMs, () => this.#retransmit(job))
      return
    }
    g.rekeysSent++
    this.#d.counters.inc(Counter.PUSH_SENT)
    this.#d.log.info(
      { event: LogEvent.REKEY_SENT, group: g.name, seq, kind, transport, destinations: n, kekSpi: hexOf(kekSpi), newSpi },
      multicast !== undefined ? 'sending multicast rekey' : 'sending unicast rekey',
    )
    publish(DiagChannel.KS_PUSH_SENT, { group: g.name, seq, kind, transport, destinations: n, kekSpi: hexOf(kekSpi), spi: newSpi, members: [...targets.keys()] })
    this.#timers.arm(`job-${job.id}`, job.periodMs, () => this.#retransmit(job))
  }

  #transmit(job: PushJob, to: readonly Endpoint[]): number {
    for (const ep of to) this.#d.send(job.bytes, ep)
    this.#d.counters.inc(Counter.PUSH_DATAGRAMS, to.length)
    return to.length
  }

  #retransmit(job: PushJob): void {
    if (!this.#jobs.has(job)) return
    if (job.retransmits >= job.maxRetransmits || (job.ackMode && job.pending.size === 0)) {
      this.#finish(job)
      return
    }
    const to =
      job.multicast !== undefined ? [job.multicast]
      : job.ackMode ? [...job.pending].map((k) => job.targets.get(k)).filter((e): e is Endpoint => e !== undefined)
      : [...job.targets.values()]
    job.retransmits++
    const n = this.#transmit(job, to)
    this.#d.counters.inc(Counter.PUSH_RETRANSMITS)
    this.#d.log.debug({ event: LogEvent.REKEY_RETRANSMIT, group: job.group.name, seq: job.seq, attempt: job.retransmits, destinations: n }, 'rekey retransmitted')
    publish(DiagChannel.KS_PUSH_RETRANSMIT, { group: job.group.name, seq: job.seq, attempt: job.retransmits, destinations: n })
    this.#timers.arm(`job-${job.id}`, job.periodMs, () => this.#retransmit(job))
  }

  /** Retransmissions are over: count the misses of the members that stayed silent. */
  #finish(job: PushJob): void {
    this.#jobs.delete(job)
    this.#timers.cancel(`job-${job.id}`)
    if (!job.ackMode) return
    const g = job.group
    let changed = false
    for (const key of job.pending) {
      const m = g.members.get(key)
      if (m === undefined) continue
      const missed = m.missedPushes + 1
      changed = true
      this.#d.counters.inc(Counter.ACK_MISSING)
      this.#d.log.warn({ event: LogEvent.REKEY_ACK_MISSING, group: g.name, member: key, seq: job.seq, missedInARow: missed }, 'member did not acknowledge the rekey')
      if (missed >= MAX_MISSED_PUSHES) {
        g.members.delete(key)
        g.ackKek.delete(key)
        this.#d.counters.inc(Counter.MEMBERS_REMOVED)
        this.#d.log.warn({ event: LogEvent.MEMBER_REMOVED, group: g.name, member: key, reason: 'ack-missing', missedInARow: missed }, 'member removed from the rekey list')
        publish(DiagChannel.KS_MEMBER_REMOVED, { group: g.name, peer: key, reason: 'ack-missing', seq: job.seq })
      } else {
        g.members.set(key, { ...m, missedPushes: missed })
      }
    }
    if (changed) this.#d.persist.saveSoon('acks missing')
  }

  // ---- acknowledgements ----------------------------------------------------------------------------

  /** An RFC 8263 GROUPKEY-PUSH-ACK (exchange 35) from a member. */
  handleAck(bytes: Uint8Array, from: Endpoint): void {
    const now = this.#d.clock.nowMs()
    const v = verifyAck(
      bytes,
      (spi) => {
        const k = this.#d.groups.byKekSpi(spi)?.kekBySpi(spi)
        return k === undefined ? undefined : { ...(k.ackRequested !== undefined ? { ackRequested: k.ackRequested } : {}), baseKey: kekKeyWithoutIv(k.kek) }
      },
      { memory: this.#d.ackMemory, nowMs: now },
    )
    const peer = formatEndpoint(from)
    if (!v.ok) {
      this.#d.counters.inc(`${Counter.ACK_REJECTED}.${v.reason}`)
      const level = v.reason === 'bad-hash' ? 'warn' : 'debug'
      this.#d.log[level]({ event: LogEvent.REKEY_ACK, ok: false, peer, reason: v.reason }, 'rekey acknowledgement dropped')
      return
    }
    const g = this.#d.groups.byKekSpi(v.kekSpi)
    if (g === undefined) return
    let key = memberKey(from)
    if (!g.members.has(key)) key = [...g.members.keys()].find((k) => g.members.get(k)?.address === v.memberAddress) ?? key
    const m = g.members.get(key)
    if (m === undefined) {
      this.#d.counters.inc(`${Counter.ACK_REJECTED}.not-a-member`)
      this.#d.log.debug({ event: LogEvent.REKEY_ACK, ok: false, peer, reason: 'not-a-member', seq: v.seq }, 'rekey acknowledgement from a non-member')
      return
    }
    // lastAckSeq counts under one KEK: a late ACK for a retired KEK does not overwrite a newer one.
    const spiHex = hexOf(v.kekSpi)
    const current = g.kek !== null && hexOf(g.kek.spi) === spiHex
    const under = g.ackKek.get(key)
    let lastAckSeq = m.lastAckSeq
    if (under === spiHex) lastAckSeq = Math.max(m.lastAckSeq ?? 0, v.seq)
    else if (current || under === undefined) lastAckSeq = v.seq
    if (current || under === undefined) g.ackKek.set(key, spiHex)
    g.members.set(key, { ...m, missedPushes: 0, lastAckSeq })
    this.#d.counters.inc(Counter.ACK_RECEIVED)
    this.#d.log.info({ event: LogEvent.REKEY_ACK, group: g.name, member: key, seq: v.seq }, 'rekey acknowledgement received')
    publish(DiagChannel.KS_ACK_RECEIVED, { group: g.name, peer: key, seq: v.seq, kekSpi: hexOf(v.kekSpi) })
    for (const j of this.#jobs) {
      if (j.group === g && j.seq === v.seq && hexOf(j.kekSpi) === hexOf(v.kekSpi)) j.pending.delete(key)
    }
    this.#d.persist.saveSoon('ack')
  }

  /** A member (re-)registered: it holds the current keys, so no push outstanding counts against it. */
  memberRegistered(g: GroupRuntime, key: string): void {
    for (const j of this.#jobs) if (j.group === g) j.pending.delete(key)
  }

  pushes(): PushInfo[] {
    return [...this.#jobs].map((j) => ({ group: j.group.name, kind: j.kind, seq: j.seq, retransmits: j.retransmits, ackMode: j.ackMode, awaitingAck: [...j.pending] }))
  }

  #keylog(line: string): void {
    try {
      this.#d.keylog?.write(line)
    } catch (err) {
      this.#d.log.warn({ err }, 'key log write failed')
    }
  }

  /** Resolves when no rekey is in progress (cluster role changes wait for it). */
  async idle(): Promise<void> {
    await Promise.all([...this.#chains.values()])
  }

  /** Waits for rekeys in progress, then stops all timers. */
  async close(): Promise<void> {
    this.#closed = true
    await Promise.all([...this.#chains.values()])
    this.#timers.cancelAll()
    this.#jobs.clear()
  }
}

export function spiText(spi: number): string {
  return `0x${spi.toString(16).toUpperCase().padStart(8, '0')}`
}
