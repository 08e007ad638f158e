// Registration driver (spec §1.7 "GM (registration)"): Main Mode (initiator) and then GROUPKEY-PULL
// (member) against one key server at a time, over the transport, with the sans-I/O state machines of
// @gdoi/wire doing the protocol. This file owns the I/O around them: sending, retransmit/expire
// timers, which key server to try next, and the phase-1 SAs kept for reuse.
//
// Key servers are tried in order, starting with the one that last worked (so a dead first KS costs one
// failover, not one per re-registration), then round-robin through the list. When every KS failed in
// a round, the next round starts after an exponential backoff with jitter; installed keys stay in use
// until they expire. A phase-1 SA to a KS is kept after the PULL (state GDOI_IDLE) and reused by the
// next registration while it has life left; if a PULL under a reused SA fails (the KS forgot it), Main
// Mode is run again with the same KS before moving on.
import type { Logger } from 'pino'
import { ExchangeType, type IsakmpHeader } from '@gdoi/wire'
import {
  buildInformational,
  createInitiator,
  deletePhase1Payload,
  initPullMember,
  openInformational,
  randomMessageId,
  stepInitiator,
  stepPullMember,
  type Action,
  type ExchangeCtx,
  type ExchangeEvent,
  type GroupId,
  type MainModeInitiator,
  type Phase1Sa,
  type PullFailure,
  type PullMember,
  type PullResult,
  type RetransmitPolicy,
  type TimerName,
} from '@gdoi/wire/exchange/index'
import { formatEndpoint, LogEvent, sameEndpoint, type Clock, type Endpoint, type Transport } from '@gdoi/daemon-kit'
import { GmChannel, publishGm } from './diag.js'
import type { InitiatorFor } from './ike.js'
import { backoffMs, DEFAULT_BACKOFF, OneShot, type BackoffPolicy, type Rng } from './rekey-timer.js'

export interface RegistrationOutcome {
  readonly ks: Endpoint
  readonly phase1: Phase1Sa
  readonly result: PullResult
  readonly reusedPhase1: boolean
}

export interface AttemptFailure {
  readonly stage: 'config' | 'phase1' | 'pull'
  readonly reason: string
  readonly detail?: string
}

export interface RegistrarEvents {
  /** A new phase-1 SA (keylog it). */
  onPhase1(sa: Phase1Sa, ks: Endpoint): void
  onRegistered(o: RegistrationOutcome): void
  /** Every key server failed in this round; the next round starts in `retryInMs`. */
  onRoundFailed(round: number, retryInMs: number, last: AttemptFailure | undefined): void
}

export interface RegistrarOptions {
  readonly groupId: GroupId
  readonly groupName: string
  readonly keyServers: readonly Endpoint[]
  readonly localAddress: string
  readonly initiatorFor: InitiatorFor
  readonly transport: Transport
  readonly clock: Clock
  readonly rng: Rng
  readonly log: Logger
  readonly retransmit?: RetransmitPolicy
  readonly exchangeMaxMs?: number
  readonly backoff?: BackoffPolicy
  /** `gm` field of diagnostics messages. */
  readonly diagId: string
  readonly events: RegistrarEvents
}

interface Phase1Entry {
  readonly ks: Endpoint
  readonly sa: Phase1Sa
  readonly connId: number
  readonly expiresAtMs: number
  readonly cancelExpiry: () => void
}

type Attempt =
  | { readonly kind: 'mm'; readonly ks: Endpoint; readonly index: number; readonly connId: number; st: MainModeInitiator }
  | { readonly kind: 'pull'; readonly ks: Endpoint; readonly index: number; readonly phase1: Phase1Entry; readonly reused: boolean; st: PullMember }

/** One row of `show crypto isakmp sa`. */
export interface IsakmpSaStatus {
  readonly dst: string
  readonly src: string
  readonly state: string
  readonly connId: number
  readonly status: 'ACTIVE' | 'NEGOTIATING'
  readonly kind: 'registration'
  readonly remainingSec?: number
}

export interface RegistrarStatus {
  readonly state: 'idle' | 'phase1' | 'pull' | 'backoff'
  readonly ks: string | null
  readonly round: number
  readonly retryAtMs: number | null
  readonly attempted: number
  readonly lastFailure: AttemptFailure | null
  readonly isakmpSas: readonly IsakmpSaStatus[]
}

/** Phase-1 SAs with less life than this left are not reused for a PULL. */
const REUSE_MARGIN_MS = 120_000

const MM_STATE: Readonly<Record<string, string>> = { idle: 'MM_NO_STATE', awaitMm2: 'MM_NO_STATE', awaitMm4: 'MM_SA_SETUP', awaitMm6: 'MM_KEY_EXCH' }

function pullFailureText(r: PullFailure): string {
  switch (r.code) {
    case 'bad-hash': return `bad HASH in ${r.message}`
    case 'notify': return `key server sent notify ${r.notifyType}`
    case 'deleted': return 'key server deleted the phase-1 SA'
    case 'unacceptable-policy': return `unacceptable policy: ${r.detail}`
    case 'bad-keys': return `bad keys: ${r.detail}`
    case 'malformed': return `malformed: ${r.detail}`
    case 'timeout': return 'no answer (timeout)'
  }
}

export class Registrar {
  readonly #o: RegistrarOptions
  readonly #log: Logger
  readonly #ctx: ExchangeCtx
  readonly #phase1 = new Map<string, Phase1Entry>()
  readonly #timers = new Map<TimerName, () => void>()
  readonly #backoff: OneShot
  #attempt: Attempt | undefined
  #preferred = 0
  #startIndex = 0
  #tried = 0
  #freshRetry = false
  #round = 0
  #attempted = 0
  #lastFailure: AttemptFailure | undefined
  #nextConnId = 1001
  #stopped = false

  constructor(o: RegistrarOptions) {
    this.#o = o
    this.#log = o.log.child({ c: 'registration' })
    this.#ctx = { rng: o.rng, nowMs: () => o.clock.nowMs() }
    this.#backoff = new OneShot(o.clock)
  }

  get busy(): boolean {
    return this.#attempt !== undefined
  }

  /** Attempts started so far ("Attempted registration"). */
  get attempted(): number {
    return this.#attempted
  }

  /** Starts a registration round unless one is running; a pending backoff is cut short. */
  start(reason: string): void {
    if (this.#stopped || this.#attempt !== undefined) return
    this.#backoff.cancel()
    this.#log.info({ event: LogEvent.REGISTRATION_STARTED, group: this.#o.groupName, reason }, 'registration started')
    publishGm(GmChannel.REGISTRATION_STARTED, { gm: this.#o.diagId, group: this.#o.groupName, reason })
    this.#startIndex = this.#preferred
    this.#tried = 0
    this.#tryNext()
  }

  /** Cancels the running attempt and any backoff (the phase-1 SAs stay cached). */
  stop(): void {
    this.#clearTimers()
    this.#backoff.cancel()
    this.#attempt = undefined
  }

  /** Stops for good and sends a Delete for every cached phase-1 SA (best effort). */
  shutdown(): void {
    this.stop()
    this.#stopped = true
    this.forgetPhase1(true)
  }

  /** Drops the cached phase-1 SAs (reload with new IKE settings); `notify` sends a Delete for each. */
  forgetPhase1(notify: boolean): void {
    for (const e of this.#phase1.values()) {
      e.cancelExpiry()
      if (notify) {
        try {
          this.#o.transport.send(buildInformational(e.sa, randomMessageId(this.#o.rng), [deletePhase1Payload(e.sa)]), e.ks)
        } catch (err) {
          this.#log.debug({ err, ks: formatEndpoint(e.ks) }, 'could not send the phase-1 Delete')
        }
      }
    }
    this.#phase1.clear()
  }

  /** A datagram that is not a push. Returns true when some exchange took it. */
  onDatagram(bytes: Uint8Array, from: Endpoint, h: IsakmpHeader): boolean {
    const a = this.#attempt
    if (a !== undefined && sameEndpoint(from, a.ks)) {
      if (a.kind === 'mm' && (h.exchange === ExchangeType.IDENTITY_PROTECTION || h.exchange === ExchangeType.INFORMATIONAL)) {
        this.#stepMm(a, { type: 'datagram', bytes })
        return true
      }
      if (a.kind === 'pull' && (h.exchange === ExchangeType.GROUPKEY_PULL || h.exchange === ExchangeType.INFORMATIONAL)) {
        this.#stepPull(a, { type: 'datagram', bytes })
        return true
      }
    }
    if (h.exchange === ExchangeType.INFORMATIONAL && (h.flags & 1) !== 0) return this.#onInformational(bytes, from)
    return false
  }

  status(): RegistrarStatus {
    const now = this.#o.clock.nowMs()
    const a = this.#attempt
    const rows: IsakmpSaStatus[] = []
    for (const e of this.#phase1.values()) {
      const busy = a?.kind === 'pull' && a.phase1 === e
      rows.push({
        dst: e.ks.address,
        src: this.#o.localAddress,
        state: busy ? 'GDOI_REGISTERING' : 'GDOI_IDLE',
        connId: e.connId,
        status: 'ACTIVE',
        kind: 'registration',
        remainingSec: Math.max(0, Math.round((e.expiresAtMs - now) / 1000)),
      })
    }
    if (a?.kind === 'mm') {
      rows.push({ dst: a.ks.address, src: this.#o.localAddress, state: MM_STATE[a.st.s] ?? 'MM_NO_STATE', connId: a.connId, status: 'NEGOTIATING', kind: 'registration' })
    }
    return {
      state: a === undefined ? (this.#backoff.dueMs !== undefined ? 'backoff' : 'idle') : a.kind === 'mm' ? 'phase1' : 'pull',
      ks: a === undefined ? null : formatEndpoint(a.ks),
      round: this.#round,
      retryAtMs: this.#backoff.dueMs ?? null,
      attempted: this.#attempted,
      lastFailure: this.#lastFailure ?? null,
      isakmpSas: rows,
    }
  }

  // ---- rounds and attempts ----------------------------------------------------------------------

  #tryNext(): void {
    const servers = this.#o.keyServers
    if (this.#tried >= servers.length) {
      this.#roundFailed()
      return
    }
    const index = (this.#startIndex + this.#tried) % servers.length
    this.#tried++
    this.#freshRetry = false
    this.#begin(index, false)
  }

  #begin(index: number, forceMainMode: boolean): void {
    const ks = this.#o.keyServers[index]
    if (ks === undefined) return
    this.#attempted++
    const cached = this.#phase1.get(formatEndpoint(ks))
    if (!forceMainMode && cached !== undefined && cached.expiresAtMs - this.#o.clock.nowMs() > REUSE_MARGIN_MS) {
      this.#log.debug({ ks: formatEndpoint(ks) }, 'registering under the existing phase-1 SA')
      this.#startPull(ks, index, cached, true)
      return
    }
    const init = this.#o.initiatorFor(ks)
    if (!init.ok) {
      this.#failed(ks, { stage: 'config', reason: init.reason })
      return
    }
    let st: MainModeInitiator
    try {
      st = createInitiator(init.config)
    } catch (err) {
      this.#failed(ks, { stage: 'config', reason: (err as Error).message })
      return
    }
    this.#log.debug({ ks: formatEndpoint(ks) }, 'phase 1 (Main Mode) started')
    const a: Attempt = { kind: 'mm', ks, index, connId: this.#nextConnId++, st }
    this.#attempt = a
    this.#stepMm(a, { type: 'start' })
  }

  #startPull(ks: Endpoint, index: number, phase1: Phase1Entry, reused: boolean): void {
    const st = initPullMember({
      sa: phase1.sa,
      groupId: this.#o.groupId,
      ...(this.#o.retransmit !== undefined ? { retransmit: this.#o.retransmit } : {}),
      ...(this.#o.exchangeMaxMs !== undefined ? { exchangeMaxMs: this.#o.exchangeMaxMs } : {}),
    })
    const a: Attempt = { kind: 'pull', ks, index, phase1, reused, st }
    this.#attempt = a
    this.#stepPull(a, { type: 'start' })
  }

  #stepMm(a: Extract<Attempt, { kind: 'mm' }>, ev: ExchangeEvent): void {
    const [st, actions] = stepInitiator(a.st, ev, this.#ctx)
    a.st = st
    this.#apply(a, actions)
    if (this.#attempt !== a) return
    if (st.s === 'done') {
      this.#clearTimers()
      const key = formatEndpoint(a.ks)
      this.#phase1.get(key)?.cancelExpiry()
      const expiresAtMs = this.#o.clock.nowMs() + st.sa.lifetimeSec * 1000
      const entry: Phase1Entry = {
        ks: a.ks,
        sa: st.sa,
        connId: a.connId,
        expiresAtMs,
        cancelExpiry: this.#o.clock.setTimer(expiresAtMs - this.#o.clock.nowMs(), () => this.#expirePhase1(key, entry)),
      }
      this.#phase1.set(key, entry)
      this.#log.info({ event: LogEvent.IKE_ESTABLISHED, ks: key, connId: a.connId, lifetimeSec: st.sa.lifetimeSec, cipher: st.sa.cipher.name, hash: st.sa.hash }, 'phase-1 SA established')
      publishGm(GmChannel.IKE_ESTABLISHED, { gm: this.#o.diagId, group: this.#o.groupName, peer: key })
      this.#o.events.onPhase1(st.sa, a.ks)
      this.#startPull(a.ks, a.index, entry, false)
    } else if (st.s === 'failed') {
      this.#log.warn({ event: LogEvent.IKE_FAILED, ks: formatEndpoint(a.ks), reason: st.reason, detail: st.detail }, 'phase 1 failed')
      publishGm(GmChannel.IKE_FAILED, { gm: this.#o.diagId, group: this.#o.groupName, peer: formatEndpoint(a.ks), reason: st.reason })
      this.#failed(a.ks, { stage: 'phase1', reason: st.reason, detail: st.detail })
    }
  }

  #stepPull(a: Extract<Attempt, { kind: 'pull' }>, ev: ExchangeEvent): void {
    const [st, actions] = stepPullMember(a.st, ev, this.#ctx)
    a.st = st
    this.#apply(a, actions)
    if (this.#attempt !== a) return
    for (const act of actions) {
      if (act.type === 'pull-done') {
        this.#clearTimers()
        this.#attempt = undefined
        this.#preferred = a.index
        this.#round = 0
        this.#lastFailure = undefined
        this.#o.events.onRegistered({ ks: a.ks, phase1: a.phase1.sa, result: act.result, reusedPhase1: a.reused })
        return
      }
      if (act.type === 'pull-failed') {
        const reason = pullFailureText(act.reason)
        if (a.reused && !this.#freshRetry && (act.reason.code === 'timeout' || act.reason.code === 'deleted' || act.reason.code === 'bad-hash')) {
          // The KS may have forgotten the phase-1 SA (restart): run Main Mode again with the same KS.
          this.#log.info({ ks: formatEndpoint(a.ks), reason }, 'registration under the old phase-1 SA failed; new phase 1')
          this.#dropPhase1(formatEndpoint(a.ks))
          this.#clearTimers()
          this.#attempt = undefined
          this.#freshRetry = true
          this.#begin(a.index, true)
          return
        }
        if (act.reason.code === 'unacceptable-policy' || act.reason.code === 'deleted') this.#dropPhase1(formatEndpoint(a.ks))
        this.#failed(a.ks, { stage: 'pull', reason: act.reason.code, detail: reason })
        return
      }
    }
  }

  #apply(a: Attempt, actions: readonly { readonly type: string }[]): void {
    for (const act of actions as readonly Action[]) {
      switch (act.type) {
        case 'send':
          this.#o.transport.send(act.bytes, a.ks)
          break
        case 'arm': {
          this.#timers.get(act.timer)?.()
          const timer = act.timer
          this.#timers.set(timer, this.#o.clock.setTimer(act.ms, () => {
            this.#timers.delete(timer)
            if (this.#attempt !== a) return
            if (a.kind === 'mm') this.#stepMm(a, { type: 'timer', timer })
            else this.#stepPull(a, { type: 'timer', timer })
          }))
          break
        }
        case 'cancel':
          this.#timers.get(act.timer)?.()
          this.#timers.delete(act.timer)
          break
        default:
          break // pull-done / pull-failed: handled by the caller
      }
    }
  }

  #failed(ks: Endpoint, f: AttemptFailure): void {
    this.#clearTimers()
    this.#attempt = undefined
    this.#lastFailure = f
    const next = this.#tried < this.#o.keyServers.length ? this.#o.keyServers[(this.#startIndex + this.#tried) % this.#o.keyServers.length] : undefined
    this.#log.warn(
      { event: LogEvent.REGISTRATION_FAILED, group: this.#o.groupName, ks: formatEndpoint(ks), stage: f.stage, reason: f.reason, detail: f.detail, next: next === undefined ? null : formatEndpoint(next) },
      next === undefined ? 'registration with key server failed' : 'registration with key server failed; trying the next key server',
    )
    if (next !== undefined) publishGm(GmChannel.KS_FAILOVER, { gm: this.#o.diagId, group: this.#o.groupName, peer: formatEndpoint(ks), next: formatEndpoint(next), reason: f.reason })
    this.#tryNext()
  }

  #roundFailed(): void {
    this.#round++
    const delay = backoffMs(this.#round, this.#o.backoff ?? DEFAULT_BACKOFF, this.#o.rng)
    publishGm(GmChannel.REGISTRATION_FAILED, { gm: this.#o.diagId, group: this.#o.groupName, round: this.#round, retryInMs: delay, reason: this.#lastFailure?.reason })
    this.#o.events.onRoundFailed(this.#round, delay, this.#lastFailure)
    this.#backoff.at(this.#o.clock.nowMs() + delay, 'retry', () => this.start('retry after all key servers failed'))
  }

  #clearTimers(): void {
    for (const cancel of this.#timers.values()) cancel()
    this.#timers.clear()
  }

  // ---- phase-1 SA cache -------------------------------------------------------------------------

  #dropPhase1(key: string): void {
    const e = this.#phase1.get(key)
    if (e === undefined) return
    e.cancelExpiry()
    this.#phase1.delete(key)
  }

  #expirePhase1(key: string, entry: Phase1Entry): void {
    if (this.#phase1.get(key) !== entry) return
    this.#phase1.delete(key)
    this.#log.info({ event: LogEvent.IKE_EXPIRED, ks: key, connId: entry.connId }, 'phase-1 SA expired')
  }

  /** An encrypted Informational under a cached phase-1 SA: a Delete of that SA forgets it. */
  #onInformational(bytes: Uint8Array, from: Endpoint): boolean {
    const key = formatEndpoint(from)
    const e = this.#phase1.get(key)
    if (e === undefined) return false
    const info = openInformational(e.sa, bytes)
    if (!info.ok) {
      this.#log.debug({ ks: key, reason: info.reason }, 'Informational dropped')
      return false
    }
    for (const p of info.payloads) {
      if ('spis' in p && p.spiSize === 16) {
        this.#log.info({ event: LogEvent.DELETE_RECEIVED, ks: key, connId: e.connId }, 'key server deleted the phase-1 SA')
        this.#dropPhase1(key)
      } else if ('notifyType' in p) {
        this.#log.info({ ks: key, notifyType: p.notifyType }, 'notify from key server')
      }
    }
    return true
  }
}
