// A minimal group member for key-server tests, driven directly by @gdoi/wire's exchanges:
// Main Mode initiator → GROUPKEY-PULL member → processPush (+ RFC 8263 ACK) over any Transport.
// It is deliberately small (no data plane): it registers, installs TEKs/KEKs in maps, accepts pushes
// and answers them, and lets a test switch ACKs off or re-register.
import { createHash, randomBytes } from 'node:crypto'
import type { Clock, Endpoint, Transport } from '@gdoi/daemon-kit'
import { decodeHeader, idIpv4, type IdPayload } from '@gdoi/wire'
import { ExchangeType } from '@gdoi/wire/constants'
import {
  buildAck,
  createInitiator,
  EMPTY_PUSH_MEMBER_STATE,
  initPullMember,
  installKekFromPull,
  processPush,
  stepInitiator,
  stepPullMember,
  type Action,
  type ExchangeCtx,
  type GroupId,
  type MainModeInitiator,
  type Phase1Proposal,
  type Phase1Sa,
  type PullMember,
  type PullMemberAction,
  type PullResult,
  type PushAccepted,
  type PushMemberState,
  type PushRejection,
  type RetransmitPolicy,
  type RsaCredentials,
  type VerifyPeerCert,
  type TekKeys,
  type TekPolicy,
} from '@gdoi/wire/exchange/index'

export interface TestGmOptions {
  readonly name: string
  readonly transport: Transport
  readonly ks: Endpoint
  readonly clock: Clock
  readonly psk: string
  readonly groupId: GroupId
  /** Our address for IDii and the RFC 8263 ACK ID (default transport.local.address). */
  readonly address?: string
  readonly rng?: (n: number) => Uint8Array
  readonly retransmit?: RetransmitPolicy
  /** Phase-1 SA DOI (1 for tshark-decodable captures). */
  readonly doi?: 1 | 2
  readonly proposals?: readonly Phase1Proposal[]
  /** rsa-sig phase 1: our certificate/key and the trust decision for the key server's certificate. */
  readonly rsa?: RsaCredentials
  readonly verifyPeerCert?: VerifyPeerCert
  /** Our IDii (default ID_IPV4_ADDR of `address`). */
  readonly localId?: IdPayload
  /** Collect keylog-style records of this GM's phase-1 SAs. */
  readonly onPhase1?: (sa: Phase1Sa) => void
}

export const LAB_PROPOSAL: Phase1Proposal = { encryption: 'aes256', hash: 'sha1', auth: 'psk', group: 5, lifetimeSec: 86400 }

export class RegistrationError extends Error {
  override name = 'RegistrationError'
  readonly reason: string
  constructor(reason: string, detail: string) {
    super(`${reason}: ${detail}`)
    this.reason = reason
  }
}

type Waiter = { resolve: (r: PullResult) => void; reject: (e: Error) => void }

export class TestGm {
  readonly o: TestGmOptions
  readonly ctx: ExchangeCtx
  pushState: PushMemberState = EMPTY_PUSH_MEMBER_STATE
  readonly teks = new Map<number, { readonly policy: TekPolicy; readonly keys: TekKeys }>()
  readonly accepted: PushAccepted[] = []
  readonly rejected: PushRejection[] = []
  readonly acksSent: number[] = []
  registrations = 0
  lastPull: PullResult | undefined
  /** Answer pushes with RFC 8263 ACKs when the SAK asks for them. */
  ackEnabled = true
  #mm: MainModeInitiator | undefined
  #pull: PullMember | undefined
  #sa: Phase1Sa | undefined
  #waiter: Waiter | undefined
  readonly #timers = new Map<string, () => void>()
  readonly #acks = new Map<string, { bytes: Uint8Array; to: Endpoint }>()
  #closed = false

  constructor(o: TestGmOptions) {
    this.o = o
    const rng = o.rng ?? ((n: number) => new Uint8Array(randomBytes(n)))
    this.ctx = { rng, nowMs: () => o.clock.nowMs() }
    o.transport.onDatagram((bytes, from) => this.#onDatagram(Uint8Array.from(bytes), { address: from.address, port: from.port }))
  }

  get address(): string {
    return this.o.address ?? this.o.transport.local.address
  }

  /** Runs Main Mode + GROUPKEY-PULL; resolves with the PULL result (TEKs and KEK installed). */
  register(): Promise<PullResult> {
    if (this.#waiter !== undefined) throw new Error('registration already in progress')
    this.#cancelAll()
    this.#pull = undefined
    this.#sa = undefined
    this.#mm = createInitiator({
      proposals: this.o.proposals ?? [LAB_PROPOSAL],
      localId: this.o.localId ?? idIpv4(this.address),
      ...(this.o.rsa !== undefined ? { rsa: this.o.rsa } : {}),
      ...(this.o.verifyPeerCert !== undefined ? { verifyPeerCert: this.o.verifyPeerCert } : {}),
      psk: new TextEncoder().encode(this.o.psk),
      retransmit: this.o.retransmit ?? { intervalMs: 1000, maxTries: 8 },
      ...(this.o.doi !== undefined ? { doi: this.o.doi } : {}),
    })
    const p = new Promise<PullResult>((resolve, reject) => {
      this.#waiter = { resolve, reject }
    })
    this.#stepMm({ type: 'start' })
    return p
  }

  #finish(err: Error | undefined, result?: PullResult): void {
    const w = this.#waiter
    this.#waiter = undefined
    if (w === undefined) return
    if (err !== undefined) w.reject(err)
    else if (result !== undefined) w.resolve(result)
  }

  #arm(prefix: string, a: Exclude<Action, { type: 'send' }>, onFire: (timer: 'retransmit' | 'expire') => void): void {
    const name = `${prefix}-${a.timer}`
    this.#timers.get(name)?.()
    this.#timers.delete(name)
    if (a.type !== 'arm') return
    const timer = a.timer
    this.#timers.set(
      name,
      this.o.clock.setTimer(a.ms, () => {
        this.#timers.delete(name)
        onFire(timer)
      }),
    )
  }

  #cancelAll(): void {
    for (const c of this.#timers.values()) c()
    this.#timers.clear()
  }

  #send(bytes: Uint8Array, to: Endpoint = this.o.ks): void {
    if (!this.#closed) this.o.transport.send(bytes, to)
  }

  #stepMm(ev: Parameters<typeof stepInitiator>[1]): void {
    if (this.#mm === undefined) return
    const [next, actions] = stepInitiator(this.#mm, ev, this.ctx)
    this.#mm = next
    for (const a of actions) {
      if (a.type === 'send') this.#send(a.bytes)
      else this.#arm('mm', a, (timer) => this.#stepMm({ type: 'timer', timer }))
    }
    if (next.s === 'done' && this.#sa === undefined) {
      this.#sa = next.sa
      this.o.onPhase1?.(next.sa)
      this.#pull = initPullMember({ sa: next.sa, groupId: this.o.groupId, retransmit: this.o.retransmit ?? { intervalMs: 1000, maxTries: 8 } })
      this.#stepPull({ type: 'start' })
    } else if (next.s === 'failed') {
      this.#finish(new RegistrationError(`phase1-${next.reason}`, next.detail))
    }
  }

  #stepPull(ev: Parameters<typeof stepPullMember>[1]): void {
    if (this.#pull === undefined) return
    const [next, actions] = stepPullMember(this.#pull, ev, this.ctx)
    this.#pull = next
    for (const a of actions as readonly PullMemberAction[]) {
      if (a.type === 'send') this.#send(a.bytes)
      else if (a.type === 'arm' || a.type === 'cancel') this.#arm('pull', a, (timer) => this.#stepPull({ type: 'timer', timer }))
      else if (a.type === 'pull-done') this.#registered(a.result)
      else if (a.type === 'pull-failed') {
        const r = a.reason
        this.#finish(new RegistrationError(`pull-${r.code}`, JSON.stringify(r)))
      }
    }
  }

  #registered(r: PullResult): void {
    this.registrations++
    this.lastPull = r
    this.pushState = installKekFromPull(this.pushState, r)
    this.#install(r.policy.teks, r.keys.teks)
    this.#finish(undefined, r)
  }

  #install(policies: readonly TekPolicy[], keys: readonly TekKeys[]): void {
    for (const k of keys) {
      const p = policies.find((x) => x.spi === k.spi)
      if (p !== undefined) this.teks.set(k.spi, { policy: p, keys: k })
    }
  }

  #onDatagram(bytes: Uint8Array, from: Endpoint): void {
    if (this.#closed) return
    let h
    try {
      h = decodeHeader(bytes)
    } catch {
      return
    }
    if (h.exchange === ExchangeType.GROUPKEY_PUSH) return this.#onPush(bytes, from)
    if (h.exchange === ExchangeType.GROUPKEY_PULL) return this.#stepPull({ type: 'datagram', bytes })
    if (h.exchange === ExchangeType.INFORMATIONAL && this.#pull !== undefined) return this.#stepPull({ type: 'datagram', bytes })
    this.#stepMm({ type: 'datagram', bytes })
  }

  #onPush(bytes: Uint8Array, from: Endpoint): void {
    const digest = createHash('sha256').update(bytes).digest('hex')
    const out = processPush(this.pushState, bytes)
    this.pushState = out.state
    if ('rejected' in out) {
      this.rejected.push(out.rejected)
      // A retransmitted push we already accepted: our ACK was probably lost, send it again.
      const again = this.#acks.get(digest)
      if (out.rejected.code === 'duplicate' && again !== undefined && this.ackEnabled) this.#send(again.bytes, again.to)
      return
    }
    const a = out.accepted
    this.accepted.push(a)
    if (a.policy !== undefined && a.keys !== undefined) this.#install(a.policy.teks, a.keys.teks)
    if (a.ack !== undefined && this.ackEnabled) {
      const ack = buildAck({ kekSpi: a.kekSpi, ackRequested: a.ack.ackRequested, baseKey: a.ack.baseKey, seq: a.seq, member: this.address })
      this.#acks.set(digest, { bytes: ack, to: from })
      this.acksSent.push(a.seq)
      this.#send(ack, from)
    }
  }

  /** SEQs of the accepted pushes, in order. */
  get seqs(): number[] {
    return this.accepted.map((a) => a.seq)
  }

  /** The TEK SPIs this GM holds, sorted. */
  get tekSpis(): number[] {
    return [...this.teks.keys()].sort((a, b) => a - b)
  }

  /** KEK SPIs (hex) this GM can decrypt pushes with. */
  get kekSpis(): string[] {
    return this.pushState.keks.map((k) => Buffer.from(k.spi).toString('hex'))
  }

  close(): void {
    this.#closed = true
    this.#cancelAll()
    this.#finish(new RegistrationError('closed', 'test GM closed'))
  }
}
