// Real UDP on loopback (127.0.1.x, port 0) and the real clock: registration, push and ACK between the
// member and a test key server; then the daemon wiring (config file, control socket, keylog) driven
// through the CLI's `status` and `reload`.
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { controlRequest, createLogger, createLogSink, createRealClock, createUdpTransport, LogEvent } from '@gdoi/daemon-kit'
import { startGroupMember } from '../src/main.js'
import { runGroupMember } from '../src/daemon.js'
import { cliMain } from '../src/cli-main.js'
import { GmChannel, waitForGm } from '../src/diag.js'
import type { GmStatus } from '../src/status.js'
import { gmConfig } from './helpers/harness.js'
import { PSK_TEXT, TestKeyServer } from './helpers/test-ks.js'

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

t.test('registration, push and ACK over real UDP on 127.0.1.x', async (t) => {
  const ksT = await createUdpTransport({ address: '127.0.1.1', port: 0 })
  const gmT = await createUdpTransport({ address: '127.0.1.2', port: 0 })
  const ks = new TestKeyServer(ksT, { address: '127.0.1.1' }, () => Date.now())
  const sink = createLogSink()
  const registered = waitForGm(GmChannel.REGISTERED, (m) => m['gm'] === `127.0.1.2:${gmT.local.port}`, 10_000)
  const gm = await startGroupMember({
    config: gmConfig({ keyServers: [{ address: '127.0.1.1', port: ksT.local.port }], local: { address: '127.0.1.2', port: 0 } }),
    transport: gmT,
    clock: createRealClock(),
    log: createLogger({ level: 'debug', format: 'json', destination: sink.stream }),
  })
  t.teardown(async () => {
    await gm.close()
    await gmT.close()
    await ksT.close()
  })
  const reg = await registered
  t.equal(reg['peer'], `127.0.1.1:${ksT.local.port}`)
  t.ok(gm.sas.inbound(0x1001), 'TEK installed')
  t.equal(ks.registrations[0]?.from.port, gmT.local.port, 'the KS saw our ephemeral port')

  const accepted = waitForGm(GmChannel.PUSH_ACCEPTED, (m) => m['gm'] === `127.0.1.2:${gmT.local.port}`, 5000)
  ks.sendTo(ks.tekRollover(0x1002), ks.registrations[0]!.from)
  t.equal((await accepted)['seq'], 1)
  t.ok(gm.sas.inbound(0x1002))
  await until(() => ks.acks.length === 1, 'the ACK')
  t.ok(ks.acks[0]?.verdict.ok, 'ACK verified by the KS')
  t.same(ks.acks[0]?.from, { address: '127.0.1.2', port: gmT.local.port })
  t.equal(sink.lines().filter((l) => l['event'] === LogEvent.REKEY_ACK).length, 1)
})

t.test('daemon: config file, control socket (0600), status/reload through the CLI, keylog, SIGTERM-style close', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gdoi-gm-daemon-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const ksT = await createUdpTransport({ address: '127.0.1.1', port: 0 })
  t.teardown(() => ksT.close())
  const ks = new TestKeyServer(ksT, { address: '127.0.1.1' }, () => Date.now())
  const pskFile = join(dir, 'psk')
  writeFileSync(pskFile, `${PSK_TEXT}\n`, { mode: 0o600 })
  const sock = join(dir, 'run', 'gm.sock')
  const keylog = join(dir, 'keys.log')
  const configPath = join(dir, 'gm.yaml')
  const yaml = (ksPort: number): string => `
group: { name: LAB-GRP, identity: { number: 1234 } }
keyServers: ["127.0.1.1:${ksPort}"]
local: { address: 127.0.1.3, port: 0 }
ike:
  policies: [{ encryption: aes-256, hash: sha1, group: 2 }]
  preSharedKeys: [{ peer: 127.0.1.0/24, keyFile: ${pskFile} }]
controlSocket: ${sock}
log: { level: debug, format: json }
`
  writeFileSync(configPath, yaml(ksT.local.port))
  const sink = createLogSink()
  const d = await runGroupMember({ configPath, keylog, logDestination: sink.stream, dataPlane: null })
  let closed = false
  t.teardown(async () => {
    if (!closed) await d.close()
  })
  const id = `127.0.1.3:${d.transport.local.port}`
  await until(() => d.gm.status().registration.status === 'Registered', 'registration', 10_000)

  t.equal(statSync(sock).mode & 0o777, 0o600, 'control socket is 0600')
  t.equal(statSync(join(dir, 'run')).mode & 0o777, 0o700, 'its directory is 0700')
  t.equal(statSync(keylog).mode & 0o777, 0o600, 'keylog is 0600')
  t.ok(readFileSync(keylog, 'utf8').includes('IKEV1 '), 'keylog has the phase-1 SA')

  const st = (await controlRequest(sock, { cmd: 'status' })) as GmStatus
  t.equal(st.group.name, 'LAB-GRP')
  t.equal(st.registration.status, 'Registered')
  t.equal(st.member.port, d.transport.local.port)

  const out: string[] = []
  const err: string[] = []
  const io = { stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s) }
  t.equal(await cliMain(['status', '--socket', sock], io), 0)
  t.match(out.join(''), /Group Name\s+: LAB-GRP/)
  t.match(out.join(''), /Registration status\s+: Registered/)
  t.match(out.join(''), /GDOI_IDLE/)
  out.length = 0
  t.equal(await cliMain(['status', '--json', '--socket', sock], io), 0)
  const parsed = JSON.parse(out.join('')) as GmStatus
  t.equal(parsed.registration.registeredWith, '127.0.1.1')
  t.notOk(out.join('').includes(PSK_TEXT), 'no PSK in the status JSON')

  // reload: the configuration is read again and the member re-registers
  const rereg = waitForGm(GmChannel.RELOADED, (m) => m['gm'] === id, 5000)
  out.length = 0
  t.equal(await cliMain(['reload', '--socket', sock], io), 0)
  t.match(out.join(''), /reloaded; re-registering/)
  await rereg
  await until(() => ks.registrations.length === 2, 're-registration after reload', 10_000)
  t.equal(sink.lines().filter((l) => l['event'] === LogEvent.CONFIG_RELOADED).length, 1)

  // a broken config on reload: refused, the running one stays
  writeFileSync(configPath, 'group: {}\n')
  t.equal(await cliMain(['reload', '--socket', sock], io), 1)
  t.match(err.join(''), /group/)
  t.equal(sink.lines().filter((l) => l['event'] === LogEvent.CONFIG_RELOAD_FAILED).length, 1)
  t.equal(d.gm.status().registration.status, 'Registered')

  await d.close()
  closed = true
  t.throws(() => statSync(sock), 'control socket removed on close')
  t.equal(d.gm.sas.list().length, 0, 'SAs gone (keys zeroed) after close')
  t.notOk(sink.text().includes(PSK_TEXT), 'PSK never logged')
})
