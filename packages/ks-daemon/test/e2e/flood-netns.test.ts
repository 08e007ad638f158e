// A short flood of spoofed MM1s in network namespaces (`lab/flood.sh`, RELIABILITY.md "Floods"): the
// netns lab, a flood namespace linked to the key server's, 5 s of MM1s at full speed from random
// 198.18.0.0/15 sources while the three GMs restart and register. Asserts what must hold whatever the
// machine: every registration completes, the half-open count never exceeds the cap, and the flood
// reached the key server (it evicted or dropped MM1s). Speed is measured by `bench/run.sh flood`, not
// asserted. About a minute. Needs root, iproute2, gcc, jq, curl, the built daemons and the gm-daemon
// addon (TUN); skipped otherwise with the reason.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO } from './helpers/spawn.js'

const LAB_ID = `fci${process.pid % 100_000}`

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, TUN, a raw socket)'
  for (const [cmd, arg, pkg] of [['ip', '-V', 'iproute2'], ['gcc', '--version', 'gcc'], ['jq', '--version', 'jq'], ['curl', '--version', 'curl']] as const) {
    if (spawnSync(cmd, [arg]).status !== 0) return `${cmd} is not installed (${pkg}; scripts/setup-debian.sh)`
  }
  if (!existsSync(join(REPO, 'packages/ks-daemon/dist/cli.js')) || !existsSync(join(REPO, 'packages/gm-daemon/dist/cli.js'))) return 'the daemons are not built (pnpm build)'
  if (!existsSync(join(REPO, 'packages/gm-daemon/build/Release/gdoi_native.node'))) return 'the gm-daemon addon is not built (TUN)'
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun'
  return undefined
}

interface FloodJson {
  ok: boolean
  halfOpenCap: number
  baseline: { allRegisteredMs: number[] }
  flood: { allRegisteredMs: number[]; sentPps: number[]; ksReceivedPps: number[]; halfOpenMax: number[]; evictions: number[]; mm1DroppedAtCap: number[]; ksRssMaxKb: number[] }
}

t.test('lab/flood.sh: 5 s of spoofed MM1s while three GMs register', { skip: skipReason() ?? false, timeout: 170_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gdoi-flood-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const json = join(dir, 'flood.json')
  const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
    const p = spawn('bash', [join(REPO, 'lab/flood.sh'), '--runs', '1', '--warmup', '2', '--flood-sec', '5', '--timeout', '100', '--json', json], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, GDOI_LAB_ID: LAB_ID, GDOI_LAB_RUN: `/run/gdoi-${LAB_ID}` },
    })
    let text = ''
    p.stdout.setEncoding('utf8').on('data', (d: string) => (text += d))
    p.stderr.setEncoding('utf8').on('data', (d: string) => (text += d))
    const timer = setTimeout(() => p.kill('SIGTERM'), 160_000)
    p.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, text })
    })
  })
  for (const line of out.text.split('\n')) if (/^(baseline|flood) run|^ {2}\w/.test(line)) t.comment(line)
  t.equal(out.code, 0, out.code === 0 ? 'lab/flood.sh exited 0' : out.text.slice(-3000))
  if (!existsSync(json)) return
  const r = JSON.parse(readFileSync(json, 'utf8')) as FloodJson
  t.equal(r.ok, true, 'every registration completed')
  t.equal(r.baseline.allRegisteredMs.length, 1, 'the three GMs registered without the flood')
  t.equal(r.flood.allRegisteredMs.length, 1, 'the three GMs registered with the flood')
  t.ok(r.flood.sentPps[0]! > 0, `the flooder sent (${r.flood.sentPps[0]} MM1/s)`)
  t.ok(r.flood.ksReceivedPps[0]! > 0, `the key server received (${r.flood.ksReceivedPps[0]}/s)`)
  t.ok(r.flood.halfOpenMax[0]! <= r.halfOpenCap, `half-open SAs never above the cap (max ${r.flood.halfOpenMax[0]}, cap ${r.halfOpenCap})`)
  t.ok(r.flood.evictions[0]! + r.flood.mm1DroppedAtCap[0]! + r.flood.halfOpenMax[0]! > 0, 'the flood reached the half-open table')
  t.notOk(spawnSync('ip', ['netns', 'list']).stdout.toString().includes(`gdoi-${LAB_ID}-`), 'its namespaces are gone')
})
