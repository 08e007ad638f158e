// The half-open table under a flood of spoofed MM1s (sessions.ts "Half-open SAs under a flood"), on the
// memory network with a fake clock: the table never grows past `maxHalfOpen`, a full table makes room by
// evicting the oldest SA still waiting for MM3 (once it is halfOpenMinAgeMs old, at once for a
// registered member), legitimate GMs register while the flood goes on, and SAs past MM3 are never
// evicted. With the old policy (MM1s dropped while the table is full) the GMs of the first and third
// tests never get an MM2 and the registrations fail.
import t from 'tap'
import { LogEvent } from '@gdoi/daemon-kit'
import { KS_ADDRESS, memoryLab, register, type MemoryLab } from './helpers/ks-fixture.js'
import { buildMm1, withCookie } from '../bench/flood/mm1.js'

const KS = { address: KS_ADDRESS, port: 848 }
const MM1 = buildMm1()

/** Spoofed MM1s: each from a fresh address in 198.18.0.0/15 that nothing answers on (its MM2 is lost). */
function spoofer(lab: MemoryLab): (count: number) => void {
  let n = 0
  return (count) => {
    for (let i = 0; i < count; i++, n++) {
      const tr = lab.net.attach({ address: `198.${18 + ((n >> 16) & 1)}.${(n >> 8) & 255}.${n & 255}`, port: 500 + (n % 1000) })
      tr.send(withCookie(MM1), KS)
      void tr.close()
    }
  }
}

t.test('a flood of spoofed MM1s: the table stays at the cap and three GMs register during it', async (t) => {
  const CAP = 64
  // no minimum age here (the third test has it): every MM1 evicts
  const lab = await memoryLab({ start: { limits: { maxHalfOpen: CAP, halfOpenMinAgeMs: 0 } } })
  t.teardown(() => lab.close())
  const flood = spoofer(lab)

  flood(3 * CAP)
  await lab.run(0)
  let st = lab.ks.status()
  t.equal(st.ikeHalfOpen.count, CAP, 'the table is full, not larger')
  t.equal(st.ikeHalfOpen.limit, CAP)
  t.equal(st.ikeSas.length, CAP)
  t.equal(st.counters['ike.half-open-evicted'], 2 * CAP, 'each MM1 beyond the cap evicted the oldest one waiting for MM3')
  t.equal(st.counters['ike.half-open-limit'], undefined, 'no MM1 dropped')

  // the flood goes on (half the table every 100 ms of fake time) while three GMs register
  let maxHalfOpen = 0
  let floodOn = true
  const tick = (): void => {
    if (!floodOn) return
    flood(CAP / 2)
    maxHalfOpen = Math.max(maxHalfOpen, lab.ks.status().ikeHalfOpen.count)
    lab.clock.setTimer(100, tick)
  }
  tick()
  const gms = ['127.0.1.11', '127.0.1.12', '127.0.1.13'].map((a) => lab.addGm(a))
  const results = await Promise.all(gms.map((g) => register(lab, g, 60_000)))
  floodOn = false
  t.equal(results.length, 3)
  st = lab.ks.status()
  t.equal(st.groups[0]?.members.length, 3, 'all three registered during the flood')
  t.equal(st.counters['registrations'], 3)
  t.ok(maxHalfOpen <= CAP, `half-open SAs never above the cap (max ${maxHalfOpen})`)
  t.ok(st.ikeHalfOpen.count <= CAP)
  t.equal(st.ikeSas.filter((s) => s.state === 'QM_IDLE').length, 3, 'their phase-1 SAs are established')
  const evicted = st.counters['ike.half-open-evicted'] ?? 0
  t.ok(evicted > 2 * CAP, `evictions counted (${evicted})`)
  const lines = lab.sink.lines().filter((l) => l['event'] === LogEvent.IKE_HALF_OPEN_EVICTED)
  t.ok(lines.length >= 1, 'eviction logged')
  t.ok(lines.length < evicted / 10, `eviction log rate-limited (${lines.length} lines for ${evicted} evictions)`)
  t.equal(lines.reduce((a, l) => a + Number(l['evicted']), 0) <= evicted, true, 'logged counts add up to at most the counter')
  t.equal(lines[0]?.['level'], 20, 'at debug')
})

t.test('SAs past MM3 are never evicted: with only those in a full table, MM1s are dropped', async (t) => {
  const lab = await memoryLab({ start: { limits: { maxHalfOpen: 2 } } })
  t.teardown(() => lab.close())
  // two GMs get MM2 but never MM4: their SAs wait for MM5 (past MM3) and fill the table
  const toGm = new Map<string, number>()
  lab.net.setFilter((d) => {
    if (d.from.address !== KS_ADDRESS || !d.to.address.startsWith('127.0.1.2')) return true
    const n = (toGm.get(d.to.address) ?? 0) + 1
    toGm.set(d.to.address, n)
    return n === 1
  })
  const gms = ['127.0.1.21', '127.0.1.22'].map((a) => lab.addGm(a, { retransmit: { intervalMs: 100_000, maxTries: 1 } }))
  const ps = gms.map((g) => g.register().catch(() => undefined))
  await lab.run(100)
  t.same(lab.ks.status().ikeSas.map((s) => s.state), ['MM_KEY_EXCH', 'MM_KEY_EXCH'], 'both past MM3')
  spoofer(lab)(10)
  await lab.run(100)
  const st = lab.ks.status()
  t.same(st.ikeSas.map((s) => s.peer).sort(), ['127.0.1.21:848', '127.0.1.22:848'], 'neither evicted')
  t.equal(st.counters['ike.half-open-limit'], 10, 'the spoofed MM1s were dropped')
  t.equal(st.counters['ike.half-open-evicted'], undefined)
  for (const g of gms) g.close()
  await Promise.all(ps)
})

t.test('a full table of young SAs: MM1s are dropped until the oldest is halfOpenMinAgeMs old; a member evicts at once', async (t) => {
  const CAP = 8
  const lab = await memoryLab({ start: { limits: { maxHalfOpen: CAP } } }) // default minimum age: 5 s
  t.teardown(() => lab.close())
  const member = lab.addGm('127.0.1.31')
  await register(lab, member)
  const flood = spoofer(lab)
  flood(CAP)
  await lab.run(0)
  flood(4)
  await lab.run(0)
  let st = lab.ks.status()
  t.equal(st.ikeHalfOpen.count, CAP, 'full')
  t.equal(st.counters['ike.half-open-limit'], 4, 'MM1s beyond the cap dropped: the half-open SAs are younger than 5 s')
  t.equal(st.counters['ike.half-open-evicted'], undefined)

  // the registered member re-registers at once: its MM1 evicts a young SA
  await register(lab, member, 500)
  st = lab.ks.status()
  t.equal(st.counters['registrations'], 2, 'the member registered again without waiting')
  t.equal(st.counters['ike.half-open-evicted'], 1)

  // a new GM is not a member: its MM1 is dropped while the SAs are young, its retransmission (same
  // cookie, same source) gets in at once
  flood(1) // the member's SA is established: fill its place again
  await lab.run(0)
  t.equal(lab.ks.status().ikeHalfOpen.count, CAP, 'full again')
  const fresh = lab.addGm('127.0.1.32', { retransmit: { intervalMs: 1000, maxTries: 10 } })
  await register(lab, fresh, 20_000)
  st = lab.ks.status()
  t.equal(st.counters['registrations'], 3, 'the new GM registered')
  t.equal(st.counters['ike.half-open-limit'], 5, 'its first MM1 was dropped')
  t.equal(st.counters['ike.half-open-retransmit-admitted'], 1, 'its retransmission was admitted')
  t.ok(st.ikeHalfOpen.count <= CAP)

  // spoofed MM1s with fresh cookies are never taken for retransmissions
  flood(20)
  await lab.run(0)
  st = lab.ks.status()
  t.equal(st.counters['ike.half-open-retransmit-admitted'], 1)
  t.ok((st.counters['ike.half-open-limit'] ?? 0) >= 5 + 20 - 1, 'they are dropped at the cap')
})

t.test("a registered member's SA waiting for MM3 is never evicted (its MM3 may need retransmissions)", async (t) => {
  const CAP = 4
  const lab = await memoryLab({ start: { limits: { maxHalfOpen: CAP, halfOpenMinAgeMs: 0 } } })
  t.teardown(() => lab.close())
  const member = lab.addGm('127.0.1.41', { retransmit: { intervalMs: 100_000, maxTries: 1 } })
  await register(lab, member)
  // it registers again, but its MM3 is lost: its new SA waits for MM3
  let sent = 0
  lab.net.setFilter((d) => d.from.address !== '127.0.1.41' || ++sent === 1)
  const p = member.register().catch(() => undefined)
  await lab.run(0)
  const waiting = (): boolean => lab.ks.status().ikeSas.some((s) => s.peer === '127.0.1.41:848' && s.state === 'MM_SA_SETUP')
  t.ok(waiting(), 'the member waits for MM3')
  spoofer(lab)(20)
  await lab.run(0)
  const st = lab.ks.status()
  t.ok(waiting(), 'still there after 20 spoofed MM1s')
  t.equal(st.ikeHalfOpen.count, CAP)
  t.equal(st.counters['ike.half-open-evicted'], 20 - (CAP - 1), 'the spoofed SAs evicted each other')
  member.close()
  await p
})
