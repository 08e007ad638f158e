// Fail-close against the real kernel (lab/fail-close.sh, README "Fail-close"): the netns lab with every
// GM `dataPlane.failClose: true`, pings crossing site1 <-> site2; GM-2 gets SIGKILL, stays dead 3 s and
// is started again: tcpdump on Middle-Man sees 0 echo requests between the sites in clear from the kill
// to the re-registration, the blackholes survive the kill, the new process keeps them and registers,
// the sites talk ESP again. For contrast the same kill of a fail-open GM-2 leaks (> 0 in clear). About
// 30 s. A lab id of its own (namespaces gdoi-fc<pid>-*), so it runs beside other labs.
// Skipped with the reason without root, `ip netns`, /dev/net/tun, the tools the script uses, or a build.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'

const REPO = resolve(import.meta.dirname, '../../../..')
const SCRIPT = join(REPO, 'lab/fail-close.sh')
const LAB_ID = `fc${process.pid}`.slice(0, 12)
// The lab's daemons and every `gdoi-gm status` it runs are plain node processes of the build: tap's
// loader and coverage hooks (NODE_OPTIONS, NODE_V8_COVERAGE) would make each one start several times slower.
const env: NodeJS.ProcessEnv = { GDOI_LAB_ID: LAB_ID, GDOI_LAB_RUN: `/run/gdoi-${LAB_ID}` }
for (const [k, v] of Object.entries(process.env)) if (!/^(NODE_OPTIONS|NODE_V8_COVERAGE|TAP|_TAP|FAIL_CLOSE_|GDOI_LAB_)/.test(k) && !(k in env)) env[k] = v

const has = (cmd: string, ...args: string[]): boolean => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0

function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'Linux network namespaces only'
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, TUN devices, UDP 848)'
  if (!has('ip', 'netns', 'list')) return '`ip netns` not available (iproute2)'
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun'
  for (const tool of ['tcpdump', 'ping', 'jq']) if (!has('sh', '-c', `command -v ${tool}`)) return `${tool} not installed (scripts/setup-debian.sh)`
  for (const f of ['packages/ks-daemon/dist/cli.js', 'packages/gm-daemon/dist/cli.js', 'packages/gm-daemon/build/Release/gdoi_native.node']) {
    if (!existsSync(join(REPO, f))) return `${f} missing: pnpm build (and the gm-daemon addon) first`
  }
  return undefined
}

t.test('lab/fail-close.sh: a fail-close GM killed with SIGKILL leaks nothing, comes back encrypted', { skip: skipReason() ?? false, timeout: 170_000 }, async (t) => {
  t.teardown(() => {
    // the script tears its lab down itself; this is for a run killed by the timeout
    spawnSync('bash', [SCRIPT, 'down'], { cwd: REPO, env, stdio: 'ignore', timeout: 60_000 })
  })
  const r = spawnSync('bash', [SCRIPT], { cwd: REPO, env, encoding: 'utf8', timeout: 160_000, killSignal: 'SIGTERM', maxBuffer: 32 << 20 })
  const lines = r.stdout.split('\n')
  for (const l of lines) if (/^(PASS|FAIL|==|\| )/.test(l)) t.comment(l)
  t.same(lines.filter((l) => l.startsWith('FAIL')), [], 'every check passed')
  t.match(r.stdout, /^== \d+ passed, 0 failed/m, 'summary')
  t.match(r.stdout, /^\| fail-close GM-2 SIGKILL, restart \| \d+ \| 0 \|$/m, 'fail-close: 0 echo requests in clear on Middle-Man')
  t.match(r.stdout, /^\| fail-open GM-2 SIGKILL \(contrast; not restarted\) \| \d+ \| [1-9]\d* \|$/m, 'fail-open, same kill: some in clear')
  t.equal(r.status, 0, `lab/fail-close.sh exit status${r.signal !== null ? ` (killed: ${r.signal})` : ''}`)
  if (r.status !== 0) t.comment(r.stderr.split('\n').slice(-30).join('\n'))
  t.notOk(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes(`gdoi-${LAB_ID}-`), 'no namespace of the lab left')
  t.notOk(existsSync(`/run/gdoi-${LAB_ID}`), 'run directory removed')
})
