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
import { DeadlineQueue } from './deadline-queue.js'
import { packSa, unpackSa, type PackedSa } from './packed-sa.js'
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
  /** The exchange, until it finished (then only `cache` is kept). */
  state: PullKeyServer | undefined
  /** A finished exchange: a repeat of its PULL3 is answered with its PULL4 until `expireAtMs`. */
  cache: { readonly request: Uint8Array; readonly response: Uint8Array } | undefined
  /** The exchange's 'expire' timer (a deadline in Sessions' queue). */
  expireAtMs: number | undefined
  /** Sends of this exchange wait for it (the registration being saved); false = withheld. Never rejects. */
  gate: Promise<boolean>
}

/**
 * One phase-1 SA, half-open or established. Held for every registered member for the SA lifetime, so
 * it is kept small (bench/README.md "storm"): the established SA is packed (packed-sa.ts), timers are
 * deadlines in one shared queue, and the maps exist only while something is in them.
 */
interface IkeEntry {
  readonly key: string
  readonly peer: Endpoint
  readonly createdMs: number
  /** Main Mode in progress; after it, the done state (its MM5→MM6 cache answers a repeated MM5) until
   *  the first message under the new SA shows that MM6 arrived. */
  responder: MainModeResponder | undefined
  /** Established: the SA, packed (or as it is when it does not pack). */
  packed: PackedSa | undefined
  plainSa: Phase1Sa | undefined
  establishedMs: number | undefined
  /** SA lifetime end (established) or Main Mode 'expire' timer (half-open): a deadline in the queue. */
  expireAtMs: number | undefined
  pulls: Map<number, PullEntry> | undefined
}

/** Deadline `sub` codes besides PULL message IDs (which are ≥ 0). */
const SUB_SA_LIFETIME = -1
const SUB_MM_EXPIRE = -2

function established(e: IkeEntry): boolean {
  return e.establishedMs !== undefined
}

function saOf(e: IkeEntry): Phase1Sa | undefined {
  return e.plainSa ?? (e.packed !== undefined ? unpackSa(e.packed) : undefined)
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
  /** Established SAs by peer address (INITIAL-CONTACT and maxSasPerPeer without a scan of every SA). */
  readonly #byAddress = new Map<string, IkeEntry | IkeEntry[]>()
  /** Every timer of every SA and exchange: SA lifetimes, Main Mode and PULL 'expire'. */
  readonly #deadlines: DeadlineQueue
  #halfOpen = 0

  constructor(deps: SessionDeps) {
    this.#d = deps
    this.#deadlines = new DeadlineQueue(deps.clock, (key, sub, atMs) => this.#due(key, sub, atMs))
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
    this.#d.log.debug({ event: LogEvent.DATAGRAM_DROPPED, peer: formatEndpoint(from), reason, ...extra }, 'datagram dropped')
  }

  // ---- deadlines ----------------------------------------------------------------------------------

  #due(key: string, sub: number, atMs: number): void {
    const e = this.#byCookie.get(key)
    if (e === undefined) return
    if (sub === SUB_MM_EXPIRE) {
      if (established(e) || e.expireAtMs !== atMs) return // stale
      e.expireAtMs = undefined
      this.#stepMm(e, { type: 'timer', timer: 'expire' })
      return
    }
    if (sub === SUB_SA_LIFETIME) {
      if (!established(e) || e.expireAtMs !== atMs) return // stale
      e.expireAtMs = undefined
      this.#d.log.debug({ event: LogEvent.IKE_EXPIRED, peer: formatEndpoint(e.peer), icookie: e.key }, 'ISAKMP SA expired')
      this.#remove(e)
      return
    }
    const p = e.pulls?.get(sub)
    if (p === undefined || p.expireAtMs !== atMs) return
    p.expireAtMs = undefined
    if (p.state !== undefined) {
      const sa = saOf(e)
      if (sa !== undefined) this.#stepPull(e, sa, sub, p, { type: 'timer', timer: 'expire' })
      return
    }
    // a finished exchange stops answering repeats: forget it once its sends went out
    this.#forgetPull(e, sub, p)
  }

  /** Drops stale deadlines when most of the queue is (many SAs went away before their lifetime). */
  #maybeCompact(): void {
    if (this.#deadlines.size < 4096 || this.#deadlines.size < 4 * this.#byCookie.size) return
    this.#deadlines.compact((key, sub, atMs) => {
      const e = this.#byCookie.get(key)
      if (e === undefined) return false
      return sub < 0 ? e.expireAtMs === atMs : e.pulls?.get(sub)?.expireAtMs === atMs
    })
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
      // every field up front: one object shape, no out-of-object property store per SA
      e = { key, peer: from, createdMs: this.#d.clock.nowMs(), responder, packed: undefined, plainSa: undefined, establishedMs: undefined, expireAtMs: undefined, pulls: undefined }
      this.#byCookie.set(key, e)
      this.#halfOpen++
    }
    if (e.responder === undefined) return // established, its MM5→MM6 cache dropped: a late MM repeat is ignored
    this.#stepMm(e, { type: 'datagram', bytes })
  }

  #stepMm(e: IkeEntry, ev: ExchangeEvent): void {
    const before = e.responder
    if (before === undefined) return
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
      else if (a.type === 'arm') {
        // the responder's only timer is 'expire' (it answers repeats, it never retransmits)
        const at = this.#d.clock.nowMs() + Math.max(0, a.ms)
        e.expireAtMs = at
        this.#deadlines.add(e.key, SUB_MM_EXPIRE, at)
      } else if (!established(e)) e.expireAtMs = undefined
    }
  }

  #established(e: IkeEntry, sa: Phase1Sa, initialContact: boolean): void {
    this.#halfOpen--
    const now = this.#d.clock.nowMs()
    e.establishedMs = now
    const packed = packSa(sa)
    if (packed !== undefined) e.packed = packed
    else e.plainSa = sa
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
    e.expireAtMs = now + sa.lifetimeSec * 1000
    this.#deadlines.add(e.key, SUB_SA_LIFETIME, e.expireAtMs)
    // INITIAL-CONTACT: the peer has no other SA with us; and never keep more than maxSasPerPeer.
    const prev = this.#byAddress.get(e.peer.address)
    const same = prev === undefined ? [] : Array.isArray(prev) ? [...prev] : [prev]
    same.sort((a, b) => a.createdMs - b.createdMs)
    this.#byAddress.set(e.peer.address, same.length === 0 ? e : [...same, e])
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
    if (!established(e)) this.#halfOpen--
    else {
      const peers = this.#byAddress.get(e.peer.address)
      if (peers === e) this.#byAddress.delete(e.peer.address)
      else if (Array.isArray(peers)) {
        const rest = peers.filter((x) => x !== e)
        if (rest.length === 0) this.#byAddress.delete(e.peer.address)
        else this.#byAddress.set(e.peer.address, rest.length === 1 ? (rest[0] as IkeEntry) : rest)
      }
    }
    e.expireAtMs = undefined
    e.pulls = undefined
    this.#maybeCompact()
  }

  /** The first message under an established SA: MM6 arrived, so the MM5→MM6 cache can go. */
  #saInUse(e: IkeEntry): void {
    if (e.responder !== undefined && established(e)) e.responder = undefined
  }

  // ---- Informational ------------------------------------------------------------------------------

  #informational(h: IsakmpHeader, bytes: Uint8Array, from: Endpoint): void {
    const e = this.#byCookie.get(hexOf(h.icookie))
    if (e === undefined || !sameEndpoint(e.peer, from)) return this.#drop('unknown-cookie', from)
    const sa = saOf(e)
    if ((h.flags & Flags.ENCRYPTION) === 0 || sa === undefined) {
      // before phase 1 completes: the responder reads unencrypted error notifies itself
      if (sa === undefined) this.#stepMm(e, { type: 'datagram', bytes })
      return
    }
    const info = openInformational(sa, bytes)
    if (!info.ok) return this.#drop(`informational-${info.reason}`, from)
    this.#saInUse(e)
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
    const sa = e === undefined ? undefined : saOf(e)
    if (e === undefined || sa === undefined || hexOf(h.rcookie) !== hexOf(sa.rcookie)) return this.#drop('unknown-sa', from)
    if (!sameEndpoint(e.peer, from)) return this.#drop('sa-from-other-peer', from)
    this.#saInUse(e)
    let p = e.pulls?.get(h.messageId)
    if (p === undefined) {
      if ((e.pulls?.size ?? 0) >= this.#d.limits.maxPullsPerSa) return this.#drop('too-many-pulls', from)
      p = {
        state: initPullKeyServer({
          sa,
          groups: this.#d.provider(e.peer),
          replay: this.#d.replay,
          exchangeMaxMs: this.#d.limits.exchangeMaxMs,
          ...(this.#d.idLengthWidth !== 1 ? { idLengthWidth: this.#d.idLengthWidth } : {}),
        }),
        cache: undefined,
        expireAtMs: undefined,
        gate: Promise.resolve(true),
      }
      ;(e.pulls ??= new Map()).set(h.messageId, p)
    }
    if (p.state === undefined) {
      // finished: a byte-identical repeat of PULL3 (PULL4 was lost) gets PULL4 again, nothing else is read
      const c = p.cache
      if (c !== undefined && sameBytes(c.request, bytes)) {
        this.#d.counters.inc(Counter.PULL_RETRANSMIT_ANSWERED)
        this.#gatedSend(e, p, c.response)
      }
      return
    }
    this.#stepPull(e, sa, h.messageId, p, { type: 'datagram', bytes })
  }

  #stepPull(e: IkeEntry, sa: Phase1Sa, mid: number, p: PullEntry, ev: ExchangeEvent): void {
    const before = p.state
    if (before === undefined) return
    const [next, actions] = stepPullKeyServer(before, ev, this.#d.ctx)
    p.state = next
    if (next === before && ev.type === 'datagram' && actions.some((a) => a.type === 'send')) this.#d.counters.inc(Counter.PULL_RETRANSMIT_ANSWERED)
    for (const a of actions) this.#applyPullAction(e, sa, mid, p, a)
    if (next.s === 'done') {
      // keep only what answers a repeated PULL3 (the state holds the SA, the group's policy, …)
      p.state = undefined
      p.cache = { request: next.lastRequest, response: next.lastResponse }
    } else if (next.s === 'failed' || next.s === 'closed') {
      p.expireAtMs = undefined
      this.#forgetPull(e, mid, p)
    }
  }

  /** A failed or finished exchange keeps its place until its sends went out; then it is forgotten. */
  #forgetPull(e: IkeEntry, mid: number, p: PullEntry): void {
    void p.gate.then(() => {
      if (e.pulls?.get(mid) !== p) return
      e.pulls.delete(mid)
      if (e.pulls.size === 0) e.pulls = undefined
    })
  }

  #gatedSend(e: IkeEntry, p: PullEntry, bytes: Uint8Array): void {
    p.gate = p.gate.then((ok) => {
      if (ok) this.#d.send(bytes, e.peer)
      return ok
    })
  }

  #applyPullAction(e: IkeEntry, sa: Phase1Sa, mid: number, p: PullEntry, a: PullKeyServerAction): void {
    switch (a.type) {
      case 'send':
        this.#gatedSend(e, p, a.bytes)
        return
      case 'arm': {
        const at = this.#d.clock.nowMs() + Math.max(0, a.ms)
        p.expireAtMs = at
        this.#deadlines.add(e.key, mid, at)
        return
      }
      case 'cancel':
        p.expireAtMs = undefined
        return
      case 'registered': {
        // PULL4 (queued behind this) leaves only once the member and its sender IDs are saved. When the
        // save fails the exchange is forgotten: the member times out and registers again.
        const saved = this.#d.onRegistered(a.registration, e.peer, sa).then(
          () => true,
          (err: unknown) => {
            this.#d.log.error({ err, peer: formatEndpoint(e.peer) }, 'registration not saved; PULL4 withheld')
            if (e.pulls?.get(mid) === p) {
              e.pulls.delete(mid)
              if (e.pulls.size === 0) e.pulls = undefined
            }
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
    return [...this.#byCookie.values()].map((e) => {
      const sa = saOf(e)
      return {
        peer: formatEndpoint(e.peer),
        icookie: e.key,
        rcookie: sa !== undefined ? hexOf(sa.rcookie) : e.responder !== undefined ? rcookieOf(e.responder) : '',
        state: sa !== undefined ? 'QM_IDLE' : e.responder !== undefined ? mmStateName(e.responder.s) : 'MM_NO_STATE',
        ...(sa !== undefined ? { peerId: describeId(sa.peerId) } : {}),
        ageSec: Math.floor((nowMs - e.createdMs) / 1000),
        ...(sa !== undefined && e.establishedMs !== undefined ? { remainingSec: Math.max(0, Math.ceil((e.establishedMs + sa.lifetimeSec * 1000 - nowMs) / 1000)) } : {}),
        pullsInProgress: [...(e.pulls?.values() ?? [])].filter((p) => p.state?.s === 'awaitPull3').length,
      }
    })
  }

  closeAll(): void {
    this.#deadlines.clear()
    this.#byCookie.clear()
    this.#byAddress.clear()
    this.#halfOpen = 0
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
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
