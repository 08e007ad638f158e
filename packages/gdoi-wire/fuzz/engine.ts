// The long-run fuzz loop: picks a target by weight, makes an input (a seed or an earlier interesting
// input, mutated by mutators.ts; sometimes plain random octets), runs it, and keeps statistics: outcome
// labels, bugs by kind (anything but DecodeError), time per input (histogram → p50/p99/max, a slow input
// is re-run to tell a genuinely slow input from a GC pause or a busy CPU), and allocation per input on
// a sample (needs --expose-gc). Inputs producing an outcome label not seen before join the pool of bases.
import { createHash } from 'node:crypto'
import { buildDonorPool, MAX_INPUT_BYTES, mutate, prng, randomMutations, type DonorPool, type Rng } from './mutators.js'
import { bugKind, type FuzzTarget } from './targets.js'

export interface EngineOptions {
  readonly seed: number
  /** Per-input budget; slower inputs are re-run and reported when the re-run is slow too. */
  readonly slowMs: number
  /** Measure allocation on every n-th input (0 = never; needs global.gc). */
  readonly allocEvery: number
}

export interface Finding {
  readonly target: string
  readonly kind: string
  readonly message: string
  readonly stack?: string
  readonly input: Uint8Array
}

const HIST_US = 100_000 // 1 µs buckets up to 100 ms, then one overflow bucket

class Histogram {
  readonly buckets = new Uint32Array(HIST_US + 1)
  count = 0
  maxMs = 0
  add(ms: number): void {
    const us = Math.min(HIST_US, Math.floor(ms * 1000))
    this.buckets[us] = (this.buckets[us] ?? 0) + 1
    this.count++
    if (ms > this.maxMs) this.maxMs = ms
  }
  quantileMs(q: number): number {
    const want = Math.ceil(this.count * q)
    let seen = 0
    for (let i = 0; i <= HIST_US; i++) {
      seen += this.buckets[i] ?? 0
      if (seen >= want && want > 0) return i / 1000
    }
    return 0
  }
}

export interface TargetStats {
  inputs: number
  /** Wall time spent in the target (ms), generation excluded. */
  totalMs: number
  rejected: number
  bugs: Record<string, number>
  outcomes: Record<string, number>
  maxInputBytes: number
  /** Slowest single measurement, and the input's re-measured (min of 3) time. */
  slowest: { ms: number; rerunMs: number; bytes: number; sha: string }
  /** Largest re-measured time of any input (what the input costs without scheduling noise). */
  maxRerunMs: number
  slowInputs: number
  maxAllocBytes: number
  maxAllocPerInputByte: number
  p50Ms: number
  p99Ms: number
  p999Ms: number
}

/** Budget of one input: per datagram; a capture file gets it per started 1500 octets (one packet). */
export function budgetMs(target: FuzzTarget, bytes: number, slowMs: number): number {
  return target.name === 'pcap' ? slowMs * Math.max(1, Math.ceil(bytes / 1500)) : slowMs
}

export function sha(b: Uint8Array): string {
  return createHash('sha1').update(b).digest('hex').slice(0, 16)
}

export class Engine {
  readonly targets: readonly FuzzTarget[]
  readonly opts: EngineOptions
  readonly rng: Rng
  readonly seeds: Uint8Array[][]
  readonly novel: Uint8Array[][]
  readonly pool: DonorPool
  readonly schedule: number[]
  readonly hist: Histogram[]
  readonly all = new Histogram()
  readonly stats: TargetStats[]
  readonly findings: Finding[] = []
  readonly seenFinding = new Set<string>()
  total = 0
  #tick = 0

  constructor(targets: readonly FuzzTarget[], opts: EngineOptions) {
    this.targets = targets
    this.opts = opts
    this.rng = prng(opts.seed)
    this.seeds = targets.map((t) => t.seeds())
    this.novel = targets.map(() => [])
    this.pool = buildDonorPool(targets.flatMap((t, i) => (this.seeds[i] ?? []).map((bytes) => ({ bytes, layout: t.layout }))))
    this.schedule = targets.flatMap((t, i) => Array.from({ length: Math.max(1, Math.round(t.weight * 4)) }, () => i))
    this.hist = targets.map(() => new Histogram())
    this.stats = targets.map(() => ({
      inputs: 0, totalMs: 0, rejected: 0, bugs: {}, outcomes: {}, maxInputBytes: 0,
      slowest: { ms: 0, rerunMs: 0, bytes: 0, sha: '' }, maxRerunMs: 0, slowInputs: 0, maxAllocBytes: 0, maxAllocPerInputByte: 0,
      p50Ms: 0, p99Ms: 0, p999Ms: 0,
    }))
  }

  /** The next (target index, input). */
  next(): [number, Uint8Array] {
    const ti = this.schedule[this.#tick++ % this.schedule.length] ?? 0
    const t = this.targets[ti]!
    const r = this.rng.int(100)
    if (r < 4) return [ti, this.rng.bytes(this.rng.int(this.rng.chance(0.8) ? 128 : 2048))]
    const bases = (this.novel[ti]?.length ?? 0) > 0 && this.rng.chance(0.35) ? this.novel[ti]! : this.seeds[ti]!
    const base = bases[this.rng.int(bases.length)] ?? new Uint8Array(0)
    if (r < 8) return [ti, Uint8Array.from([...base.subarray(0, this.rng.int(Math.min(64, base.length + 1))), ...this.rng.bytes(this.rng.int(256))])]
    return [ti, mutate(base, t.layout, randomMutations(this.rng, t.layout), this.pool)]
  }

  /** Runs one input; returns the measured time. `current` receives the input before it runs (hang forensics). */
  runOne(ti: number, input: Uint8Array): number {
    const t = this.targets[ti]!
    const st = this.stats[ti]!
    const measureAlloc = this.opts.allocEvery > 0 && this.total % this.opts.allocEvery === 0 && typeof globalThis.gc === 'function'
    let before = 0
    if (measureAlloc) {
      globalThis.gc?.()
      before = heapBytes()
    }
    let label: string
    const t0 = performance.now()
    try {
      label = t.run(input)
    } catch (e) {
      const kind = bugKind(e)
      if (kind === undefined) {
        label = 'decode-error'
        st.rejected++
      } else {
        label = `BUG ${kind}`
        st.bugs[kind] = (st.bugs[kind] ?? 0) + 1
        this.#finding(t.name, kind, e, input)
      }
    }
    const ms = performance.now() - t0
    if (measureAlloc) {
      const alloc = Math.max(0, heapBytes() - before)
      if (alloc > st.maxAllocBytes) st.maxAllocBytes = alloc
      if (input.length >= 64 && alloc / input.length > st.maxAllocPerInputByte) st.maxAllocPerInputByte = alloc / input.length
    }
    this.total++
    st.inputs++
    st.totalMs += ms
    if (input.length > st.maxInputBytes) st.maxInputBytes = input.length
    this.hist[ti]!.add(ms)
    this.all.add(ms)
    if (ms > st.slowest.ms || ms > budgetMs(t, input.length, this.opts.slowMs)) this.#slow(ti, input, ms)
    const seen = st.outcomes[label]
    if (seen === undefined) {
      if (Object.keys(st.outcomes).length < 64) st.outcomes[label] = 1
      if (!label.startsWith('BUG') && label !== 'decode-error' && input.length <= MAX_INPUT_BYTES) this.#addNovel(ti, input)
    } else {
      st.outcomes[label] = seen + 1
      // accepted inputs occasionally join the bases too: deeper structure to mutate from
      if (label !== 'decode-error' && !label.startsWith('rejected') && this.rng.int(64) === 0) this.#addNovel(ti, input)
    }
    return ms
  }

  #addNovel(ti: number, input: Uint8Array): void {
    const list = this.novel[ti]!
    if (list.length < 2000) list.push(input.slice())
    else list[this.rng.int(list.length)] = input.slice()
  }

  #slow(ti: number, input: Uint8Array, ms: number): void {
    const t = this.targets[ti]!
    const st = this.stats[ti]!
    let rerun = Infinity
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now()
      try {
        t.run(input)
      } catch {
        // classified on the first run
      }
      rerun = Math.min(rerun, performance.now() - t0)
    }
    if (ms > st.slowest.ms) st.slowest = { ms, rerunMs: rerun, bytes: input.length, sha: sha(input) }
    if (rerun > st.maxRerunMs) st.maxRerunMs = rerun
    if (rerun > budgetMs(t, input.length, this.opts.slowMs)) {
      st.slowInputs++
      this.#finding(t.name, 'slow', new Error(`${rerun.toFixed(2)} ms (min of 3 re-runs) for ${input.length} octets`), input)
    }
  }

  #finding(target: string, kind: string, e: unknown, input: Uint8Array): void {
    const message = e instanceof Error ? e.message : String(e)
    const key = `${target}/${kind}/${message.split('\n')[0]?.replace(/\d+/g, 'N').slice(0, 120)}`
    if (this.seenFinding.has(key) || this.findings.length >= 200) return
    this.seenFinding.add(key)
    const cause = e instanceof Error && e.cause instanceof Error ? e.cause : e
    const stack = cause instanceof Error ? cause.stack : undefined
    this.findings.push({ target, kind, message, ...(stack !== undefined ? { stack } : {}), input: input.slice() })
  }

  /** Statistics with quantiles filled in (JSON-ready). */
  snapshot(): { total: number; p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number; targets: Record<string, TargetStats> } {
    const targets: Record<string, TargetStats> = {}
    this.targets.forEach((t, i) => {
      const h = this.hist[i]!
      targets[t.name] = { ...this.stats[i]!, p50Ms: h.quantileMs(0.5), p99Ms: h.quantileMs(0.99), p999Ms: h.quantileMs(0.999) }
    })
    return { total: this.total, p50Ms: this.all.quantileMs(0.5), p99Ms: this.all.quantileMs(0.99), p999Ms: this.all.quantileMs(0.999), maxMs: this.all.maxMs, targets }
  }
}

function heapBytes(): number {
  const m = process.memoryUsage()
  return m.heapUsed + m.external // external includes arrayBuffers
}
