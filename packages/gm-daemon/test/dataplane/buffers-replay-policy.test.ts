import t from 'tap'
import { HEADROOM_BYTES, PacketSlab, TAILROOM_BYTES } from '../../src/dataplane/buffers.js'
import { createPolicy, PolicyError, PolicyMatch, type AclEntry } from '../../src/dataplane/policy.js'
import { ReplayGuard, ReplayWindow } from '../../src/dataplane/replay.js'
import { buildIpv4, IpProto, setU16 } from '../../src/dataplane/ipv4.js'
import { ping, udp } from './helpers.js'

t.test('PacketSlab: free list, offsets, exhaustion, double free', (t) => {
  const s = new PacketSlab(4, 1500)
  t.equal(s.slotBytes % 64, 0)
  t.ok(s.slotBytes >= HEADROOM_BYTES + 1500 + TAILROOM_BYTES)
  t.ok(s.maxPacketBytes >= 1500)
  t.equal(s.buf.length, 4 * s.slotBytes)
  const a = s.alloc()
  t.equal(a, 0)
  t.equal(s.dataOffset(a), HEADROOM_BYTES)
  t.equal(s.slotOf(s.dataOffset(a) + 100), a)
  const out = new Int32Array(8)
  t.equal(s.allocBatch(out, 8), 3)
  t.same([...out.subarray(0, 3)], [1, 2, 3])
  t.equal(s.alloc(), -1, 'exhausted')
  t.equal(s.available, 0)
  s.free(2)
  t.equal(s.alloc(), 2, 'last freed is reused first (cache-warm)')
  s.freeBatch(out, 3)
  t.throws(() => s.free(1), RangeError, 'double free')
  t.throws(() => s.free(9), RangeError)
  t.throws(() => new PacketSlab(0, 1500))
  t.throws(() => new PacketSlab(1, 70000))
  t.end()
})

t.test('ReplayWindow (RFC 6479)', (t) => {
  const w = new ReplayWindow(64)
  t.notOk(w.check(0), 'seq 0 is never valid')
  t.notOk(w.accept(0))
  t.ok(w.accept(1))
  t.notOk(w.accept(1), 'duplicate')
  t.ok(w.accept(3))
  t.ok(w.accept(2), 'out of order inside the window')
  t.notOk(w.check(2))
  t.ok(w.accept(100))
  t.equal(w.last, 100)
  t.notOk(w.check(36), 'exactly window size behind: too old')
  t.ok(w.check(37), 'window size − 1 behind: ok')
  t.ok(w.accept(37))
  t.notOk(w.accept(37))
  t.ok(w.accept(100 + 10_000), 'a large jump clears the ring')
  t.notOk(w.check(100), 'far behind now')
  for (let s = 10_100 - 63; s < 10_100; s++) t.ok(w.check(s), `fresh slot ${s}`)
  t.ok(w.accept(0xffffffff), 'top of the 32-bit space')
  t.notOk(w.accept(0xffffffff))
  t.ok(w.accept(0xffffffff - 10))
  w.reset()
  t.ok(w.accept(1))
  // exhaustive check against a naive set-based model with a random walk
  const model = new Set<number>()
  let last = 0
  const w2 = new ReplayWindow(128)
  let seq = 1000
  let mismatches = 0
  for (let i = 0; i < 20000; i++) {
    seq = Math.max(1, seq + Math.floor(Math.random() * 40) - 25)
    const expect = seq > last || (last - seq < 128 && !model.has(seq))
    const got = w2.accept(seq)
    if (got !== expect) mismatches++
    if (expect) { model.add(seq); last = Math.max(last, seq) }
  }
  t.equal(mismatches, 0, 'matches a set-based model over 20 000 random steps')
  t.end()
})

t.test('ReplayGuard modes', (t) => {
  const off = new ReplayGuard()
  t.equal(off.mode, 'off')
  t.ok(off.accept(1, 5) && off.accept(1, 5), 'off by default: group SAs have many senders')
  const sa = new ReplayGuard({ mode: 'sa', windowBits: 64 })
  t.ok(sa.accept(1, 5))
  t.notOk(sa.accept(2, 5), "one window per SA: a second sender's seq 5 is a replay")
  const per = new ReplayGuard({ mode: 'sender', maxSenders: 2 })
  t.ok(per.accept(1, 5))
  t.ok(per.accept(2, 5), 'per-sender windows')
  t.notOk(per.accept(1, 5))
  t.notOk(per.check(2, 5))
  t.ok(per.check(3, 5), 'unknown sender')
  t.ok(per.accept(3, 5))
  t.equal(per.senders, 2)
  t.equal(per.evictions, 1)
  t.ok(per.accept(1, 5), 'evicted sender starts over (documented gap)')
  t.end()
})

const ACL: AclEntry[] = [
  { action: 'deny', protocol: IpProto.UDP, src: '10.1.0.0/16', dst: '10.2.0.0/16', dstPorts: [53, 53] },
  { action: 'permit', src: '10.1.0.0/16', dst: '10.2.0.0/16', policyId: 'lan' },
  { action: 'permit', protocol: IpProto.TCP, src: '10.3.0.0/24', dst: 'any', srcPorts: [443, 443], policyId: 'web', mirrored: false },
]

function m(p: Uint8Array): number {
  const policy = createPolicy(ACL)
  return policy.match(p, 0, (p[0]! & 15) * 4, p.length)
}

t.test('ACL matching: first match, mirrored, ports, deny, no match, UDP 848', (t) => {
  t.equal(m(ping('10.1.0.5', '10.2.7.7')), 1)
  t.equal(m(ping('10.2.7.7', '10.1.0.5')), 1, 'mirrored')
  t.equal(m(udp('10.1.0.5', '10.2.0.1', 5555, 53)), 0, 'deny DNS')
  t.equal(m(udp('10.2.0.1', '10.1.0.5', 53, 5555)), 0, 'deny DNS, mirrored')
  t.equal(m(udp('10.1.0.5', '10.2.0.1', 5555, 54)), 1)
  t.equal(m(udp('10.1.0.5', '10.2.0.1', 848, 848)), PolicyMatch.CONTROL, 'GDOI control never encrypted')
  t.equal(m(udp('10.2.0.1', '10.1.0.5', 50000, 848)), PolicyMatch.CONTROL)
  t.equal(m(ping('10.1.0.5', '192.0.2.1')), PolicyMatch.NONE)
  const tcp = (src: string, dst: string, sp: number, dp: number): Uint8Array => {
    const seg = new Uint8Array(20)
    setU16(seg, 0, sp)
    setU16(seg, 2, dp)
    return buildIpv4({ src, dst, protocol: IpProto.TCP, payload: seg })
  }
  t.equal(m(tcp('10.3.0.9', '8.8.8.8', 443, 40000)), 2)
  t.equal(m(tcp('8.8.8.8', '10.3.0.9', 40000, 443)), PolicyMatch.NONE, 'not mirrored')
  t.equal(m(tcp('10.3.0.9', '8.8.8.8', 444, 40000)), PolicyMatch.NONE)
  // a non-initial fragment has no ports: it matches port-restricted permits (protect) but not denies
  const frag = udp('10.1.0.5', '10.2.0.1', 5555, 53)
  setU16(frag, 6, 0x0010)
  t.equal(m(frag), 1, 'fragment skips the port-restricted deny, hits the permit')
  const fragTcp = tcp('10.3.0.9', '8.8.8.8', 1, 1)
  setU16(fragTcp, 6, 0x0020)
  t.equal(m(fragTcp), 2, 'fragment matches the port-restricted permit')
  const policy = createPolicy(ACL)
  t.same(policy.policyIds, ['lan', 'web'])
  t.ok(policy.isPermit(1))
  t.notOk(policy.isPermit(0))
  t.equal(policy.policyIndex(2), 1)
  t.equal(policy.policyIndex(0), -1)
  t.end()
})

t.test('inbound check: permits() skips deny entries and needs a covering policy id', (t) => {
  const policy = createPolicy(ACL)
  const dns = udp('10.2.0.1', '10.1.0.5', 5555, 53)
  t.ok(policy.permits(dns, 0, 20, dns.length, ['lan']), 'a local deny does not refuse what others encrypted')
  t.notOk(policy.permits(dns, 0, 20, dns.length, ['web']), 'SA for another selector')
  const other = ping('10.9.0.1', '10.1.0.5')
  t.notOk(policy.permits(other, 0, 20, other.length, ['lan', 'web']))
  t.end()
})

t.test('ACL validation', (t) => {
  const bad: AclEntry[] = [
    { action: 'permit', src: '10.0.0.0/33' },
    { action: 'permit', src: '10.0.0/8' },
    { action: 'permit', dstPorts: [1, 2] },
    { action: 'permit', protocol: 6, dstPorts: [5, 2] },
    { action: 'permit', protocol: 300 },
    { action: 'maybe' as 'permit' },
  ]
  for (const e of bad) t.throws(() => createPolicy([e]), PolicyError, JSON.stringify(e))
  const p = createPolicy([{ action: 'permit', src: '10.1.2.3', dst: '0.0.0.0/0' }])
  t.equal(p.match(ping('10.1.2.3', '1.1.1.1'), 0, 20, 84), 0, 'host address, /0')
  t.equal(p.match(ping('10.1.2.4', '1.1.1.1'), 0, 20, 84), PolicyMatch.NONE)
  t.end()
})
