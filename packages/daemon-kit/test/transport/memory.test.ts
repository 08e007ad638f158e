import t from 'tap'
import { createMemoryNetwork, createMemoryPair, seededRandom, type MemoryNetworkOptions } from '../../src/transport/memory.js'
import { createFakeClock } from '../../src/clock.js'
import type { Endpoint } from '../../src/transport/types.js'

const KS = { address: '127.0.1.1', port: 848 }
const GMS = ['127.0.1.11', '127.0.1.12', '127.0.1.13'].map((address) => ({ address, port: 848 }))

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b)

/** KS pushes N numbered datagrams to 3 GMs; every GM echoes each one back. Returns what each node saw. */
async function scenario(opts: MemoryNetworkOptions, n = 50) {
  const net = createMemoryNetwork({ ...opts, trace: true })
  const ks = net.attach(KS)
  const gms = GMS.map((g) => net.attach(g))
  const seenKs: string[] = []
  const seenGm: string[][] = gms.map(() => [])
  ks.onDatagram((b, from) => seenKs.push(`${from.address}:${b[0] ?? -1}`))
  gms.forEach((gm, i) =>
    gm.onDatagram((b, from) => {
      seenGm[i]?.push(`${b[0] ?? -1}`)
      gm.send(b, from)
    }),
  )
  for (let k = 0; k < n; k++) for (const g of GMS) ks.send(bytes(k), g)
  await net.flush()
  return { seenKs, seenGm, stats: net.stats(), fates: net.trace().map((e) => `${e.seq}:${e.fate}:${e.duplicate}:${e.reordered}`) }
}

t.test('KS and three GMs exchange datagrams by address', async (t) => {
  const net = createMemoryNetwork({ seed: 1 })
  const ks = net.attach(KS)
  const gms = GMS.map((g) => net.attach(g))
  const got: Array<{ who: string; from: Endpoint; b: number[] }> = []
  gms.forEach((gm, i) => gm.onDatagram((b, from) => got.push({ who: `gm${i + 1}`, from, b: [...b] })))
  const buf = bytes(1, 2, 3)
  ks.send(buf, GMS[1] as Endpoint)
  buf[0] = 99 // the network copied the bytes on send
  await net.flush()
  t.same(got, [{ who: 'gm2', from: KS, b: [1, 2, 3] }])
  t.same(ks.local, KS)
  t.equal(net.stats().delivered, 1)
})

t.test('same seed → same fates and delivery order under loss, duplication and reordering', async (t) => {
  const opts = { seed: 42, drop: 0.2, duplicate: 0.1, reorder: 0.2 }
  const a = await scenario(opts)
  const b = await scenario(opts)
  t.same(a, b, 'identical runs')
  t.ok(a.stats.dropped > 0, 'some datagrams dropped')
  t.ok(a.stats.duplicated > 0, 'some duplicated')
  t.ok(a.stats.reordered > 0, 'some reordered')
  t.equal(a.stats.sent, 150 + a.seenGm.reduce((s, l) => s + l.length, 0), 'every delivered datagram was echoed')
  const c = await scenario({ ...opts, seed: 43 })
  t.not(JSON.stringify(c.fates), JSON.stringify(a.fates), 'another seed gives other fates')
})

t.test('reordering holds a datagram back behind later ones; duplicates arrive twice', async (t) => {
  const r = await scenario({ seed: 7, reorder: 0.3 }, 30)
  for (const seen of r.seenGm) {
    t.equal(seen.length, 30, 'nothing lost')
    t.not(seen.join(','), [...seen].sort((x, y) => Number(x) - Number(y)).join(','), 'order changed')
  }
  const d = await scenario({ seed: 7, duplicate: 1 }, 5)
  for (const seen of d.seenGm) t.same(seen, ['0', '0', '1', '1', '2', '2', '3', '3', '4', '4'])
})

t.test('drop: 1 loses everything, drop: 0 nothing', async (t) => {
  const lost = await scenario({ seed: 1, drop: 1 }, 10)
  t.equal(lost.stats.delivered, 0)
  t.equal(lost.stats.dropped, 30)
  const kept = await scenario({ seed: 1 }, 10)
  t.equal(kept.stats.dropped, 0)
  t.equal(kept.seenKs.length, 30)
  t.throws(() => createMemoryNetwork({ seed: 1, drop: 2 }), RangeError)
})

t.test('multicast: a push to a group reaches every member that joined', async (t) => {
  const net = createMemoryNetwork({ seed: 1 })
  const ks = net.attach(KS)
  const gms = GMS.map((g) => net.attach(g))
  const got: number[] = []
  gms.forEach((gm, i) => gm.onDatagram(() => got.push(i)))
  gms[0]?.joinGroup('239.192.1.1')
  gms[2]?.joinGroup('239.192.1.1')
  ks.send(bytes(1), { address: '239.192.1.1', port: 848 })
  await net.flush()
  t.same(got.sort(), [0, 2])
  gms[0]?.leaveGroup('239.192.1.1')
  ks.send(bytes(2), { address: '239.192.1.1', port: 848 })
  await net.flush()
  t.same(got.sort(), [0, 2, 2])
  t.throws(() => gms[1]?.joinGroup('10.0.0.1'), RangeError)
})

t.test('unreachable, filtered, closed, address in use, ephemeral ports', async (t) => {
  const net = createMemoryNetwork({ seed: 1, trace: true })
  const ks = net.attach(KS)
  const gm = net.attach(GMS[0] as Endpoint)
  let n = 0
  gm.onDatagram(() => n++)
  ks.send(bytes(1), { address: '127.0.9.9', port: 848 })
  net.setFilter((d) => d.to.address !== GMS[0]?.address)
  ks.send(bytes(2), GMS[0] as Endpoint)
  net.setFilter(undefined)
  await net.flush()
  t.equal(n, 0)
  t.same(net.trace().map((e) => e.fate), ['filtered', 'unreachable'], 'in the order the fates happened')
  t.throws(() => net.attach(KS), { code: 'EADDRINUSE' })
  await gm.close()
  t.ok(gm.closed)
  ks.send(bytes(3), GMS[0] as Endpoint)
  await net.flush()
  t.equal(net.stats().unreachable, 2)
  const again = net.attach(GMS[0] as Endpoint) // the address is free again
  t.ok(again)
  const e1 = net.attach({ address: '127.0.0.1', port: 0 })
  const e2 = net.attach({ address: '127.0.0.1', port: 0 })
  t.not(e1.local.port, e2.local.port)
  t.ok(e1.local.port >= 49152)
  t.equal(net.attach('127.0.0.3').local.port, 848)
})

t.test('with a fake clock, delivery happens when time passes the latency', async (t) => {
  const clock = createFakeClock(1000)
  const net = createMemoryNetwork({ seed: 1, clock, latencyMs: 5, trace: true })
  const { a, b } = { a: net.attach(KS), b: net.attach(GMS[0] as Endpoint) }
  const got: number[] = []
  b.onDatagram(() => got.push(clock.nowMs()))
  a.send(bytes(1), b.local)
  clock.advance(4)
  t.same(got, [])
  t.equal(net.inFlight(), 1)
  clock.advance(1)
  t.same(got, [1005])
  t.equal(net.trace()[0]?.atMs, 1005)
})

t.test('deliverRound delivers synchronously; handler sends go to the next round', (t) => {
  const { network, a, b } = createMemoryPair()
  let ping = 0
  b.onDatagram((x, from) => {
    ping++
    b.send(x, from)
  })
  let pong = 0
  a.onDatagram(() => pong++)
  a.send(bytes(1), b.local)
  t.equal(network.deliverRound(), 1)
  t.equal(ping, 1)
  t.equal(pong, 0)
  t.equal(network.deliverRound(), 1)
  t.equal(pong, 1)
  t.equal(network.inFlight(), 0)
  t.end()
})

t.test('a ping-pong loop makes flush() give up instead of hanging', async (t) => {
  const { network, a, b } = createMemoryPair()
  a.onDatagram((x, from) => a.send(x, from))
  b.onDatagram((x, from) => b.send(x, from))
  a.send(bytes(1), b.local)
  await t.rejects(network.flush(20), /still 1 datagrams in flight/)
  await a.close()
  await network.flush()
})

t.test('seededRandom is deterministic and in [0, 1)', (t) => {
  const r1 = seededRandom(5)
  const r2 = seededRandom(5)
  const xs = Array.from({ length: 1000 }, () => r1())
  t.same(xs, Array.from({ length: 1000 }, () => r2()))
  t.ok(xs.every((x) => x >= 0 && x < 1))
  t.end()
})
