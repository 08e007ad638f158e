// The Docker Compose lab of LAB.md (docker/compose.yaml) end to end: `lab/docker.sh up` builds the images
// and brings up ks, mm, gm1..3 and site1..3; `lab/docker.sh test` runs the shared checks of
// lab/lib/checks.sh (registration, site-to-site pings, ESP with preserved addresses and one SPI seen from
// mm, clear traffic outside the ACL, a TEK rekey with no loss, status from inside the containers);
// `lab/docker.sh down` removes everything again (also when a step fails). The whole run must stay under
// five minutes. Skipped, with the reason, when no Docker engine answers, compose is missing, the base
// image is not there (no registry here: shared/tools/docker-offline-base.sh base) or a gdoi lab is up.
// GDOI_SKIP_DOCKER_LAB=1 skips it too.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO = fileURLToPath(new URL('../../../..', import.meta.url))
const SCRIPT = join(REPO, 'lab/docker.sh')
const BASE_IMAGE = process.env['GDOI_BASE_IMAGE'] ?? 'node:20-bookworm-slim'
const BUDGET_MS = 300_000
const STEP_TIMEOUT_MS = { up: 240_000, test: 150_000, down: 90_000 } as const

const ok = (cmd: string, args: readonly string[]): boolean => spawnSync(cmd, [...args], { stdio: 'ignore', timeout: 30_000 }).status === 0

function skipReason(): string | false {
  if (process.env['GDOI_SKIP_DOCKER_LAB'] === '1') return 'GDOI_SKIP_DOCKER_LAB=1'
  if (!ok('docker', ['info'])) return 'no Docker engine answers (docker info failed); .ci/run starts one with shared/tools/docker-offline-base.sh daemon'
  if (!ok('docker', ['compose', 'version']) && !ok('docker-compose', ['version'])) return 'neither docker compose nor docker-compose is installed'
  if (!ok('docker', ['image', 'inspect', BASE_IMAGE])) return `base image ${BASE_IMAGE} is not here (no registry: shared/tools/docker-offline-base.sh base)`
  const up = spawnSync('docker', ['ps', '-q', '--filter', 'label=com.docker.compose.project=gdoi'], { encoding: 'utf8' })
  if (up.stdout.trim() !== '') return 'a gdoi compose lab is already up (lab/docker.sh down first)'
  return false
}
const skip = skipReason()

interface Run {
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
  readonly output: string
  readonly ms: number
}

/** Runs `lab/docker.sh STEP`, killing its process group after `timeoutMs`. */
function step(name: keyof typeof STEP_TIMEOUT_MS): Promise<Run> {
  const t0 = Date.now()
  return new Promise((resolve) => {
    const child = spawn('bash', [SCRIPT, name], { cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    const timer = setTimeout(() => {
      output += `\n[docker-lab.test] ${name} timed out after ${STEP_TIMEOUT_MS[name] / 1000} s: killing it\n`
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGTERM')
        } catch {
          // already gone
        }
      }
    }, STEP_TIMEOUT_MS[name])
    child.on('close', (status, signal) => {
      clearTimeout(timer)
      resolve({ status, signal, output, ms: Date.now() - t0 })
    })
  })
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`
const tail = (s: string, lines: number): string => s.trimEnd().split('\n').slice(-lines).join('\n')

t.setTimeout(BUDGET_MS + STEP_TIMEOUT_MS.down + 30_000)

t.test('docker compose lab: up, the shared checks, down, in under five minutes', { skip, timeout: BUDGET_MS + STEP_TIMEOUT_MS.down + 20_000 }, async (t) => {
  const t0 = Date.now()
  let downDone = false
  const down = async (): Promise<Run> => {
    downDone = true
    return step('down')
  }
  t.teardown(async () => {
    if (!downDone) await down()
  })

  const up = await step('up')
  t.comment(`up: ${secs(up.ms)}; ${up.output.split('\n').filter((l) => /^(images built|building|staging|lab is up)/.test(l)).join('; ')}`)
  if (up.status !== 0) {
    t.fail(`lab/docker.sh up exited with ${up.status ?? up.signal}:\n${tail(up.output, 60)}`)
    return
  }
  t.pass(`lab/docker.sh up (${secs(up.ms)}): ${tail(up.output, 1)}`)

  const test = await step('test')
  t.comment(`test: ${secs(test.ms)}\n${test.output.split('\n').filter((l) => /^(PASS|FAIL|==|--)/.test(l)).join('\n')}`)
  t.equal(test.status, 0, `lab/docker.sh test: ${tail(test.output, 1)}`)
  if (test.status !== 0) t.comment(tail(test.output, 80))
  for (const line of test.output.split('\n').filter((l) => l.startsWith('FAIL'))) t.fail(line.slice(6))
  t.match(test.output, /^== \d+ passed, 0 failed/m, 'every check passed')

  const d = await down()
  t.equal(d.status, 0, `lab/docker.sh down (${secs(d.ms)}): ${tail(d.output, 2)}`)
  const left = spawnSync('docker', ['ps', '-aq', '--filter', 'label=com.docker.compose.project=gdoi'], { encoding: 'utf8' })
  t.equal(left.stdout.trim(), '', 'no gdoi container left')
  const nets = spawnSync('docker', ['network', 'ls', '-q', '--filter', 'name=gdoi-'], { encoding: 'utf8' })
  t.equal(nets.stdout.trim(), '', 'no gdoi network left')

  const total = Date.now() - t0
  t.comment(`up ${secs(up.ms)} + test ${secs(test.ms)} + down ${secs(d.ms)} = ${secs(total)}`)
  t.ok(total < BUDGET_MS, `up + test + down took ${secs(total)} (budget ${secs(BUDGET_MS)})`)
})
