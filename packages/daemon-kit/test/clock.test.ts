import t from 'tap'
import { createFakeClock, createRealClock } from '../src/clock.js'

t.test('fake clock fires timers in due order, ties in creation order', (t) => {
  const c = createFakeClock(100)
  const log: string[] = []
  c.setTimer(30, () => log.push(`b@${c.nowMs()}`))
  c.setTimer(10, () => log.push(`a@${c.nowMs()}`))
  c.setTimer(30, () => log.push(`c@${c.nowMs()}`))
  const cancel = c.setTimer(20, () => log.push('cancelled'))
  cancel()
  cancel()
  t.equal(c.pendingTimers(), 3)
  t.equal(c.nextDueMs(), 110)
  c.advance(29)
  t.same(log, ['a@110'])
  t.equal(c.nowMs(), 129)
  c.advance(1)
  t.same(log, ['a@110', 'b@130', 'c@130'])
  t.equal(c.pendingTimers(), 0)
  t.throws(() => c.advance(-1), RangeError)
  t.end()
})

t.test('timers set by a firing timer fire within the same advance when due', (t) => {
  const c = createFakeClock()
  const log: number[] = []
  const tick = (): void => {
    log.push(c.nowMs())
    if (log.length < 5) c.setTimer(10, tick)
  }
  c.setTimer(10, tick)
  c.advance(35)
  t.same(log, [10, 20, 30])
  c.runAll()
  t.same(log, [10, 20, 30, 40, 50])
  t.end()
})

t.test('advanceAsync lets promise work run between timers', async (t) => {
  const c = createFakeClock()
  const log: string[] = []
  c.setTimer(10, () => {
    void Promise.resolve().then(() => {
      log.push(`async@${c.nowMs()}`)
      c.setTimer(5, () => log.push(`second@${c.nowMs()}`))
    })
  })
  await c.advanceAsync(20)
  t.same(log, ['async@10', 'second@15'])
})

t.test('real clock: fires, cancels, and chains delays beyond setTimeout’s 2^31 ms limit', async (t) => {
  const c = createRealClock({ unref: false })
  const start = c.nowMs()
  t.ok(Math.abs(start - Date.now()) < 50)
  await new Promise<void>((resolve) => c.setTimer(5, resolve))
  let fired = false
  const cancel = c.setTimer(5, () => (fired = true))
  cancel()
  let longFired = false
  const cancelLong = c.setTimer(2 ** 31 + 1000, () => (longFired = true)) // would fire at once if not chained
  await new Promise((r) => setTimeout(r, 30))
  t.notOk(fired)
  t.notOk(longFired)
  cancelLong()
})

t.test('real clock timers are unref’d by default (a forgotten timer does not keep a daemon alive)', async (t) => {
  const c = createRealClock()
  let fired = false
  const cancel = c.setTimer(1, () => (fired = true))
  await new Promise((r) => setTimeout(r, 20))
  t.ok(fired)
  cancel()
})
