// Long fuzz run (the documented "10 million inputs" run of RELIABILITY.md). One process: a worker thread
// runs engine.ts; the main thread supervises it — progress line, RSS samples, a watchdog that dumps the
// input being processed if the worker stops making progress (hang) or dies (out of memory: the worker
// has a heap limit), and files for every finding (input .bin + .txt with target, kind, stack).
//
//   bench/fuzz-long.sh [inputs] [options]          (from the repo root; nice'd, see RELIABILITY.md)
//   node --conditions=@gdoi/source --expose-gc \
//     --import=./node_modules/.pnpm/node_modules/@tapjs/typescript/dist/esm/import.mjs \
//     packages/gdoi-wire/fuzz/long-run.ts --inputs 10000000 [--seconds N] [--targets a,b] [--seed N]
//     [--out DIR] [--slow-ms 10] [--alloc-every 20000] [--hang-sec 60] [--progress-sec 30] [--max-old-mb 512]
//   … long-run.ts --repro FILE.bin --target NAME     re-runs one saved input and prints what it does
//   … long-run.ts --worst-case                        times the hand-built worst cases (worst-case.ts)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname, cpus } from 'node:os'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { Engine, sha, type Finding, type TargetStats } from './engine.js'
import { MAX_INPUT_BYTES } from './mutators.js'
import { bugKind, target, TARGETS } from './targets.js'
import { measureWorstCases } from './worst-case.js'

interface Options {
  inputs: number
  seconds: number
  targets: string[]
  seed: number
  out: string
  slowMs: number
  allocEvery: number
  hangSec: number
  progressSec: number
  maxOldMb: number
  repro?: string
  target?: string
  worstCase?: boolean
}

type Snapshot = ReturnType<Engine['snapshot']> & { heapUsed: number; external: number }
type FromWorker = { type: 'ready'; seeds: number } | { type: 'stats'; snap: Snapshot } | { type: 'finding'; finding: Finding } | { type: 'done'; snap: Snapshot; seconds: number }

function parseArgs(argv: string[]): Options {
  const o: Options = {
    inputs: 10_000_000, seconds: 0, targets: TARGETS.map((t) => t.name), seed: 1,
    out: `/tmp/gdoi-fuzz-${new Date().toISOString().replace(/[:.]/g, '-')}`,
    slowMs: 10, allocEvery: 20_000, hangSec: 60, progressSec: 30, maxOldMb: 512,
  }
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]
    const v = argv[i + 1] ?? ''
    const num = (): number => {
      i++
      const n = Number(v.replace(/_/g, ''))
      if (!Number.isFinite(n)) throw new Error(`${k}: not a number: ${v}`)
      return n
    }
    switch (k) {
      case '--inputs': o.inputs = num(); break
      case '--seconds': o.seconds = num(); break
      case '--seed': o.seed = num(); break
      case '--slow-ms': o.slowMs = num(); break
      case '--alloc-every': o.allocEvery = num(); break
      case '--hang-sec': o.hangSec = num(); break
      case '--progress-sec': o.progressSec = num(); break
      case '--max-old-mb': o.maxOldMb = num(); break
      case '--targets': o.targets = v.split(',').filter(Boolean); i++; break
      case '--out': o.out = v; i++; break
      case '--repro': o.repro = v; i++; break
      case '--target': o.target = v; i++; break
      case '--worst-case': o.worstCase = true; break
      default: throw new Error(`unknown option ${k} (see the header of long-run.ts)`)
    }
  }
  for (const t of o.targets) target(t)
  return o
}

// ---- worker -----------------------------------------------------------------------------------------

function workerMain(o: Options, ctl: Int32Array, current: Uint8Array): void {
  const port = parentPort!
  const targets = o.targets.map(target)
  const engine = new Engine(targets, { seed: o.seed, slowMs: o.slowMs, allocEvery: o.allocEvery })
  const snap = (): Snapshot => {
    const m = process.memoryUsage()
    return { ...engine.snapshot(), heapUsed: m.heapUsed, external: m.external }
  }
  port.postMessage({ type: 'ready', seeds: engine.seeds.reduce((n, x) => n + x.length, 0) } satisfies FromWorker)
  const started = performance.now()
  let lastStats = started
  let reported = 0
  const deadline = o.seconds > 0 ? started + o.seconds * 1000 : Infinity
  for (let i = 0; i < o.inputs; i++) {
    const [ti, input] = engine.next()
    current.set(input.subarray(0, MAX_INPUT_BYTES))
    Atomics.store(ctl, 1, ti)
    Atomics.store(ctl, 2, input.length)
    engine.runOne(ti, input)
    Atomics.store(ctl, 0, (i + 1) & 0x7fffffff)
    for (; reported < engine.findings.length; reported++) {
      const finding = engine.findings[reported]
      if (finding !== undefined) port.postMessage({ type: 'finding', finding } satisfies FromWorker)
    }
    if ((i & 1023) === 0) {
      const now = performance.now()
      if (now > deadline) break
      if (now - lastStats > 5000) {
        lastStats = now
        port.postMessage({ type: 'stats', snap: snap() } satisfies FromWorker)
      }
    }
  }
  port.postMessage({ type: 'done', snap: snap(), seconds: (performance.now() - started) / 1000 } satisfies FromWorker)
}

// ---- supervisor -------------------------------------------------------------------------------------

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

function dur(s: number): string {
  const m = Math.floor(s / 60)
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`
}

function writeFinding(dir: string, f: Finding): string {
  const base = `${dir}/${f.target}-${f.kind.replace(/\W+/g, '_')}-${sha(f.input)}`
  writeFileSync(`${base}.bin`, f.input)
  writeFileSync(`${base}.txt`, `target: ${f.target}\nkind: ${f.kind}\nbytes: ${f.input.length}\nhex: ${Buffer.from(f.input).toString('hex')}\n\n${f.message}\n\n${f.stack ?? ''}\n`)
  return base
}

function bugsOf(t: TargetStats): number {
  return Object.values(t.bugs).reduce((a, b) => a + b, 0)
}

function summary(o: Options, snap: Snapshot, seconds: number, rss: { ready: number; max: number; afterWarmup: number; end: number; workerHeapMax: number }, stopped: string | undefined): string {
  const rows = Object.entries(snap.targets).map(([name, t]) => {
    const bugs = Object.entries(t.bugs).map(([k, v]) => `${k} ×${v}`).join(', ') || '0'
    return `| ${name} | ${fmt(t.inputs)} | ${((1000 * t.totalMs) / Math.max(1, t.inputs)).toFixed(0)} | ${fmt(t.rejected)} | ${bugs} | ${t.p50Ms.toFixed(3)} | ${t.p99Ms.toFixed(3)} | ${t.slowest.ms.toFixed(2)} (re-run ${t.slowest.rerunMs.toFixed(2)}) | ${t.maxRerunMs.toFixed(2)} | ${t.slowInputs} | ${fmt(t.maxInputBytes)} | ${(t.maxAllocBytes / 1024).toFixed(0)} KiB / ${t.maxAllocPerInputByte.toFixed(0)} |`
  })
  const totalBugs = Object.values(snap.targets).reduce((n, t) => n + bugsOf(t), 0)
  return [
    `fuzz long run: ${fmt(snap.total)} inputs in ${dur(seconds)} (${fmt(snap.total / seconds)}/s), seed ${o.seed}, ${new Date().toISOString()}, ${hostname()} (${cpus().length}× ${cpus()[0]?.model ?? '?'}), Node ${process.version}${stopped !== undefined ? `, STOPPED: ${stopped}` : ''}`,
    `exceptions other than DecodeError: ${totalBugs}; per input: p50 ${snap.p50Ms.toFixed(3)} ms, p99 ${snap.p99Ms.toFixed(3)} ms, p99.9 ${snap.p999Ms.toFixed(3)} ms, max ${snap.maxMs.toFixed(2)} ms (single measurement)`,
    `RSS (process, TypeScript loader included): before the first input ${(rss.ready / 2 ** 20).toFixed(0)} MiB, max ${(rss.max / 2 ** 20).toFixed(0)} MiB, 60 s in ${(rss.afterWarmup / 2 ** 20).toFixed(0)} MiB, at the end ${(rss.end / 2 ** 20).toFixed(0)} MiB; fuzz worker heap + external: max ${(rss.workerHeapMax / 2 ** 20).toFixed(0)} MiB, at the end ${((snap.heapUsed + snap.external) / 2 ** 20).toFixed(0)} MiB (sampled every 5 s)`,
    '',
    '| target | inputs | mean µs | DecodeError | other exceptions | p50 ms | p99 ms | slowest ms (re-run) | max re-run ms | slow inputs | max input B | max alloc / per input B |',
    '|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n')
}

function supervise(o: Options): void {
  mkdirSync(o.out, { recursive: true })
  const ctl = new Int32Array(new SharedArrayBuffer(12))
  const current = new Uint8Array(new SharedArrayBuffer(MAX_INPUT_BYTES))
  const worker = new Worker(new URL(import.meta.url), { workerData: { o, ctl, current }, resourceLimits: { maxOldGenerationSizeMb: o.maxOldMb } })
  const t0 = performance.now()
  let snap: Snapshot | undefined
  let seconds = 0
  let stopped: string | undefined
  let lastBeat = -1
  let lastBeatAt = t0
  let lastProgress = t0
  /** RSS (whole process: both threads, the TypeScript loader included): when the corpus is built, max, 60 s in, at the end. */
  const rss = { ready: 0, max: 0, afterWarmup: 0, end: 0, workerHeapMax: 0 }
  const findings: string[] = []
  console.log(`fuzz: ${fmt(o.inputs)} inputs over ${o.targets.length} targets, seed ${o.seed}, findings → ${o.out}`)

  const dumpCurrent = (kind: string, message: string): void => {
    const ti = Atomics.load(ctl, 1)
    const len = Atomics.load(ctl, 2)
    const f: Finding = { target: o.targets[ti] ?? '?', kind, message, input: current.slice(0, Math.min(len, MAX_INPUT_BYTES)) }
    findings.push(writeFinding(o.out, f))
    console.log(`fuzz: ${kind} in ${f.target}: ${message} → ${findings.at(-1)}.bin`)
  }

  const timer = setInterval(() => {
    const now = performance.now()
    const r = process.memoryUsage().rss
    rss.max = Math.max(rss.max, r)
    rss.end = r
    if (rss.afterWarmup === 0 && now - t0 > 60_000) rss.afterWarmup = r
    const beat = Atomics.load(ctl, 0)
    if (beat !== lastBeat) {
      lastBeat = beat
      lastBeatAt = now
    } else if (now - lastBeatAt > o.hangSec * 1000 && stopped === undefined) {
      stopped = `no progress for ${o.hangSec} s (hang)`
      dumpCurrent('hang', stopped)
      void worker.terminate()
    }
    if (snap !== undefined && now - lastProgress > o.progressSec * 1000) {
      lastProgress = now
      const el = (now - t0) / 1000
      const rate = snap.total / el
      const bugs = Object.values(snap.targets).reduce((n, t) => n + bugsOf(t), 0)
      const slow = Object.values(snap.targets).reduce((n, t) => n + t.slowInputs, 0)
      const maxRerun = Math.max(...Object.values(snap.targets).map((t) => t.maxRerunMs))
      console.log(
        `fuzz ${fmt(snap.total)}/${fmt(o.inputs)} (${((100 * snap.total) / o.inputs).toFixed(1)}%) ${fmt(rate)}/s elapsed ${dur(el)} eta ${dur((o.inputs - snap.total) / Math.max(1, rate))}` +
          ` bugs ${bugs} slow ${slow} max ${snap.maxMs.toFixed(1)} ms (re-run max ${maxRerun.toFixed(2)} ms) p99 ${snap.p99Ms.toFixed(3)} ms rss ${(r / 2 ** 20).toFixed(0)} MiB`,
      )
    }
  }, 1000)

  worker.on('message', (m: FromWorker) => {
    if (m.type === 'ready') {
      rss.ready = process.memoryUsage().rss
      console.log(`fuzz: ${fmt(m.seeds)} seeds; RSS before the first input ${(rss.ready / 2 ** 20).toFixed(0)} MiB`)
    } else if (m.type === 'finding') {
      findings.push(writeFinding(o.out, m.finding))
      console.log(`fuzz: ${m.finding.kind} in ${m.finding.target}: ${m.finding.message.split('\n')[0]} → ${findings.at(-1)}.bin`)
    } else {
      snap = m.snap
      rss.workerHeapMax = Math.max(rss.workerHeapMax, m.snap.heapUsed + m.snap.external)
      if (m.type === 'done') seconds = m.seconds
    }
  })
  worker.on('error', (e) => {
    stopped ??= `worker died: ${e.message}`
    dumpCurrent('crash', stopped)
  })
  worker.on('exit', () => {
    clearInterval(timer)
    if (snap === undefined) {
      console.log('fuzz: no statistics (the worker stopped before its first report)')
      process.exitCode = 2
      return
    }
    if (seconds === 0) seconds = (performance.now() - t0) / 1000
    const text = summary(o, snap, seconds, rss, stopped)
    writeFileSync(`${o.out}/report.md`, `${text}\n`)
    writeFileSync(`${o.out}/report.json`, JSON.stringify({ options: o, seconds, rss, stopped, findings, ...snap }, null, 1))
    console.log(`\n${text}\n\nfindings: ${findings.length} (${o.out})`)
    const bugs = Object.values(snap.targets).reduce((n, t) => n + bugsOf(t) + t.slowInputs, 0)
    process.exitCode = stopped !== undefined || bugs > 0 ? 1 : 0
  })
  process.on('SIGINT', () => {
    stopped ??= 'interrupted'
    void worker.terminate()
  })
}

function repro(file: string, name: string): void {
  const input = new Uint8Array(readFileSync(file))
  const t = target(name)
  const t0 = performance.now()
  try {
    const label = t.run(input)
    const first = performance.now() - t0
    const times: number[] = []
    for (let i = 0; i < 20; i++) {
      const t1 = performance.now()
      t.run(input)
      times.push(performance.now() - t1)
    }
    times.sort((a, b) => a - b)
    console.log(`${name}: ${label} — first run ${first.toFixed(2)} ms, then 20 runs: min ${times[0]?.toFixed(2)} ms, median ${times[10]?.toFixed(2)} ms`)
  } catch (e) {
    const kind = bugKind(e)
    console.log(`${name}: ${kind === undefined ? 'DecodeError (rejected, fine)' : `BUG ${kind}`} after ${(performance.now() - t0).toFixed(2)} ms`)
    console.log(e)
    if (kind !== undefined) process.exitCode = 1
  }
}

function worstCaseTable(): void {
  console.log('| input | target | octets | outcome | min ms (warm) | allocated |')
  console.log('|---|---|---:|---|---:|---:|')
  for (const r of measureWorstCases()) {
    const alloc = r.allocBytes === undefined ? '—' : `${(r.allocBytes / 2 ** 20).toFixed(1)} MiB (${(r.allocBytes / r.bytes).toFixed(0)}×)`
    console.log(`| ${r.name} | ${r.target} | ${fmt(r.bytes)} | ${r.outcome} | ${r.ms.toFixed(2)} | ${alloc} |`)
  }
}

if (isMainThread) {
  const o = parseArgs(process.argv.slice(2))
  if (o.repro !== undefined) repro(o.repro, o.target ?? 'datagram')
  else if (o.worstCase === true) worstCaseTable()
  else supervise(o)
} else {
  const d = workerData as { o: Options; ctl: Int32Array; current: Uint8Array }
  workerMain(d.o, d.ctl, d.current)
}
