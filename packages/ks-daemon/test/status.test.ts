// The status object and its text form (show crypto gdoi ks / ks policy / ks members), sender IDs for
// counter-mode TEKs, and the CLI argument parser.
import t from 'tap'
import { memoryLab, register } from './helpers/ks-fixture.js'
import { renderStatus } from '../src/status-text.js'
import { parseArgs } from '../src/cli-args.js'

t.test('status: groups, members, KEK/TEKs with lifetimes, SEQ, counters — and no key material', async (t) => {
  const lab = await memoryLab({ transform: 'esp-gcm 256' })
  t.teardown(() => lab.close())
  const a = lab.addGm('127.0.1.11')
  const b = lab.addGm('127.0.1.12')
  const ra = await register(lab, a)
  const rb = await register(lab, b)
  t.same(ra.keys.sids?.values, [1], 'counter mode: first GM gets sender ID 1')
  t.same(rb.keys.sids?.values, [2], 'second GM gets sender ID 2')
  t.equal(ra.keys.sids?.bits, 16)
  await lab.ks.rekey('GETVPN-GRP', 'tek')
  await lab.run(60_000)
  const st = lab.ks.status()
  const g = st.groups[0]
  t.same(g?.members.map((m) => m.senderIds), [[1], [2]])
  t.equal(g?.seq, 1)
  t.equal(g?.kek?.algorithm, 'AES')
  t.equal(g?.kek?.keySizeBytes, 32)
  t.equal(g?.kek?.sigKeyLengthBytes, 294, 'DER SPKI of RSA-2048 (IOS "sig key length")')
  t.equal(g?.teks.length, 2)
  t.equal(g?.teks[0]?.timeToRekeySec, null, 'only the newest TEK has a rekey time')
  t.equal(g?.teks[1]?.transform, 'esp-256-gcm')
  t.equal(g?.teks[1]?.algKeySizeBytes, 36, 'GCM key + salt')
  const json = JSON.stringify(st)
  for (const tek of a.teks.values()) t.notMatch(json, Buffer.from(tek.keys.encKey).toString('hex'), 'no TEK key in the status')
  const text = renderStatus(st)
  for (const re of [
    /Group Name\s+: GETVPN-GRP/,
    /Group Identity\s+: 1234/,
    /Group Members\s+: 2/,
    /Rekey Sequence Number\s+: 1/,
    /# of teks : 2 {2}Seq num : 1/,
    /KEK POLICY \(transport type : Unicast\)/,
    /encrypt alg\s+: AES/,
    /acknowledgement\s+: RFC 8263/,
    /transform\s+: esp-256-gcm/,
    /Group Member ID\s+: 127\.0\.1\.11 {2}port: 848/,
    /Last acked seq\s+: 1/,
    /access-list deny udp any eq 848 any eq 848/,
    /127\.0\.1\.11:848\s+[0-9a-f]{16}\s+[0-9a-f]{16}\s+QM_IDLE/,
  ]) t.match(text, re)
  t.comment(text)
})

t.test('CLI arguments (yargs, strict)', async (t) => {
  t.same(await parseArgs(['--config', 'ks.yaml']), { kind: 'command', command: { cmd: 'run', config: 'ks.yaml' } })
  t.same(await parseArgs(['run', '-c', 'ks.yaml', '--log-level', 'debug', '--log-format', 'json', '--keylog', '/tmp/k']), {
    kind: 'command',
    command: { cmd: 'run', config: 'ks.yaml', logLevel: 'debug', logFormat: 'json', keylog: '/tmp/k' },
  })
  t.same(await parseArgs(['status', '--json', '--socket', '/run/x.sock']), { kind: 'command', command: { cmd: 'status', json: true, socket: '/run/x.sock' } })
  t.same(await parseArgs(['export-key', '--config', 'ks.yaml', '--out', 'k.pem']), { kind: 'command', command: { cmd: 'export-key', config: 'ks.yaml', out: 'k.pem' } })
  t.same(await parseArgs(['rekey', '--group', 'G', '--kek']), { kind: 'command', command: { cmd: 'rekey', group: 'G', kind: 'kek' } })
  t.equal((await parseArgs(['status', '--nope'])).kind, 'usage')
  t.equal((await parseArgs(['run'])).kind, 'usage', '--config is required')
  t.equal((await parseArgs(['--log-level', 'loud', '-c', 'x'])).kind, 'usage')
  const help = await parseArgs(['--help'])
  t.equal(help.kind, 'help')
})
