// Fail-close against the real kernel (lab/fail-close.sh, README "Fail-close"): the netns lab with every
// GM `dataPlane.failClose: true`, pings crossing site1 <-> site2; GM-2 gets SIGKILL, stays dead 3 s and
// is started again: tcpdump on Middle-Man sees 0 echo requests between the sites in clear from the kill
// to the re-registration, the blackholes survive the kill, the new process keeps them and registers,
// the sites talk ESP again. For contrast the same kill of a fail-open GM-2 leaks (> 0 in clear). About
// 30 s. A lab id of its own (namespaces gdoi-fc<pid>-*), so it runs beside other labs.
// Skipped with the reason without root, `ip netns`, /dev/net/tun, the tools the script uses, or a build.
import t from 'tap'
import { join } from 'node:path'
import { assertChecksPassed, assertCleanExit, labEnv, labSkipReason, REPO, runLabScript } from '../helpers/netns-lab.js'

const SCRIPT = join(REPO, 'lab/fail-close.sh')
const LAB_ID = `fc${process.pid}`.slice(0, 12)
const RUN = { script: SCRIPT, labId: LAB_ID, env: labEnv(LAB_ID, /^FAIL_CLOSE_/) }

const skipReason = (): string | undefined => labSkipReason(['tcpdump', 'ping', 'jq'])

t.test('lab/fail-close.sh: a fail-close GM killed with SIGKILL leaks nothing, comes back encrypted', { skip: skipReason() ?? false, timeout: 170_000 }, async (t) => {
  const { r, lines } = runLabScript(t, RUN, 160_000, /^(PASS|FAIL|==|\| )/)
  assertChecksPassed(t, lines, r.stdout, 'every check passed')
  t.match(r.stdout, /^\| fail-close GM-2 SIGKILL, restart \| \d+ \| 0 \|$/m, 'fail-close: 0 echo requests in clear on Middle-Man')
  t.match(r.stdout, /^\| fail-open GM-2 SIGKILL \(contrast; not restarted\) \| \d+ \| [1-9]\d* \|$/m, 'fail-open, same kill: some in clear')
  assertCleanExit(t, RUN, r)
})
