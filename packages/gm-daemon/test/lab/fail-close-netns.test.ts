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
import { join } from 'node:path'
import { labEnv, labSkipReason, REPO } from '../helpers/netns-lab.js'

const SCRIPT = join(REPO, 'lab/fail-close.sh')
const LAB_ID = `fc${process.pid}`.slice(0, 12)
const env = labEnv(LAB_ID, /^FAIL_CLOSE_/)

const skipReason = (): string | undefined => labSkipReason(['tcpdump', 'ping', 'jq'])

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
