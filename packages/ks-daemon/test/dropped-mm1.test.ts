import t from 'tap'
import { DroppedMm1Memory } from '../src/dropped-mm1.js'

const cookie = (n: number): Uint8Array => Uint8Array.from({ length: 8 }, (_, i) => (n >> (8 * (i % 4))) & 0xff)
const gm = { address: '10.0.1.2', port: 848 }

t.test('a dropped MM1 is recognised by cookie and source, nothing else', async (t) => {
  const m = new DroppedMm1Memory(Uint8Array.of(1, 2, 3, 4))
  t.notOk(m.seen(cookie(1), gm), 'nothing dropped yet')
  m.remember(cookie(1), gm)
  t.ok(m.seen(cookie(1), gm), 'the same MM1 retransmitted')
  t.notOk(m.seen(cookie(2), gm), 'another cookie from the same GM')
  t.notOk(m.seen(cookie(1), { address: '10.0.1.2', port: 849 }), 'the same cookie from another port')
  t.notOk(m.seen(cookie(1), { address: '10.0.1.3', port: 848 }), 'the same cookie from another address (spoofed copy)')
})

t.test('the table is overwritten, not grown: a flood pushes old entries out', async (t) => {
  const m = new DroppedMm1Memory(Uint8Array.of(9, 9, 9, 9), 64)
  m.remember(cookie(1), gm)
  for (let i = 0; i < 10_000; i++) m.remember(cookie(1000 + i), { address: `198.18.${(i >> 8) & 255}.${i & 255}`, port: 500 })
  t.notOk(m.seen(cookie(1), gm), 'after 10,000 drops into 64 slots the first one is gone')
  let found = 0
  for (let i = 9_990; i < 10_000; i++) if (m.seen(cookie(1000 + i), { address: `198.18.${(i >> 8) & 255}.${i & 255}`, port: 500 })) found++
  t.ok(found >= 5, `most of the last 10 are still there (${found})`)
})

t.test('keyed: which MM1s share a slot depends on the key', async (t) => {
  // In a 2-slot table, does remembering d push c out? That is "same slot", decided by the keyed hash.
  const collisions = (key: Uint8Array): string => {
    let bits = ''
    for (let d = 1; d <= 64; d++) {
      const m = new DroppedMm1Memory(key, 2)
      m.remember(cookie(0), gm)
      m.remember(cookie(d), gm)
      bits += m.seen(cookie(0), gm) ? '0' : '1'
    }
    return bits
  }
  const a = collisions(Uint8Array.of(1, 1, 1, 1))
  const b = collisions(Uint8Array.of(2, 2, 2, 2))
  t.ok(a.includes('1') && a.includes('0'), `some cookies share c's slot, some do not (${a})`)
  t.not(a, b, 'another key, other collisions: an attacker without the key cannot aim at a GM\'s slot')
  t.throws(() => new DroppedMm1Memory(Uint8Array.of(1, 2, 3, 4), 1000), RangeError, 'slots must be a power of two')
})
