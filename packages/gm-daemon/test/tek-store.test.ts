// TekStore → SaTable: a member that registers during a TEK rollover gets the old TEK and the new one
// for the same selector (the key server hands out every live TEK). It must send with the newest at
// once: the others already accept it, and may already have retired the old one (GAP DTD), so waiting
// for the old TEK's expiry would send with an SPI nobody accepts (found in the netns lab).
import t from 'tap'
import pino from 'pino'
import { createFakeClock } from '@gdoi/daemon-kit'
import type { GroupKeys, GroupPolicy, TekPolicy } from '@gdoi/wire/exchange/index'
import { SaTable } from '../src/dataplane/sa-table.js'
import { TekStore } from '../src/tek-store.js'

const selector = {
  protocol: 0,
  src: { address: { kind: 'prefix', address: '10.1.0.0', prefixLength: 16 }, port: 0 },
  dst: { address: { kind: 'prefix', address: '10.1.0.0', prefixLength: 16 }, port: 0 },
} as TekPolicy['selector']

const sat = (spi: number, lifetimeSec: number): TekPolicy => ({
  spi,
  selector,
  transform: { cipher: 'aes-cbc', keyBits: 256, integrity: 'sha1' },
  lifetimeSec,
  encapsulation: 'tunnel',
})
const keys = (...spis: number[]): GroupKeys => ({ teks: spis.map((spi) => ({ spi, encKey: new Uint8Array(32).fill(spi & 0xff), authKey: new Uint8Array(20).fill(7) })) })

function setup() {
  const clock = createFakeClock(1_000_000)
  const sas = new SaTable({ clock: { now: () => clock.nowMs(), setTimer: (ms, fn) => clock.setTimer(ms, fn) }, engine: 'node' })
  const store = new TekStore({ sas, clock, log: pino({ level: 'silent' }), diagId: 'test', groupName: 'GETVPN-GRP', onChange: () => undefined })
  const current = (): number | undefined => sas.slots()[0]?.current?.spi
  return { clock, sas, store, current }
}

t.test('registration during the overlap: the newest TEK sends at once, the old one keeps receiving', async (t) => {
  const { clock, sas, store, current } = setup()
  const policy: GroupPolicy = { gap: { activationDelaySec: 5, deactivationDelaySec: 20 }, teks: [sat(0x1111, 8), sat(0x2222, 68)] }
  const r = store.install(policy, keys(0x1111, 0x2222), 'registration', '10.0.0.2')
  t.same([...r.installed].sort(), [0x1111, 0x2222])
  t.equal(current(), 0x2222, 'sends with the newest TEK (not after the old one expires)')
  t.ok(sas.inbound(0x1111) !== undefined, 'the old TEK still decrypts')
  clock.advance(9_000)
  t.equal(sas.inbound(0x1111), undefined, 'until it expires')
  t.equal(current(), 0x2222)
  store.close()
  sas.close()
})

t.test('the same TEKs listed newest first: same outcome', async (t) => {
  const { sas, store, current } = setup()
  store.install({ gap: { activationDelaySec: 5, deactivationDelaySec: 20 }, teks: [sat(0x2222, 68), sat(0x1111, 8)] }, keys(0x1111, 0x2222), 'registration', '10.0.0.2')
  t.equal(current(), 0x2222)
  store.close()
  sas.close()
})

t.test('a rekey push keeps the GAP activation delay', async (t) => {
  const { clock, sas, store, current } = setup()
  store.install({ teks: [sat(0x1111, 90)] }, keys(0x1111), 'registration', '10.0.0.2')
  t.equal(current(), 0x1111)
  store.install({ gap: { activationDelaySec: 5, deactivationDelaySec: 20 }, teks: [sat(0x2222, 90)] }, keys(0x2222), 'rekey', '10.0.0.2')
  t.equal(current(), 0x1111, 'the old TEK sends during ATD')
  clock.advance(5_000)
  t.equal(current(), 0x2222, 'the new one after ATD')
  store.close()
  sas.close()
})

// A member that re-registers after it already took the newer TEK by push (found by lab/faults.sh: GMs
// re-registering through 30 % loss). The key server still lists the old TEK until it expires, and a PULL
// that took a while (retransmissions) carries the keys as they were when the key server built it — before
// the push. Re-installing those must not move the member back to the old TEK nor retire the newer one.
t.test('re-registration after the push: the TEKs it holds stay as they are', async (t) => {
  const { clock, sas, store, current } = setup()
  const gap = { activationDelaySec: 5, deactivationDelaySec: 15 }
  store.install({ gap, teks: [sat(0x1111, 60)] }, keys(0x1111), 'registration', '10.0.0.2')
  clock.advance(40_000)
  store.install({ gap, teks: [sat(0x2222, 60)] }, keys(0x2222), 'rekey', '10.0.0.2')
  clock.advance(6_000)
  t.equal(current(), 0x2222, 'sends with the pushed TEK after ATD')
  // the KS hands out both live TEKs, the old one with 14 s left
  store.install({ gap, teks: [sat(0x1111, 14), sat(0x2222, 54)] }, keys(0x1111, 0x2222), 'registration', '10.0.0.2')
  t.equal(current(), 0x2222, 'still the pushed TEK')
  clock.advance(6_000)
  t.equal(current(), 0x2222, 'no switch back to the old TEK after an activation delay')
  clock.advance(20_000)
  t.equal(current(), 0x2222, 'the pushed TEK is not retired (DTD)')
  t.ok(sas.inbound(0x2222) !== undefined, 'and still decrypts')
  t.equal(sas.inbound(0x1111), undefined, 'the old one left at its own time')
  store.close()
  sas.close()
})

t.test('a stale registration (built before the push) does not bring back a TEK the member retired', async (t) => {
  const { clock, sas, store, current } = setup()
  const gap = { activationDelaySec: 5, deactivationDelaySec: 15 }
  store.install({ gap, teks: [sat(0x1111, 60)] }, keys(0x1111), 'registration', '10.0.0.2')
  clock.advance(40_000)
  store.install({ gap, teks: [sat(0x2222, 60)] }, keys(0x2222), 'rekey', '10.0.0.2')
  clock.advance(16_000)
  t.equal(sas.inbound(0x1111), undefined, 'the old TEK was retired 15 s after the push (DTD)')
  // the PULL's keys as of before the push: the old TEK only, with the life it had then
  const r = store.install({ gap, teks: [sat(0x1111, 25)] }, keys(0x1111), 'registration', '10.0.0.2')
  t.same(r.installed, [], 'nothing installed')
  t.equal(sas.inbound(0x1111), undefined, 'the retired TEK stays retired')
  t.equal(current(), 0x2222, 'the member keeps sending with the pushed TEK')
  clock.advance(20_000)
  t.equal(current(), 0x2222, 'and it is not retired')
  store.close()
  sas.close()
})

t.test('a registration TEK older than the one held for its selector only receives', async (t) => {
  const { clock, sas, store, current } = setup()
  const gap = { activationDelaySec: 5, deactivationDelaySec: 15 }
  store.install({ gap, teks: [sat(0x2222, 60)] }, keys(0x2222), 'registration', '10.0.0.2')
  clock.advance(10_000)
  store.install({ gap, teks: [sat(0x1111, 20)] }, keys(0x1111), 'registration', '10.0.0.2')
  t.ok(sas.inbound(0x1111) !== undefined, 'the older TEK decrypts')
  t.equal(current(), 0x2222, 'the newer TEK held keeps sending')
  clock.advance(20_000)
  t.equal(current(), 0x2222, 'and is not retired')
  store.close()
  sas.close()
})

t.test('a registration with a TEK newer than the ones held: sent with at once, as before', async (t) => {
  const { clock, sas, store, current } = setup()
  const gap = { activationDelaySec: 5, deactivationDelaySec: 15 }
  store.install({ gap, teks: [sat(0x1111, 60)] }, keys(0x1111), 'registration', '10.0.0.2')
  clock.advance(45_000) // the push of 0x2222 was lost: re-registration
  store.install({ gap, teks: [sat(0x1111, 15), sat(0x2222, 55)] }, keys(0x1111, 0x2222), 'registration', '10.0.0.2')
  t.equal(current(), 0x2222, 'the missed TEK sends at once')
  t.ok(sas.inbound(0x1111) !== undefined, 'the old one still decrypts')
  store.close()
  sas.close()
})
