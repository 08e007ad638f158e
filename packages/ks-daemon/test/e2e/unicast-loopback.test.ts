// End to end over real UDP on loopback: one key server (127.0.1.1:848) and three GMs (127.0.1.11–13)
// register, receive two scheduled unicast TEK rekeys (SEQ 1, 2), acknowledge them (RFC 8263) and end
// with the same SPIs and keys; the key server restarts between the two rekeys and the GMs accept the
// second one without re-registering. Every datagram is recorded and decoded afterwards with gdoi-pcap's
// decoder using the key logs (every HASH and SIG checked), and with tshark 4.0 where it can (phase-1
// DOI 1 and 2-octet SAT ID lengths for this capture, spec §8.2).
import t from 'tap'
import { writeFileSync, readFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { execFileSync, spawnSync } from 'node:child_process'
import { decodeCapture, parseKeyFile, readCapture, writePcapUdp } from '@gdoi/wire/pcap/index'
import { ExchangeType } from '@gdoi/wire/constants'
import { Recorder } from './helpers/shims.js'
import { UdpLab, until } from './helpers/lab.js'

const NET = process.env['GDOI_E2E_NET'] ?? '127.0.1'

t.test('three GMs, two unicast rekeys with a key-server restart in between, capture decoded', async (t) => {
  const recorder = new Recorder()
  const lab = new UdpLab({
    net: NET,
    recorder,
    tekLifetimeSec: 10, // TEK rekey every 7 s (lead = lifetime/3)
    retransmitPeriodSec: 1,
    retransmitCount: 2,
    ack: 'rfc8263',
    compat: { idLengthWidth: 2 },
    gmDoi: 1,
  })
  t.teardown(async () => {
    await lab.close()
    if (process.env['GDOI_E2E_KEEP'] === undefined) lab.cleanup()
    else t.comment(`kept ${lab.dir}`)
  })
  await lab.startKs()
  const gms = [await lab.addGm(11), await lab.addGm(12), await lab.addGm(13)]
  await Promise.all(gms.map((g) => g.register()))
  t.pass('all three registered')
  const members = () => lab.ks?.status().groups[0]?.members ?? []
  await until('SEQ 1 at every GM and acknowledged', () => gms.every((g) => g.seqs.includes(1)) && members().every((m) => m.lastAckSeq === 1) && members().length === 3, 15_000)
  t.pass('rekey SEQ 1 received and acknowledged by all')

  await lab.stopKs()
  await lab.startKs()
  t.equal(lab.ks?.status().groups[0]?.seq, 1, 'restarted key server resumes at SEQ 1')

  await until('SEQ 2 at every GM and acknowledged', () => gms.every((g) => g.seqs.includes(2)) && members().every((m) => m.lastAckSeq === 2), 15_000)
  for (const g of gms) {
    t.same(g.seqs.slice(0, 2), [1, 2], `${g.address}: SEQ 1, 2`)
    t.equal(g.registrations, 1, `${g.address} did not re-register`)
  }
  const spis = gms.map((g) => JSON.stringify(g.tekSpis))
  t.equal(new Set(spis).size, 1, `identical TEK SPIs: ${spis[0]}`)
  const keys = gms.map((g) => JSON.stringify([...g.teks.values()].map((x) => [x.keys.spi, Buffer.from(x.keys.encKey).toString('hex'), Buffer.from(x.keys.authKey ?? []).toString('hex')])))
  t.equal(new Set(keys).size, 1, 'identical TEK keys')
  t.equal(new Set(gms.map((g) => JSON.stringify(g.kekSpis))).size, 1, 'identical KEK')
  const ksTeks = lab.ks?.status().groups[0]?.teks.map((x) => parseInt(x.spi, 16)) ?? []
  t.ok(ksTeks.every((s) => gms[0]?.tekSpis.includes(s)), 'the GMs hold every live TEK of the key server')
  t.notMatch(lab.sink.text(), 'GETVPN-LAB-TEST-KEY', 'no PSK in the log')
  await lab.close()

  // ---- the capture ----
  const pcap = writePcapUdp(recorder.datagrams)
  const pcapPath = join(lab.dir, 'capture.pcap')
  writeFileSync(pcapPath, pcap)
  const keyText = `${readFileSync(lab.keylogPath, 'utf8')}\n${lab.gmKeylog.join('\n')}\n`
  writeFileSync(join(lab.dir, 'all.keylog'), keyText, { mode: 0o600 })
  const records = decodeCapture(readCapture(pcap), parseKeyFile(keyText))
  t.equal(records.length, recorder.datagrams.length, 'every datagram decoded')
  const errors = records.filter((r) => r.errors.length > 0)
  t.same(errors.map((r) => ({ frame: r.frame, errors: r.errors })), [], 'no decode errors')
  const byExchange = new Map<number, number>()
  for (const r of records) byExchange.set(r.isakmp?.exchange ?? -1, (byExchange.get(r.isakmp?.exchange ?? -1) ?? 0) + 1)
  t.ok((byExchange.get(ExchangeType.IDENTITY_PROTECTION) ?? 0) >= 18, 'Main Mode ×3')
  t.ok((byExchange.get(ExchangeType.GROUPKEY_PULL) ?? 0) >= 12, 'GROUPKEY-PULL ×3')
  t.ok((byExchange.get(ExchangeType.GROUPKEY_PUSH) ?? 0) >= 6, 'two pushes to three GMs')
  t.ok((byExchange.get(ExchangeType.GROUPKEY_PUSH_ACK) ?? 0) >= 6, 'their ACKs')
  const encrypted = records.filter((r) => r.encrypted)
  t.ok(encrypted.every((r) => r.decrypted), 'every encrypted message decrypted with the key logs')
  const pulls = records.filter((r) => r.isakmp?.exchange === ExchangeType.GROUPKEY_PULL)
  t.ok(pulls.length >= 12 && pulls.every((r) => r.checks.hash === 'ok'), `every PULL HASH(1..4) checked ok (${pulls.length})`)
  // HASH_I/HASH_R need SKEYID itself, which neither Phase1Sa nor the keylog format carries (yet):
  // gdoi-pcap reports them as unknown, never as bad.
  const mm = records.filter((r) => r.isakmp?.exchange === ExchangeType.IDENTITY_PROTECTION && r.encrypted)
  t.ok(mm.length >= 6 && mm.every((r) => r.checks.hash !== 'bad'), `no bad HASH_I/HASH_R (${mm.map((r) => r.checks.hash).join(',')})`)
  const pushes = records.filter((r) => r.isakmp?.exchange === ExchangeType.GROUPKEY_PUSH)
  t.ok(pushes.every((r) => r.checks.signature === 'ok'), 'every push signature verified')
  t.ok(pushes.every((r) => r.checks.seq === 'ok' || r.checks.seq === 'duplicate'), 'push SEQs in order')

  // ---- tshark 4.0 (phase 1 in DOI 1, SAT ID lengths of 2 octets: the capture compat switches) ----
  const which = spawnSync('tshark', ['--version'], { encoding: 'utf8' })
  if (which.status !== 0) {
    t.comment('tshark not installed: skipping the tshark check')
    return
  }
  const cfgHome = join(lab.dir, 'xdg')
  mkdirSync(join(cfgHome, 'wireshark'), { recursive: true })
  const table = keyText
    .split('\n')
    .filter((l) => /^[0-9a-f]{16},[0-9a-f]+$/.test(l))
    .map((l) => {
      const [c, k] = l.split(',')
      return `${c},${k}` // unquoted: tshark 4.0 reads quoted hex in this table as text
    })
  writeFileSync(join(cfgHome, 'wireshark', 'ikev1_decryption_table'), `${[...new Set(table)].join('\n')}\n`)
  const out = execFileSync(
    'tshark',
    ['-r', pcapPath, '-d', 'udp.port==848,isakmp', '-T', 'fields', '-E', 'separator=|', '-e', 'frame.number', '-e', 'isakmp.exchangetype', '-e', 'isakmp.typepayload', '-e', '_ws.malformed', '-e', '_ws.expert.message'],
    { encoding: 'utf8', env: { ...process.env, XDG_CONFIG_HOME: cfgHome, HOME: lab.dir } },
  )
  const lines = out.trim().split('\n').map((l) => l.split('|'))
  t.equal(lines.length, recorder.datagrams.length, 'tshark saw every datagram')
  const malformed = lines.filter((f) => (f[3] ?? '') !== '' || /malformed/i.test(f[4] ?? ''))
  t.same(malformed, [], 'no malformed packets in tshark')
  const pull2 = lines.filter((f) => f[1] === '32' && (f[2] ?? '').split(',').includes('16'))
  t.ok(pull2.length >= 3, 'tshark decrypted PULL2 and shows the SAT (payload 16)')
})
