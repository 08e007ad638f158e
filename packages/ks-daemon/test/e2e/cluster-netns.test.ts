// Key-server redundancy on etcd in network namespaces: `lab/cluster.sh test` (three etcd members, three
// gdoi-ks, three gdoi-gm with TUN and site hosts, continuous pings; SIGKILL of the primary, SIGKILL of an
// etcd member, the primary cut off from etcd, restart of everything — see the script's header). About
// 2.5 minutes. Needs root, iproute2, etcd, jq, ping, the built daemons (pnpm build) and the gm-daemon
// addon; skipped otherwise with the reason.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { REPO } from './helpers/spawn.js'

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, TUN)'
  for (const [cmd, arg, pkg] of [['ip', '-V', 'iproute2'], ['etcd', '--version', 'etcd-server'], ['etcdctl', 'version', 'etcd-client'], ['jq', '--version', 'jq'], ['ping', '-V', 'iputils-ping']] as const) {
    if (spawnSync(cmd, [arg], { env: { ...process.env, ETCDCTL_API: '3' } }).status !== 0) return `${cmd} is not installed (${pkg}; scripts/setup-debian.sh)`
  }
  if (!existsSync(join(REPO, 'packages/ks-daemon/dist/store/etcd-store.js')) || !existsSync(join(REPO, 'packages/gm-daemon/dist/cli.js'))) return 'the daemons are not built (pnpm build)'
  if (!existsSync(join(REPO, 'packages/gm-daemon/build/Release/gdoi_native.node'))) return 'the gm-daemon addon is not built (TUN)'
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun'
  if (spawnSync('ip', ['netns', 'list']).stdout?.toString().includes('gdoi-cl-')) return 'a gdoi-cl-* lab is up already (lab/cluster.sh down)'
  return undefined
}

t.test('lab/cluster.sh test: failover, fencing, etcd loss, restart — zero pings lost', { skip: skipReason() ?? false, timeout: 290_000 }, async (t) => {
  const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
    const p = spawn('bash', [join(REPO, 'lab/cluster.sh'), 'test'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GDOI_CL_RUN: `/run/gdoi-cl-${process.pid}` } })
    let text = ''
    p.stdout.setEncoding('utf8').on('data', (d: string) => (text += d))
    p.stderr.setEncoding('utf8').on('data', (d: string) => (text += d))
    const timer = setTimeout(() => p.kill('SIGTERM'), 280_000)
    p.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, text })
    })
  })
  for (const line of out.text.split('\n')) {
    if (line.startsWith('ok - ')) t.pass(line.slice(5))
    else if (line.startsWith('not ok - ')) t.fail(line.slice(9))
    else if (line.startsWith('#')) t.comment(line.slice(2))
  }
  t.match(out.text, /\n\d+ passed, 0 failed\n/, 'every check of the scenario passed')
  t.equal(out.code, 0, out.code === 0 ? 'lab/cluster.sh test exited 0' : out.text.slice(-3000))
})
