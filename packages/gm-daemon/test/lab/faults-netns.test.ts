// Faults in the reference lab (lab/faults.sh, issue #6 "Faults"): with continuous pings between the sites,
// SIGKILL and restart of the key server (SEQ kept, next push accepted, no re-registration), 30 % loss and
// reordering on the control plane (every GM re-registers and holds every rekey before its keys expire),
// a blackout of Middle-Man across a rekey longer than the push retransmission window (every GM
// re-registers before its TEK expires, traffic flows again), SIGKILL and restart of a GM (it registers,
// traffic through it resumes). The script reads the daemons' status, logs and the pings; every check must
// pass. About 3 minutes, more on a loaded machine (the GMs register through the 30 % loss with a 3 s
// retransmission timer, lab/config/faults), hence a file timeout above tap's 300 s. A lab id of its own
// (namespaces gdoi-f<pid>-*), so it runs beside other labs.
// Skipped with the reason without root, `ip netns`, /dev/net/tun, the tools the script uses, or a build.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { labEnv, labSkipReason, REPO } from '../helpers/netns-lab.js'

const SCRIPT = join(REPO, 'lab/faults.sh')
const LAB_ID = `f${process.pid}`.slice(0, 12)
const env = labEnv(LAB_ID, /^FAULTS_/)

t.setTimeout(540_000) // the runner's per-file limit (.taprc: 300 s), for this file only

const skipReason = (): string | undefined => labSkipReason(['tcpdump', 'ping', 'jq'])

t.test('lab/faults.sh: KS and GM SIGKILL, control-plane loss, blackout across a rekey', { skip: skipReason() ?? false, timeout: 530_000 }, async (t) => {
  t.teardown(() => {
    // the script tears its lab down itself; this is for a run killed by the timeout
    spawnSync('bash', [SCRIPT, 'down'], { cwd: REPO, env, stdio: 'ignore', timeout: 60_000 })
  })
  const r = spawnSync('bash', [SCRIPT], { cwd: REPO, env, encoding: 'utf8', timeout: 500_000, killSignal: 'SIGTERM', maxBuffer: 32 << 20 })
  const lines = r.stdout.split('\n')
  for (const l of lines) if (/^(FAIL|==|\| )/.test(l)) t.comment(l)
  t.same(lines.filter((l) => l.startsWith('FAIL')), [], 'every fault check passed')
  t.match(r.stdout, /^== \d+ passed, 0 failed/m, 'summary')
  for (const s of ['KS SIGKILL + restart', '30 % loss + reorder', 'blackout', 'GM-3 SIGKILL + restart']) {
    t.match(r.stdout, new RegExp(`^\\| ${s.replace(/[+%]/g, '\\$&')}.*\\| \\d+ \\| \\d+ \\| [\\d.]+ \\|`, 'm'), `table row: ${s}`)
  }
  t.equal(r.status, 0, `lab/faults.sh exit status${r.signal !== null ? ` (killed: ${r.signal})` : ''}`)
  if (r.status !== 0) t.comment(r.stderr.split('\n').slice(-30).join('\n'))
  t.notOk(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes(`gdoi-${LAB_ID}-`), 'no namespace of the lab left')
  t.notOk(existsSync(`/run/gdoi-${LAB_ID}`), 'run directory removed')
})
