// The examples/ lab, unchanged (examples/ks.yaml + examples/gm1..3.yaml, KS 127.0.1.1, GMs
// 127.0.1.11–13, the real gdoi-ks and gdoi-gm executables), in a network namespace of its own with
// private /run/gdoi and /var/lib/gdoi: registration, a rekey, and identical SAs in every `status`.
// With GDOI_EXAMPLES_TEK_LIFETIME=30 the KS config is copied with a 30 s TEK lifetime to show two
// scheduled rekeys (≈45 s). Needs root, iproute2 and unshare; skipped otherwise.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO, nodeTsArgs } from './helpers/spawn.js'
import type { KsStatus } from '../../src/status.js'

const NS = `gks${process.pid}-ex`
const SCRIPT = join(REPO, 'packages/ks-daemon/test/e2e/helpers/examples-lab.sh')
const TEK_LIFE = process.env['GDOI_EXAMPLES_TEK_LIFETIME'] ?? ''

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network and mount namespaces)'
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (ip) not installed'
  if (spawnSync('unshare', ['--version']).status !== 0) return 'unshare not installed'
  if (!existsSync(join(REPO, 'packages/gm-daemon/src/cli.ts'))) return 'gm-daemon CLI not there yet'
  return undefined
}

const loaderUrl = (): string => (nodeTsArgs('x', []).find((a) => a.startsWith('--import=')) ?? '').slice('--import='.length)

const spis = (text: string): string[] => [...new Set([...text.matchAll(/spi\s*:\s*(0x[0-9A-F]{8})\b/g)].map((m) => m[1] as string))].sort()

t.test('examples/: three GMs register, receive the rekey and show the KS SAs', { skip: skipReason() ?? false, timeout: 240_000 }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'gdoi-examples-'))
  t.teardown(() => {
    spawnSync('ip', ['netns', 'del', NS])
    rmSync(out, { recursive: true, force: true })
  })
  spawnSync('ip', ['netns', 'del', NS])
  spawnSync('ip', ['netns', 'add', NS])
  const r = spawnSync('ip', ['netns', 'exec', NS, 'unshare', '--mount', SCRIPT, out, REPO, loaderUrl(), ...(TEK_LIFE !== '' ? [TEK_LIFE] : [])], { encoding: 'utf8', timeout: 200_000 })
  t.equal(r.status, 0, `lab script: ${r.stderr}`)
  const ksText = readFileSync(join(out, 'ks-status.txt'), 'utf8')
  const ks = JSON.parse(readFileSync(join(out, 'ks-status.json'), 'utf8')) as KsStatus
  t.comment(ksText)
  const g = ks.groups[0]
  t.equal(g?.members.length, 3, 'three members registered')
  t.ok((g?.seq ?? 0) >= (TEK_LIFE !== '' ? 2 : 1), `rekeys sent (SEQ ${g?.seq ?? 0})`)
  const ksSpis = (g?.teks ?? []).map((x) => x.spi).sort()
  for (const n of [1, 2, 3]) {
    const gm = readFileSync(join(out, `gm${n}-status.txt`), 'utf8')
    t.match(gm, /Registration status\s+:\s+Registered/, `gm${n} registered`)
    // the snapshots are taken at (almost) the same time; a scheduled rekey may fall between them
    const last = Number(/Last rekey seq num\s+:\s+(\d+)/.exec(gm)?.[1] ?? -1)
    t.ok(last === (g?.seq ?? -1) || last === (g?.seq ?? -1) + 1 || last === (g?.seq ?? -1) - 1, `gm${n} got rekey SEQ ${last} (KS at ${g?.seq ?? -1})`)
    const common = ksSpis.filter((s) => spis(gm).includes(s))
    t.ok(common.length >= ksSpis.length - 1 && common.length >= 1, `gm${n} holds the key server's live TEKs (${common.join(' ')})`)
  }
  t.notMatch(readFileSync(join(out, 'ks.log'), 'utf8'), 'GETVPN-LAB-EXAMPLE-KEY', 'no PSK in the key server log')
})
