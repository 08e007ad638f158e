// Secrets never leave the key files: gdoi-ks + three gm-daemons (runGroupMember: config file, control
// socket, keylog; control plane only) over real UDP on 127.0.66.10x at trace log level, through
// registration, a TEK rekey and a KEK rekey. The daemons' key logs are enabled only to learn every key the
// run created (phase-1 SKEYID family and cipher keys, TEK encryption/integrity keys, KEK keys); the test
// then searches every log line and every `status --json` answer for the PSK and each key, in lower- and
// upper-case hex and base64: zero hits. Key log, state and RSA key files are 0600, the control sockets
// refuse a non-root user (uid 65534). Figures: RELIABILITY.md, "Hostile input on the wire".
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { controlRequest, createLogger, createLogSink, createRealClock, createUdpTransport, openKeyLog, startControlServer } from '@gdoi/daemon-kit'
import { startKeyServer } from '../../src/main.js'
import { openFileStore } from '../../src/store/index.js'
import { ksConfig, PSK } from '../helpers/ks-fixture.js'

let gmDaemon: typeof import('@gdoi/gm-daemon') | undefined
let why = ''
try {
  gmDaemon = await import('@gdoi/gm-daemon')
} catch (err) {
  why = `@gdoi/gm-daemon not loadable: ${String(err).slice(0, 200)}`
}

const KS_ADDR = '127.0.66.101'
const GROUP = 'GETVPN-GRP'

async function until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Every key in the daemons' key logs: the named key fields (KEY, IV, ENCKEY, AUTHKEY, SKEYID family) and
 *  the key of Wireshark's ikev1_decryption_table lines (cookie,key). SPIs, cookies and SIGKEY (the public
 *  rekey key) are public and shown in status. */
function keysOf(keylogText: string): string[] {
  const out = new Set<string>()
  for (const m of keylogText.matchAll(/\b(?:KEY|IV|ENCKEY|AUTHKEY|SKEYID|SKEYID_D|SKEYID_A|SKEYID_E)=(?:0x)?([0-9a-fA-F]{16,})/g)) out.add(m[1]!.toLowerCase())
  for (const m of keylogText.matchAll(/^[0-9a-f]{16},([0-9a-f]{16,})$/gm)) out.add(m[1]!.toLowerCase())
  for (const m of keylogText.matchAll(/"0x([0-9a-fA-F]{16,})"/g)) out.add(m[1]!.toLowerCase())
  return [...out]
}

/** The forms a key could leak in: hex (both cases), base64, base64url; also its first 16 octets alone. */
function needles(hex: string): string[] {
  const b = Buffer.from(hex, 'hex')
  const forms = (x: Buffer): string[] => [x.toString('hex'), x.toString('hex').toUpperCase(), x.toString('base64').replace(/=+$/, ''), x.toString('base64url')]
  return [...forms(b), ...(b.length > 16 ? forms(b.subarray(0, 16)) : [])]
}

t.test('no PSK or key in any log line or status output; key files 0600; control socket root-only', { skip: gmDaemon === undefined ? why : false }, async (t) => {
  if (gmDaemon === undefined) return
  const dir = mkdtempSync(join(tmpdir(), 'gdoi-secrets-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const sink = createLogSink()
  const ksLog = createLogger({ level: 'trace', format: 'json', destination: sink.stream })
  const stateDir = join(dir, 'ks-state')
  const ksSock = join(dir, 'ks-run', 'ks.sock')
  const config = ksConfig({ listen: KS_ADDR, stateDir, controlSocket: ksSock, ack: 'rfc8263' })
  const store = await openFileStore({ dir: stateDir })
  const ksKeylogPath = join(dir, 'ks.keylog')
  const ksKeylog = await openKeyLog(ksKeylogPath)
  const ksT = await createUdpTransport({ address: KS_ADDR, port: 0 })
  // the real signing-key loader: generates the RSA key into the state directory
  const ks = await startKeyServer({ config, transport: ksT, clock: createRealClock(), log: ksLog, store, keylog: ksKeylog })
  const control = await startControlServer({ path: ksSock, log: ksLog, handlers: { status: () => ks.status() } })
  const gms: Awaited<ReturnType<NonNullable<typeof gmDaemon>['runGroupMember']>>[] = []
  t.teardown(async () => {
    for (const g of gms) await g.close()
    await control.close()
    await ks.close()
    await ksT.close()
    await store.close()
    await ksKeylog.close()
  })

  const pskFile = join(dir, 'psk')
  writeFileSync(pskFile, `${PSK}\n`, { mode: 0o600 })
  for (const n of [1, 2, 3]) {
    const cfg = join(dir, `gm${n}.yaml`)
    writeFileSync(
      cfg,
      `
group: { name: ${GROUP}, identity: { number: 1234 } }
keyServers: ["${KS_ADDR}:${ksT.local.port}"]
local: { address: 127.0.66.${110 + n}, port: 0 }
tun: none
ike:
  policies: [{ priority: 10, encryption: aes-256, hash: sha1, group: 5, authentication: pre-share }]
  preSharedKeys: [{ peer: ${KS_ADDR}, keyFile: ${pskFile} }]
controlSocket: ${join(dir, `gm${n}-run`, 'gm.sock')}
log: { level: trace, format: json }
`,
    )
    gms.push(await gmDaemon.runGroupMember({ configPath: cfg, keylog: join(dir, `gm${n}.keylog`), logDestination: sink.stream, dataPlane: null }))
  }
  await until(() => ks.status().groups[0]?.members.length === 3 && gms.every((g) => g.gm.status().registration.status === 'Registered'), 'three registrations')
  await ks.rekey(GROUP, 'tek')
  await until(() => gms.every((g) => g.gm.status().rekeys.received >= 1), 'TEK rekey received')
  await ks.rekey(GROUP, 'kek')
  await until(() => gms.every((g) => g.gm.status().rekeys.received >= 2), 'KEK rekey received')
  await ks.rekey(GROUP, 'tek')
  await until(() => gms.every((g) => g.gm.status().rekeys.received >= 3), 'TEK rekey under the new KEK received')

  // status --json through each control socket
  const statuses: string[] = [JSON.stringify(await controlRequest(ksSock, { cmd: 'status' }))]
  for (const g of gms) statuses.push(JSON.stringify(await controlRequest(g.controlPath, { cmd: 'status' })))
  t.ok(statuses.every((s) => s.length > 100), 'status answers collected')

  // the keys the run created, from the key logs
  const keylogs = [ksKeylogPath, ...[1, 2, 3].map((n) => join(dir, `gm${n}.keylog`))]
  const keys = new Set<string>()
  for (const k of keylogs) {
    t.equal(statSync(k).mode & 0o777, 0o600, `${k.split('/').pop()} is 0600`)
    for (const x of keysOf(readFileSync(k, 'utf8'))) keys.add(x)
  }
  const allKeylogs = keylogs.map((k) => readFileSync(k, 'utf8')).join('\n')
  t.ok([...keys].every((k) => allKeylogs.includes(needles(k)[0]!)), 'control: every needle is found where it is (the search works)')
  t.ok(keys.size >= 10, `${keys.size} distinct keys learned from ${keylogs.length} key logs`)

  const logText = sink.text()
  const lines = sink.lines().length
  t.ok(lines > 50, `${lines} log lines at trace level`)
  t.comment(`log levels: ${JSON.stringify(sink.lines().reduce<Record<string, number>>((a, l) => ((a[String(l['level'])] = (a[String(l['level'])] ?? 0) + 1), a), {}))}`)
  const haystacks = [logText, ...statuses]
  let hits = 0
  const found: string[] = []
  const pskForms = [PSK, Buffer.from(PSK).toString('hex'), Buffer.from(PSK).toString('hex').toUpperCase(), Buffer.from(PSK).toString('base64').replace(/=+$/, '')]
  let searched = 0
  for (const needle of [...pskForms, ...[...keys].flatMap(needles)]) {
    searched++
    for (const h of haystacks) {
      if (h.includes(needle)) {
        hits++
        found.push(needle.slice(0, 12))
        const i = h.indexOf(needle)
        t.comment(`HIT ${needle} in: ${h.slice(Math.max(0, i - 200), i + 80)}`)
      }
    }
  }
  t.equal(hits, 0, `0 hits: PSK + ${keys.size} keys in ${searched} forms searched in ${lines} log lines and ${statuses.length} status answers${found.length > 0 ? ` (found ${found.join(', ')})` : ''}`)
  t.comment(`secrets: ${keys.size} keys, ${searched} needles, ${lines} log lines (${logText.length} chars), ${statuses.length} status answers, ${hits} hits`)

  // key and state files
  t.equal(statSync(stateDir).mode & 0o777, 0o700, 'state directory 0700')
  const files = readdirSync(stateDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
  t.ok(files.length >= 2, `state files: ${files.map((f) => f.name).join(', ')}`)
  for (const f of files) t.equal(statSync(join(f.parentPath ?? (f as unknown as { path: string }).path, f.name)).mode & 0o777, 0o600, `${f.name} is 0600`)
  t.ok(files.some((f) => /\.(pem|key)$/.test(f.name) || /rsa|key/i.test(f.name)), 'the RSA signing key is among them')

  // control sockets: a non-root user is refused
  const refuse = (path: string): string => {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', `require('net').connect(${JSON.stringify(path)}).on('connect',()=>{console.log('CONNECTED');process.exit(0)}).on('error',(e)=>{console.log(e.code);process.exit(0)})`], { encoding: 'utf8', timeout: 10_000, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } })
    return r.stdout.trim()
  }
  if (process.getuid?.() !== 0) {
    t.pass('SKIP: control socket refusal needs root to drop to uid 65534')
  } else {
    for (const p of [ksSock, ...gms.map((g) => g.controlPath)]) t.equal(refuse(p), 'EACCES', `${p.split('/').slice(-2).join('/')} refuses uid 65534`)
  }
})
