// Registration storm spread over key servers that share one etcd (packages/ks-daemon README "Clustering
// on etcd"); bench/README.md "Storm over two key servers". Run with `bench/run.sh cluster-storm`.
//
// For each layout — one key server on etcd, two key servers on etcd (the GMs split half and half, as GET
// VPN GMs spread over their key-server lists) — and each run: a fresh single-member etcd (started here,
// `etcd` from Debian's etcd-server), fresh `gdoi-ks` processes (dist/), then N simulated GMs
// (`gdoi-gm simulate`, one process per key server, started together). Figure: N / (time until the last
// GM of all simulators registered). Medians over --runs. Everything on loopback 127.0.0.0/8.
//
// --ks-cpu FRACTION (root) emulates "each key server on a machine of its own" on a small host: every
// gdoi-ks process goes into a cgroup of its own with a CPU quota of FRACTION of one CPU, so the key
// servers, not the simulators or etcd (which share what is left), bound the storm, and one vs two key
// servers shows the wall-clock scaling. Each run reports every key server's CPU seconds / wall (≈ the
// fraction when the quota is the bottleneck) and the share of quota periods it was throttled in.
//
//   node … packages/ks-daemon/bench/cluster-storm.ts [--count 2000] [--runs 3] [--concurrency 64] [--servers 1,2] [--ks-cpu 0.35] [--json F]
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { controlRequest } from '@gdoi/daemon-kit'
import { EtcdCluster, etcdMissing } from '../test/helpers/etcd.ts'
import type { SimulateResult } from '../../gm-daemon/src/simulate.ts'

const ROOT = resolve(import.meta.dirname, '../../..')
const KS_BIN = join(ROOT, 'packages/ks-daemon/bin/gdoi-ks.js')
const GM_BIN = join(ROOT, 'packages/gm-daemon/bin/gdoi-gm.js')
const PSK = 'BENCH-PSK-not-a-secret'

const argv = process.argv.slice(2)
const opt = (name: string, dflt: string): string => {
  const i = argv.indexOf(name)
  return i >= 0 ? (argv[i + 1] ?? dflt) : dflt
}
const COUNT = Number(opt('--count', '2000'))
const RUNS = Number(opt('--runs', '3'))
const CONCURRENCY = Number(opt('--concurrency', '64'))
const LAYOUTS = opt('--servers', '1,2').split(',').map(Number)
const JSON_OUT = opt('--json', '')
/** CPU quota per key server as a fraction of one CPU; 0 = no quota (the default). */
const KS_CPU = Number(opt('--ks-cpu', '0'))

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** CPU seconds (user + system) a process has used so far (/proc/PID/stat, 100 ticks/s). */
function cpuSec(pid: number | undefined): number {
  if (pid === undefined) return 0
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(f[11]) + Number(f[12])) / 100
}

// --- CPU quota per key server (cgroup v1 "cpu" controller, or cgroup v2 cpu.max) ----------------------

const CG_V1 = '/sys/fs/cgroup/cpu'
const CG_V2 = '/sys/fs/cgroup'
const CFS_PERIOD_US = 100_000

type CgroupKind = 'v1' | 'v2'

/** Which cgroup interface can cap a process's CPU here, or why none can. */
function cgroupKind(): CgroupKind | string {
  if (existsSync(join(CG_V1, 'cpu.cfs_quota_us'))) return 'v1'
  if (existsSync(join(CG_V2, 'cgroup.controllers'))) {
    const controllers = readFileSync(join(CG_V2, 'cgroup.controllers'), 'utf8').split(/\s+/)
    if (controllers.includes('cpu')) return 'v2'
    return `cgroup v2 at ${CG_V2} has no cpu controller (cgroup.controllers: ${controllers.join(' ').trim() || 'empty'})`
  }
  return `neither cgroup v1 (${CG_V1}/cpu.cfs_quota_us) nor cgroup v2 (${CG_V2}/cgroup.controllers) is mounted`
}

/** Cgroups this process created and has not removed yet (removed on exit, also on SIGINT/SIGTERM). */
const liveCgroups = new Set<string>()
/** What an interrupted run must not leave behind: key servers and simulators (SIGKILLed), the etcd of
 *  the run and the temp directories. */
const liveChildren = new Set<ChildProcess>()
const liveEtcd = new Set<EtcdCluster>()
const liveDirs = new Set<string>()

function track(proc: ChildProcess): void {
  liveChildren.add(proc)
  proc.once('exit', () => liveChildren.delete(proc))
}

/** A cgroup of its own for one key server, capped at KS_CPU of one CPU; returns its directory. */
function capCpu(kind: CgroupKind, pid: number, name: string): string {
  const quota = Math.round(KS_CPU * CFS_PERIOD_US)
  if (kind === 'v1') {
    const dir = join(CG_V1, name)
    mkdirSync(dir)
    liveCgroups.add(dir)
    writeFileSync(join(dir, 'cpu.cfs_period_us'), String(CFS_PERIOD_US))
    writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quota))
    writeFileSync(join(dir, 'cgroup.procs'), String(pid))
    return dir
  }
  const sub = readFileSync(join(CG_V2, 'cgroup.subtree_control'), 'utf8')
  if (!sub.split(/\s+/).includes('cpu')) writeFileSync(join(CG_V2, 'cgroup.subtree_control'), '+cpu')
  const dir = join(CG_V2, name)
  mkdirSync(dir)
  liveCgroups.add(dir)
  writeFileSync(join(dir, 'cpu.max'), `${quota} ${CFS_PERIOD_US}`)
  writeFileSync(join(dir, 'cgroup.procs'), String(pid))
  return dir
}

/** Throttling counters of a capped cgroup: quota periods elapsed and periods the group was throttled in. */
function throttling(dir: string): { periods: number; throttled: number } {
  const stat = readFileSync(join(dir, 'cpu.stat'), 'utf8')
  const field = (k: string): number => Number(new RegExp(`^${k} (\\d+)`, 'm').exec(stat)?.[1] ?? 0)
  return { periods: field('nr_periods'), throttled: field('nr_throttled') }
}

/** Removes a cgroup: any process still in it goes back to the root group first, so rmdir cannot fail on
 *  a straggler; a just-exited process may keep the group busy for a moment, hence the retries. */
function removeCgroup(dir: string): void {
  if (!existsSync(dir)) {
    liveCgroups.delete(dir)
    return
  }
  const root = dir.startsWith(CG_V1 + '/') ? CG_V1 : CG_V2
  for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
    try {
      writeFileSync(join(root, 'cgroup.procs'), pid)
    } catch {
      // exited meanwhile
    }
  }
  for (let i = 0; ; i++) {
    try {
      rmdirSync(dir)
      liveCgroups.delete(dir)
      return
    } catch (e) {
      if (i >= 50) throw e
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20)
    }
  }
}

function cleanUpOnExit(): void {
  for (const p of liveChildren) if (p.exitCode === null) p.kill('SIGKILL')
  for (const e of liveEtcd) {
    for (const m of e.members) m.proc?.kill('SIGKILL')
    liveDirs.add(e.dir)
  }
  for (const d of liveDirs) rmSync(d, { recursive: true, force: true })
  for (const dir of [...liveCgroups]) {
    try {
      removeCgroup(dir)
    } catch (e) {
      console.error(`cluster-storm: could not remove ${dir}: ${(e as Error).message}`)
    }
  }
}
process.on('exit', cleanUpOnExit)
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    console.error(`cluster-storm: ${sig}, stopping key servers, simulators and etcd; removing cgroups and temp directories`)
    process.exit(130)
  })
}

function ksYaml(dir: string, n: number, endpoints: readonly string[], kekHex: string, prefix: string): string {
  return `# generated by bench/cluster-storm.ts
listen: { address: 127.0.9.${n}, port: 848 }
stateDir: ${join(dir, `state${n}`)}
controlSocket: ${join(dir, `ks${n}.sock`)}
log: { level: warn, format: json }
ike:
  policies:
    - { priority: 10, encryption: aes-256, hash: sha1, group: 5, authentication: pre-share, lifetimeSec: 86400 }
  preSharedKeys:
    - { peer: 127.0.0.0/8, key: ${PSK} }
limits: { maxHalfOpenSa: 20000 }
groups:
  - name: BENCH
    identity: { number: 1234 }
    acl:
      - { action: permit, protocol: ip, source: 10.1.0.0/16, destination: 10.1.0.0/16 }
    transform: esp-aes 256 esp-sha-hmac
    tekLifetimeSec: 3600
    kek: { algorithm: aes-256-cbc, lifetimeSec: 86400 }
    rekey: { transport: unicast, retransmitPeriodSec: 10, retransmitCount: 2, signingKey: { generate: { bits: 2048, label: BENCH } }, ack: rfc8263 }
store:
  kind: etcd
  endpoints: [${endpoints.join(', ')}]
  prefix: ${prefix}
  keyEncryptionKey: { env: GDOI_BENCH_STORE_KEY }
  leaseTtlSec: 10
  instanceName: ks${n}
`
}

interface Ks {
  readonly proc: ChildProcess
  readonly socket: string
  stderr: string
  /** The key server's own cgroup with --ks-cpu, else undefined. */
  cgroup?: string
}

async function startKs(dir: string, n: number, endpoints: readonly string[], kekHex: string, prefix: string, cg: CgroupKind | undefined): Promise<Ks> {
  const config = join(dir, `ks${n}.yaml`)
  writeFileSync(config, ksYaml(dir, n, endpoints, kekHex, prefix), { mode: 0o600 })
  const proc = spawn(process.execPath, [KS_BIN, '--config', config], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, GDOI_BENCH_STORE_KEY: kekHex } })
  track(proc)
  const ks: Ks = { proc, socket: join(dir, `ks${n}.sock`), stderr: '' }
  // Capped before it has loaded its config, so the whole storm runs under the quota.
  if (cg !== undefined && proc.pid !== undefined) ks.cgroup = capCpu(cg, proc.pid, `gdoi-bench-${process.pid}-ks${n}`)
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (ks.stderr = (ks.stderr + d).slice(-4000)))
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error(`gdoi-ks ${n} exited with ${proc.exitCode}: ${ks.stderr}`)
    try {
      await controlRequest(ks.socket, { cmd: 'status' }, { timeoutMs: 2000 })
      return ks
    } catch {
      await sleep(100)
    }
  }
  throw new Error(`gdoi-ks ${n} did not come up: ${ks.stderr}`)
}

async function stopKs(ks: Ks): Promise<void> {
  if (ks.proc.exitCode !== null) return
  const exited = new Promise<void>((r) => ks.proc.once('exit', () => r()))
  ks.proc.kill('SIGTERM')
  const t = setTimeout(() => ks.proc.kill('SIGKILL'), 20_000)
  await exited
  clearTimeout(t)
}

async function stopAndUncap(ks: Ks): Promise<void> {
  await stopKs(ks)
  if (ks.cgroup !== undefined) removeCgroup(ks.cgroup)
}

function simulate(count: number, ks: string, localBase: string): Promise<SimulateResult> {
  const args = [GM_BIN, 'simulate', '--count', String(count), '--ks', ks, '--local-base', localBase, '--concurrency', String(CONCURRENCY), '--fixed-dh-key', '--json', '--progress-ms', '0']
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GDOI_PSK: PSK } })
  track(proc)
  let out = ''
  let err = ''
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d))
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-2000)))
  return new Promise((resolve, reject) => {
    proc.on('exit', (code) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as SimulateResult)
      } catch {
        reject(new Error(`gdoi-gm simulate exited with ${code} and no result: ${err}`))
      }
    })
  })
}

interface Run {
  readonly servers: number
  readonly count: number
  readonly wallMs: number
  readonly perSec: number
  readonly registered: number
  readonly failed: number
  readonly retransmits: number
  readonly p50: number
  readonly p99: number
  /** CPU seconds the busiest key server used for the storm, and the registration rate that CPU time
   *  allows when every key server has a core of its own (independent of the other load on the host). */
  readonly busiestKsCpuSec: number
  readonly capacityPerSec: number
  /** Per key server: CPU seconds / wall seconds of the registration phase (≈ --ks-cpu when the quota binds). */
  readonly ksCpuShare: readonly number[]
  /** Per key server with --ks-cpu: share of the storm's quota periods in which it was throttled. */
  readonly ksThrottled: readonly number[]
}

async function oneRun(servers: number, cg: CgroupKind | undefined): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'gdoi-cluster-storm-'))
  liveDirs.add(dir)
  const etcd = await EtcdCluster.start(1)
  liveEtcd.add(etcd)
  const kss: Ks[] = []
  try {
    const kek = randomBytes(32).toString('hex')
    for (let n = 1; n <= servers; n++) kss.push(await startKs(dir, n, etcd.endpoints, kek, "/bench/", cg))
    await sleep(500)
    const per = Math.floor(COUNT / servers)
    const cpu0 = kss.map((k) => cpuSec(k.proc.pid))
    const thr0 = kss.map((k) => (k.cgroup !== undefined ? throttling(k.cgroup) : undefined))
    const t0 = Date.now()
    const results = await Promise.all(kss.map((_, i) => simulate(i === servers - 1 ? COUNT - per * (servers - 1) : per, `127.0.9.${i + 1}:848`, `127.${11 + i}.0.1`)))
    const wallMs = Date.now() - t0
    const used = kss.map((k, i) => cpuSec(k.proc.pid) - (cpu0[i] ?? 0))
    const busiest = Math.max(...used)
    const ksThrottled = kss.flatMap((k, i) => {
      const a = thr0[i]
      if (k.cgroup === undefined || a === undefined) return []
      const b = throttling(k.cgroup)
      return [b.periods > a.periods ? (b.throttled - a.throttled) / (b.periods - a.periods) : 0]
    })
    const slowest = Math.max(...results.map((r) => r.registration.elapsedMs))
    const registered = results.reduce((a, r) => a + r.registration.registered, 0)
    return {
      servers,
      count: COUNT,
      wallMs,
      perSec: Math.round((registered / slowest) * 1000),
      registered,
      failed: results.reduce((a, r) => a + r.registration.failed, 0),
      retransmits: results.reduce((a, r) => a + r.registration.retransmits, 0),
      p50: Math.max(...results.map((r) => r.registration.latencyMs.p50)),
      p99: Math.max(...results.map((r) => r.registration.latencyMs.p99)),
      busiestKsCpuSec: busiest,
      capacityPerSec: Math.round(registered / busiest),
      // Over the registration phase (first MM1 to last registration), not the simulators' start-up.
      ksCpuShare: used.map((u) => u / (slowest / 1000)),
      ksThrottled,
    }
  } finally {
    for (const k of kss) await stopAndUncap(k)
    await etcd.close()
    liveEtcd.delete(etcd)
    rmSync(dir, { recursive: true, force: true })
    liveDirs.delete(dir)
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? 0
}

async function main(): Promise<void> {
  const why = etcdMissing()
  if (why !== false) {
    console.error(`cluster-storm: ${why}`)
    process.exit(2)
  }
  let cg: CgroupKind | undefined
  if (process.argv.includes('--ks-cpu')) {
    if (!(KS_CPU > 0 && KS_CPU <= cpus().length)) {
      console.error(`cluster-storm: --ks-cpu: want a fraction of one CPU in (0, ${cpus().length}], got ${opt('--ks-cpu', '(nothing)')}`)
      process.exit(2)
    }
    const kind = cgroupKind()
    if (kind !== 'v1' && kind !== 'v2') {
      console.error(`cluster-storm: --ks-cpu needs a cgroup CPU quota: ${kind}`)
      process.exit(2)
    }
    if (process.getuid?.() !== 0) {
      console.error('cluster-storm: --ks-cpu creates cgroups and needs root')
      process.exit(2)
    }
    cg = kind
  }
  const quota = cg === undefined ? 'no CPU quota' : `each KS capped at ${KS_CPU} CPU (cgroup ${cg})`
  console.error(`cluster-storm: ${COUNT} GMs, ${RUNS} runs per layout, concurrency ${CONCURRENCY} per simulator, ${cpus().length} CPUs, ${quota}`)
  const all: Run[] = []
  for (let run = 1; run <= RUNS; run++) {
    for (const servers of LAYOUTS) {
      const r = await oneRun(servers, cg)
      all.push(r)
      const share = r.ksCpuShare.map((s) => s.toFixed(2)).join(', ')
      const thr = cg === undefined ? '' : `, throttled in ${r.ksThrottled.map((t) => `${Math.round(t * 100)} %`).join(', ')} of periods`
      console.error(`  run ${run}, ${servers} KS: ${r.registered}/${r.count} registered (${r.failed} failed, ${r.retransmits} retransmits) at ${r.perSec}/s, p50 ${r.p50} ms, p99 ${r.p99} ms; busiest KS ${r.busiestKsCpuSec.toFixed(2)} CPU s -> ${r.capacityPerSec}/s with a core per KS; KS CPU/wall ${share}${thr}; load ${loadavg()[0]?.toFixed(1)}`)
    }
  }
  const rows = LAYOUTS.map((servers) => {
    const rs = all.filter((r) => r.servers === servers)
    return { servers, perSec: median(rs.map((r) => r.perSec)), capacity: median(rs.map((r) => r.capacityPerSec)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)), failed: rs.reduce((a, r) => a + r.failed, 0), share: median(rs.flatMap((r) => r.ksCpuShare)) }
  })
  const base = rows[0]?.perSec ?? 1
  const baseCap = rows[0]?.capacity ?? 1
  // With --ks-cpu, one more column: the key servers' CPU seconds / wall (median over runs and servers).
  const capped = cg !== undefined
  console.log(`| key servers (etcd store) | registrations/s measured (median of ${RUNS}) | vs 1 KS | KS-CPU capacity/s (a core per KS) | vs 1 KS | p50 ms | p99 ms | failed |${capped ? ` KS CPU s / wall (quota ${KS_CPU}) |` : ''}`)
  console.log(`|---|---|---|---|---|---|---|---|${capped ? '---|' : ''}`)
  for (const r of rows) console.log(`| ${r.servers} | ${r.perSec} | ${(r.perSec / base).toFixed(2)}× | ${r.capacity} | ${(r.capacity / baseCap).toFixed(2)}× | ${r.p50} | ${r.p99} | ${r.failed} |${capped ? ` ${r.share.toFixed(2)} |` : ''}`)
  if (JSON_OUT !== '') writeFileSync(JSON_OUT, JSON.stringify(all, null, 2))
}

await main()
