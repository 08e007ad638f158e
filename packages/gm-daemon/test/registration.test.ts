// Registration: Main Mode + GROUPKEY-PULL against in-memory key servers (fake clock), key server
// failover, PULL retransmission on loss, all key servers down (keys kept, backoff), phase-1 reuse.
import t from 'tap'
import { ExchangeType } from '@gdoi/wire'
import { LogEvent } from '@gdoi/daemon-kit'
import { GmChannel } from '../src/diag.js'
import { assertNoSecrets, GM_ADDRESS, logEvents, setup } from './helpers/harness.js'
import { toHex } from './helpers/test-ks.js'

t.test('registers: TEKs in the SA table, KEK installed, events and logs', async (t) => {
  const s = await setup()
  t.teardown(() => s.close())
  const ks = s.kss[0]!
  t.equal(ks.registrations.length, 1, 'the KS saw one complete PULL')
  t.equal(s.on(GmChannel.REGISTERED).length, 1, 'gdoi:gm:registered published once')
  t.same(s.on(GmChannel.REGISTERED)[0]?.['teks'], [0x1001])
  t.same(s.on(GmChannel.TEK_INSTALLED).map((m) => m['spi']), [0x1001])
  t.equal(s.on(GmChannel.KEK_INSTALLED).length, 1)

  const sa = s.gm.sas.inbound(0x1001)
  t.ok(sa, 'TEK 0x1001 inbound in the SA table')
  t.equal(sa?.state, 'current', 'and used for sending (first TEK: no activation delay)')
  t.same(s.gm.sas.slots().map((x) => x.id), ['ip 10.1.0.0/16 10.2.0.0/16'], 'one policy slot per selector')

  const st = s.gm.status()
  t.equal(st.registration.status, 'Registered')
  t.equal(st.registration.registeredWith, '10.0.0.1')
  t.equal(st.registration.succeeded, 1)
  t.equal(st.kek?.spi, `0x${toHex(ks.kek!.policy.spi).toUpperCase()}`)
  t.equal(st.kek?.lastSeq, 0, 'PULL4 SEQ 0 stored as the last accepted SEQ')
  t.ok(st.registration.reregisterInSec !== null && st.registration.reregisterInSec > 3400 && st.registration.reregisterInSec <= 3540, `re-register ~60 s (+jitter) before the TEK expires (${st.registration.reregisterInSec} s)`)

  for (const ev of [LogEvent.REGISTRATION_STARTED, LogEvent.IKE_ESTABLISHED, LogEvent.REGISTRATION_COMPLETE, LogEvent.TEK_INSTALLED, LogEvent.KEK_INSTALLED, LogEvent.POLICY_INSTALLED]) {
    t.equal(logEvents(s.sink, ev).length, 1, `one ${ev} log line`)
  }
  const done = logEvents(s.sink, LogEvent.REGISTRATION_COMPLETE)[0]
  t.equal(done?.['ks'], '10.0.0.1:848')
  t.equal(done?.['group'], 'GETVPN-GRP')
  assertNoSecrets(t, s.sink, ks)
})

t.test('retransmit from the configuration: 2 s × 3 to a silent KS, then failover', async (t) => {
  const s = await setup({ keyServers: 2, settleMs: 0, config: { retransmit: { intervalSec: 2, count: 3 } } })
  t.teardown(() => s.close())
  const [ks1, ks2] = s.kss as [typeof s.kss[0] & object, typeof s.kss[0] & object]
  ks1.silent = true
  s.clock.advance(10)
  s.clock.advance(2000 * 3 - 200)
  const mm1 = (): number => ks1.received.filter((r) => r.exchange === ExchangeType.IDENTITY_PROTECTION).length
  t.equal(mm1(), 3, 'MM1 and two retransmissions within 5.8 s (2 s apart)')
  t.equal(ks2.registrations.length, 0, 'still trying the first KS')
  s.clock.advance(2000 + 500)
  t.equal(mm1(), 4, 'MM1 sent once and retransmitted 3 times')
  t.equal(ks2.registrations.length, 1, 'registered with the second KS after 4 × 2 s instead of 6 × 7 s')

  // reload applies a new policy to the next registration
  const r = await s.gm.reload({ ...s.gm.config, retransmit: { intervalSec: 1, count: 1 } })
  t.same(r.restartNeeded, [], 'retransmit needs no restart')
  ks2.silent = true
  const allMm1 = (): number => s.kss.reduce((n, k) => n + k.received.filter((x) => x.exchange === ExchangeType.IDENTITY_PROTECTION).length, 0)
  const before = allMm1()
  s.gm.reregister('test')
  s.clock.advance(1500)
  t.equal(allMm1() - before, 2, 'after reload: MM1 + 1 retransmission 1 s apart')
  s.clock.advance(1000)
  t.equal(allMm1() - before, 3, '… then the next key server, 2 s after the first MM1')
})

t.test('key server failover: the first KS is silent, the second one is used', async (t) => {
  const s = await setup({ keyServers: 2, settleMs: 0 })
  t.teardown(() => s.close())
  const [ks1, ks2] = s.kss as [typeof s.kss[0] & object, typeof s.kss[0] & object]
  ks1.silent = true
  s.clock.advance(10)
  t.equal(s.gm.status().registration.state, 'phase1')
  // MM1 + 5 retransmissions 7 s apart, then the attempt times out (DEFAULT_RETRANSMIT).
  s.clock.advance(7000 * 6 + 100)
  const mm1s = ks1.received.filter((r) => r.exchange === ExchangeType.IDENTITY_PROTECTION).length
  t.equal(mm1s, 6, 'MM1 sent once and retransmitted 5 times to the silent KS')
  t.equal(ks2.registrations.length, 1, 'registered with the second KS')
  t.equal(s.gm.status().registration.registeredWith, '10.0.0.2')
  const fo = s.on(GmChannel.KS_FAILOVER)
  t.equal(fo.length, 1)
  t.equal(fo[0]?.['peer'], '10.0.0.1:848')
  t.equal(fo[0]?.['next'], '10.0.0.2:848')
  const failed = logEvents(s.sink, LogEvent.REGISTRATION_FAILED)
  t.equal(failed.length, 1)
  t.equal(failed[0]?.['reason'], 'timeout')
  t.equal(failed[0]?.['next'], '10.0.0.2:848')

  // The next registration starts with the KS that worked: no new failover.
  s.gm.reregister('test')
  s.clock.advance(1000)
  t.equal(ks2.registrations.length, 2, 'the re-registration goes to the KS that answered')
  t.equal(s.on(GmChannel.KS_FAILOVER).length, 1, 'no second failover')
})

t.test('PULL retransmission when a PULL2 is lost', async (t) => {
  const s = await setup({ settleMs: 0 })
  t.teardown(() => s.close())
  const ks = s.kss[0]!
  let dropped = 0
  s.net.setFilter((d) => {
    if (d.from.address === ks.address && dropped === 0 && d.bytes[18] === ExchangeType.GROUPKEY_PULL) {
      dropped++
      return false
    }
    return true
  })
  s.clock.advance(1000)
  t.equal(dropped, 1, 'the first PULL2 was lost')
  t.equal(s.gm.status().registration.state, 'pull', 'still waiting for PULL2')
  s.clock.advance(7000)
  const pull1s = ks.received.filter((r) => r.exchange === ExchangeType.GROUPKEY_PULL)
  t.equal(pull1s.length, 3, 'PULL1, its retransmission, PULL3')
  t.same(pull1s[0]?.bytes, pull1s[1]?.bytes, 'the retransmission is byte-identical')
  t.equal(ks.registrations.length, 1)
  t.equal(s.gm.status().registration.status, 'Registered')
})

t.test('every key server down: keys kept until expiry, retries with backoff', async (t) => {
  const s = await setup({ keyServers: 2, ks: { teks: [], kek: { lifetimeSec: 86400 } } })
  t.teardown(() => s.close())
  const [ks1, ks2] = s.kss as [NonNullable<(typeof s.kss)[0]>, NonNullable<(typeof s.kss)[0]>]
  t.equal(s.gm.status().registration.status, 'Registered', 'registered (KEK only)')
  ks1.silent = true
  ks2.silent = true
  s.gm.reregister('test')
  // PULL under the old phase-1 SA times out, then Main Mode with each KS (MM1 ×6 each), then backoff
  for (let i = 0; i < 300 && s.gm.status().registration.state !== 'backoff'; i++) s.clock.advance(1000)
  const st = s.gm.status()
  t.equal(st.registration.state, 'backoff', 'waiting before the next round')
  t.ok(st.registration.retryInSec !== null && st.registration.retryInSec > 0)
  t.equal(st.keks.length, 1, 'the KEK is kept')
  t.ok(logEvents(s.sink, LogEvent.REGISTRATION_FAILED).some((l) => l['round'] === 1), 'round failure logged')
  t.ok(s.on(GmChannel.REGISTRATION_FAILED).length >= 1)
  ks2.silent = false
  s.clock.advance(400_000)
  t.equal(ks1.registrations.length, 1, 'first registration with KS 1')
  t.equal(ks2.registrations.length, 1, 'registered with KS 2 once it answers')
  t.equal(s.gm.status().registration.registeredWith, '10.0.0.2')
  t.equal(s.gm.status().registration.state, 'idle')
})

t.test('re-registration reuses the phase-1 SA; a KS that forgot it gets a new Main Mode', async (t) => {
  const s = await setup()
  t.teardown(() => s.close())
  const ks = s.kss[0]!
  const mm = () => ks.received.filter((r) => r.exchange === ExchangeType.IDENTITY_PROTECTION).length
  const before = mm()
  s.gm.reregister('test')
  s.clock.advance(1000)
  t.equal(ks.registrations.length, 2)
  t.equal(mm(), before, 'no new Main Mode')
  t.equal(logEvents(s.sink, LogEvent.REGISTRATION_COMPLETE)[1]?.['reusedPhase1'], true)

  ks.forgetSessions()
  s.gm.reregister('test')
  s.clock.advance(7000 * 6 + 2000)
  t.equal(ks.registrations.length, 3, 'registered after a fresh phase 1')
  t.ok(mm() > before, 'Main Mode ran again')
  t.equal(s.gm.status().isakmpSas.filter((r) => r.kind === 'registration').length, 1, 'one registration SA')
})

t.test('the KS refuses the group: next KS, then backoff', async (t) => {
  const s = await setup({ keyServers: 1, ks: { groupNumber: 999 }, settleMs: 2000 })
  t.teardown(() => s.close())
  const st = s.gm.status()
  t.equal(st.registration.status, 'Not registered')
  t.equal(st.registration.lastFailure?.stage, 'pull')
  t.equal(st.registration.lastFailure?.reason, 'notify')
  t.equal(st.registration.state, 'backoff')
  t.equal(s.gm.localAddress, GM_ADDRESS)
})
