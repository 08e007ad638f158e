// Cookies → Main Mode responder → Phase1Sa; (cookies, M-ID) → GROUPKEY-PULL responder (spec §1.7 "State":
// key everything per phase-1 SA by cookies and per exchange by (cookies, M-ID)).
//   * a byte-identical repeat of a request is answered from the exchange's cache, never processed twice
//     (the @gdoi/wire responders keep the last request/response pair);
//   * half-open SAs (Main Mode not finished) are capped (`maxHalfOpen`) and abandoned after
//     `exchangeMaxMs`; when the table is full, a new MM1 evicts the oldest SA still waiting for MM3
//     (see "Half-open SAs under a flood" below); established SAs expire at their phase-1 lifetime, and a
//     peer that says INITIAL-CONTACT loses its older SAs;
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
import { SaProfiles, packSa, packedExpireAtMs, unpackSa } from './packed-sa.js'
import { AnswerCache } from './answer-cache.js'
import { DroppedMm1Memory } from './dropped-mm1.js'
import { LazyQueue } from './lazy-queue.js'
import type { Clock } from '@gdoi/daemon-kit'

export interface SessionLimits {
  /** Main Modes in progress at once (default 10000). When full, a new MM1 evicts the oldest SA that is
   *  still waiting for MM3 and older than `halfOpenMinAgeMs`; otherwise the MM1 is dropped. */
  readonly maxHalfOpen: number
  /** A half-open SA waiting for MM3 is evicted only once it is this old (default 5000 ms), unless the new
   *  MM1 comes from a registered member (`SessionDeps.knownPeer`). */
  readonly halfOpenMinAgeMs?: number
  /** A half-open exchange / an unfinished PULL is abandoned after this long (default 120 s). */
  readonly exchangeMaxMs: number
  /** Established phase-1 SAs kept per peer address (oldest deleted first, default 4). */
  readonly maxSasPerPeer: number
  /** GROUPKEY-PULL exchanges per phase-1 SA at once (default 4). */
  readonly maxPullsPerSa: number
}

/** See "Half-open SAs under a flood". */
export const DEFAULT_HALF_OPEN_MIN_AGE_MS = 5000

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
  /** A registered member's endpoint: its MM1 may evict a half-open SA younger than halfOpenMinAgeMs. */
  readonly knownPeer?: (peer: Endpoint) => boolean
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
 * One phase-1 SA that is half-open or busy (an exchange under it in progress). An established SA with
 * nothing in progress — every registered member's, for the SA lifetime — is not kept as an IkeEntry but
 * packed into one string in `#idle` (packed-sa.ts), and woken into an IkeEntry again when a datagram
 * under it arrives (bench/README.md "storm", KS memory per GM).
 */
interface IkeEntry {
  readonly key: string
  readonly peer: Endpoint
  readonly createdMs: number
  /** Main Mode in progress; after it, the done state (its MM5→MM6 cache answers a repeated MM5) until
   *  the first message under the new SA shows that MM6 arrived (or `exchangeMaxMs` passed). */
  responder: MainModeResponder | undefined
  /** Established: the SA. */
  sa: Phase1Sa | undefined
  establishedMs: number | undefined
  /** SA lifetime end (established) or Main Mode 'expire' timer (half-open): a deadline in the queue. */
  expireAtMs: number | undefined
  pulls: Map<number, PullEntry> | undefined
}

// ---- Half-open SAs under a flood ----------------------------------------------------------------
// An IKEv1 Main Mode responder cannot be stateless: HASH_I (RFC 2409 §5) covers SAi_b, the whole SA
// payload of MM1, so the responder must keep MM1's SA payload (and the cookies) until MM3/MM5 — a
// cookie exchange like IKEv2's cannot replace that state. So the state is bounded instead:
//   * at most `maxHalfOpen` half-open SAs (≈ 1 KiB each: the responder state with MM1/MM2 cached);
//   * when the table is full, the MM1 evicts the OLDEST SA still waiting for MM3 (MM2 sent, nothing
//     since). A spoofed source never sees MM2 and never sends MM3; a legitimate initiator answers MM2
//     within a round trip (plus its time in our receive queue) and leaves that list. Oldest-first makes
//     survival deterministic, random eviction would not;
//   * but only an SA at least `halfOpenMinAgeMs` (5 s) old: a legitimate GM always gets that long to
//     answer (its MM3 may wait behind thousands of flood datagrams in our receive queue), and under a
//     flood new SAs are admitted at most at maxHalfOpen / 5 s (2 000/s by default, below what one core
//     answers). The MM1s beyond that are dropped before any work (no responder state, no MM2 to send:
//     several times cheaper than answering), which keeps the receive queue draining — the MM3s, MM5s and
//     PULLs of GMs already in progress are not lost in a full socket buffer. A registered member (re-registering after a restart or a lost
//     KEK) is recognised by its address and port: its MM1 may evict a younger SA, and its SA is never
//     evicted (one per member endpoint; a newer MM1 from that endpoint replaces it), because under a
//     flood its MM3 may need several retransmissions to get through a full receive queue. A spoofer must
//     know and forge members' endpoints to compete with them, and pins at most one SA per member;
//   * a GM that is not (yet) a member retransmits its dropped MM1 — the same cookie from the same
//     source — a few seconds later; a spoofer with fresh cookies does not. MM1s dropped at the cap are
//     remembered (dropped-mm1.ts: a keyed 32-bit hash in a fixed 2^21-slot table, 8 MiB) and a repeat may evict a
//     young SA like a member's. A spoofer repeating every MM1 doubles its cost to compete;
//   * SAs past MM3 cost the peer a DH and a reachable address; they are never evicted (when only those
//     remain, MM1s are dropped as before). Everything else as before: an SA expires after
//     `exchangeMaxMs`; memory stays at the cap until the entries expire.

/** Deadline `sub` codes besides PULL message IDs (which are ≥ 0). */
const SUB_SA_LIFETIME = -1
const SUB_MM_EXPIRE = -2
/** An established SA's MM5→MM6 cache is dropped `exchangeMaxMs` after Main Mode even if unused. */
const SUB_MM_CACHE = -3
/** Answers of finished PULLs (AnswerCache) fall due. */
const SUB_ANSWERS = -4

/**
 * How long a finished GROUPKEY-PULL's PULL4 answers a repeated PULL3 (at most `exchangeMaxMs`). A GM
 * retransmits PULL3 for 5 × 7 s = 35 s (gdoi-wire DEFAULT_RETRANSMIT) and then starts over with a new
 * exchange; a minute covers that with room for a slower peer. (It was `exchangeMaxMs`, 120 s.)
 */
export const PULL_ANSWER_KEEP_MS = 60_000

function established(e: IkeEntry): boolean {
  return e.establishedMs !== undefined
}

function saOf(e: IkeEntry): Phase1Sa | undefined {
  return e.sa
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
  /** Established SAs with nothing in progress, packed (packed-sa.ts), by the same key (icookie hex). */
  readonly #idle = new Map<string, string>()
  readonly #profiles = new SaProfiles()
  /** PULL4s of finished exchanges, for a repeated PULL3 (PULL_ANSWER_KEEP_MS). */
  readonly #answers = new AnswerCache()
  /** An idle SA woken by the datagram being handled (put back to sleep after it, if nothing started). */
  #woken: IkeEntry | undefined
  /** Established SAs' keys by peer address (INITIAL-CONTACT and maxSasPerPeer without a scan of every SA). */
  readonly #byAddress = new Map<string, string | string[]>()
  /** Every timer of every SA and exchange: SA lifetimes, Main Mode and PULL 'expire'. */
  readonly #deadlines: DeadlineQueue
  #halfOpen = 0
  /** Half-open SAs that sent MM2 and wait for MM3, oldest first: the eviction candidates when the table
   *  is full (lazy-queue.ts: an SA that moved on or went away is skipped when it reaches the head). */
  readonly #awaitingMm3 = new LazyQueue<IkeEntry>((e) => this.#waitsForMm3(e))
  /** A registered member's newest half-open SA, by its endpoint: never evicted (its MM3 may need a few
   *  retransmissions through a flooded receive queue), at most one per member endpoint. */
  readonly #memberPending = new Map<string, IkeEntry>()
  /** MM1s dropped at the cap (dropped-mm1.ts). */
  readonly #droppedMm1: DroppedMm1Memory
  /** Evictions not yet logged (the debug line is rate-limited to one a second under a flood). */
  #evictedUnlogged = 0
  #evictLoggedMs = -Infinity
  /** MM1s dropped at the cap and not logged yet (same rate limit). */
  #mm1DroppedUnlogged = 0
  #mm1DropLoggedMs = -Infinity

  constructor(deps: SessionDeps) {
    this.#d = deps
    this.#droppedMm1 = new DroppedMm1Memory(deps.ctx.rng(4))
    this.#deadlines = new DeadlineQueue(deps.clock, (key, sub, atMs) => this.#due(key, sub, atMs))
  }

  get halfOpen(): number {
    return this.#halfOpen
  }

  get maxHalfOpen(): number {
    return this.#d.limits.maxHalfOpen
  }

  /** Routes an ISAKMP datagram of exchange 2 (Main Mode), 5 (Informational) or 32 (PULL). */
  handle(h: IsakmpHeader, bytes: Uint8Array, from: Endpoint): void {
    try {
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
    } finally {
      const w = this.#woken
      this.#woken = undefined
      if (w !== undefined) this.#maybeSleep(w)
    }
  }

  // ---- idle established SAs -------------------------------------------------------------------------

  /** The SA of `key` as an IkeEntry: the busy one, or the idle one woken (undefined: no such SA). */
  #entry(key: string): IkeEntry | undefined {
    const e = this.#byCookie.get(key)
    if (e !== undefined) return e
    const s = this.#idle.get(key)
    if (s === undefined) return undefined
    const x = unpackSa(this.#profiles, s)
    const w: IkeEntry = { key, peer: x.peer, createdMs: x.createdMs, responder: undefined, sa: x.sa, establishedMs: x.establishedMs, expireAtMs: x.expireAtMs, pulls: undefined }
    this.#idle.delete(key)
    this.#byCookie.set(key, w)
    this.#woken = w
    return w
  }

  /** An established SA with nothing in progress goes back into `#idle`, packed. */
  #maybeSleep(e: IkeEntry): void {
    if (e.sa === undefined || e.establishedMs === undefined || e.expireAtMs === undefined || e.responder !== undefined) return
    if ((e.pulls?.size ?? 0) > 0 || this.#byCookie.get(e.key) !== e) return
    const packed = packSa(this.#profiles, { sa: e.sa, peer: e.peer, createdMs: e.createdMs, establishedMs: e.establishedMs, expireAtMs: e.expireAtMs })
    if (packed === undefined) return // an unusual SA stays as it is
    this.#byCookie.delete(e.key)
    this.#idle.set(e.key, packed)
  }

  #createdMsOf(key: string): number {
    const e = this.#byCookie.get(key)
    if (e !== undefined) return e.createdMs
    const s = this.#idle.get(key)
    return s === undefined ? 0 : unpackSa(this.#profiles, s).createdMs
  }

  /** Removes an established SA, busy or idle. */
  #removeKey(key: string): void {
    const e = this.#byCookie.get(key)
    if (e !== undefined) return this.#remove(e)
    const s = this.#idle.get(key)
    if (s === undefined) return
    this.#idle.delete(key)
    this.#unindex(key, unpackSa(this.#profiles, s).peer.address)
    this.#answers.delete(key)
    this.#maybeCompact()
  }

  #unindex(key: string, address: string): void {
    const peers = this.#byAddress.get(address)
    if (peers === key) this.#byAddress.delete(address)
    else if (Array.isArray(peers)) {
      const rest = peers.filter((x) => x !== key)
      if (rest.length === 0) this.#byAddress.delete(address)
      else this.#byAddress.set(address, rest.length === 1 ? (rest[0] as string) : rest)
    }
  }

  #drop(reason: string, from: Endpoint, extra: Record<string, unknown> = {}): void {
    this.#d.counters.inc(`${Counter.DROP}.${reason}`)
    this.#d.log.debug({ event: LogEvent.DATAGRAM_DROPPED, peer: formatEndpoint(from), reason, ...extra }, 'datagram dropped')
  }

  // ---- deadlines ----------------------------------------------------------------------------------

  #due(key: string, sub: number, atMs: number): void {
    if (sub === SUB_ANSWERS) return this.#answers.expire(key, this.#d.clock.nowMs())
    const e = this.#byCookie.get(key)
    if (e === undefined) {
      const s = this.#idle.get(key)
      if (sub === SUB_SA_LIFETIME && s !== undefined && packedExpireAtMs(s) === atMs) {
        this.#d.log.debug({ event: LogEvent.IKE_EXPIRED, peer: formatEndpoint(unpackSa(this.#profiles, s).peer), icookie: key }, 'ISAKMP SA expired')
        this.#removeKey(key)
      }
      return
    }
    if (sub === SUB_MM_CACHE) {
      if (established(e) && e.responder !== undefined) {
        e.responder = undefined
        this.#maybeSleep(e)
      }
      return
    }
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
    if (this.#deadlines.size < 4096 || this.#deadlines.size < 4 * (this.#byCookie.size + this.#idle.size)) return
    this.#deadlines.compact((key, sub, atMs) => {
      if (sub === SUB_ANSWERS) return this.#answers.has(key)
      const e = this.#byCookie.get(key)
      if (e === undefined) {
        const s = this.#idle.get(key)
        return sub === SUB_SA_LIFETIME && s !== undefined && packedExpireAtMs(s) === atMs
      }
      if (sub === SUB_MM_CACHE) return e.responder !== undefined
      return sub < 0 ? e.expireAtMs === atMs : e.pulls?.get(sub)?.expireAtMs === atMs
    })
  }

  // ---- Main Mode --------------------------------------------------------------------------------

  #mainMode(h: IsakmpHeader, bytes: Uint8Array, from: Endpoint): void {
    const key = hexOf(h.icookie)
    let e = this.#entry(key)
    if (e !== undefined && !sameEndpoint(e.peer, from)) return this.#drop('cookie-from-other-peer', from)
    if (e === undefined) {
      if (!isZero(h.rcookie)) return this.#drop('unknown-cookie', from)
      const member = this.#d.knownPeer?.(from) === true
      if (member) {
        // a member's newer MM1 supersedes its SA still waiting for MM3 (it restarted, or gave up on it)
        const prev = this.#memberPending.get(formatEndpoint(from))
        if (prev !== undefined && this.#waitsForMm3(prev)) this.#remove(prev)
      }
      // a retransmission of an MM1 dropped here before (same cookie, same source) is admitted like a member's
      const full = this.#halfOpen >= this.#d.limits.maxHalfOpen
      const repeat = full && !member && this.#droppedMm1.seen(h.icookie, from)
      if (full && !this.#evictOldestAwaitingMm3(member || repeat)) {
        this.#droppedMm1.remember(h.icookie, from)
        this.#d.counters.inc(Counter.HALF_OPEN_LIMIT)
        this.#mm1DroppedUnlogged++
        const now = this.#d.clock.nowMs()
        if (now - this.#mm1DropLoggedMs >= 1000) {
          this.#d.log.debug({ event: LogEvent.DATAGRAM_DROPPED, reason: 'half-open-limit', peer: formatEndpoint(from), dropped: this.#mm1DroppedUnlogged, limit: this.#d.limits.maxHalfOpen }, 'MM1s dropped: half-open table full, no SA old enough to evict')
          this.#mm1DroppedUnlogged = 0
          this.#mm1DropLoggedMs = now
        }
        return
      }
      if (repeat) this.#d.counters.inc(Counter.HALF_OPEN_RETRANSMIT_ADMITTED)
      let responder: MainModeResponder
      try {
        responder = createResponder(this.#d.responderConfig(), from.address)
      } catch (err) {
        this.#d.log.error({ err }, 'unusable IKE configuration')
        return
      }
      // every field up front: one object shape, no out-of-object property store per SA
      e = { key, peer: from, createdMs: this.#d.clock.nowMs(), responder, sa: undefined, establishedMs: undefined, expireAtMs: undefined, pulls: undefined }
      this.#byCookie.set(key, e)
      this.#halfOpen++
      if (member) this.#memberPending.set(formatEndpoint(from), e)
    }
    if (e.responder === undefined) return // established, its MM5→MM6 cache dropped: a late MM repeat is ignored
    this.#stepMm(e, { type: 'datagram', bytes })
  }

  /** Makes room for an MM1 in a full table (see "Half-open SAs under a flood"); false: nothing to evict. */
  #evictOldestAwaitingMm3(member: boolean): boolean {
    const victim = this.#awaitingMm3.peek()
    const now = this.#d.clock.nowMs()
    if (victim === undefined || (!member && now - victim.createdMs < (this.#d.limits.halfOpenMinAgeMs ?? DEFAULT_HALF_OPEN_MIN_AGE_MS))) return false
    this.#awaitingMm3.shift()
    this.#remove(victim)
    this.#d.counters.inc(Counter.HALF_OPEN_EVICTED)
    this.#evictedUnlogged++
    if (now - this.#evictLoggedMs >= 1000) {
      this.#d.log.debug(
        { event: LogEvent.IKE_HALF_OPEN_EVICTED, evicted: this.#evictedUnlogged, peer: formatEndpoint(victim.peer), ageMs: now - victim.createdMs, limit: this.#d.limits.maxHalfOpen },
        'half-open SAs waiting for MM3 evicted for new MM1s (table full)',
      )
      this.#evictedUnlogged = 0
      this.#evictLoggedMs = now
    }
    return true
  }

  #waitsForMm3(e: IkeEntry): boolean {
    return e.responder?.s === 'awaitMm3' && this.#byCookie.get(e.key) === e
  }

  #stepMm(e: IkeEntry, ev: ExchangeEvent): void {
    const before = e.responder
    if (before === undefined) return
    const [next, actions] = stepResponder(before, ev, this.#d.ctx)
    e.responder = next
    if (next.s === 'awaitMm3' && before.s !== 'awaitMm3' && this.#memberPending.get(formatEndpoint(e.peer)) !== e) this.#awaitingMm3.push(e, this.#halfOpen)
    else if (before.s === 'awaitMm3' && next.s !== 'awaitMm3' && this.#memberPending.size > 0) {
      // past MM3 (or failed): no longer a member's pending SA; the map holds only SAs waiting for MM3
      const ep = formatEndpoint(e.peer)
      if (this.#memberPending.get(ep) === e) this.#memberPending.delete(ep)
    }
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
    e.sa = sa
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
    this.#deadlines.add(e.key, SUB_MM_CACHE, now + this.#d.limits.exchangeMaxMs)
    // INITIAL-CONTACT: the peer has no other SA with us; and never keep more than maxSasPerPeer.
    const prev = this.#byAddress.get(e.peer.address)
    const same = prev === undefined ? [] : Array.isArray(prev) ? [...prev] : [prev]
    same.sort((a, b) => this.#createdMsOf(a) - this.#createdMsOf(b))
    this.#byAddress.set(e.peer.address, same.length === 0 ? e.key : [...same, e.key])
    const extra = initialContact ? same : same.slice(0, Math.max(0, same.length - (this.#d.limits.maxSasPerPeer - 1)))
    for (const x of extra) this.#removeKey(x)
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
    if (this.#memberPending.size > 0 && this.#memberPending.get(formatEndpoint(e.peer)) === e) this.#memberPending.delete(formatEndpoint(e.peer))
    if (!established(e)) this.#halfOpen--
    else {
      this.#unindex(e.key, e.peer.address)
      this.#answers.delete(e.key)
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
    const e = this.#entry(hexOf(h.icookie))
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
    const e = this.#entry(hexOf(h.icookie))
    const sa = e === undefined ? undefined : saOf(e)
    if (e === undefined || sa === undefined || hexOf(h.rcookie) !== hexOf(sa.rcookie)) return this.#drop('unknown-sa', from)
    if (!sameEndpoint(e.peer, from)) return this.#drop('sa-from-other-peer', from)
    this.#saInUse(e)
    let p = e.pulls?.get(h.messageId)
    if (p === undefined) {
      // a finished exchange: a byte-identical repeat of PULL3 (PULL4 was lost) gets PULL4 again, nothing else is read
      const answered = this.#answers.lookup(e.key, h.messageId, bytes, this.#d.clock.nowMs())
      if (answered !== undefined) {
        if (answered.kind === 'repeat') {
          this.#d.counters.inc(Counter.PULL_RETRANSMIT_ANSWERED)
          this.#d.send(answered.response, e.peer)
        }
        return
      }
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
      // keep only what answers a repeated PULL3 (the state holds the SA, the group's policy, …); once
      // PULL4 went out, only as a compact answer (AnswerCache) and the exchange is forgotten
      p.state = undefined
      p.expireAtMs = undefined
      const cache = { request: next.lastRequest, response: next.lastResponse }
      p.cache = cache
      void p.gate.then((ok) => {
        if (!ok || e.pulls?.get(mid) !== p) return
        const until = this.#d.clock.nowMs() + Math.min(PULL_ANSWER_KEEP_MS, this.#d.limits.exchangeMaxMs)
        if (this.#byCookie.get(e.key) === e && this.#answers.add(e.key, mid, cache.request, cache.response, until)) this.#deadlines.add(e.key, SUB_ANSWERS, until)
        e.pulls.delete(mid)
        if (e.pulls.size === 0) e.pulls = undefined
        this.#maybeSleep(e)
      })
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
      this.#maybeSleep(e)
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
              this.#maybeSleep(e)
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
    const idle = [...this.#idle].map(([key, s]): IkeEntry => {
      const x = unpackSa(this.#profiles, s)
      return { key, peer: x.peer, createdMs: x.createdMs, responder: undefined, sa: x.sa, establishedMs: x.establishedMs, expireAtMs: x.expireAtMs, pulls: undefined }
    })
    return [...this.#byCookie.values(), ...idle].map((e) => {
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
    this.#idle.clear()
    this.#answers.clear()
    this.#byAddress.clear()
    this.#awaitingMm3.clear()
    this.#memberPending.clear()
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
