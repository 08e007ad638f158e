// What the tests that drive a lab script in network namespaces (lab/netns.sh, lab/faults.sh,
// lab/fail-close.sh) share: the environment they give the script, the reasons to skip, and for the
// self-contained scripts the run and the checks every run must pass.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Test } from 'tap'

export const REPO = resolve(import.meta.dirname, '../../../..')

/**
 * The script's environment: a lab id of its own (namespaces gdoi-<id>-*, run directory /run/gdoi-<id>),
 * so it runs beside other labs, and none of tap's loader and coverage hooks — the lab's daemons and every
 * `gdoi-gm status` it runs are plain node processes of the build, and NODE_OPTIONS / NODE_V8_COVERAGE
 * would make each one start several times slower. Variables matching `drop` (the script's own knobs)
 * are not passed either, so a user's shell settings cannot change what the test checks.
 */
export function labEnv(labId: string, drop?: RegExp): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { GDOI_LAB_ID: labId, GDOI_LAB_RUN: `/run/gdoi-${labId}` }
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(NODE_OPTIONS|NODE_V8_COVERAGE|TAP|_TAP|GDOI_LAB_)/.test(k) || drop?.test(k) === true || k in env) continue
    env[k] = v
  }
  return env
}

const has = (cmd: string, ...args: string[]): boolean => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0

/** Why a lab cannot run here (root, `ip netns`, /dev/net/tun, `tools`, the build), or undefined. */
export function labSkipReason(tools: readonly string[]): string | undefined {
  if (process.platform !== 'linux') return 'Linux network namespaces only'
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, TUN devices, UDP 848)'
  if (!has('ip', 'netns', 'list')) return '`ip netns` not available (iproute2)'
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun'
  for (const tool of tools) if (!has('sh', '-c', `command -v ${tool}`)) return `${tool} not installed (scripts/setup-debian.sh)`
  for (const f of ['packages/ks-daemon/dist/cli.js', 'packages/gm-daemon/dist/cli.js', 'packages/gm-daemon/build/Release/gdoi_native.node']) {
    if (!existsSync(join(REPO, f))) return `${f} missing: pnpm build (and the gm-daemon addon) first`
  }
  return undefined
}

/** A self-contained lab script (lab/faults.sh, lab/fail-close.sh): it builds its lab, checks, tears down. */
export interface LabScriptRun {
  readonly script: string
  readonly labId: string
  readonly env: NodeJS.ProcessEnv
}

/**
 * Runs the script (SIGTERM after `timeoutMs`; `down` again on teardown, for a run the timeout killed)
 * and prints its lines that match `echo` as comments. Returns the run and its stdout lines.
 */
export function runLabScript(t: Test, run: LabScriptRun, timeoutMs: number, echo: RegExp): { r: SpawnSyncReturns<string>; lines: string[] } {
  t.teardown(() => {
    spawnSync('bash', [run.script, 'down'], { cwd: REPO, env: run.env, stdio: 'ignore', timeout: 60_000 })
  })
  const r = spawnSync('bash', [run.script], { cwd: REPO, env: run.env, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGTERM', maxBuffer: 32 << 20 })
  const lines = r.stdout.split('\n')
  for (const l of lines) if (echo.test(l)) t.comment(l)
  return { r, lines }
}

/** What every run of such a script must show: no FAIL line, the "== N passed, 0 failed" summary. */
export function assertChecksPassed(t: Test, lines: readonly string[], stdout: string, what: string): void {
  t.same(lines.filter((l) => l.startsWith('FAIL')), [], what)
  t.match(stdout, /^== \d+ passed, 0 failed/m, 'summary')
}

/** …and its end: exit status 0 (the last lines of stderr if not), no namespace and no run directory left. */
export function assertCleanExit(t: Test, run: LabScriptRun, r: SpawnSyncReturns<string>): void {
  const name = run.script.slice(REPO.length + 1)
  t.equal(r.status, 0, `${name} exit status${r.signal !== null ? ` (killed: ${r.signal})` : ''}`)
  if (r.status !== 0) t.comment(r.stderr.split('\n').slice(-30).join('\n'))
  t.notOk(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes(`gdoi-${run.labId}-`), 'no namespace of the lab left')
  t.notOk(existsSync(`/run/gdoi-${run.labId}`), 'run directory removed')
}
