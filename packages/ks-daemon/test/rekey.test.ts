// GROUPKEY-PUSH from the key server on the memory network with a fake clock (spec §5): TEK rollover
// (SEQ 1, 2), KEK rollover (SEQ restarts), RFC 8263 ACK tracking, retransmission and ejection,
// multicast, and SEQ persisted before the push leaves.
import t from 'tap'
import { DiagChannel, collect } from '@gdoi/daemon-kit'
import { createMemoryStore, type KsState } from '../src/store/index.js'
import { memoryLab, register, type MemoryLab } from './helpers/ks-fixture.js'
import type { TestGm } from './helpers/test-gm.js'

const GROUP = 'GETVPN-GRP'

async function threeGms(lab: MemoryLab): Promise<TestGm[]> {
  const gms = ['127.0.1.11', '127.0.1.12', '127.0.1.13'].map((a) => lab.addGm(a))
  for (const g of gms) await register(lab, g)
  return gms
}

t.test('TEK rollover: pushes with SEQ 1, 2 to every member, all acknowledged, same SAs everywhere', async (t) => {
  const ev = collect([DiagChannel.KS_PUSH_SENT, DiagChannel.KS_ACK_RECEIVED, DiagChannel.KS_PUSH_RETRANSMIT])
  const lab = await memoryLab({ tekLifetimeSec: 120 })
  t.teardown(() => lab.close())
  const gms = await threeGms(lab)
  const first = lab.ks.status().groups[0]?.teks[0]?.timeToRekeySec ?? 0
  t.ok(first > 70 && first <= 80, `TEK rekey at lifetime − min(90 s, lifetime/3) (${first} s left)`)
  await lab.run(81_000)
  await lab.run(80_000)
  ev.stop()
  const pushes = ev.events.filter((e) => e.channel === DiagChannel.KS_PUSH_SENT)
  t.same(pushes.map((e) => e.msg.seq), [1, 2], 'two pushes, SEQ 1 then 2')
  t.same(pushes.map((e) => e.msg['destinations']), [3, 3], 'each to the three members (unicast)')
  for (const g of gms) t.same(g.seqs, [1, 2], `${g.address} accepted SEQ 1 and 2`)
  const acks = ev.events.filter((e) => e.channel === DiagChannel.KS_ACK_RECEIVED)
  t.equal(acks.length, 6, 'every member acknowledged every push')
  t.equal(ev.events.filter((e) => e.channel === DiagChannel.KS_PUSH_RETRANSMIT).length, 0, 'nothing to retransmit')
  const spis = gms.map((g) => JSON.stringify(g.tekSpis))
  t.equal(new Set(spis).size, 1, 'identical TEK SPIs on every GM')
  t.equal(gms[0]?.tekSpis.length, 3)
  const keysOf = (g: TestGm): string => JSON.stringify([...g.teks.values()].map((x) => Buffer.from(x.keys.encKey).toString('hex')).sort())
  t.equal(new Set(gms.map(keysOf)).size, 1, 'identical TEK keys on every GM')
  const st = lab.ks.status()
  t.equal(st.groups[0]?.seq, 2)
  t.same(st.groups[0]?.members.map((m) => m.lastAckSeq), [2, 2, 2])
  t.equal(st.groups[0]?.teks.length, 2, 'the oldest TEK expired on the KS')
  t.match(lab.sink.text(), /"event":"gdoi.rekey.sent".*"seq":2/)
})

t.test('KEK rollover: new KEK pushed under the old one, next push under the new KEK restarts at SEQ 1', async (t) => {
  const lab = await memoryLab({ kekLifetimeSec: 300 })
  t.teardown(() => lab.close())
  const gms = await threeGms(lab)
  const oldKek = lab.ks.status().groups[0]?.kek?.spi
  const ev = collect([DiagChannel.KS_PUSH_SENT, DiagChannel.KS_KEK_CREATED])
  await lab.run(211_000) // KEK rollover at 300 − min(90, 100) s
  const newKek = lab.ks.status().groups[0]?.kek?.spi
  t.not(newKek, oldKek, 'the KS switched to a new KEK')
  t.equal(lab.ks.status().groups[0]?.seq, 0, 'new KEK starts at SEQ 0')
  await lab.ks.rekey(GROUP, 'tek')
  await lab.run(100)
  ev.stop()
  const pushes = ev.events.filter((e) => e.channel === DiagChannel.KS_PUSH_SENT)
  t.same(pushes.map((e) => [e.msg['kind'], e.msg.seq]), [['kek-rekey', 1], ['tek-rekey', 1]])
  t.equal(`0x${String(pushes[0]?.msg['kekSpi']).toUpperCase()}`, oldKek, 'the KEK rollover is protected by the old KEK')
  t.equal(`0x${String(pushes[1]?.msg['kekSpi']).toUpperCase()}`, newKek, 'the next push by the new KEK')
  for (const g of gms) {
    t.same(g.seqs, [1, 1], `${g.address}: SEQ 1 under each KEK`)
    t.same(g.kekSpis, [String(newKek).slice(2).toLowerCase()], `${g.address} retired the old KEK`)
  }
  const members = lab.ks.status().groups[0]?.members ?? []
  t.same(members.map((m) => m.lastAckSeq), [1, 1, 1])
})

t.test('a member that stops acknowledging gets retransmissions and is dropped after 3 missed pushes', async (t) => {
  const ev = collect([DiagChannel.KS_PUSH_RETRANSMIT, DiagChannel.KS_MEMBER_REMOVED])
  const lab = await memoryLab({ retransmitPeriodSec: 5, retransmitCount: 2 })
  t.teardown(() => lab.close())
  const [a, b] = ['127.0.1.11', '127.0.1.12'].map((x) => lab.addGm(x)) as [TestGm, TestGm]
  await register(lab, a)
  await register(lab, b)
  b.ackEnabled = false
  for (let i = 1; i <= 3; i++) {
    await lab.ks.rekey(GROUP, 'tek')
    await lab.run(16_000) // 2 retransmissions 5 s apart, then one more period to wait for the ACK
    const m = lab.ks.status().groups[0]?.members.find((x) => x.address === b.address)
    if (i < 3) t.equal(m?.missedPushes, i, `missed ${i} in a row`)
  }
  ev.stop()
  const rt = ev.events.filter((e) => e.channel === DiagChannel.KS_PUSH_RETRANSMIT)
  t.equal(rt.length, 6, 'two retransmissions of each of the three pushes')
  t.ok(rt.every((e) => e.msg['destinations'] === 1), 'retransmitted only to the silent member')
  t.same(b.seqs, [1, 2, 3], 'the silent member received every push (duplicates dropped by SEQ)')
  t.ok(b.rejected.filter((r) => r.code === 'duplicate').length >= 6, 'retransmissions are byte-identical duplicates')
  const removed = ev.events.filter((e) => e.channel === DiagChannel.KS_MEMBER_REMOVED)
  t.same(removed.map((e) => e.msg.peer), ['127.0.1.12:848'])
  const st = lab.ks.status().groups[0]
  t.same(st?.members.map((m) => [m.address, m.lastAckSeq, m.missedPushes]), [['127.0.1.11', 3, 0]])
  await lab.ks.rekey(GROUP, 'tek')
  await lab.run(100)
  t.same(b.seqs, [1, 2, 3], 'no more pushes to the dropped member')
  t.same(a.seqs, [1, 2, 3, 4])
  t.match(lab.sink.text(), /"event":"gdoi.member.removed"/)
})

t.test('a re-registration clears the miss counter and keeps one entry per member', async (t) => {
  const lab = await memoryLab({ retransmitPeriodSec: 5, retransmitCount: 1 })
  t.teardown(() => lab.close())
  const gm = lab.addGm('127.0.1.11')
  await register(lab, gm)
  gm.ackEnabled = false
  await lab.ks.rekey(GROUP, 'tek')
  await lab.run(11_000)
  t.equal(lab.ks.status().groups[0]?.members[0]?.missedPushes, 1)
  await register(lab, gm)
  const m = lab.ks.status().groups[0]?.members[0]
  t.equal(m?.missedPushes, 0, 'fresh registration')
  t.equal(lab.ks.status().groups[0]?.members.length, 1, 'still one entry for the member')
})

t.test('multicast: one datagram per transmission to the group address, every GM installs it, no ejection', async (t) => {
  const lab = await memoryLab({ transport: 'multicast', multicastAddress: '239.192.1.1', ack: 'none', retransmitCount: 1, retransmitPeriodSec: 5 })
  t.teardown(() => lab.close())
  const gms = ['127.0.1.11', '127.0.1.12', '127.0.1.13'].map((a) => lab.addGm(a))
  for (const g of gms) {
    ;(g.o.transport as unknown as { joinGroup(a: string): void }).joinGroup('239.192.1.1')
    await register(lab, g)
  }
  t.equal(gms[0]?.lastPull?.policy.kek?.transport.dst.address, '239.192.1.1', 'SAK DST ID = the group address')
  const before = lab.net.trace().length
  await lab.ks.rekey(GROUP, 'tek')
  await lab.run(11_000)
  const sent = lab.net.trace().slice(before).filter((d) => d.from.address === '127.0.1.1')
  t.same(sent.map((d) => `${d.to.address}:${d.to.port}`), ['239.192.1.1:848', '239.192.1.1:848'], 'one push + one retransmission, both to the group')
  for (const g of gms) t.same(g.seqs, [1], `${g.address} installed the push`)
  t.equal(lab.ks.status().groups[0]?.members.length, 3, 'nobody ejected')
})

t.test('the incremented SEQ is saved before the push leaves', async (t) => {
  const inner = createMemoryStore()
  const order: string[] = []
  const store = {
    load: () => inner.load(),
    save: async (s: KsState) => {
      await inner.save(s)
      order.push(`saved ${s.groups[GROUP]?.kek?.seq ?? '-'}`)
    },
    close: () => inner.close(),
  }
  const ev = collect([DiagChannel.KS_PUSH_SENT])
  const lab = await memoryLab({ store })
  t.teardown(() => lab.close())
  const gm = lab.addGm('127.0.1.11')
  await register(lab, gm)
  lab.net.setFilter((d) => {
    if (d.from.address === '127.0.1.1' && d.bytes[18] === 33) order.push('push on the wire')
    return true
  })
  await lab.ks.rekey(GROUP, 'tek')
  await lab.ks.rekey(GROUP, 'tek')
  await lab.run(100)
  ev.stop()
  const firstPush = order.indexOf('push on the wire')
  t.ok(order.indexOf('saved 1') >= 0 && order.indexOf('saved 1') < firstPush, `saved before sending: ${order.join(', ')}`)
  t.ok(order.lastIndexOf('saved 2') < order.lastIndexOf('push on the wire'))
  t.same(gm.seqs, [1, 2])
})
