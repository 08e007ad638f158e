// GROUPKEY-PUSH on the member (spec §5; RFC 6407 §4.4): every datagram of exchange 33 that reaches our
// UDP 848 socket (unicast) or a joined multicast group goes through @gdoi/wire's processPush, which
// checks in the RFC order (duplicate memory, KEK by cookies, decrypt, well formed, SEQ newer, signature)
// and never changes state for a rejected push. Old, replayed, forged and unknown-KEK pushes are dropped,
// counted by reason and logged. An accepted push is applied here: Delete payloads, new TEKs into the SA
// table (with the GAP activation/deactivation delays), KEK rollover bookkeeping, and the RFC 8263 ACK
// back to the push's source when the current SAK asks for one. A retransmission of a push we already
// accepted and acknowledged is dropped as 'duplicate' but acknowledged again (ack-cache.ts): our first
// ACK may have been lost, and the KS counts a silent member as missing.
import type { Logger } from 'pino'
import {
  buildAck,
  EMPTY_PUSH_MEMBER_STATE,
  installKekFromPull,
  processPush,
  type PullResult,
  type PushAccepted,
  type PushMemberState,
  type PushRejection,
} from '@gdoi/wire/exchange/index'
import { formatEndpoint, LogEvent, type Clock, type Endpoint, type Transport } from '@gdoi/daemon-kit'
import { AckCache, pushDigest } from './ack-cache.js'
import { GmChannel, publishGm } from './diag.js'
import { KekStore, toHex } from './kek-store.js'
import { randomInt, type Rng } from './rekey-timer.js'
import type { TekStore } from './tek-store.js'

export type PushRejectCode = PushRejection['code']

export interface PushCounters {
  /** Accepted pushes ("Rekeys received"). */
  received: number
  receivedUnicast: number
  receivedMulticast: number
  /** Accepted since the last registration ("After latest register"). */
  afterRegister: number
  acksSent: number
  /** ACKs sent again for retransmitted (duplicate) pushes; included in acksSent. */
  acksResent: number
  rejected: Record<PushRejectCode, number>
  lastSeq: number | null
  lastFrom: string | null
  lastAtMs: number | null
}

export interface PushReceiverEvents {
  /** A push was accepted and applied (keys may have changed: reschedule re-registration). */
  onAccepted(a: PushAccepted): void
  /** The KEK set changed (rollover, delete, expiry): multicast groups, re-registration timer. */
  onKeksChanged(): void
  /** Pushes keep arriving under KEKs we do not hold: we missed a KEK rollover. */
  onRekeyPathLost(reason: string): void
}

export interface PushReceiverOptions {
  readonly clock: Clock
  readonly log: Logger
  readonly rng: Rng
  /** ACKs leave through this transport (source port = the push's destination port, 848). */
  readonly transport: Transport
  readonly teks: TekStore
  readonly keks: KekStore
  readonly ackMode: 'rfc8263' | 'none'
  /** The address we registered from: the ACK's ID payload (RFC 8263 §3.4). */
  readonly localAddress: () => string
  readonly groupName: string
  readonly diagId: string
  readonly countDecodeError: (code: string) => void
  readonly events: PushReceiverEvents
  /** Pushes under unknown KEKs in a row before the rekey path counts as lost (default 3). */
  readonly unknownKekLimit?: number
}

/** RFC 8263 §6: ACKs for multicast pushes are spread over at most this long (we use 1 s of the 5 s allowed). */
const MULTICAST_ACK_JITTER_MS = 1000

const ZERO_REJECTS: Record<PushRejectCode, number> = { duplicate: 0, malformed: 0, 'unknown-kek': 0, replay: 0, 'bad-signature': 0, 'bad-policy': 0 }

export class PushReceiver {
  readonly #o: PushReceiverOptions
  readonly #log: Logger
  #state: PushMemberState = EMPTY_PUSH_MEMBER_STATE
  #unknownKekRun = 0
  readonly #pendingAcks = new Set<() => void>()
  readonly #sentAcks = new AckCache()
  readonly counters: PushCounters = {
    received: 0,
    receivedUnicast: 0,
    receivedMulticast: 0,
    afterRegister: 0,
    acksSent: 0,
    acksResent: 0,
    rejected: { ...ZERO_REJECTS },
    lastSeq: null,
    lastFrom: null,
    lastAtMs: null,
  }

  constructor(o: PushReceiverOptions) {
    this.#o = o
    this.#log = o.log.child({ c: 'push' })
  }

  /** The push state's KEKs (lastSeq, ackRequested) — public values only are read from it. */
  get state(): PushMemberState {
    return this.#state
  }

  /** Registration result: its KEK replaces whatever KEKs we held (RFC 6407 §3.3 SEQ merge kept). */
  installFromRegistration(result: PullResult, ks: Endpoint): void {
    const merged = installKekFromPull(this.#state, result)
    const pk = result.policy.kek
    const keks = pk === undefined ? [] : merged.keks.filter((k) => toHex(k.spi) === toHex(pk.spi))
    this.#state = { ...merged, keks }
    this.#o.keks.reconcile(keks.map((k) => k.spi), 'replaced by registration')
    const m = keks[0]
    if (pk !== undefined && m !== undefined) this.#o.keks.upsert(m, pk, 'registration', ks.address)
    this.counters.afterRegister = 0
    this.#unknownKekRun = 0
  }

  /** The KEK's lifetime ended (KekStore timer). */
  dropKek(spi: Uint8Array): void {
    const hex = toHex(spi)
    this.#state = { ...this.#state, keks: this.#state.keks.filter((k) => toHex(k.spi) !== hex) }
    this.#o.events.onKeksChanged()
  }

  clear(): void {
    this.#state = EMPTY_PUSH_MEMBER_STATE
    this.#sentAcks.clear()
    this.#o.keks.reconcile([], 'cleared')
  }

  close(): void {
    for (const c of this.#pendingAcks) c()
    this.#pendingAcks.clear()
  }

  onDatagram(bytes: Uint8Array, from: Endpoint, via: 'unicast' | 'multicast'): void {
    const before = this.#state.keks.map((k) => toHex(k.spi))
    const out = processPush(this.#state, bytes)
    this.#state = out.state // unchanged on rejection, except 'bad-policy' (authentic: its SEQ was consumed)
    if ('rejected' in out) {
      this.#rejected(out.rejected, from, bytes)
      if (out.rejected.code === 'duplicate') this.#reAck(bytes, from)
      return
    }
    this.#accepted(out.accepted, from, via, before, bytes)
  }

  #rejected(r: PushRejection, from: Endpoint, bytes: Uint8Array): void {
    this.counters.rejected[r.code]++
    const peer = formatEndpoint(from)
    const cookies = bytes.length >= 16 ? toHex(bytes.subarray(0, 16)) : undefined
    const fields = { event: LogEvent.REKEY_REJECTED, group: this.#o.groupName, from: peer, reason: r.code, kekSpi: cookies }
    switch (r.code) {
      case 'duplicate':
        // KS retransmissions of a push we already took: normal, not worth a warning.
        this.#log.debug(fields, 'duplicate rekey dropped')
        break
      case 'malformed':
        this.#o.countDecodeError(/^(ERR_[A-Z_]+)/.exec(r.detail)?.[1] ?? 'ERR_MALFORMED_PUSH')
        this.#log.debug({ ...fields, detail: r.detail }, 'malformed rekey dropped')
        break
      case 'replay':
        this.#log.warn({ ...fields, seq: r.seq, lastSeq: r.lastSeq }, 'rekey with an old sequence number dropped')
        break
      case 'bad-signature':
        this.#log.warn(fields, 'rekey with a bad signature dropped')
        break
      case 'unknown-kek':
        this.#log.warn(fields, 'rekey under an unknown or retired KEK dropped')
        break
      case 'bad-policy':
        this.#log.warn({ ...fields, detail: r.detail }, 'authentic rekey with an unusable policy')
        break
    }
    const msg = { gm: this.#o.diagId, group: this.#o.groupName, peer, reason: r.code, ...(r.code === 'replay' ? { seq: r.seq, lastSeq: r.lastSeq } : {}) }
    publishGm(GmChannel.PUSH_REJECTED, msg)
    publishGm(GmChannel.REKEY_REJECTED, msg)
    if (r.code === 'unknown-kek') {
      this.#unknownKekRun++
      if (this.#unknownKekRun === (this.#o.unknownKekLimit ?? 3)) this.#o.events.onRekeyPathLost(`${this.#unknownKekRun} rekeys under unknown KEKs`)
    }
  }

  #accepted(a: PushAccepted, from: Endpoint, via: 'unicast' | 'multicast', before: readonly string[], push: Uint8Array): void {
    const now = this.#o.clock.nowMs()
    const peer = formatEndpoint(from)
    this.#unknownKekRun = 0
    const c = this.counters
    c.received++
    c.afterRegister++
    if (via === 'multicast') c.receivedMulticast++
    else c.receivedUnicast++
    c.lastSeq = a.seq
    c.lastFrom = from.address
    c.lastAtMs = now
    this.#log.info(
      { event: LogEvent.REKEY_RECEIVED, group: this.#o.groupName, from: peer, seq: a.seq, kekSpi: toHex(a.kekSpi), via, sigForm: a.sigForm, ivVariant: a.ivVariant },
      'rekey received',
    )

    for (const d of a.deletes) {
      if (d.kind === 'tek') {
        const removed = this.#o.teks.remove(d.spis, 'deleted')
        this.#log.info({ event: LogEvent.DELETE_RECEIVED, group: this.#o.groupName, what: 'tek', spis: d.spis, removed }, 'key server deleted TEKs')
      } else {
        this.#log.info({ event: LogEvent.DELETE_RECEIVED, group: this.#o.groupName, what: 'kek', spis: d.spis.map(toHex) }, 'key server deleted the rekey SA')
      }
    }

    const pk = a.policy?.kek
    if (pk !== undefined) {
      const m = this.#state.keks.find((k) => toHex(k.spi) === toHex(pk.spi))
      if (m !== undefined) this.#o.keks.upsert(m, pk, 'rekey', from.address)
    }
    const after = this.#state.keks.map((k) => toHex(k.spi))
    for (const spi of before) if (!after.includes(spi)) this.#o.keks.retire(spi, a.deletes.some((d) => d.kind === 'kek') ? 'deleted' : 'replaced')
    this.#o.keks.reconcile(this.#state.keks.map((k) => k.spi), 'removed')

    if (a.policy !== undefined && a.keys !== undefined) {
      const r = this.#o.teks.install(a.policy, a.keys, 'rekey', from.address)
      for (const x of r.refused) this.#log.warn({ group: this.#o.groupName, spi: x.spi, reason: x.reason }, 'pushed TEK not installed')
      if (r.awaitingKeys.length > 0) this.#log.info({ spis: r.awaitingKeys }, 'pushed SATs without keys: waiting for their key packets')
    }

    this.#ack(a, from, via, push)
    const msg = { gm: this.#o.diagId, group: this.#o.groupName, peer, seq: a.seq, kekSpi: toHex(a.kekSpi), rollover: a.newKek !== undefined }
    publishGm(GmChannel.PUSH_ACCEPTED, msg)
    publishGm(GmChannel.REKEY_RECEIVED, msg)
    this.#o.events.onAccepted(a)
    if (before.join() !== after.join()) this.#o.events.onKeksChanged()
  }

  #ack(a: PushAccepted, from: Endpoint, via: 'unicast' | 'multicast', push: Uint8Array): void {
    const req = a.ack
    if (req === undefined || this.#o.ackMode !== 'rfc8263') return
    if (req.ackRequested !== 1 && req.ackRequested !== 3) {
      this.#log.debug({ ackRequested: req.ackRequested }, 'LKH-based ACK requested: not supported, relying on re-registration')
      return
    }
    let bytes: Uint8Array
    try {
      bytes = buildAck({ kekSpi: a.kekSpi, ackRequested: req.ackRequested, baseKey: req.baseKey, seq: a.seq, member: this.#o.localAddress() })
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'cannot build the rekey ACK')
      return
    }
    // digest now: the receive buffer may be reused before a jittered (multicast) ACK leaves
    const digest = pushDigest(push)
    const send = (): void => {
      this.#o.transport.send(bytes, from)
      this.#sentAcks.remember(toHex(a.kekSpi), a.seq, digest, bytes)
      this.counters.acksSent++
      this.#log.info({ event: LogEvent.REKEY_ACK, group: this.#o.groupName, to: formatEndpoint(from), seq: a.seq }, 'rekey ACK sent')
      publishGm(GmChannel.ACK_SENT, { gm: this.#o.diagId, group: this.#o.groupName, peer: formatEndpoint(from), seq: a.seq })
    }
    if (via === 'unicast') {
      send()
      return
    }
    const cancel = this.#o.clock.setTimer(randomInt(this.#o.rng, MULTICAST_ACK_JITTER_MS), () => {
      this.#pendingAcks.delete(cancel)
      send()
    })
    this.#pendingAcks.add(cancel)
  }

  /** A retransmission of a push we accepted and acknowledged: the same ACK again (never a new one). */
  #reAck(push: Uint8Array, from: Endpoint): void {
    if (this.#o.ackMode !== 'rfc8263') return
    const sent = this.#sentAcks.resendFor(push)
    if (sent === undefined) return
    this.#o.transport.send(sent.bytes, from)
    this.counters.acksSent++
    this.counters.acksResent++
    this.#log.info({ event: LogEvent.REKEY_ACK, group: this.#o.groupName, to: formatEndpoint(from), seq: sent.seq, resend: sent.resends }, 'rekey retransmitted: ACK sent again')
    publishGm(GmChannel.ACK_SENT, { gm: this.#o.diagId, group: this.#o.groupName, peer: formatEndpoint(from), seq: sent.seq, resent: true })
  }
}
