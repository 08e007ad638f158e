import t from 'tap'
import { DiagChannel, publish, subscribe, waitFor, collect, DiagTimeoutError } from '../src/diag.js'
import { createFakeClock } from '../src/clock.js'

t.test('waitFor resolves with the first matching message', async (t) => {
  const p = waitFor(DiagChannel.GM_TEK_INSTALLED, (m) => m.spi === 2)
  publish(DiagChannel.GM_TEK_INSTALLED, { group: 'G', spi: 1 })
  publish(DiagChannel.GM_TEK_INSTALLED, { group: 'G', spi: 2 })
  t.same(await p, { group: 'G', spi: 2 })
})

t.test('waitFor times out (real and fake timers) and unsubscribes', async (t) => {
  await t.rejects(waitFor(DiagChannel.KS_PUSH_SENT, () => true, 10), DiagTimeoutError)
  const clock = createFakeClock()
  const p = waitFor(DiagChannel.KS_PUSH_SENT, () => true, 1000, { setTimer: clock.setTimer })
  clock.advance(1000)
  await t.rejects(p, { code: 'ERR_DIAG_TIMEOUT', channel: 'gdoi:ks:push-sent' })
})

t.test('a throwing predicate rejects', async (t) => {
  const p = waitFor(DiagChannel.GM_REGISTERED, () => {
    throw new Error('bad predicate')
  })
  publish(DiagChannel.GM_REGISTERED, {})
  await t.rejects(p, /bad predicate/)
})

t.test('collect records events in order; publish without subscribers is a no-op', (t) => {
  publish(DiagChannel.KS_MEMBER_REGISTERED, { peer: 'nobody listens' })
  const c = collect([DiagChannel.KS_PUSH_SENT, DiagChannel.GM_REKEY_RECEIVED])
  publish(DiagChannel.KS_PUSH_SENT, { seq: 1 })
  publish(DiagChannel.GM_REKEY_RECEIVED, { seq: 1 })
  publish(DiagChannel.KS_ACK_RECEIVED, { seq: 1 })
  c.stop()
  publish(DiagChannel.KS_PUSH_SENT, { seq: 2 })
  t.same(c.events, [
    { channel: 'gdoi:ks:push-sent', msg: { seq: 1 } },
    { channel: 'gdoi:gm:rekey-received', msg: { seq: 1 } },
  ])
  const got: unknown[] = []
  const un = subscribe(DiagChannel.GM_TEK_EXPIRED, (m) => got.push(m))
  publish(DiagChannel.GM_TEK_EXPIRED, { spi: 5 })
  un()
  publish(DiagChannel.GM_TEK_EXPIRED, { spi: 6 })
  t.same(got, [{ spi: 5 }])
  t.end()
})

t.test('components may use their own gdoi:* channels with the same helpers', async (t) => {
  const p = waitFor('gdoi:gm:sa', (m) => m['op'] === 'add')
  publish('gdoi:gm:sa', { op: 'add' })
  t.same(await p, { op: 'add' })
})

t.test('channel names follow gdoi:<role>:<event>', (t) => {
  const names = Object.values(DiagChannel)
  t.equal(new Set(names).size, names.length)
  for (const n of names) t.match(n, /^gdoi:[a-z0-9-]+(:[a-z0-9-]+)?$/)
  t.ok(names.includes('gdoi:ks:push-sent'))
  t.ok(names.includes('gdoi:gm:tek-installed'))
  t.ok(names.includes('gdoi:gm:registered'))
  t.end()
})

t.test('the group member\'s own events have listed names', (t) => {
  t.same(
    [DiagChannel.GM_PUSH_ACCEPTED, DiagChannel.GM_PUSH_REJECTED, DiagChannel.GM_KS_FAILOVER, DiagChannel.GM_KEK_RETIRED, DiagChannel.GM_TEK_ACTIVATED, DiagChannel.GM_STOPPED, DiagChannel.GM_RELOADED],
    ['gdoi:gm:push-accepted', 'gdoi:gm:push-rejected', 'gdoi:gm:ks-failover', 'gdoi:gm:kek-retired', 'gdoi:gm:tek-activated', 'gdoi:gm:stopped', 'gdoi:gm:reloaded'],
  )
  const names = Object.values(DiagChannel)
  t.equal(new Set(names).size, names.length, 'no name listed twice')
  t.end()
})
