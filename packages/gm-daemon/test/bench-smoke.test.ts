// CI smoke run of the scale benchmarks (bench/README.md): `storm` and `fanout` with 20 simulated GMs
// against a real gdoi-ks process, one run each. Asserts that they run to the end and report sane
// figures — never how fast (the machine is shared; the real runs are `bench/run.sh storm|fanout`).
// Needs the built daemons (dist/, `pnpm build`; `pnpm test` builds first).
import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const ROOT = resolve(import.meta.dirname, '../../..')
const SCALE = join(ROOT, 'packages/gm-daemon/bench/scale.ts')
const built = existsSync(join(ROOT, 'packages/ks-daemon/dist/cli.js')) && existsSync(join(ROOT, 'packages/gm-daemon/dist/cli.js'))

/** tap's TypeScript loader, as bench/run.sh uses it. */
const TS_LOADER = join(ROOT, 'node_modules/.pnpm/node_modules/@tapjs/typescript/dist/esm/import.mjs')

function runScale(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawn(process.execPath, ['--conditions=@gdoi/source', `--import=${TS_LOADER}`, SCALE, ...args], {
    cwd: ROOT,
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  return new Promise((r) => p.on('exit', (code) => r({ code, stdout, stderr })))
}

interface StormJson {
  runs: { n: number; ratio: number; ksRegistrations: number; bytesPerGm: number; sim: { registration: { registered: number; failed: number; elapsedMs: number } } }[]
}
interface FanoutJson {
  runs: { n: number; ksAcks: number; sim: { registration: { registered: number }; pushes: { accepted: number; acked: number; complete: boolean; ksAllAckedMs: number | null }[] } }[]
}

t.test('bench storm and fanout run with 20 GMs', { skip: built ? false : 'run pnpm build first (the benchmarks start the built daemons)', timeout: 240_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gdoi-bench-smoke-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))

  const stormOut = join(dir, 'storm.json')
  const storm = await runScale(['storm', '--count', '20', '--runs', '1', '--settle-ms', '0', '--json', stormOut])
  t.equal(storm.code, 0, 'storm exits 0', { stderr: storm.stderr })
  t.match(storm.stdout, /\| 20 \| 1 \|/, 'storm prints its table')
  const s = JSON.parse(readFileSync(stormOut, 'utf8')) as StormJson
  const sr = s.runs[0]
  t.equal(sr?.sim.registration.registered, 20, 'every simulated GM registered')
  t.equal(sr?.sim.registration.failed, 0, 'none failed')
  t.equal(sr?.ksRegistrations, 20, 'the key server counted 20 registrations')
  t.ok((sr?.ratio ?? 0) > 0 && Number.isFinite(sr?.ratio), 'a ratio to the crypto floor')

  const fanoutOut = join(dir, 'fanout.json')
  const fanout = await runScale(['fanout', '--count', '20', '--runs', '1', '--push-delay-ms', '200', '--json', fanoutOut])
  t.equal(fanout.code, 0, 'fanout exits 0', { stderr: fanout.stderr })
  const f = JSON.parse(readFileSync(fanoutOut, 'utf8')) as FanoutJson
  const fr = f.runs[0]
  const push = fr?.sim.pushes[0]
  t.equal(fr?.sim.registration.registered, 20, 'every simulated GM registered')
  t.equal(push?.accepted, 20, 'every GM accepted the push')
  t.equal(push?.acked, 20, 'every GM acknowledged it')
  t.equal(push?.complete, true, 'the push completed')
  t.equal(fr?.ksAcks, 20, 'the key server counted every ACK')
  t.type(push?.ksAllAckedMs, 'number', 'time until every ACK was in')
})
