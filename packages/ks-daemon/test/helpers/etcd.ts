// A throw-away etcd cluster for tests: `etcd` (Debian's etcd-server) started by the test, members on
// 127.0.0.1 with free ports, data in a temp directory, killed and removed at the end. Tests skip with
// a reason when the binary is not installed (`etcdMissing()`).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const ETCD_BIN = process.env['GDOI_ETCD_BIN'] ?? 'etcd'

/** Why etcd tests cannot run here, or false. */
export function etcdMissing(): string | false {
  const r = spawnSync(ETCD_BIN, ['--version'], { encoding: 'utf8' })
  if (r.error !== undefined || r.status !== 0) return `${ETCD_BIN} is not installed (apt-get install etcd-server; scripts/setup-debian.sh does it)`
  return false
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      const port = typeof a === 'object' && a !== null ? a.port : 0
      s.close(() => resolve(port))
    })
  })
}

interface Member {
  readonly name: string
  readonly client: number
  readonly peer: number
  proc: ChildProcess | undefined
  log: string
}

export class EtcdCluster {
  readonly dir: string
  readonly members: Member[] = []
  #started = false

  private constructor(dir: string) {
    this.dir = dir
  }

  /** Starts `size` members and waits until the cluster answers. */
  static async start(size = 1): Promise<EtcdCluster> {
    const c = new EtcdCluster(mkdtempSync(join(tmpdir(), 'gdoi-etcd-')))
    for (let i = 1; i <= size; i++) c.members.push({ name: `m${i}`, client: await freePort(), peer: await freePort(), proc: undefined, log: '' })
    for (let i = 0; i < size; i++) c.startMember(i)
    c.#started = true
    await c.waitHealthy()
    return c
  }

  get endpoints(): string[] {
    return this.members.map((m) => `http://127.0.0.1:${m.client}`)
  }

  startMember(i: number): void {
    const m = this.members[i]
    if (m === undefined) throw new Error(`no member ${i}`)
    const initial = this.members.map((x) => `${x.name}=http://127.0.0.1:${x.peer}`).join(',')
    const args = [
      '--name', m.name,
      '--data-dir', join(this.dir, m.name),
      '--listen-client-urls', `http://127.0.0.1:${m.client}`,
      '--advertise-client-urls', `http://127.0.0.1:${m.client}`,
      '--listen-peer-urls', `http://127.0.0.1:${m.peer}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peer}`,
      '--initial-cluster', initial,
      '--initial-cluster-state', this.#started ? 'existing' : 'new',
      '--initial-cluster-token', 'gdoi-test',
      '--heartbeat-interval', '50',
      '--election-timeout', '500',
      '--logger', 'zap',
      '--log-level', 'error',
    ]
    const proc = spawn(ETCD_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    proc.stderr?.setEncoding('utf8')
    proc.stderr?.on('data', (d: string) => {
      m.log = (m.log + d).slice(-4000)
    })
    m.proc = proc
  }

  /** SIGKILL one member. */
  async killMember(i: number): Promise<void> {
    const m = this.members[i]
    const p = m?.proc
    if (m === undefined || p === undefined || p.exitCode !== null) return
    const done = new Promise<void>((resolve) => p.once('exit', () => resolve()))
    p.kill('SIGKILL')
    await done
    m.proc = undefined
  }

  /** Stops (SIGSTOP) or resumes (SIGCONT) every member: etcd unreachable without losing data. */
  pauseAll(paused: boolean): void {
    for (const m of this.members) m.proc?.kill(paused ? 'SIGSTOP' : 'SIGCONT')
  }

  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    const end = Date.now() + timeoutMs
    for (;;) {
      const alive = this.members.filter((m) => m.proc !== undefined)
      const ok = alive.length > 0 && alive.every((m) => spawnSync('etcdctl', ['--endpoints', `http://127.0.0.1:${m.client}`, '--command-timeout=1s', 'endpoint', 'health'], { env: { ...process.env, ETCDCTL_API: '3' }, encoding: 'utf8' }).status === 0)
      if (ok) return
      if (Date.now() > end) throw new Error(`etcd did not become healthy: ${this.members.map((m) => m.log.slice(-500)).join('\n')}`)
      await new Promise((r) => setTimeout(r, 200))
    }
  }

  async close(): Promise<void> {
    for (let i = 0; i < this.members.length; i++) {
      this.members[i]?.proc?.kill('SIGCONT')
      await this.killMember(i)
    }
    rmSync(this.dir, { recursive: true, force: true })
  }
}
