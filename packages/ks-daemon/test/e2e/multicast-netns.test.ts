// Multicast rekey on one L2 segment: a Linux bridge inside a network namespace, the key server and three
// GMs each in their own namespace on veth pairs (10.77.0.0/24). The key server (the gdoi-ks CLI) sends
// ONE push to the group address 239.192.1.1; every GM (a test GM process that joined the group)
// verifies and installs it. Needs root and iproute2; skipped otherwise. Everything created is deleted.
import t from 'tap'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ksYaml, PSK, GROUP_NUMBER } from '../helpers/ks-fixture.js'
import { KS_CLI, REPO, runCli, startDaemon, type Daemon } from './helpers/spawn.js'
import { until } from './helpers/lab.js'
import type { KsStatus } from '../../src/status.js'

const GM_SCRIPT = join(REPO, 'packages/ks-daemon/test/e2e/helpers/gm-process.ts')
const GROUP_ADDRESS = '239.192.1.1'
const PREFIX = `gks${process.pid}`
const SW = `${PREFIX}-sw`
const NODES = [
  { ns: `${PREFIX}-ks`, veth: 'v-ks', address: '10.77.0.1' },
  { ns: `${PREFIX}-gm1`, veth: 'v-gm1', address: '10.77.0.11' },
  { ns: `${PREFIX}-gm2`, veth: 'v-gm2', address: '10.77.0.12' },
  { ns: `${PREFIX}-gm3`, veth: 'v-gm3', address: '10.77.0.13' },
] as const

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)'
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (ip) not installed'
  return undefined
}

function setUp(): void {
  ip('netns', 'add', SW)
  ip('-n', SW, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0')
  ip('-n', SW, 'link', 'set', 'br0', 'up')
  for (const n of NODES) {
    ip('netns', 'add', n.ns)
    ip('-n', SW, 'link', 'add', n.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.ns)
    ip('-n', SW, 'link', 'set', n.veth, 'master', 'br0')
    ip('-n', SW, 'link', 'set', n.veth, 'up')
    ip('-n', n.ns, 'link', 'set', 'lo', 'up')
    ip('-n', n.ns, 'addr', 'add', `${n.address}/24`, 'dev', 'eth0')
    ip('-n', n.ns, 'link', 'set', 'eth0', 'up')
    ip('-n', n.ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')
  }
}

function tearDown(): void {
  for (const ns of [SW, ...NODES.map((n) => n.ns)]) spawnSync('ip', ['netns', 'del', ns])
}

const skip = skipReason()
t.test('multicast rekey: one push to the group reaches three GMs on one bridge', { skip: skip ?? false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gdoi-ks-mcast-'))
  const procs: Daemon[] = []
  t.teardown(() => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL')
    tearDown()
    rmSync(dir, { recursive: true, force: true })
  })
  tearDown() // leftovers of a crashed earlier run with the same pid
  setUp()
  const sock = join(dir, 'ks.sock')
  const cfg = join(dir, 'ks.yaml')
  writeFileSync(
    cfg,
    ksYaml({ listen: '10.77.0.1', stateDir: join(dir, 'state'), controlSocket: sock, transport: 'multicast', multicastAddress: GROUP_ADDRESS, ack: 'none', retransmitCount: 0, retransmitPeriodSec: 1 }).replace(
      'log: { level: debug, format: json }',
      'log: { level: info, format: json }',
    ),
  )
  const ks = startDaemon(KS_CLI, ['run', '--config', cfg], ['ip', 'netns', 'exec', NODES[0].ns])
  procs.push(ks)
  await ks.waitForLine((l) => l['msg'] === 'control socket ready', 60_000)

  // tcpdump on the bridge counts the pushes to the group (when tcpdump is there)
  let dump: ReturnType<typeof spawn> | undefined
  let dumped = ''
  if (spawnSync('tcpdump', ['--version']).status === 0) {
    dump = spawn('ip', ['netns', 'exec', SW, 'tcpdump', '-l', '-n', '-i', 'br0', `udp and dst host ${GROUP_ADDRESS}`], { stdio: ['ignore', 'pipe', 'ignore'] })
    dump.stdout?.on('data', (c: Buffer) => (dumped += c.toString()))
  }

  const gms = NODES.slice(1).map((n) => {
    const d = startDaemon(GM_SCRIPT, ['--ks', '10.77.0.1', '--address', n.address, '--group', GROUP_ADDRESS, '--psk', PSK, '--number', String(GROUP_NUMBER)], ['ip', 'netns', 'exec', n.ns])
    procs.push(d)
    return d
  })
  const regs = await Promise.all(gms.map((g) => g.waitForLine((l) => l['event'] === 'registered' || l['event'] === 'failed', 60_000)))
  t.same(regs.map((r) => r['event']), ['registered', 'registered', 'registered'], 'three GMs registered (unicast PULL)')
  t.same(regs.map((r) => r['sakDst']), [GROUP_ADDRESS, GROUP_ADDRESS, GROUP_ADDRESS], 'SAK DST ID = the group address')

  const rk = runCli(KS_CLI, ['rekey', '--group', 'GETVPN-GRP', '--socket', sock])
  t.equal(rk.status, 0, rk.stderr)
  const pushes = await Promise.all(gms.map((g) => g.waitForLine((l) => l['event'] === 'push', 20_000)))
  t.same(pushes.map((p) => p['seq']), [1, 1, 1], 'every GM verified and installed push SEQ 1')
  t.equal(new Set(pushes.map((p) => JSON.stringify([p['teks'], p['keys']]))).size, 1, 'identical TEKs and keys on the three GMs')
  t.equal((pushes[0]?.['teks'] as number[]).length, 2, 'old and new TEK installed')

  await new Promise((r) => setTimeout(r, 1500)) // the (zero) retransmissions are over
  const st = JSON.parse(runCli(KS_CLI, ['status', '--json', '--socket', sock]).stdout) as KsStatus
  t.equal(st.groups[0]?.transport, 'multicast')
  t.equal(st.counters['rekey.sent'], 1)
  t.equal(st.counters['rekey.datagrams'], 1, 'the key server sent exactly one push datagram')
  t.equal(st.groups[0]?.members.length, 3)
  if (dump !== undefined) {
    await until('tcpdump output', () => dumped.includes(GROUP_ADDRESS), 5000).catch(() => {})
    const lines = dumped.split('\n').filter((l) => l.includes(`> ${GROUP_ADDRESS}.848`))
    t.equal(lines.length, 1, `tcpdump on the bridge saw one datagram to the group: ${lines.join(' | ')}`)
    dump.kill('SIGTERM')
  } else t.comment('tcpdump not installed: wire check skipped')

  for (const g of gms) g.child.kill('SIGTERM')
  ks.child.kill('SIGTERM')
  t.equal(await ks.exited, 0, 'key server stopped cleanly')
})
