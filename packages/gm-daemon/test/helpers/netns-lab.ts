// What the tests that drive a lab script in network namespaces (lab/netns.sh, lab/faults.sh,
// lab/fail-close.sh) share: the environment they give the script and the reasons to skip.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'

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
