// Re-registration scheduling: ~60 s (+ 0..jitter) before the earliest expiry when no push arrived,
// postponed by pushes, never a loop for short lifetimes; backoff between failed rounds.
import t from 'tap'
import { LogEvent } from '@gdoi/daemon-kit'
import { GmChannel } from '../src/diag.js'
import { backoffMs, randomInt, reregisterAtMs } from '../src/rekey-timer.js'
import { GM_ADDRESS, logEvents, seededRng, setup } from './helpers/harness.js'
import { tekPolicy } from './helpers/test-ks.js'

const GM = { address: GM_ADDRESS, port: 848 }

t.test('reregisterAtMs: deadline − before − jitter, never before half-way', (t) => {
  const rng = seededRng('x')
  const p = { beforeExpirySec: 60, jitterSec: 10 }
  const ats = Array.from({ length: 200 }, () => reregisterAtMs(0, 3_600_000, p, rng))
  t.same(ats.filter((at) => at < 3_530_000 || at > 3_540_000), [], 'all within [deadline − 70 s, deadline − 60 s]')
  t.ok(new Set(ats).size > 100, 'jittered')
  t.equal(reregisterAtMs(1000, 61_000, { beforeExpirySec: 60, jitterSec: 0 }, rng), 31_000, 'short lifetime: half-way')
  t.equal(reregisterAtMs(5000, 1000, p, rng), 5000, 'already expired: now')
  const zero = (n: number): Uint8Array => new Uint8Array(n)
  const ones = (n: number): Uint8Array => new Uint8Array(n).fill(0xff)
  t.equal(reregisterAtMs(0, 3_600_000, p, zero), 3_540_000, 'jitter 0')
  t.equal(reregisterAtMs(0, 3_600_000, p, ones), 3_530_000, 'jitter max')
  t.end()
})

t.test('randomInt and backoff', (t) => {
  const rng = seededRng('b')
  const seen = new Set<number>()
  for (let i = 0; i < 500; i++) seen.add(randomInt(rng, 3))
  t.same([...seen].sort(), [0, 1, 2, 3], 'every value in [0, 3] reachable, nothing else')
  const p = { baseMs: 10_000, maxMs: 300_000, jitterMs: 0 }
  t.same([1, 2, 3, 4, 5, 6, 7, 20].map((r) => backoffMs(r, p, rng)), [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000])
  t.end()
})

t.test('no push: the member re-registers before its TEK expires', async (t) => {
  const s = await setup({ ks: { noKek: true, teks: [tekPolicy(0x1001, { lifetimeSec: 600 })] } })
  t.teardown(() => s.close())
  const ks = s.kss[0]!
  const st = s.gm.status()
  t.equal(st.kek, null, 'no rekey SA')
  const due = st.registration.reregisterInSec
  t.ok(due !== null && due >= 529 && due <= 540, `re-register in ${due} s (600 − 60 − 0..10)`)
  t.equal(st.registration.reregisterReason, 'TEK expiry')
  s.clock.advance(528_000)
  t.equal(ks.registrations.length, 1, 'not yet')
  s.clock.advance(13_000)
  t.equal(ks.registrations.length, 2, 're-registered before expiry')
  t.equal(s.on(GmChannel.REREGISTER).length, 1)
  t.equal(logEvents(s.sink, LogEvent.REREGISTER).length, 2, 'the timer and the re-registration itself')
  t.ok(s.gm.sas.inbound(0x1001), 'TEK still there (same SPI from the KS)')
})

t.test('with a rekey SA, no push: REKEY_NOT_RECEIVED, then re-registration', async (t) => {
  const s = await setup({ ks: { teks: [tekPolicy(0x1001, { lifetimeSec: 300 })] } })
  t.teardown(() => s.close())
  const ks = s.kss[0]!
  s.clock.advance(227_000)
  t.equal(ks.registrations.length, 1)
  s.clock.advance(13_000)
  t.equal(ks.registrations.length, 2, 're-registered 60..70 s before expiry')
  t.equal(logEvents(s.sink, LogEvent.REKEY_NOT_RECEIVED).length, 1, 'GM_REKEY_NOT_RECD-like line')
  // This KS hands out the same TEK again (nothing newer): no more registrations until it expires.
  s.clock.advance(55_000)
  t.equal(ks.registrations.length, 2, 'no registration storm before the TEK expires')
  const left = s.gm.status().registration.reregisterInSec
  t.ok(left !== null && left >= 4 && left <= 5, `next try when the TEK expires (${left} s)`)
  s.clock.advance(6_000)
  t.equal(ks.registrations.length, 3, 'at expiry it asks again')
  t.ok(s.gm.sas.inbound(0x1001), 'and has a TEK again')
})

t.test('a push with a fresh TEK postpones re-registration', async (t) => {
  const s = await setup({ ks: { teks: [tekPolicy(0x1001, { lifetimeSec: 300 })] } })
  t.teardown(() => s.close())
  const ks = s.kss[0]!
  s.clock.advance(200_000)
  ks.sendTo(ks.tekRollover(0x1002, { lifetimeSec: 300 }), GM)
  s.clock.advance(5)
  const due = s.gm.status().registration.reregisterInSec
  t.ok(due !== null && due >= 229 && due <= 240, `deadline moved to the new TEK (${due} s)`)
  s.clock.advance(100_000)
  t.equal(ks.registrations.length, 1, 'no re-registration when the old TEK expired')
  t.equal(s.gm.sas.inbound(0x1001), undefined, 'old TEK expired')
  t.ok(s.on(GmChannel.TEK_EXPIRED).some((m) => m['spi'] === 0x1001 && m['reason'] === 'expired'))
  s.clock.advance(140_000)
  t.equal(ks.registrations.length, 2, 're-registered before the new TEK expires')
})
