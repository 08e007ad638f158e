import t from 'tap'
import { createUdpTransport } from '../../src/transport/udp.js'
import type { Endpoint } from '../../src/transport/types.js'

function next(tr: { onDatagram(h: (b: Uint8Array, from: Endpoint) => void): void }): Promise<{ b: Uint8Array; from: Endpoint }> {
  return new Promise((resolve) => tr.onDatagram((b, from) => resolve({ b: b.slice(), from })))
}

t.test('two transports on 127.0.0.1 port 0 exchange datagrams', async (t) => {
  const a = await createUdpTransport({ address: '127.0.0.1', port: 0 })
  const b = await createUdpTransport({ address: '127.0.0.1', port: 0 })
  t.teardown(() => Promise.all([a.close(), b.close()]))
  t.equal(a.local.address, '127.0.0.1')
  t.ok(a.local.port > 0, 'the OS picked a port')
  t.not(a.local.port, b.local.port)

  const got = next(b)
  const buf = Uint8Array.from([1, 2, 3, 4])
  a.send(buf, b.local)
  buf.fill(0) // the transport copied the bytes
  const r = await got
  t.same([...r.b], [1, 2, 3, 4])
  t.same(r.from, a.local)

  const back = next(a)
  b.send(Uint8Array.from([9]), r.from)
  t.same([...(await back).b], [9])
  t.equal(a.stats().received, 1)
  t.equal(b.stats().received, 1)
})

t.test('a datagram larger than the MTU (a big rekey) arrives whole over loopback', async (t) => {
  const a = await createUdpTransport({ address: '127.0.0.1', port: 0 })
  const b = await createUdpTransport({ address: '127.0.0.1', port: 0 })
  t.teardown(() => Promise.all([a.close(), b.close()]))
  const big = new Uint8Array(3000).map((_, i) => i & 0xff)
  const got = next(b)
  a.send(big, b.local)
  t.ok(Buffer.from((await got).b).equals(Buffer.from(big)))
})

t.test('binding a port in use fails with EADDRINUSE', async (t) => {
  const a = await createUdpTransport({ address: '127.0.0.1', port: 0 })
  t.teardown(() => a.close())
  await t.rejects(createUdpTransport({ address: '127.0.0.1', port: a.local.port }), { code: 'EADDRINUSE' })
})

t.test('close is idempotent; sending after close is counted, not thrown', async (t) => {
  const a = await createUdpTransport({ address: '127.0.0.1', port: 0 })
  await a.close()
  await a.close()
  t.doesNotThrow(() => a.send(Uint8Array.from([1]), { address: '127.0.0.1', port: 9 }))
  t.equal(a.stats().sendErrors, 1)
})

t.test('send errors are reported through onError', async (t) => {
  const a = await createUdpTransport({ address: '127.0.0.1', port: 0 })
  t.teardown(() => a.close())
  const err = new Promise<{ err: Error; to?: Endpoint }>((resolve) => a.onError((e, to) => resolve(to ? { err: e, to } : { err: e })))
  a.send(Uint8Array.from([1]), { address: '127.0.0.1', port: 0 }) // port 0: EINVAL
  const r = await err
  t.ok(r.err instanceof Error)
  t.same(r.to, { address: '127.0.0.1', port: 0 })
})

t.test('multicast: a member bound to the group receives a push (skipped if loopback has no multicast)', async (t) => {
  const group = '239.255.84.8'
  let member
  try {
    member = await createUdpTransport({ address: group, port: 0, reuseAddr: true, multicast: { interface: '127.0.0.1', groups: [group] } })
  } catch (err) {
    t.pass('skipped', { skip: `multicast unavailable here: ${(err as Error).message}` })
    return
  }
  const ks = await createUdpTransport({ address: '127.0.0.1', port: 0, multicast: { interface: '127.0.0.1', ttl: 1, loopback: true } })
  t.teardown(() => Promise.all([ks.close(), member.close()]))
  const got = Promise.race([next(member), new Promise<undefined>((r) => setTimeout(() => r(undefined), 1000))])
  ks.send(Uint8Array.from([7, 7]), { address: group, port: member.local.port })
  const r = await got
  if (r === undefined) {
    t.pass('skipped', { skip: 'no multicast delivery on this host’s loopback' })
    return
  }
  t.same([...r.b], [7, 7])
  member.leaveGroup(group)
})
