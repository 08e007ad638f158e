// An in-process datagram network for tests: a KS and several GMs attach by address, and the network
// loses, duplicates and reorders datagrams with probabilities drawn from a seeded PRNG. With the same
// seed and the same sequence of sends, every run has exactly the same fates and delivery order.
//
// Delivery happens in rounds. A round delivers everything queued before it started; datagrams sent by
// receive handlers during a round are delivered in the next one. A datagram picked for reordering is
// held back one round and delivered after the datagrams sent meanwhile. Rounds run on
// `setImmediate`, or on `clock` timers (`latencyMs` later) when a clock is given, or explicitly with
// `deliverRound()` / `flush()`.
import type { Clock } from '../clock.js'
import type { DatagramHandler, Endpoint, MulticastTransport } from './types.js'
import { formatEndpoint } from './types.js'

export interface MemoryNetworkOptions {
  /** PRNG seed (32-bit). Required so that a lossy test is always reproducible. */
  readonly seed: number
  /** Probability in [0, 1] that a datagram is lost. */
  readonly drop?: number
  /** Probability in [0, 1] that a datagram is delivered twice. */
  readonly duplicate?: number
  /** Probability in [0, 1] that a datagram is held back behind later ones. */
  readonly reorder?: number
  /** Schedule rounds on this clock (a fake clock in tests) instead of setImmediate. */
  readonly clock?: Clock
  /** Delay of a round after the first datagram is queued, when `clock` is given (default 0). */
  readonly latencyMs?: number
  /** Keep a trace of every datagram and its fate (see `trace()`), e.g. to write a pcap. Default false. */
  readonly trace?: boolean
}

export type DatagramFate = 'delivered' | 'dropped' | 'filtered' | 'unreachable'

export interface MemoryTraceEntry {
  /** Send order, from 0. Duplicates share the number of their original. */
  readonly seq: number
  readonly from: Endpoint
  readonly to: Endpoint
  readonly bytes: Uint8Array
  readonly fate: DatagramFate
  /** Clock time of the fate (0 without a clock). */
  readonly atMs: number
  readonly duplicate: boolean
  readonly reordered: boolean
}

export interface MemoryNetworkStats {
  readonly sent: number
  readonly delivered: number
  readonly dropped: number
  readonly duplicated: number
  readonly reordered: number
  readonly unreachable: number
  readonly filtered: number
}

/** Return false to drop the datagram (a partition, a firewall rule, a dead GM). Applied when the
 *  datagram is sent. */
export type DatagramFilter = (d: { readonly from: Endpoint; readonly to: Endpoint; readonly bytes: Uint8Array }) => boolean

export interface MemoryTransport extends MulticastTransport {
  /** Detached transports neither send nor receive (close() does this too). */
  readonly closed: boolean
}

export interface MemoryNetwork {
  /** A transport bound to `local` (a string means port 848). Port 0 picks an ephemeral port. */
  attach(local: Endpoint | string): MemoryTransport
  /** Delivers one round synchronously; returns how many datagrams were handed to handlers. */
  deliverRound(): number
  /** Runs rounds (yielding to setImmediate in between, so async handlers can send) until nothing is in
   *  flight. Ignores `latencyMs`. Rejects after `maxRounds` (default 10000) — a ping-pong loop. */
  flush(maxRounds?: number): Promise<void>
  setFilter(f: DatagramFilter | undefined): void
  inFlight(): number
  stats(): MemoryNetworkStats
  trace(): readonly MemoryTraceEntry[]
}

interface Queued {
  readonly seq: number
  readonly from: Endpoint
  readonly to: Endpoint
  readonly bytes: Uint8Array
  readonly duplicate: boolean
  readonly reordered: boolean
}

/** mulberry32: tiny, fast, good enough to make test faults reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const EPHEMERAL_FIRST = 49152

function isMulticast(address: string): boolean {
  const first = Number(address.split('.')[0])
  return first >= 224 && first <= 239
}

function checkProbability(name: string, p: number | undefined): number {
  const v = p ?? 0
  if (!(v >= 0 && v <= 1)) throw new RangeError(`createMemoryNetwork: ${name} must be a probability in [0, 1]`)
  return v
}

export function createMemoryNetwork(opts: MemoryNetworkOptions): MemoryNetwork {
  const rand = seededRandom(opts.seed)
  const pDrop = checkProbability('drop', opts.drop)
  const pDup = checkProbability('duplicate', opts.duplicate)
  const pReorder = checkProbability('reorder', opts.reorder)
  const clock = opts.clock
  const latencyMs = opts.latencyMs ?? 0
  const tracing = opts.trace ?? false

  const nodes = new Map<string, MemoryTransportImpl>()
  let queue: Queued[] = []
  let held: Queued[] = []
  let scheduled = false
  let cancelScheduled: (() => void) | undefined
  let nextSeq = 0
  let nextEphemeral = EPHEMERAL_FIRST
  let filter: DatagramFilter | undefined
  const traceLog: MemoryTraceEntry[] = []
  const st = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, reordered: 0, unreachable: 0, filtered: 0 }

  const nowMs = (): number => (clock ? clock.nowMs() : 0)
  const record = (q: Queued, fate: DatagramFate): void => {
    if (tracing) traceLog.push({ ...q, fate, atMs: nowMs() })
  }

  const schedule = (): void => {
    if (scheduled) return
    scheduled = true
    if (clock) {
      cancelScheduled = clock.setTimer(latencyMs, () => {
        scheduled = false
        cancelScheduled = undefined
        round()
      })
    } else {
      const h = setImmediate(() => {
        scheduled = false
        cancelScheduled = undefined
        round()
      })
      cancelScheduled = () => clearImmediate(h)
    }
  }

  const enqueue = (from: Endpoint, to: Endpoint, bytes: Uint8Array): void => {
    st.sent++
    const seq = nextSeq++
    // Always draw the same number of random values per send, so one probability does not shift the
    // sequence of another.
    const rDrop = rand()
    const rDup = rand()
    const rReorder = rand()
    const base = { seq, from, to, bytes: bytes.slice(), duplicate: false, reordered: false }
    if (filter && !filter(base)) {
      st.filtered++
      record(base, 'filtered')
      return
    }
    if (rDrop < pDrop) {
      st.dropped++
      record(base, 'dropped')
      return
    }
    const item: Queued = rReorder < pReorder ? { ...base, reordered: true } : base
    if (item.reordered) {
      st.reordered++
      held.push(item)
    } else {
      queue.push(item)
    }
    if (rDup < pDup) {
      st.duplicated++
      queue.push({ ...base, bytes: bytes.slice(), duplicate: true })
    }
    schedule()
  }

  const deliver = (q: Queued): number => {
    const targets: MemoryTransportImpl[] = []
    if (isMulticast(q.to.address)) {
      for (const n of nodes.values()) if (n.local.port === q.to.port && n.groups.has(q.to.address)) targets.push(n)
    } else {
      const n = nodes.get(formatEndpoint(q.to))
      if (n) targets.push(n)
    }
    if (targets.length === 0) {
      st.unreachable++
      record(q, 'unreachable')
      return 0
    }
    record(q, 'delivered')
    for (const n of targets) {
      st.delivered++
      n.receive(targets.length === 1 ? q.bytes : q.bytes.slice(), q.from)
    }
    return targets.length
  }

  const round = (): number => {
    const now = queue
    // Held-back datagrams go behind whatever is sent during this round.
    const late = held
    queue = []
    held = []
    let n = 0
    for (const q of now) n += deliver(q)
    queue.push(...late)
    if (queue.length > 0 || held.length > 0) schedule()
    return n
  }

  const net: MemoryNetwork = {
    attach(local) {
      const ep: Endpoint = typeof local === 'string' ? { address: local, port: 848 } : local
      const port = ep.port === 0 ? nextEphemeral++ : ep.port
      const bound = { address: ep.address, port }
      const key = formatEndpoint(bound)
      if (nodes.has(key)) throw Object.assign(new Error(`bind EADDRINUSE ${key}`), { code: 'EADDRINUSE' })
      const t = new MemoryTransportImpl(bound, enqueue, () => nodes.delete(key))
      nodes.set(key, t)
      return t
    },
    deliverRound() {
      if (cancelScheduled) cancelScheduled()
      cancelScheduled = undefined
      scheduled = false
      return round()
    },
    async flush(maxRounds = 10_000) {
      for (let i = 0; i < maxRounds; i++) {
        await new Promise((r) => setImmediate(r))
        if (queue.length === 0 && held.length === 0) return
        net.deliverRound()
      }
      throw new Error(`memory network: still ${queue.length + held.length} datagrams in flight after ${maxRounds} rounds`)
    },
    setFilter(f) {
      filter = f
    },
    inFlight: () => queue.length + held.length,
    stats: () => ({ ...st }),
    trace: () => traceLog,
  }
  return net
}

class MemoryTransportImpl implements MemoryTransport {
  readonly local: Endpoint
  readonly groups = new Set<string>()
  #handler: DatagramHandler = () => {}
  #closed = false
  readonly #enqueue: (from: Endpoint, to: Endpoint, bytes: Uint8Array) => void
  readonly #detach: () => void

  constructor(local: Endpoint, enqueue: (from: Endpoint, to: Endpoint, bytes: Uint8Array) => void, detach: () => void) {
    this.local = local
    this.#enqueue = enqueue
    this.#detach = detach
  }
  get closed(): boolean {
    return this.#closed
  }
  send(bytes: Uint8Array, to: Endpoint): void {
    if (this.#closed) return
    this.#enqueue(this.local, { address: to.address, port: to.port }, bytes)
  }
  onDatagram(h: DatagramHandler): void {
    this.#handler = h
  }
  receive(bytes: Uint8Array, from: Endpoint): void {
    if (!this.#closed) this.#handler(bytes, from)
  }
  joinGroup(group: string): void {
    if (!isMulticast(group)) throw new RangeError(`joinGroup: ${group} is not an IPv4 multicast address`)
    this.groups.add(group)
  }
  leaveGroup(group: string): void {
    this.groups.delete(group)
  }
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true
      this.#detach()
    }
    return Promise.resolve()
  }
}

/** Two endpoints on a fresh network (STYLE.md's `createMemoryPair`): a = 127.0.0.1:848 (KS side),
 *  b = 127.0.0.2:848 (GM side). */
export function createMemoryPair(
  opts: Partial<MemoryNetworkOptions> = {},
): { readonly network: MemoryNetwork; readonly a: MemoryTransport; readonly b: MemoryTransport } {
  const network = createMemoryNetwork({ seed: 1, ...opts })
  return { network, a: network.attach('127.0.0.1'), b: network.attach('127.0.0.2') }
}
