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
