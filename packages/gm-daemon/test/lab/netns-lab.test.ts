// The reference lab end to end (lab/netns.sh, LAB.md): KEYS-1, Middle-Man, three GMs and their site
// hosts in network namespaces, the built gdoi-ks / gdoi-gm executables, `up`, `test` (registration, ESP
// with one SPI on Middle-Man, tshark decryption with the key logs, no loss across a TEK rekey, clear
// traffic outside the ACL, MTU, status counters, routing removal) and `down`, which always runs.
// About 90 s. A lab id of its own (namespaces gdoi-t<pid>-*), so it runs beside a user's lab.
// Skipped with the reason without root, `ip netns`, the tools the script uses, or a build.
import t from 'tap'
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { labEnv, labSkipReason, REPO } from '../helpers/netns-lab.js'

const SCRIPT = join(REPO, 'lab/netns.sh')
const LAB_ID = `t${process.pid}`.slice(0, 12)
const env = labEnv(LAB_ID)

const skipReason = (): string | undefined => labSkipReason(['tshark', 'tcpdump', 'ping', 'jq'])

function lab(cmd: 'up' | 'test' | 'down', timeoutMs: number): SpawnSyncReturns<string> {
  return spawnSync('bash', [SCRIPT, cmd], { cwd: REPO, env, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 32 << 20 })
}

t.test('lab/netns.sh up, test, down', { skip: skipReason() ?? false, timeout: 330_000 }, async (t) => {
  let downDone = false
  const down = (): void => {
    if (downDone) return
    downDone = true
    const r = lab('down', 60_000)
    if (r.status !== 0) t.comment(`down: ${r.stderr}`)
  }
  t.teardown(down)
  lab('down', 60_000) // a lab left over by a killed run of this process id

  const up = lab('up', 120_000)
  t.equal(up.status, 0, 'lab up')
  if (up.status !== 0) {
    t.comment(up.stdout, up.stderr)
    return
  }
  t.match(up.stdout, /Registration status\s+:\s+Registered[\s\S]*Registration status\s+:\s+Registered[\s\S]*Registration status\s+:\s+Registered/, '`up` prints three registered GMs')

  const test = lab('test', 200_000)
  const lines = test.stdout.split('\n')
  for (const l of lines) if (l.startsWith('not ok') || l.startsWith('#')) t.comment(l)
  const failed = lines.filter((l) => l.startsWith('not ok'))
  t.same(failed, [], 'every lab check passed')
  t.match(test.stdout, /^\d+ passed, 0 failed$/m, 'summary')
  t.equal(test.status, 0, `lab test exit status${test.signal !== null ? ` (killed: ${test.signal})` : ''}`)
  if (test.status !== 0) t.comment(test.stderr)

  down()
  t.notOk(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes(`gdoi-${LAB_ID}-`), 'no namespace of the lab left')
  t.notOk(existsSync(`/run/gdoi-${LAB_ID}`), 'run directory removed')
})
