// `gdoi-gm simulate`: N protocol-complete group members in one process, for load tests of a key server
// (bench/run.sh storm | fanout). Each simulated GM has its own UDP socket on its own loopback address
// (127.10.0.1, 127.10.0.2, … by default; the KS keys a member by the address:port it registered from,
// and an INITIAL-CONTACT from an address drops the other phase-1 SAs of that address, so GMs cannot share
// a socket or an address) and runs the real exchanges of @gdoi/wire: Main Mode (initiator, PSK),
// GROUPKEY-PULL (member), then every GROUPKEY-PUSH through processPush with an RFC 8263 ACK back when the
// KEK asks for one. There is no TUN, no TEK store and no data plane: keys are checked and dropped.
//
// Pacing: at most `concurrency` registrations in flight, optionally at most `rate` starts per second.
// Timing: the clock starts when the first MM1 leaves and stops when the last PULL4 is accepted.
// Pushes: with `pushes` > 0 the GMs stay up after registering until each has accepted that many pushes
// (or `pushTimeoutMs` passed); `trigger` (e.g. a control-socket `rekey` to the KS) is called for each.
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { decodeHeader, ExchangeType, idIpv4 } from '@gdoi/wire'
import { dhPrivateKeyBytes, dhPublicKey, dhSharedSecret } from '@gdoi/wire/crypto/index'
import {
  buildAck,
  createInitiator,
  EMPTY_PUSH_MEMBER_STATE,
  initPullMember,
  installKekFromPull,
  processPush,
  stepInitiator,
  stepPullMember,
  type DhEngine,
  type ExchangeCtx,
  type ExchangeEvent,
  type GroupId,
  type InitiatorConfig,
  type MainModeInitiator,
  type Phase1Proposal,
  type PullMember,
  type PushMemberState,
  type RetransmitPolicy,
  type TimerName,
} from '@gdoi/wire/exchange/index'
import { controlRequest, createUdpTransport, ipv4ToNumber, type Endpoint, type Transport } from '@gdoi/daemon-kit'

export interface SimulateOptions {
  readonly count: number
  readonly ks: Endpoint
  readonly psk: Uint8Array
  readonly groupId: GroupId
  /** Phase-1 policy offered (default AES-256, SHA-1, DH group 5, PSK, 86400 s). */
  readonly proposal?: Phase1Proposal
  /** First local address (default 127.10.0.1); the next ones count up, skipping .0 and .255. */
  readonly localBase?: string
  /** Local UDP port of every GM (default 0: ephemeral; 848 needs root). */
  readonly localPort?: number
  /** Registrations in flight at once (default 64). */
  readonly concurrency?: number
  /** Registrations started per second at most (default 0: no limit beyond `concurrency`). */
  readonly ratePerSec?: number
  /** Retransmission of MM/PULL requests (default every 5 s, 5 times). */
  readonly retransmit?: RetransmitPolicy
  readonly exchangeMaxMs?: number
  /** Load-generator shortcut: every simulated GM uses one DH key pair (one modexp less per GM here;
   *  the key server's work is unchanged). Default false. */
  readonly fixedDhKey?: boolean
  /** After registering, wait for this many pushes on every GM (default 0). */
  readonly pushes?: number
  /** Called once per expected push after everyone registered (and after the previous push completed). */
  readonly trigger?: (n: number) => Promise<void>
  /** The key server's count of ACKs received (e.g. status counter `rekey.acks`): when given, each push
   *  also reports when the KS had counted every ACK (polled every 50 ms after the last ACK left). */
  readonly ksAcks?: () => Promise<number>
  /** Gives up waiting for a push after this long (default 60 s). */
  readonly pushTimeoutMs?: number
  /** Pause before each push is triggered (default 1000 ms; not part of the push's figures). */
  readonly pushDelayMs?: number
  /** Also receive pushes sent to this multicast group:port (one shared socket, dispatched to every GM). */
  readonly multicast?: { readonly group: string; readonly port: number; readonly interface?: string }
  /** Progress line (default none) every `progressMs` (default 1000). */
  readonly progress?: (line: string) => void
  readonly progressMs?: number
  /** Called when every GM finished registering (or failed), before pushes. */
  readonly onRegistered?: (r: RegistrationFigures) => void | Promise<void>
}

export interface RegistrationFigures {
  readonly count: number
  readonly registered: number
  readonly failed: number
  readonly failures: Readonly<Record<string, number>>
  /** First MM1 sent → last PULL4 accepted. */
  readonly elapsedMs: number
  readonly perSec: number
  readonly retransmits: number
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number }
  /** Binding the sockets (not part of elapsedMs). */
  readonly setupMs: number
}

export interface PushFigures {
  readonly n: number
  readonly seq: number | null
  /** Trigger called → last push accepted / last ACK sent, on this process's clock. */
  readonly lastAcceptedMs: number | null
  readonly lastAckMs: number | null
  /** Trigger called → the key server's ACK count covered every ACK sent (upper bound: polling). */
  readonly ksAllAckedMs: number | null
  readonly firstAcceptedMs: number | null
  readonly accepted: number
  readonly acked: number
  /** ACKs sent again for retransmitted copies of the push (the first ACK was lost). */
  readonly ackResends: number
  readonly rejected: Readonly<Record<string, number>>
  readonly complete: boolean
}

export interface SimulateResult {
  readonly registration: RegistrationFigures
  readonly pushes: readonly PushFigures[]
  readonly rssMiB: number
  /** CPU seconds (user + system) of the simulator process, all of it. */
  readonly cpuSec: number
}

const DEFAULT_PROPOSAL: Phase1Proposal = { encryption: 'aes256', hash: 'sha1', auth: 'psk', group: 5, lifetimeSec: 86400 }
const rng = (n: number): Uint8Array => new Uint8Array(randomBytes(n))
const ctx: ExchangeCtx = { rng, nowMs: () => Date.now() }

/** Local addresses for `count` GMs from `base` up (host parts .0 and .255 skipped), all inside 127/8. */
export function simulatedAddresses(base: string, count: number): string[] {
  let v = ipv4ToNumber(base)
  const out: string[] = []
  while (out.length < count) {
    const last = v & 255
    if (last !== 0 && last !== 255) {
      if (v >>> 24 !== 127) throw new RangeError(`simulated addresses must stay in 127.0.0.0/8 (ran past it from ${base})`)
      out.push(`${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${last}`)
    }
    v = (v + 1) >>> 0
  }
  return out
}

/** RLIMIT_NOFILE (soft) of this process, from /proc (Linux); undefined elsewhere. */
export function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    return m?.[1] === undefined ? undefined : m[1] === 'unlimited' ? Infinity : Number(m[1])
  } catch {
    return undefined
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0
}

function fixedDh(group: number): DhEngine {
  const priv = rng(dhPrivateKeyBytes(group))
  const pub = dhPublicKey(group, priv)
  return {
    privateKeyBytes: dhPrivateKeyBytes,
    publicKey: () => pub,
    sharedSecret: (g, _p, peer) => dhSharedSecret(g, priv, peer),
  }
}

interface PushTally {
  accepted: number
  acked: number
  firstAt: number | undefined
  lastAt: number | undefined
  lastAckAt: number | undefined
  seq: number | null
  readonly rejected: Record<string, number>
}

type Phase = 'idle' | 'mm' | 'pull' | 'done' | 'failed'

class SimGm {
  phase: Phase = 'idle'
  mm: MainModeInitiator | undefined
  pull: PullMember | undefined
  push: PushMemberState = EMPTY_PUSH_MEMBER_STATE
  startedAt = 0
  pushesAccepted = 0
  /** The last ACK sent and the digest of the push it acknowledged: a retransmitted copy of that push
   *  (our ACK was lost) is dropped as a duplicate by processPush, so the ACK is re-sent from here (as
   *  gm-daemon's ack-cache.ts does). */
  lastAck: { readonly digest: string; readonly bytes: Uint8Array } | undefined
  readonly timers = new Map<TimerName, NodeJS.Timeout>()

  readonly sim: Simulation
  readonly address: string
  readonly transport: Transport

  constructor(sim: Simulation, address: string, transport: Transport) {
    this.sim = sim
    this.address = address
    this.transport = transport
  }

  start(): void {
    this.phase = 'mm'
    this.startedAt = performance.now()
    this.mm = createInitiator(this.sim.initiatorConfig(this.address))
    this.#stepMm({ type: 'start' })
  }

  onDatagram(bytes: Uint8Array, from: Endpoint, via: 'unicast' | 'multicast'): void {
    let exchange: number
    try {
      exchange = decodeHeader(bytes).exchange
    } catch {
      this.sim.counts.undecodable++
      return
    }
    if (exchange === ExchangeType.GROUPKEY_PUSH) this.#onPush(bytes, from, via)
    else if (via === 'unicast' && this.phase === 'mm' && (exchange === ExchangeType.IDENTITY_PROTECTION || exchange === ExchangeType.INFORMATIONAL)) this.#stepMm({ type: 'datagram', bytes })
    else if (via === 'unicast' && this.phase === 'pull' && (exchange === ExchangeType.GROUPKEY_PULL || exchange === ExchangeType.INFORMATIONAL)) this.#stepPull({ type: 'datagram', bytes })
  }

  #apply(actions: readonly { readonly type: string }[], onTimer: (t: TimerName) => void): void {
    for (const a of actions as readonly ({ type: 'send'; bytes: Uint8Array } | { type: 'arm'; timer: TimerName; ms: number } | { type: 'cancel'; timer: TimerName } | { type: string })[]) {
      if (a.type === 'send' && 'bytes' in a) {
        this.transport.send(a.bytes, this.sim.ks)
      } else if (a.type === 'arm' && 'ms' in a) {
        clearTimeout(this.timers.get(a.timer))
        const timer = a.timer
        this.timers.set(timer, setTimeout(() => {
          this.timers.delete(timer)
          if (timer === 'retransmit') this.sim.counts.retransmits++
          onTimer(timer)
        }, a.ms))
      } else if (a.type === 'cancel' && 'timer' in a) {
        clearTimeout(this.timers.get(a.timer))
        this.timers.delete(a.timer)
      }
    }
  }

  #clearTimers(): void {
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
  }

  #stepMm(ev: ExchangeEvent): void {
    if (this.mm === undefined) return
    const [st, actions] = stepInitiator(this.mm, ev, ctx)
    this.mm = st
    this.#apply(actions, (timer) => this.#stepMm({ type: 'timer', timer }))
    if (st.s === 'done') {
      this.#clearTimers()
      this.mm = undefined
      this.phase = 'pull'
      this.pull = initPullMember({
        sa: st.sa,
        groupId: this.sim.o.groupId,
        ...(this.sim.o.retransmit !== undefined ? { retransmit: this.sim.o.retransmit } : {}),
        ...(this.sim.o.exchangeMaxMs !== undefined ? { exchangeMaxMs: this.sim.o.exchangeMaxMs } : {}),
      })
      this.#stepPull({ type: 'start' })
    } else if (st.s === 'failed') {
      this.#failed(`phase1-${st.reason}`)
    }
  }

  #stepPull(ev: ExchangeEvent): void {
    if (this.pull === undefined) return
    const [st, actions] = stepPullMember(this.pull, ev, ctx)
    this.pull = st
    this.#apply(actions, (timer) => this.#stepPull({ type: 'timer', timer }))
    for (const a of actions) {
      if (a.type === 'pull-done') {
        this.#clearTimers()
        this.pull = undefined
        this.push = installKekFromPull(EMPTY_PUSH_MEMBER_STATE, a.result)
        this.phase = 'done'
        this.sim.finished(this, undefined)
        return
      }
      if (a.type === 'pull-failed') {
        this.#failed(`pull-${a.reason.code}`)
        return
      }
    }
  }

  #failed(reason: string): void {
    this.#clearTimers()
    this.mm = undefined
    this.pull = undefined
    this.phase = 'failed'
    this.sim.finished(this, reason)
  }

  #onPush(bytes: Uint8Array, from: Endpoint, via: 'unicast' | 'multicast'): void {
    if (this.phase !== 'done') return
    const out = processPush(this.push, bytes)
    this.push = out.state
    const tally = this.sim.currentPush
    if ('rejected' in out) {
      if (tally !== undefined) tally.rejected[out.rejected.code] = (tally.rejected[out.rejected.code] ?? 0) + 1
      const last = this.lastAck
      if (out.rejected.code === 'duplicate' && last !== undefined && via === 'unicast' && createHash('sha256').update(bytes).digest('hex') === last.digest) {
        this.transport.send(last.bytes, from)
        this.sim.counts.ackResends++
      }
      return
    }
    const a = out.accepted
    this.pushesAccepted++
    const now = performance.now()
    if (tally !== undefined) {
      tally.accepted++
      tally.seq = a.seq
      tally.firstAt ??= now
      tally.lastAt = now
    }
    const req = a.ack
    if (req !== undefined && (req.ackRequested === 1 || req.ackRequested === 3) && via === 'unicast') {
      const ack = buildAck({ kekSpi: a.kekSpi, ackRequested: req.ackRequested, baseKey: req.baseKey, seq: a.seq, member: this.address })
      this.transport.send(ack, from)
      this.lastAck = { digest: createHash('sha256').update(bytes).digest('hex'), bytes: ack }
      if (tally !== undefined) {
        tally.acked++
        tally.lastAckAt = performance.now()
      }
    }
    this.sim.pushAccepted()
  }

  close(): void {
    this.#clearTimers()
  }
}

class Simulation {
  readonly ks: Endpoint
  readonly counts = { retransmits: 0, undecodable: 0, ackResends: 0 }
  readonly gms: SimGm[] = []
  readonly failures: Record<string, number> = {}
  readonly latencies: number[] = []
  currentPush: PushTally | undefined
  #baseConfig: Omit<InitiatorConfig, 'localId'>
  #next = 0
  #inFlight = 0
  #registered = 0
  #failed = 0
  #firstStart = 0
  #lastDone = 0
  #tokens = 0
  #pacer: NodeJS.Timeout | undefined
  #allDone: (() => void) | undefined
  #pushWaiter: (() => void) | undefined

  readonly o: SimulateOptions

  constructor(o: SimulateOptions) {
    this.o = o
    this.ks = o.ks
    const proposal = o.proposal ?? DEFAULT_PROPOSAL
    this.#baseConfig = {
      proposals: [proposal],
      initialContact: true,
      psk: o.psk,
      ...(o.retransmit !== undefined ? { retransmit: o.retransmit } : {}),
      ...(o.exchangeMaxMs !== undefined ? { exchangeMaxMs: o.exchangeMaxMs } : {}),
      ...(o.fixedDhKey === true ? { dh: fixedDh(proposal.group) } : {}),
    }
  }

  initiatorConfig(address: string): InitiatorConfig {
    return { ...this.#baseConfig, localId: idIpv4(address) }
  }

  get settled(): number {
    return this.#registered + this.#failed
  }

  /** Starts registrations until the window (and the rate budget) is full. */
  pump(): void {
    const limit = this.o.concurrency ?? 64
    const rate = this.o.ratePerSec ?? 0
    while (this.#next < this.gms.length && this.#inFlight < limit && (rate <= 0 || this.#tokens >= 1)) {
      const gm = this.gms[this.#next++]
      if (gm === undefined) break
      if (rate > 0) this.#tokens--
      this.#inFlight++
      if (this.#firstStart === 0) this.#firstStart = performance.now()
      gm.start()
    }
  }

  register(): Promise<void> {
    const rate = this.o.ratePerSec ?? 0
    return new Promise<void>((resolve) => {
      this.#allDone = resolve
      if (rate > 0) {
        const tickMs = 20
        this.#tokens = Math.min(rate * tickMs / 1000, this.o.concurrency ?? 64)
        this.#pacer = setInterval(() => {
          this.#tokens = Math.min(this.#tokens + (rate * tickMs) / 1000, Math.max(1, rate))
          this.pump()
        }, tickMs)
      }
      this.pump()
      if (this.gms.length === 0) resolve()
    })
  }

  finished(gm: SimGm, failure: string | undefined): void {
    this.#inFlight--
    const now = performance.now()
    if (failure === undefined) {
      this.#registered++
      this.latencies.push(now - gm.startedAt)
      this.#lastDone = now
    } else {
      this.#failed++
      this.failures[failure] = (this.failures[failure] ?? 0) + 1
    }
    if (this.settled === this.gms.length) {
      if (this.#pacer !== undefined) clearInterval(this.#pacer)
      this.#allDone?.()
      return
    }
    this.pump()
  }

  figures(setupMs: number): RegistrationFigures {
    const elapsedMs = this.#registered === 0 ? 0 : this.#lastDone - this.#firstStart
    const sorted = [...this.latencies].sort((a, b) => a - b)
    return {
      count: this.gms.length,
      registered: this.#registered,
      failed: this.#failed,
      failures: { ...this.failures },
      elapsedMs: round(elapsedMs),
      perSec: elapsedMs > 0 ? round((this.#registered * 1000) / elapsedMs) : 0,
      retransmits: this.counts.retransmits,
      latencyMs: { p50: round(percentile(sorted, 50)), p90: round(percentile(sorted, 90)), p99: round(percentile(sorted, 99)), max: round(sorted[sorted.length - 1] ?? 0) },
      setupMs: round(setupMs),
    }
  }

  progressLine(): string {
    const el = this.#firstStart === 0 ? 0 : (performance.now() - this.#firstStart) / 1000
    const rate = el > 0 ? Math.round(this.#registered / el) : 0
    return `simulate: ${this.#registered}/${this.gms.length} registered, ${this.#failed} failed, ${this.#inFlight} in flight, ${this.counts.retransmits} retransmits, ${rate} regs/s, ${el.toFixed(1)} s`
  }

  pushAccepted(): void {
    const t = this.currentPush
    if (t !== undefined && t.accepted >= this.#registered && this.#pushWaiter !== undefined) {
      const w = this.#pushWaiter
      this.#pushWaiter = undefined
      w()
    }
  }

  async runPush(n: number): Promise<PushFigures> {
    const tally: PushTally = { accepted: 0, acked: 0, firstAt: undefined, lastAt: undefined, lastAckAt: undefined, seq: null, rejected: {} }
    this.currentPush = tally
    const timeoutMs = this.o.pushTimeoutMs ?? 60_000
    let timer: NodeJS.Timeout | undefined
    const done = new Promise<boolean>((resolve) => {
      this.#pushWaiter = () => resolve(true)
      timer = setTimeout(() => resolve(false), timeoutMs)
    })
    await new Promise((r) => setTimeout(r, this.o.pushDelayMs ?? 1000))
    const acksBefore = this.o.ksAcks !== undefined ? await this.o.ksAcks() : 0
    const resendsBefore = this.counts.ackResends
    const t0 = performance.now()
    await this.o.trigger?.(n)
    const complete = await done
    clearTimeout(timer)
    this.#pushWaiter = undefined
    this.currentPush = undefined
    let ksAllAcked: number | undefined
    if (this.o.ksAcks !== undefined && tally.acked > 0) {
      const deadline = performance.now() + timeoutMs
      while (performance.now() < deadline) {
        if ((await this.o.ksAcks()) - acksBefore >= tally.acked) {
          ksAllAcked = performance.now()
          break
        }
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    const rel = (t: number | undefined): number | null => (t === undefined ? null : round(t - t0))
    return {
      n,
      seq: tally.seq,
      firstAcceptedMs: rel(tally.firstAt),
      lastAcceptedMs: rel(tally.lastAt),
      lastAckMs: rel(tally.lastAckAt),
      ksAllAckedMs: rel(ksAllAcked),
      accepted: tally.accepted,
      acked: tally.acked,
      ackResends: this.counts.ackResends - resendsBefore,
      rejected: { ...tally.rejected },
      complete,
    }
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10
}

/** Runs the simulation to the end and closes every socket. */
export async function simulate(o: SimulateOptions): Promise<SimulateResult> {
  if (!Number.isInteger(o.count) || o.count < 0) throw new RangeError('count must be a non-negative integer')
  const limit = openFileLimit()
  if (limit !== undefined && o.count + 64 > limit) {
    throw new RangeError(`${o.count} simulated GMs need ${o.count + 64} file descriptors but RLIMIT_NOFILE is ${limit} (raise it: ulimit -n ${o.count + 1024})`)
  }
  const sim = new Simulation(o)
  const addresses = simulatedAddresses(o.localBase ?? '127.10.0.1', o.count)
  const transports: Transport[] = []
  let mc: Transport | undefined
  const setupStart = performance.now()
  try {
    const BATCH = 256
    for (let i = 0; i < addresses.length; i += BATCH) {
      const batch = await Promise.all(addresses.slice(i, i + BATCH).map((address) => createUdpTransport({ address, port: o.localPort ?? 0 })))
      for (const t of batch) {
        transports.push(t)
        const gm = new SimGm(sim, t.local.address, t)
        t.onDatagram((bytes, from) => gm.onDatagram(bytes, from, 'unicast'))
        sim.gms.push(gm)
      }
    }
    if (o.multicast !== undefined) {
      const m = o.multicast
      mc = await createUdpTransport({ address: m.group, port: m.port, reuseAddr: true, multicast: { groups: [m.group], ...(m.interface !== undefined ? { interface: m.interface } : {}) } })
      mc.onDatagram((bytes, from) => {
        for (const gm of sim.gms) gm.onDatagram(bytes, from, 'multicast')
      })
    }
    const setupMs = performance.now() - setupStart
    const progressMs = o.progressMs ?? 1000
    const ticker = o.progress !== undefined && progressMs > 0 ? setInterval(() => o.progress?.(sim.progressLine()), progressMs) : undefined
    try {
      await sim.register()
    } finally {
      if (ticker !== undefined) clearInterval(ticker)
    }
    o.progress?.(sim.progressLine())
    const registration = sim.figures(setupMs)
    await o.onRegistered?.(registration)
    const pushes: PushFigures[] = []
    for (let n = 1; n <= (o.pushes ?? 0) && registration.registered > 0; n++) {
      const p = await sim.runPush(n)
      pushes.push(p)
      o.progress?.(`simulate: push ${n}: seq ${p.seq ?? '-'}, ${p.accepted}/${registration.registered} accepted, ${p.acked} acked, last ACK at ${p.lastAckMs ?? '-'} ms${p.complete ? '' : ' (timed out)'}`)
    }
    const cpu = process.cpuUsage()
    return { registration, pushes, rssMiB: round(process.memoryUsage().rss / 1048576), cpuSec: round((cpu.user + cpu.system) / 1e6) }
  } finally {
    for (const gm of sim.gms) gm.close()
    await Promise.all([...transports, ...(mc !== undefined ? [mc] : [])].map((t) => t.close()))
  }
}

/** The text summary `gdoi-gm simulate` prints. */
export function renderSimulateResult(r: SimulateResult): string {
  const g = r.registration
  const lines = [
    `registered   ${g.registered}/${g.count}   failed ${g.failed}${g.failed > 0 ? ` (${Object.entries(g.failures).map(([k, v]) => `${k}: ${v}`).join(', ')})` : ''}`,
    `time         ${(g.elapsedMs / 1000).toFixed(2)} s (first MM1 → last PULL4; socket setup ${(g.setupMs / 1000).toFixed(2)} s before that)`,
    `rate         ${g.perSec} registrations/s`,
    `latency      p50 ${g.latencyMs.p50} ms, p90 ${g.latencyMs.p90} ms, p99 ${g.latencyMs.p99} ms, max ${g.latencyMs.max} ms`,
    `retransmits  ${g.retransmits}`,
  ]
  for (const p of r.pushes) {
    lines.push(
      `push ${p.n}       seq ${p.seq ?? '-'}: ${p.accepted} accepted, ${p.acked} ACKs sent; first ${p.firstAcceptedMs ?? '-'} ms, last accepted ${p.lastAcceptedMs ?? '-'} ms, last ACK ${p.lastAckMs ?? '-'} ms after the trigger${p.ksAllAckedMs !== null ? `, all counted by the KS ≤ ${p.ksAllAckedMs} ms` : ''}${p.ackResends > 0 ? `, ${p.ackResends} ACKs re-sent for retransmitted pushes` : ''}${p.complete ? '' : ' — INCOMPLETE'}` +
        (Object.keys(p.rejected).length > 0 ? `; rejected ${JSON.stringify(p.rejected)}` : ''),
    )
  }
  lines.push(`simulator RSS ${r.rssMiB} MiB, CPU ${r.cpuSec} s`)
  return `${lines.join('\n')}\n`
}

// ---- `gdoi-gm simulate` ------------------------------------------------------------------------------

/** The parsed `simulate` arguments (cli-main.ts declares the options with SIMULATE_OPTIONS). */
export interface SimulateArgs {
  readonly count: number
  readonly ks: string
  readonly psk?: string
  readonly pskEnv?: string
  readonly group: string
  readonly localBase: string
  readonly port: number
  readonly concurrency: number
  readonly rate: number
  readonly retransmitMs: number
  readonly retransmitTries: number
  readonly dhGroup: number
  readonly encryption: string
  readonly hash: string
  readonly fixedDhKey: boolean
  readonly pushes: number
  readonly rekeySocket?: string
  readonly rekeyGroup?: string
  readonly rekeyKind: string
  readonly pushDelayMs: number
  readonly pushTimeoutSec: number
  readonly multicast?: string
  readonly multicastInterface?: string
  readonly progressMs: number
  readonly json: boolean
}

/** yargs option declarations of `simulate` (kept here so cli-main.ts only wires the command). */
export const SIMULATE_OPTIONS = {
  count: { alias: 'n', type: 'number', requiresArg: true, describe: 'number of simulated group members' },
  ks: { type: 'string', requiresArg: true, describe: 'key server ADDR[:PORT] (port default 848)' },
  psk: { type: 'string', requiresArg: true, describe: 'pre-shared key (prefer --psk-env)' },
  'psk-env': { type: 'string', requiresArg: true, default: 'GDOI_PSK', describe: 'environment variable holding the pre-shared key' },
  group: { type: 'string', requiresArg: true, default: '1234', describe: 'group identity: a number or an IPv4 address' },
  'local-base': { type: 'string', requiresArg: true, default: '127.10.0.1', describe: 'first local address; one address per GM, counting up inside 127.0.0.0/8' },
  port: { type: 'number', requiresArg: true, default: 0, describe: 'local UDP port of every GM (0: ephemeral; 848 needs root)' },
  concurrency: { alias: 'c', type: 'number', requiresArg: true, default: 64, describe: 'registrations in flight at once' },
  rate: { type: 'number', requiresArg: true, default: 0, describe: 'registrations started per second at most (0: no limit)' },
  'retransmit-ms': { type: 'number', requiresArg: true, default: 5000, describe: 'MM/PULL retransmission interval' },
  'retransmit-tries': { type: 'number', requiresArg: true, default: 5, describe: 'retransmissions before an exchange fails' },
  'dh-group': { type: 'number', requiresArg: true, default: 5, choices: [2, 5, 14], describe: 'phase-1 DH group' },
  encryption: { type: 'string', requiresArg: true, default: 'aes256', choices: ['aes128', 'aes192', 'aes256', '3des'], describe: 'phase-1 cipher' },
  hash: { type: 'string', requiresArg: true, default: 'sha1', choices: ['sha1', 'sha256'], describe: 'phase-1 hash' },
  'fixed-dh-key': { type: 'boolean', default: false, describe: 'all GMs share one DH key pair (lighter load generator; the KS work is unchanged)' },
  pushes: { type: 'number', requiresArg: true, default: 0, describe: 'after registering, wait for this many pushes on every GM' },
  'rekey-socket': { type: 'string', requiresArg: true, describe: 'trigger each push with `rekey` on this KS control socket' },
  'rekey-group': { type: 'string', requiresArg: true, describe: 'group name for --rekey-socket' },
  'rekey-kind': { type: 'string', requiresArg: true, default: 'tek', choices: ['tek', 'kek'], describe: 'rekey kind for --rekey-socket' },
  'push-delay-ms': { type: 'number', requiresArg: true, default: 1000, describe: 'pause before each triggered push' },
  'push-timeout-sec': { type: 'number', requiresArg: true, default: 60, describe: 'give up waiting for a push after this long' },
  multicast: { type: 'string', requiresArg: true, describe: 'also receive pushes sent to GROUP[:PORT] (one shared socket)' },
  'multicast-interface': { type: 'string', requiresArg: true, describe: 'local address of the interface to join the multicast group on' },
  'progress-ms': { type: 'number', requiresArg: true, default: 1000, describe: 'progress line on stderr every so often (0: none)' },
  json: { type: 'boolean', default: false, describe: 'the summary as JSON on stdout' },
} as const

function endpointOf(s: string, defPort: number): Endpoint {
  const i = s.lastIndexOf(':')
  if (i < 0) return { address: s, port: defPort }
  const port = Number(s.slice(i + 1))
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new RangeError(`bad port in ${s}`)
  return { address: s.slice(0, i), port }
}

/** Checks the arguments; returns the options or a usage message. */
export function simulateOptionsFrom(a: SimulateArgs, env: NodeJS.ProcessEnv): SimulateOptions | string {
  if (!Number.isInteger(a.count) || a.count < 1) return 'simulate needs --count N (N ≥ 1)'
  if (a.ks === '') return 'simulate needs --ks ADDR[:PORT]'
  const psk = a.psk ?? (a.pskEnv !== undefined ? env[a.pskEnv] : undefined)
  if (psk === undefined || psk === '') return `simulate needs a pre-shared key: --psk KEY or the environment variable ${a.pskEnv ?? 'GDOI_PSK'}`
  if ((a.rekeySocket === undefined) !== (a.rekeyGroup === undefined)) return '--rekey-socket and --rekey-group go together'
  let ks: Endpoint
  let mc: Endpoint | undefined
  try {
    ks = endpointOf(a.ks, 848)
    mc = a.multicast !== undefined ? endpointOf(a.multicast, 848) : undefined
  } catch (err) {
    return (err as Error).message
  }
  const groupId: GroupId = /^\d+$/.test(a.group) ? { kind: 'number', value: Number(a.group) } : { kind: 'ipv4', address: a.group }
  const rekeySocket = a.rekeySocket
  const rekeyGroup = a.rekeyGroup
  return {
    count: a.count,
    ks,
    psk: new Uint8Array(Buffer.from(psk, 'utf8')),
    groupId,
    proposal: { encryption: a.encryption as Phase1Proposal['encryption'], hash: a.hash as Phase1Proposal['hash'], auth: 'psk', group: a.dhGroup as Phase1Proposal['group'], lifetimeSec: 86400 },
    localBase: a.localBase,
    localPort: a.port,
    concurrency: Math.max(1, a.concurrency),
    ratePerSec: a.rate,
    retransmit: { intervalMs: a.retransmitMs, maxTries: a.retransmitTries },
    fixedDhKey: a.fixedDhKey,
    pushes: a.pushes,
    pushTimeoutMs: a.pushTimeoutSec * 1000,
    pushDelayMs: a.pushDelayMs,
    ...(rekeySocket !== undefined && rekeyGroup !== undefined
      ? {
          trigger: async () => {
            await controlRequest(rekeySocket, { cmd: 'rekey', group: rekeyGroup, kind: a.rekeyKind }, { timeoutMs: 60_000 })
          },
          ksAcks: async () => {
            const st = (await controlRequest(rekeySocket, { cmd: 'status' }, { timeoutMs: 60_000 })) as { counters?: Record<string, number> }
            return st.counters?.['rekey.acks'] ?? 0
          },
        }
      : {}),
    ...(mc !== undefined ? { multicast: { group: mc.address, port: mc.port, ...(a.multicastInterface !== undefined ? { interface: a.multicastInterface } : {}) } } : {}),
    progressMs: a.progressMs,
  }
}
