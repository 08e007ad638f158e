// The gdoi-ks executable end to end: `run` on a loopback address (real UDP 848, file store, control
// socket, key log), a GM registers, `status` (text and --json), `rekey`, SIGHUP and `reload`,
// `export-key`, SIGTERM (state saved, exit 0), and a second start that resumes the saved state.
import t from 'tap'
import { createPublicKey } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRealClock, createUdpTransport } from '@gdoi/daemon-kit'
import { ksYaml, PSK, GROUP_NUMBER } from '../helpers/ks-fixture.js'
import { TestGm } from '../helpers/test-gm.js'
import { KS_CLI, runCli, startDaemon } from './helpers/spawn.js'
import { until } from './helpers/lab.js'
import type { KsStatus } from '../../src/status.js'

const NET = process.env['GDOI_E2E_NET_CLI'] ?? '127.0.3'
const KS = `${NET}.1`

t.test('gdoi-ks run / status / rekey / reload / export-key / SIGTERM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gdoi-ks-cli-'))
  const sock = join(dir, 'run', 'ks.sock')
  const cfgPath = join(dir, 'ks.yaml')
  const keylog = join(dir, 'ks.keylog')
  const yaml = (acl = '10.1.0.0/16') =>
    ksYaml({ listen: KS, stateDir: join(dir, 'state'), controlSocket: sock, ack: 'rfc8263', retransmitPeriodSec: 1, retransmitCount: 1 })
      .replace('log: { level: debug, format: json }', 'log: { level: info, format: json }')
      .replace('source: 10.1.0.0/16, destination: 10.1.0.0/16', `source: ${acl}, destination: ${acl}`)
  writeFileSync(cfgPath, yaml())
  const gmUdp = await createUdpTransport({ address: `${NET}.11`, port: 848 })
  const gm = new TestGm({ name: 'gm', transport: gmUdp, ks: { address: KS, port: 848 }, clock: createRealClock({ unref: false }), psk: PSK, groupId: { kind: 'number', value: GROUP_NUMBER } })
  let ks = startDaemon(KS_CLI, ['run', '--config', cfgPath, '--keylog', keylog])
  t.teardown(async () => {
    gm.close()
    await gmUdp.close()
    if (ks.child.exitCode === null) ks.child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })
  await ks.waitForLine((l) => l['msg'] === 'control socket ready', 60_000)
  t.pass('daemon started')
  t.equal(statSync(sock).mode & 0o777, 0o600, 'control socket is 0600 (root only)')

  await gm.register()
  await ks.waitForLine((l) => l['event'] === 'gdoi.member.added')
  const status = JSON.parse(runCli(KS_CLI, ['status', '--json', '--socket', sock]).stdout) as KsStatus
  t.equal(status.groups[0]?.members[0]?.address, `${NET}.11`, 'status --json lists the member')
  t.equal(status.groups[0]?.transport, 'unicast')
  t.ok(status.groups[0]?.kek?.spi.startsWith('0x'), 'KEK SPI shown')
  const text = runCli(KS_CLI, ['status', '--config', cfgPath])
  t.equal(text.status, 0)
  t.match(text.stdout, /Group Name\s+: GETVPN-GRP/)
  t.match(text.stdout, /KEK POLICY \(transport type : Unicast\)/)
  t.match(text.stdout, /TEK POLICY \(encaps : ENCAPS_TUNNEL\)/)
  t.match(text.stdout, new RegExp(`Group Member ID\\s+: ${NET.replaceAll('.', '\\.')}\\.11`))
  t.comment(text.stdout)

  const rk = runCli(KS_CLI, ['rekey', '--group', 'GETVPN-GRP', '--socket', sock])
  t.equal(rk.status, 0, `rekey command: ${rk.stderr}`)
  await until('SEQ 1 at the GM', () => gm.seqs.includes(1), 10_000)
  await ks.waitForLine((l) => l['event'] === 'gdoi.rekey.ack' && l['seq'] === 1)
  t.pass('rekey SEQ 1 sent, received and acknowledged')

  writeFileSync(cfgPath, yaml('10.2.0.0/16'))
  ks.child.kill('SIGHUP')
  const reloaded = await ks.waitForLine((l) => l['event'] === 'gdoi.config.reloaded')
  t.same(reloaded['deferred'], ['groups.GETVPN-GRP.acl'], 'SIGHUP: ACL change applies at the next rekey')
  const rl = runCli(KS_CLI, ['reload', '--socket', sock])
  t.equal(rl.status, 0)
  t.same(JSON.parse(rl.stdout), { applied: [], deferred: [], restartRequired: [] }, 'control reload: nothing left to change')

  const out = join(dir, 'exported.pem')
  const ex = runCli(KS_CLI, ['export-key', '--config', cfgPath, '--out', out])
  t.equal(ex.status, 0, ex.stderr)
  t.equal(statSync(out).mode & 0o777, 0o600, 'exported key 0600')
  const spki = createPublicKey(readFileSync(out)).export({ type: 'spki', format: 'der' }).toString('hex')
  const gmKey = Buffer.from(gm.pushState.keks[0]?.publicKey ?? []).toString('hex')
  t.equal(spki, gmKey, 'the exported key is the one that signs the pushes')

  ks.child.kill('SIGTERM')
  t.equal(await ks.exited, 0, 'SIGTERM: exit 0')
  t.ok(ks.lines.some((l) => l['msg'] === 'stopped; state saved'), 'state saved on the way out')
  t.notOk(existsSync(sock), 'control socket removed')
  t.notOk(existsSync(join(dir, 'state', 'ks.lock')), 'state lock released')
  const state = JSON.parse(readFileSync(join(dir, 'state', 'ks-state.json'), 'utf8')) as { groups: Record<string, { kek: { seq: number } }> }
  t.equal(state.groups['GETVPN-GRP']?.kek.seq, 1, 'saved SEQ 1')
  t.equal(statSync(keylog).mode & 0o777, 0o600, 'key log 0600')
  const keys = readFileSync(keylog, 'utf8')
  t.match(keys, /^IKEV1 /m)
  t.match(keys, /^KEK /m)
  t.match(keys, /^ESP /m)
  t.match(keys, /^[0-9a-f]{16},[0-9a-f]+$/m, 'Wireshark ikev1_decryption_table line')
  const logText = ks.lines.map((l) => JSON.stringify(l)).join('\n')
  t.notMatch(logText, PSK, 'no PSK in the log')
  for (const m of keys.matchAll(/KEY=([0-9a-f]{32,})/g)) t.notMatch(logText, m[1] as string, 'no key from the key log in the log')

  ks = startDaemon(KS_CLI, ['run', '--config', cfgPath])
  await ks.waitForLine((l) => l['msg'] === 'control socket ready', 60_000)
  const again = JSON.parse(runCli(KS_CLI, ['status', '--json', '--socket', sock]).stdout) as KsStatus
  t.equal(again.groups[0]?.seq, 1, 'second start resumes at SEQ 1')
  t.equal(again.groups[0]?.members.length, 1, 'member remembered')
  runCli(KS_CLI, ['rekey', '--group', 'GETVPN-GRP', '--socket', sock])
  await until('SEQ 2 at the GM', () => gm.seqs.includes(2), 10_000)
  t.equal(gm.registrations, 1, 'GM did not re-register')
  ks.child.kill('SIGTERM')
  t.equal(await ks.exited, 0)

  const bad = runCli(KS_CLI, ['run', '--config', join(dir, 'missing.yaml')])
  t.equal(bad.status, 2, 'a missing config is a usage error')
  const unknown = runCli(KS_CLI, ['status', '--frobnicate'])
  t.equal(unknown.status, 2)
  t.match(unknown.stderr, /Unknown argument/)
})
