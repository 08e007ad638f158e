// The real `gdoi-gm run` process end to end, inside a private network namespace (unshare -n: its own
// loopback, its TUN device disappears with it): a test key server process on 127.0.1.1:848, the member
// on 127.0.1.9:848 with the data plane on a TUN, `status` over the control socket from outside the
// namespace (a filesystem socket), then SIGTERM → clean exit 0, control socket removed.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { controlRequest } from '@gdoi/daemon-kit'
import { cliMain } from '../src/cli-main.js'
import { tryLoadNative } from '../src/dataplane/native.js'
import type { GmStatus } from '../src/status.js'
import { PSK_TEXT } from './helpers/test-ks.js'

const pkg = resolve(import.meta.dirname, '..')
const loader = process.execArgv.filter((a) => a.includes('@tapjs/typescript') || a.startsWith('--conditions'))
const why =
  process.getuid?.() !== 0 ? 'needs root (unshare -n, TUN)'
  : spawnSync('unshare', ['-n', 'true']).status !== 0 ? 'unshare -n not available'
  : !existsSync('/dev/net/tun') ? 'no /dev/net/tun'
  : tryLoadNative() === undefined ? 'native TUN addon not built'
  : !loader.some((a) => a.includes('@tapjs/typescript')) ? 'not running under the tap TypeScript loader'
  : undefined

let exitCode: number | null | undefined

async function until<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn().catch(() => undefined)
    if (v !== undefined) return v
    if (Date.now() > end || exitCode !== undefined) throw new Error(`${exitCode !== undefined ? `exited (${exitCode})` : 'timed out'} waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

t.test('gdoi-gm run in a private netns: registers, status, SIGTERM', { skip: why ?? false, timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gdoi-gm-spawn-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const psk = join(dir, 'psk')
  writeFileSync(psk, `${PSK_TEXT}\n`, { mode: 0o600 })
  const sock = join(dir, 'run', 'gm.sock')
  const config = join(dir, 'gm.yaml')
  writeFileSync(
    config,
    `group: { name: NS-GRP, identity: { number: 1234 } }
keyServers: [127.0.1.1]
local: { address: 127.0.1.9 }
ike:
  policies: [{ encryption: aes-256, hash: sha1, group: 2 }]
  preSharedKeys: [{ peer: 127.0.0.0/8, keyFile: ${psk} }]
controlSocket: ${sock}
tun: { name: gdoins0 }
log: { level: info, format: json }
`,
  )
  const script = [
    'ip link set lo up || exit 97',
    // fd 3: our stdin for the background key server (sh gives background jobs /dev/null as stdin)
    'exec 3<&0',
    '"$NODE" $LOADER "$PKG/test/helpers/ks-process.ts" 127.0.1.1 848 <&3 >"$DIR/ks.out" 2>&1 &',
    'exec 3<&-',
    'i=0; until grep -q ready "$DIR/ks.out" 2>/dev/null; do i=$((i+1)); [ $i -gt 1200 ] && exit 98; sleep 0.05; done',
    'exec "$NODE" $LOADER "$PKG/src/cli.ts" run --config "$CONFIG" --keylog "$DIR/keys.log"',
  ].join('\n')
  const child = spawn('unshare', ['-n', 'sh', '-c', script], {
    env: { ...process.env, NODE: process.execPath, LOADER: loader.join(' '), PKG: pkg, DIR: dir, CONFIG: config },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (b: Buffer) => (out += b.toString()))
  child.stderr.on('data', (b: Buffer) => (err += b.toString()))
  const exited = new Promise<number | null>((res) =>
    child.on('exit', (code) => {
      exitCode = code
      res(code)
    }),
  )
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
    child.stdin.end() // the key server process exits when its stdin closes
  })

  const st = await until(async () => {
    const s = (await controlRequest(sock, { cmd: 'status' })) as GmStatus
    return s.registration.status === 'Registered' ? s : undefined
  }, 'registration', 90_000).catch((e: unknown) => {
    const ksOut = existsSync(join(dir, 'ks.out')) ? readFileSync(join(dir, 'ks.out'), 'utf8') : '(none)'
    t.comment(`member stdout:\n${out}\nmember stderr:\n${err}\nkey server:\n${ksOut}`)
    throw e
  })
  t.equal(st.group.name, 'NS-GRP')
  t.equal(st.registration.registeredWith, '127.0.1.1')
  t.ok(st.dataPlane?.running, 'data plane running on the TUN in the namespace')
  t.equal(st.dataPlane?.tun.name, 'gdoins0')
  t.same(st.ipsecSas.map((r) => [r.spiHex, r.direction]), [['0x00001001', 'inbound'], ['0x00001001', 'outbound']])

  const lines: string[] = []
  t.equal(await cliMain(['status', '--socket', sock], { stdout: (s) => lines.push(s), stderr: (s) => lines.push(s) }), 0)
  t.match(lines.join(''), /Registration status\s+: Registered/)
  t.match(lines.join(''), /Data plane: running on gdoins0/)

  child.kill('SIGTERM')
  t.equal(await exited, 0, 'exit code 0 after SIGTERM')
  t.notOk(existsSync(sock), 'control socket removed')
  t.match(out, /"event":"gdoi.registration.complete"/)
  t.match(out, /"event":"gdoi.daemon.stopping"/)
  t.notOk(out.includes(PSK_TEXT), 'PSK not logged')
  t.match(readFileSync(join(dir, 'keys.log'), 'utf8'), /^IKEV1 /m)
  t.equal(err, '', 'nothing on stderr')
})
