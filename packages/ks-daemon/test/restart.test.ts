// A key server restart (clean close + start on the same store) keeps the keys the GMs hold valid and
// never reuses or lowers a SEQ under the current KEK.
import t from 'tap'
import { mkdtempSync, statSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createFakeClock, createLogger, createLogSink, createMemoryNetwork, DiagChannel, collect } from '@gdoi/daemon-kit'
import { openFileStore } from '../src/store/index.js'
import { startKeyServer } from '../src/main.js'
import { ksConfig, memoryLab, register, PSK, GROUP_NUMBER } from './helpers/ks-fixture.js'
import { TestGm } from './helpers/test-gm.js'

const GROUP = 'GETVPN-GRP'

t.test('restart between rekeys: same KEK/TEKs, members kept, SEQ continues, GMs need not re-register', async (t) => {
  const lab = await memoryLab({ tekLifetimeSec: 600 })
  t.teardown(() => lab.close())
  const gms = ['127.0.1.11', '127.0.1.12', '127.0.1.13'].map((a) => lab.addGm(a))
  for (const g of gms) await register(lab, g)
  await lab.ks.rekey(GROUP, 'tek')
  await lab.run(100)
  const before = lab.ks.status().groups[0]
  await lab.restart()
  const after = lab.ks.status().groups[0]
  t.equal(after?.seq, 1, 'SEQ restored')
  t.equal(after?.kek?.spi, before?.kek?.spi, 'same KEK')
  t.same(after?.teks.map((x) => x.spi), before?.teks.map((x) => x.spi), 'same TEKs')
  t.same(after?.members.map((m) => [m.address, m.lastAckSeq]), before?.members.map((m) => [m.address, m.lastAckSeq]), 'members kept')
  await lab.ks.rekey(GROUP, 'tek')
  await lab.run(100)
  for (const g of gms) {
    t.same(g.seqs, [1, 2], `${g.address} accepted SEQ 2 after the restart`)
    t.equal(g.registrations, 1, `${g.address} did not re-register`)
  }
  // the TEK timer was re-armed from the restored state: the next rekey happens on time
  const ev = collect([DiagChannel.KS_PUSH_SENT])
  await lab.run(600_000)
  ev.stop()
  t.ok(ev.events.length >= 1, 'scheduled TEK rekey after the restart')
  t.same(ev.events.map((e) => e.msg.seq).slice(0, 1), [3])
})

t.test('a push that was saved but never sent: after a restart the next push uses a higher SEQ', async (t) => {
  const lab = await memoryLab()
  t.teardown(() => lab.close())
  const gm = lab.addGm('127.0.1.11')
  await register(lab, gm)
  lab.net.setFilter((d) => !(d.from.address === '127.0.1.1' && d.bytes[18] === 33)) // pushes lost
  await lab.ks.rekey(GROUP, 'tek')
  await lab.run(100)
  lab.net.setFilter(undefined)
  await lab.restart()
  await lab.ks.rekey(GROUP, 'tek')
  await lab.run(100)
  t.same(gm.seqs, [2], 'SEQ 2 (1 was used, if only on a lost datagram)')
})

t.test('file store: state and generated key are private, a second start loads both', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gdoi-ks-restart-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const config = ksConfig({ stateDir: join(dir, 'state') })
  const clock = createFakeClock(Date.UTC(2025, 0, 1))
  const net = createMemoryNetwork({ seed: 3 })
  const sink = createLogSink()
  const log = createLogger({ level: 'debug', format: 'json', destination: sink.stream })
  const start = async () => {
    const store = await openFileStore({ dir: config.stateDir })
    const transport = net.attach('127.0.1.1')
    const ks = await startKeyServer({ config, transport, clock, log, store })
    return { ks, store, transport }
  }
  let run = await start()
  const gm = new TestGm({ name: 'gm', transport: net.attach('127.0.1.11'), ks: { address: '127.0.1.1', port: 848 }, clock, psk: PSK, groupId: { kind: 'number', value: GROUP_NUMBER } })
  const p = gm.register()
  for (let i = 0; i < 20 && gm.registrations === 0; i++) {
    await net.flush()
    await clock.advanceAsync(100)
  }
  await p
  await run.ks.rekey(GROUP, 'tek')
  await net.flush()
  const kek1 = run.ks.status().groups[0]?.kek?.spi
  await run.ks.close()
  await run.transport.close()
  await run.store.close()
  const stateFile = join(config.stateDir, 'ks-state.json')
  t.equal(statSync(stateFile).mode & 0o777, 0o600, 'state file 0600')
  t.equal(statSync(join(config.stateDir, 'rekey-REKEYRSA.pem')).mode & 0o777, 0o600, 'generated key 0600')
  t.equal(statSync(config.stateDir).mode & 0o777, 0o700, 'state dir 0700')
  const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as { groups: Record<string, { kek: { seq: number } }> }
  t.equal(saved.groups[GROUP]?.kek.seq, 1)
  run = await start()
  t.equal(run.ks.status().groups[0]?.kek?.spi, kek1)
  t.match(sink.text(), /"event":"gdoi.signing-key.generated"/)
  t.match(sink.text(), /"event":"gdoi.signing-key.loaded"/)
  await run.ks.rekey(GROUP, 'tek')
  await net.flush()
  t.same(gm.seqs, [1, 2])
  gm.close()
  await run.ks.close()
  await run.transport.close()
  await run.store.close()
  t.notMatch(sink.text(), PSK)
  t.notMatch(sink.text(), /BEGIN PRIVATE KEY/)
})
