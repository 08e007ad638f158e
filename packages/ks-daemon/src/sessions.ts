// Cookies → Main Mode responder → Phase1Sa; (cookies, M-ID) → GROUPKEY-PULL responder (spec §1.7 "State":
// key everything per phase-1 SA by cookies and per exchange by (cookies, M-ID)).
//   * a byte-identical repeat of a request is answered from the exchange's cache, never processed twice
//     (the @gdoi/wire responders keep the last request/response pair);
//   * half-open SAs (Main Mode not finished) are capped (`maxHalfOpen`, further MM1s are dropped) and
//     abandoned after `exchangeMaxMs`; established SAs expire at their phase-1 lifetime, and a peer that
//     says INITIAL-CONTACT loses its older SAs;
//   * PULL4 is sent only after the registration (member list, sender IDs) is durable in the store.
import type { Endpoint, KeyLog, Logger } from '@gdoi/daemon-kit'
import { DiagChannel, LogEvent, formatEndpoint, publish, sameEndpoint } from '@gdoi/daemon-kit'
import type { IsakmpHeader } from '@gdoi/wire'
import { ExchangeType, Flags, PayloadType, ProtocolId } from '@gdoi/wire/constants'
import type {
  Action,
  ExchangeCtx,
  ExchangeEvent,
  GroupProvider,
  HashMemory,
  MainModeResponder,
  Phase1Sa,
  PullKeyServer,
  PullKeyServerAction,
  PullKsFailure,
  PullRegistration,
  ResponderConfig,
} from '@gdoi/wire/exchange/index'
import {
  createResponder,
  gdoiKeylogLines,
  initPullKeyServer,
  keylogLines,
  openInformational,
  stepPullKeyServer,
  stepResponder,
} from '@gdoi/wire/exchange/index'
import { Counter, type Counters } from './counters.js'
import { describeId } from './identity.js'
import { TimerSet } from './timers.js'
import type { Clock } from '@gdoi/daemon-kit'

export interface SessionLimits {
  /** Main Modes in progress at once (default 10000); further MM1s are dropped. */
  readonly maxHalfOpen: number
  /** A half-open exchange / an unfinished PULL is abandoned after this long (default 120 s). */
  readonly exchangeMaxMs: number
  /** Established phase-1 SAs kept per peer address (oldest deleted first, default 4). */
  readonly maxSasPerPeer: number
  /** GROUPKEY-PULL exchanges per phase-1 SA at once (default 4). */
  readonly maxPullsPerSa: number
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = { maxHalfOpen: 10_000, exchangeMaxMs: 120_000, maxSasPerPeer: 4, maxPullsPerSa: 4 }

export interface SessionDeps {
  readonly clock: Clock
  readonly log: Logger
  readonly counters: Counters
  readonly ctx: ExchangeCtx
  readonly send: (bytes: Uint8Array, to: Endpoint) => void
  readonly keylog: KeyLog | undefined
  /** The current responder configuration (rebuilt on reload). */
  readonly responderConfig: () => ResponderConfig
  readonly provider: (peer: Endpoint) => GroupProvider
  /** Called after a valid PULL3; PULL4 leaves only once the returned promise resolves. */
  readonly onRegistered: (reg: PullRegistration, peer: Endpoint, sa: Phase1Sa) => Promise<void>
  readonly onPullFailed: (reason: PullKsFailure, peer: Endpoint, sa: Phase1Sa) => void
  readonly replay: HashMemory
  readonly limits: SessionLimits
  readonly idLengthWidth: 1 | 2
}

interface PullEntry {
  state: PullKeyServer
  /** Sends of this exchange wait for it (the registration being saved); false = withheld. Never rejects. */
  gate: Promise<boolean>
}

interface IkeEntry {
  readonly key: string
  readonly peer: Endpoint
  readonly createdMs: number
  responder: MainModeResponder
  sa?: Phase1Sa
  establishedMs?: number
  readonly pulls: Map<number, PullEntry>
  readonly timers: TimerSet
}

export interface IkeSaInfo {
  readonly peer: string
  readonly icookie: string
  readonly rcookie: string
  readonly state: string
  readonly peerId?: string
  readonly ageSec: number
  readonly remainingSec?: number
  readonly pullsInProgress: number
}

function hexOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

function isZero(b: Uint8Array): boolean {
  return b.every((x) => x === 0)
}

export class Sessions {
  readonly #d: SessionDeps
  readonly #byCookie = new Map<string, IkeEntry>()
  #halfOpen = 0

  constructor(deps: SessionDeps) {
    this.#d = deps
  }

  get halfOpen(): number {
    return this.#halfOpen
  }

  /** Routes an ISAKMP datagram of exchange 2 (Main Mode), 5 (Informational) or 32 (PULL). */
  handle(h: IsakmpHeader, bytes: Uint8Array, from: Endpoint): void {
    switch (h.exchange) {
      case ExchangeType.IDENTITY_PROTECTION:
        this.#mainMode(h, bytes, from)
        return
      case ExchangeType.INFORMATIONAL:
        this.#informational(h, bytes, from)
        return
      case ExchangeType.GROUPKEY_PULL:
        this.#pull(h, bytes, from)
        return
      default:
        this.#drop('unexpected-exchange', from, { exchange: h.exchange })
    }
  }

  #drop(reason: string, from: Endpoint, extra: Record<string, unknown> = {}): void {
    this.#d.counters.inc(`${Counter.DROP}.${reason}`)
    this.#d.log.debug({ peer: formatEndpoint(from), reason, ...extra }, 'datagram dropped')
  }

  // ---- Main Mode --------------------------------------------------------------------------------

  #mainMode(h: IsakmpHeader, bytes: Uint8Array, from: Endpoint): void {
    const key = hexOf(h.icookie)
    let e = this.#byCookie.get(key)
    if (e !== undefined && !sameEndpoint(e.peer, from)) return this.#drop('cookie-from-other-peer', from)
    if (e === undefined) {
      if (!isZero(h.rcookie)) return this.#drop('unknown-cookie', from)
      if (this.#halfOpen >= this.#d.limits.maxHalfOpen) {
        this.#d.counters.inc(Counter.HALF_OPEN_LIMIT)
        this.#d.log.debug({ peer: formatEndpoint(from), limit: this.#d.limits.maxHalfOpen }, 'MM1 dropped: too many half-open SAs')
        return
      }
      let responder: MainModeResponder
      try {
        responder = createResponder(this.#d.responderConfig(), from.address)
      } catch (err) {
        this.#d.log.error({ err }, 'unusable IKE configuration')
        return
      }
      e = { key, peer: from, createdMs: this.#d.clock.nowMs(), responder, pulls: new Map(), timers: new TimerSet(this.#d.clock) }
      this.#byCookie.set(key, e)
      this.#halfOpen++
    }
    this.#stepMm(e, { type: 'datagram', bytes })
  }

  #stepMm(e: IkeEntry, ev: ExchangeEvent): void {
    const before = e.responder
    const [next, actions] = stepResponder(before, ev, this.#d.ctx)
    e.responder = next
    if (next === before && ev.type === 'datagram' && actions.some((a) => a.type === 'send')) this.#d.counters.inc(Counter.IKE_RETRANSMIT_ANSWERED)
    this.#applyMmActions(e, actions)
    if (before.s !== 'done' && next.s === 'done') this.#established(e, next.sa, next.peerInitialContact)
    else if (next.s === 'failed' && before.s !== 'failed') this.#mmFailed(e, next.reason, next.detail)
  }

  #applyMmActions(e: IkeEntry, actions: readonly Action[]): void {
    for (const a of actions) {
      if (a.type === 'send') this.#d.send(a.bytes, e.peer)
      else if (a.type === 'arm') e.timers.arm(`mm-${a.timer}`, a.ms, () => this.#stepMm(e, { type: 'timer', timer: a.timer }))
      else e.timers.cancel(`mm-${a.timer}`)
    }
  }

  #established(e: IkeEntry, sa: Phase1Sa, initialContact: boolean): void {
    this.#halfOpen--
    e.sa = sa
    e.establishedMs = this.#d.clock.nowMs()
    const peer = formatEndpoint(e.peer)
    const peerId = describeId(sa.peerId)
    this.#d.counters.inc(Counter.IKE_ESTABLISHED)
    this.#d.log.info({ event: LogEvent.IKE_ESTABLISHED, peer, peerId, icookie: hexOf(sa.icookie), rcookie: hexOf(sa.rcookie), lifetimeSec: sa.lifetimeSec }, 'ISAKMP SA established')
    publish(DiagChannel.IKE_ESTABLISHED, { peer, peerId, icookie: hexOf(sa.icookie) })
    if (this.#d.keylog !== undefined) {
      try {
        this.#d.keylog.writeLines([...keylogLines(sa), ...gdoiKeylogLines(sa)])
      } catch (err) {
        this.#d.log.warn({ err }, 'key log write failed')
      }
    }
    e.timers.arm('sa-expire', sa.lifetimeSec * 1000, () => {
      this.#d.log.debug({ event: LogEvent.IKE_EXPIRED, peer, icookie: e.key }, 'ISAKMP SA expired')
      this.#remove(e)
    })
    // INITIAL-CONTACT: the peer has no other SA with us; and never keep more than maxSasPerPeer.
    const same = [...this.#byCookie.values()].filter((x) => x !== e && x.sa !== undefined && x.peer.address === e.peer.address)
    const extra = initialContact ? same : same.slice(0, Math.max(0, same.length - (this.#d.limits.maxSasPerPeer - 1)))
    for (const x of extra) this.#remove(x)
  }

  #mmFailed(e: IkeEntry, reason: string, detail: string): void {
    const peer = formatEndpoint(e.peer)
    this.#d.counters.inc(`${Counter.IKE_FAILED}.${reason}`)
    const level = reason === 'timeout' ? 'debug' : reason === 'auth-failed' || reason === 'bad-hash' || reason === 'bad-signature' || reason === 'untrusted-cert' ? 'warn' : 'info'
    this.#d.log[level]({ event: LogEvent.IKE_FAILED, peer, reason, detail }, 'phase 1 failed')
    publish(DiagChannel.IKE_FAILED, { peer, reason })
    this.#remove(e)
  }

  #remove(e: IkeEntry): void {
    if (this.#byCookie.get(e.key) !== e) return
    this.#byCookie.delete(e.key)
    if (e.sa === undefined) this.#halfOpen--
    e.timers.cancelAll()
    e.pulls.clear()
  }

  // ---- Informational ------------------------------------------------------------------------------

  #informational(h: IsakmpHeader, bytes: Uint8Array, from: Endpoint): void {
    const e = this.#byCookie.get(hexOf(h.icookie))
    if (e === undefined || !sameEndpoint(e.peer, from)) return this.#drop('unknown-cookie', from)
    if ((h.flags & Flags.ENCRYPTION) === 0 || e.sa === undefined) {
      // before phase 1 completes: the responder reads unencrypted error notifies itself
      if (e.sa === undefined) this.#stepMm(e, { type: 'datagram', bytes })
      return
    }
    const info = openInformational(e.sa, bytes)
    if (!info.ok) return this.#drop(`informational-${info.reason}`, from)
    for (const p of info.payloads) {
      if (p.type === PayloadType.DELETE && 'spis' in p && p.protocolId === ProtocolId.ISAKMP) {
        this.#d.log.debug({ peer: formatEndpoint(from), icookie: e.key }, 'peer deleted its ISAKMP SA')
        this.#remove(e)
        return
      }
      if (p.type === PayloadType.NOTIFICATION && 'notifyType' in p) {
        this.#d.log.info({ peer: formatEndpoint(from), notifyType: p.notifyType }, 'notify received')
      }
    }
  }

  // ---- GROUPKEY-PULL -----------------------------------------------------------------------------

  #pull(h: IsakmpHeader, bytes: Uint8Array, from: Endpoint): void {
    const e = this.#byCookie.get(hexOf(h.icookie))
    const sa = e?.sa
    if (e === undefined || sa === undefined || hexOf(h.rcookie) !== hexOf(sa.rcookie)) return this.#drop('unknown-sa', from)
    if (!sameEndpoint(e.peer, from)) return this.#drop('sa-from-other-peer', from)
    let p = e.pulls.get(h.messageId)
    if (p === undefined) {
      if (e.pulls.size >= this.#d.limits.maxPullsPerSa) return this.#drop('too-many-pulls', from)
      p = {
        state: initPullKeyServer({
          sa,
          groups: this.#d.provider(e.peer),
          replay: this.#d.replay,
          exchangeMaxMs: this.#d.limits.exchangeMaxMs,
          ...(this.#d.idLengthWidth !== 1 ? { idLengthWidth: this.#d.idLengthWidth } : {}),
        }),
        gate: Promise.resolve(true),
      }
      e.pulls.set(h.messageId, p)
    }
    this.#stepPull(e, sa, h.messageId, p, { type: 'datagram', bytes })
  }

  #stepPull(e: IkeEntry, sa: Phase1Sa, mid: number, p: PullEntry, ev: ExchangeEvent): void {
    const before = p.state
    const [next, actions] = stepPullKeyServer(before, ev, this.#d.ctx)
    p.state = next
    if (next === before && ev.type === 'datagram' && actions.some((a) => a.type === 'send')) this.#d.counters.inc(Counter.PULL_RETRANSMIT_ANSWERED)
    for (const a of actions) this.#applyPullAction(e, sa, mid, p, a)
    if (next.s === 'failed' || next.s === 'closed') {
      e.timers.cancel(`pull-${mid}`)
      // a failed exchange keeps its place until its sends went out; then it is forgotten
      void p.gate.then(() => {
        if (e.pulls.get(mid) === p) e.pulls.delete(mid)
      })
    }
  }

  #applyPullAction(e: IkeEntry, sa: Phase1Sa, mid: number, p: PullEntry, a: PullKeyServerAction): void {
    switch (a.type) {
      case 'send': {
        const bytes = a.bytes
        p.gate = p.gate.then((ok) => {
          if (ok) this.#d.send(bytes, e.peer)
          return ok
        })
        return
      }
      case 'arm':
        e.timers.arm(`pull-${mid}`, a.ms, () => this.#stepPull(e, sa, mid, p, { type: 'timer', timer: a.timer }))
        return
      case 'cancel':
        e.timers.cancel(`pull-${mid}`)
        return
      case 'registered': {
        // PULL4 (queued behind this) leaves only once the member and its sender IDs are saved. When the
        // save fails the exchange is forgotten: the member times out and registers again.
        const saved = this.#d.onRegistered(a.registration, e.peer, sa).then(
          () => true,
          (err: unknown) => {
            this.#d.log.error({ err, peer: formatEndpoint(e.peer) }, 'registration not saved; PULL4 withheld')
            if (e.pulls.get(mid) === p) e.pulls.delete(mid)
            return false
          },
        )
        p.gate = p.gate.then((ok) => saved.then((s) => ok && s))
        return
      }
      case 'pull-failed':
        this.#d.counters.inc(`${Counter.PULL_FAILED}.${a.reason.code}`)
        this.#d.onPullFailed(a.reason, e.peer, sa)
        return
    }
  }

  // ---- status / lifecycle ------------------------------------------------------------------------

  list(nowMs: number): IkeSaInfo[] {
    return [...this.#byCookie.values()].map((e) => ({
      peer: formatEndpoint(e.peer),
      icookie: e.key,
      rcookie: e.sa !== undefined ? hexOf(e.sa.rcookie) : rcookieOf(e.responder),
      state: e.sa !== undefined ? 'QM_IDLE' : mmStateName(e.responder.s),
      ...(e.sa !== undefined ? { peerId: describeId(e.sa.peerId) } : {}),
      ageSec: Math.floor((nowMs - e.createdMs) / 1000),
      ...(e.sa !== undefined && e.establishedMs !== undefined ? { remainingSec: Math.max(0, Math.ceil((e.establishedMs + e.sa.lifetimeSec * 1000 - nowMs) / 1000)) } : {}),
      pullsInProgress: [...e.pulls.values()].filter((p) => p.state.s === 'awaitPull3').length,
    }))
  }

  closeAll(): void {
    for (const e of this.#byCookie.values()) e.timers.cancelAll()
    this.#byCookie.clear()
    this.#halfOpen = 0
  }
}

function rcookieOf(r: MainModeResponder): string {
  if (r.s === 'awaitMm3') return hexOf(r.rcookie)
  if (r.s === 'awaitMm5') return hexOf(r.keys.rcookie)
  return ''
}

/** IOS `show crypto isakmp sa` state names for the responder's states. */
function mmStateName(s: MainModeResponder['s']): string {
  switch (s) {
    case 'awaitMm1':
      return 'MM_NO_STATE'
    case 'awaitMm3':
      return 'MM_SA_SETUP'
    case 'awaitMm5':
      return 'MM_KEY_EXCH'
    case 'done':
      return 'QM_IDLE'
    case 'failed':
      return 'MM_NO_STATE'
  }
}
