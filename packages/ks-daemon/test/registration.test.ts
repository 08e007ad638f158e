// Registration against the key server on the memory network (spec §1.7 KS table: MM1…PULL4).
import t from 'tap'
import { DiagChannel, collect } from '@gdoi/daemon-kit'
import { memoryLab, register, PSK } from './helpers/ks-fixture.js'

t.test('a GM registers: phase 1, PULL, KEK + TEK, member listed', async (t) => {
  const events = collect([DiagChannel.IKE_ESTABLISHED, DiagChannel.KS_MEMBER_REGISTERED])
  const lab = await memoryLab()
  t.teardown(() => lab.close())
  const gm = lab.addGm('127.0.1.11')
  const r = await register(lab, gm)
  events.stop()
  t.equal(r.seq, 0, 'PULL4 SEQ 0 before any push')
  t.ok(r.policy.kek, 'SAK present')
  t.equal(r.policy.teks.length, 1, 'one SAT (one permit ACE)')
  t.equal(gm.tekSpis.length, 1)
  t.equal(gm.kekSpis.length, 1)
  const st = lab.ks.status()
  const g = st.groups[0]
  t.equal(g?.members.length, 1)
  t.equal(g?.members[0]?.address, '127.0.1.11')
  t.equal(g?.kek?.spi.toLowerCase(), `0x${gm.kekSpis[0]}`)
  t.equal(g?.teks[0]?.spi, `0x${gm.tekSpis[0]?.toString(16).toUpperCase().padStart(8, '0')}`)
  t.same(events.events.map((e) => e.channel), [DiagChannel.IKE_ESTABLISHED, DiagChannel.KS_MEMBER_REGISTERED])
  t.equal(st.counters['registrations'], 1)
  t.equal(st.ikeSas.length, 1)
  t.equal(st.ikeSas[0]?.state, 'QM_IDLE')
  // no secret in the log
  const text = lab.sink.text()
  t.notMatch(text, PSK)
  t.match(text, /"event":"gdoi.member.added"/)
})

t.test('retransmitted and duplicated requests are answered from the cache, never processed twice', async (t) => {
  const lab = await memoryLab({ net: { duplicate: 0.5, reorder: 0.2, seed: 11 } })
  t.teardown(() => lab.close())
  const gm = lab.addGm('127.0.1.11')
  await register(lab, gm)
  const st = lab.ks.status()
  t.equal(st.counters['registrations'], 1, 'registered once')
  t.equal(st.groups[0]?.members.length, 1)
  t.equal(st.ikeSas.length, 1, 'one phase-1 SA')
  const answered = (st.counters['ike.retransmit-answered'] ?? 0) + (st.counters['pull.retransmit-answered'] ?? 0)
  t.ok(answered > 0, `duplicates answered from the cache (${answered})`)
})

t.test('lossy network: registration still completes (GM retransmits)', async (t) => {
  const lab = await memoryLab({ net: { drop: 0.3, seed: 5 } })
  t.teardown(() => lab.close())
  const gm = lab.addGm('127.0.1.11')
  await register(lab, gm)
  t.equal(lab.ks.status().counters['registrations'], 1)
})

t.test('wrong PSK: phase 1 fails with auth-failed, nothing registered', async (t) => {
  const events = collect([DiagChannel.IKE_FAILED])
  const lab = await memoryLab()
  t.teardown(() => lab.close())
  const gm = lab.addGm('127.0.1.11', { psk: 'not-the-key' })
  await t.rejects(register(lab, gm))
  events.stop()
  const st = lab.ks.status()
  t.equal(st.counters['ike.failed.auth-failed'], 1)
  t.equal(st.counters['registrations'], undefined)
  t.equal(st.groups[0]?.members.length, 0)
  t.equal(st.ikeSas.length, 0, 'the failed SA is gone')
  t.same(events.events.map((e) => e.msg['reason']), ['auth-failed'])
  t.match(lab.sink.text(), /"event":"gdoi.ike.failed"/)
})

t.test('unknown group: N(INVALID-ID-INFORMATION), refused event, no member', async (t) => {
  const events = collect([DiagChannel.KS_MEMBER_REFUSED])
  const lab = await memoryLab()
  t.teardown(() => lab.close())
  const gm = lab.addGm('127.0.1.11', { groupId: { kind: 'number', value: 999 } })
  const err = await register(lab, gm).catch((e: unknown) => e as Error)
  events.stop()
  t.match(String(err), /pull-notify.*"notifyType":18/)
  const st = lab.ks.status()
  t.equal(st.counters['registrations.refused.unknown-group'], 1)
  t.equal(st.groups[0]?.members.length, 0)
  t.same(events.events.map((e) => e.msg['reason']), ['unknown-group'])
  t.match(lab.sink.text(), /"event":"gdoi.member.refused"/)
})

t.test('unauthorized GM: refused, authorized GM registers', async (t) => {
  const lab = await memoryLab({ authorization: ['127.0.1.12/32'] })
  t.teardown(() => lab.close())
  const bad = lab.addGm('127.0.1.11')
  const err = await register(lab, bad).catch((e: unknown) => e as Error)
  t.match(String(err), /"notifyType":18/)
  const good = lab.addGm('127.0.1.12')
  await register(lab, good)
  const st = lab.ks.status()
  t.equal(st.counters['registrations.refused.unauthorized'], 1)
  t.same(st.groups[0]?.members.map((m) => m.address), ['127.0.1.12'])
})

t.test('garbage is counted by decode error code and never answered', async (t) => {
  const lab = await memoryLab()
  t.teardown(() => lab.close())
  const evil = lab.net.attach('127.0.1.66')
  let answers = 0
  evil.onDatagram(() => answers++)
  evil.send(new Uint8Array([1, 2, 3]), { address: '127.0.1.1', port: 848 })
  const hdr = new Uint8Array(28)
  hdr[17] = 0x10
  hdr[18] = 2
  new DataView(hdr.buffer).setUint32(24, 4000) // length beyond the datagram
  evil.send(hdr, { address: '127.0.1.1', port: 848 })
  await lab.run(100)
  const c = lab.ks.status().counters
  t.equal(answers, 0)
  const decodeDrops = Object.entries(c).filter(([k]) => k.startsWith('drop.decode.'))
  t.equal(decodeDrops.reduce((n, [, v]) => n + v, 0), 2, `both dropped: ${JSON.stringify(decodeDrops)}`)
})

t.test('half-open SAs are capped and expire', async (t) => {
  const lab = await memoryLab({ start: { limits: { maxHalfOpen: 2, exchangeMaxMs: 5000 } } })
  t.teardown(() => lab.close())
  // three GMs that never get past MM1/MM3: their KS answers go nowhere (filter), so each stays half-open
  lab.net.setFilter((d) => d.from.address !== '127.0.1.1')
  const gms = ['127.0.1.21', '127.0.1.22', '127.0.1.23'].map((a) => lab.addGm(a, { retransmit: { intervalMs: 100_000, maxTries: 1 } }))
  const ps = gms.map((g) => g.register().catch(() => undefined))
  await lab.run(100)
  let st = lab.ks.status()
  t.equal(st.ikeSas.length, 2, 'only two half-open SAs kept')
  t.equal(st.counters['ike.half-open-limit'], 1)
  await lab.run(6000)
  st = lab.ks.status()
  t.equal(st.ikeSas.length, 0, 'half-open SAs expired')
  t.equal(st.counters['ike.failed.timeout'], 2)
  for (const g of gms) g.close()
  await Promise.all(ps)
})
