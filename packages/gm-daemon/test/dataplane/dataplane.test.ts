import t from 'tap'
import type { EspSaParams } from '@gdoi/wire/esp/index'
import { openEsp } from '@gdoi/wire/esp/index'
import { createDataPlane, Verdict, type DataPlane } from '../../src/dataplane/dataplane.js'
import { createMemoryTun } from '../../src/dataplane/memory-tun.js'
import { createPolicy, type AclEntry } from '../../src/dataplane/policy.js'
import { SaTable } from '../../src/dataplane/sa-table.js'
import { ipChecksum, parseIpv4Header, IpProto } from '../../src/dataplane/ipv4.js'
import { aesCbc, aesGcm, hasNative, ManualClock, ping, toHex, udp } from './helpers.js'

const ACL: AclEntry[] = [
  { action: 'deny', protocol: IpProto.UDP, src: '10.0.0.0/8', dst: '10.0.0.0/8', dstPorts: [53, 53] },
  { action: 'permit', src: '10.0.0.0/8', dst: '10.0.0.0/8' },
]

function gm(params: EspSaParams, opts: { sid?: number; replay?: 'off' | 'sa' | 'sender'; failClosed?: boolean; pathMtuBytes?: number; autoStart?: boolean; engine?: 'native' | 'node' } = {}) {
  const clock = new ManualClock()
  const mem = createMemoryTun({ mtuBytes: 1500 })
  const sas = new SaTable({ clock, ...(opts.sid !== undefined ? { sender: { sid: opts.sid, sidBits: 16 } } : {}), replay: { mode: opts.replay ?? 'off' }, ...(opts.engine ? { engine: opts.engine } : {}) })
  sas.install({ params, lifetimeSec: 3600 })
  const dp = createDataPlane({
    tun: mem.tun, sas, policy: createPolicy(ACL), clock,
    ...(opts.failClosed !== undefined ? { failClosed: opts.failClosed } : {}),
    ...(opts.pathMtuBytes !== undefined ? { pathMtuBytes: opts.pathMtuBytes } : {}),
    autoStart: opts.autoStart ?? false,
  })
  return { dp, sas, kernel: mem.kernel, clock }
}

/** Runs one packet through process() in a slab slot; the output bytes or null for a drop. */
function run(dp: DataPlane, pkt: Uint8Array): Uint8Array | null {
  const slot = dp.slab.alloc()
  const at = dp.slab.dataOffset(slot)
  dp.slab.buf.set(pkt, at)
  const v = dp.process(dp.slab.buf, at, pkt.length)
  const out = v === Verdict.FORWARD ? dp.slab.buf.slice(dp.outOffset, dp.outOffset + dp.outLength) : null
  dp.slab.free(slot)
  dp.releaseFragments()
  return out
}

t.test('memory TUN integration: a ping sealed by GM1 is opened by GM2, and the reply goes back', async (t) => {
  const params = aesCbc(256, 2, 0x5a5a0001)
  const a = gm(params, { autoStart: true })
  const b = gm(params, { autoStart: true })
  const req = ping('10.1.0.5', '10.2.0.9', 84, { tos: 0x28, ttl: 63 })
  a.kernel.send(req)
  const esp = await a.kernel.receive()
  const outer = parseIpv4Header(esp)
  t.match(outer, { src: '10.1.0.5', dst: '10.2.0.9', protocol: 50, tos: 0x28, ttl: 63, dontFragment: true, checksumOk: true, totalBytes: esp.length })
  t.equal(esp.length, 20 + 8 + 16 + 96 + 12)
  const ref = openEsp(params, esp.subarray(20))
  t.ok(ref.ok && toHex(ref.inner) === toHex(req), 'the reference opens what the fast path sealed')
  b.kernel.send(esp)
  t.equal(toHex(await b.kernel.receive()), toHex(req), 'GM2 writes the original ping back to its TUN')
  const rep = ping('10.2.0.9', '10.1.0.5', 84, { seq: 2 })
  b.kernel.send(rep)
  a.kernel.send(await b.kernel.receive())
  t.equal(toHex(await a.kernel.receive()), toHex(rep), 'and the reply crosses back')
  const sa = a.dp.snapshot().sas[0]
  t.match(sa, { spi: '0x5a5a0001', state: 'current', seq: 1, packetsEncrypted: 1, packetsDecrypted: 1 })
  t.match(a.dp.snapshot().counters, { rxPackets: 2, txPackets: 2, encryptedPackets: 1, decryptedPackets: 1 })
  t.equal(a.dp.snapshot().tun.name, 'memtun0')
  await a.dp.close()
  await b.dp.close()
  t.notOk(a.dp.running)
  a.sas.close()
  b.sas.close()
})

t.test('batches: 200 packets queued at once all cross', async (t) => {
  const params = aesGcm(256)
  const a = gm(params, { sid: 1, autoStart: true })
  const b = gm(params, { sid: 2, autoStart: true })
  const sent: string[] = []
  for (let i = 0; i < 200; i++) {
    const p = ping('10.1.0.5', '10.2.0.9', 64 + i, { seq: i })
    sent.push(toHex(p))
    a.kernel.send(p)
  }
  const got: string[] = []
  for (let i = 0; i < 200; i++) b.kernel.send(await a.kernel.receive())
  for (let i = 0; i < 200; i++) got.push(toHex(await b.kernel.receive()))
  t.same(got, sent)
  t.equal(a.sas.list()[0]?.seq, 200)
  await a.dp.close()
  await b.dp.close()
})

t.test('clear paths: deny, no match, GDOI control, no SA (fail-open / fail-close)', (t) => {
  const a = gm(aesCbc(128, 5))
  const dns = udp('10.1.0.5', '10.2.0.1', 4000, 53)
  t.equal(toHex(run(a.dp, dns)!), toHex(dns), 'deny: unchanged')
  const web = ping('10.1.0.5', '192.0.2.1')
  t.equal(toHex(run(a.dp, web)!), toHex(web), 'no match: unchanged')
  const gdoi = udp('10.1.0.5', '10.2.0.1', 848, 848)
  t.equal(toHex(run(a.dp, gdoi)!), toHex(gdoi), 'UDP 848: never encrypted')
  t.match(a.dp.counters, { clearPackets: 2, controlPackets: 1 })
  a.sas.close() // no SA any more
  const p = ping('10.1.0.5', '10.2.0.1')
  t.equal(toHex(run(a.dp, p)!), toHex(p), 'fail-open (default): clear')
  t.equal(a.dp.counters.noSaClearPackets, 1)
  const c = gm(aesCbc(128, 5), { failClosed: true })
  c.sas.close()
  t.equal(run(c.dp, p), null, 'fail-close: dropped')
  t.equal(c.dp.counters.dropNoSa, 1)
  t.end()
})

t.test('decrypt drops: unknown SPI, tampering, replay, inner policy, malformed, fragments, IPv6', (t) => {
  const params = aesCbc(256, 2, 0x77)
  const a = gm(params)
  const b = gm(params, { replay: 'sender' })
  const esp = run(a.dp, ping('10.1.0.5', '10.2.0.9'))!
  t.ok(run(b.dp, esp), 'genuine packet accepted')
  t.equal(run(b.dp, esp), null, 'replayed copy dropped (per-sender window)')
  t.equal(b.dp.counters.dropReplay, 1)
  const other = gm(aesCbc(256, 2, 0x78))
  t.equal(run(b.dp, run(other.dp, ping('10.1.0.5', '10.2.0.9'))!), null)
  t.equal(b.dp.counters.dropUnknownSpi, 1)
  const bad = run(a.dp, ping('10.1.0.5', '10.2.0.9'))!
  bad[bad.length - 1]! ^= 1
  t.equal(run(b.dp, bad), null)
  t.equal(b.dp.counters.dropAuth, 1)
  t.equal(b.dp.snapshot().sas[0]?.drops.auth, 1)
  // an SA shared with a member whose policy is wider: inner packet outside our selectors
  const wide = gm(params)
  wide.dp.setPolicy(createPolicy([{ action: 'permit', src: 'any', dst: 'any' }]))
  t.equal(run(b.dp, run(wide.dp, ping('192.0.2.1', '10.2.0.9'))!), null)
  t.equal(b.dp.counters.dropPolicy, 1, 'inner packet not covered by the SA: policy drop')
  const frag = run(a.dp, ping('10.1.0.5', '10.2.0.9'))!
  frag[6] = 0x20 // MF
  t.equal(run(b.dp, frag), null)
  t.equal(b.dp.counters.dropFragment, 1)
  const short = run(a.dp, ping('10.1.0.5', '10.2.0.9'))!.slice(0, 24)
  short[2] = 0
  short[3] = 24
  t.equal(run(b.dp, short), null)
  const v6 = new Uint8Array(40)
  v6[0] = 0x60
  t.equal(run(b.dp, v6), null)
  t.equal(b.dp.counters.dropUnsupported, 1)
  t.equal(run(b.dp, new Uint8Array(10)), null)
  t.ok(b.dp.counters.dropMalformed >= 2)
  t.end()
})

t.test('oversized packets: ICMP fragmentation needed when DF, fragments before encryption otherwise', (t) => {
  const a = gm(aesCbc(256, 2), { pathMtuBytes: 1400 })
  const big = ping('10.1.0.5', '10.2.0.9', 1400, { dontFragment: true })
  const icmp = run(a.dp, big)!
  const h = parseIpv4Header(icmp)
  t.match(h, { src: '10.2.0.9', dst: '10.1.0.5', protocol: 1, checksumOk: true })
  t.equal(icmp[20], 3)
  t.equal(icmp[21], 4)
  const mtu = (icmp[26]! << 8) | icmp[27]!
  t.equal(mtu, 1400 - 20 - 8 - 16 - 12 - ((1400 - 20 - 8 - 16 - 12) % 16) - 2, 'the largest inner packet that fits')
  t.equal(ipChecksum(icmp, 20, icmp.length - 20), 0)
  const fits = run(a.dp, ping('10.1.0.5', '10.2.0.9', mtu, { dontFragment: true }))!
  t.ok(fits.length <= 1400 && parseIpv4Header(fits).protocol === 50, `${mtu}-octet inner fits in ${fits.length}`)
  const noDf = run(a.dp, ping('10.1.0.5', '10.2.0.9', 1400, { dontFragment: false }))!
  t.match(parseIpv4Header(noDf), { protocol: 50, dontFragment: false })
  t.ok(noDf.length <= 1400, 'without DF: fragmented before encryption, each ESP packet fits (prefrag.test.ts)')
  t.equal(a.dp.counters.preFragmented, 1)
  t.equal(a.dp.counters.icmpFragNeeded, 1)
  // an ICMP error is never answered with one
  const err = ping('10.1.0.5', '10.2.0.9', 1400, { dontFragment: true })
  err[20] = 3
  t.equal(run(a.dp, err), null)
  t.end()
})

t.test('TEK rollover between two members: traffic keeps flowing through the overlap', (t) => {
  const oldTek = aesCbc(256, 2, 0x1000)
  const newTek = aesCbc(256, 2, 0x2000)
  const a = gm(oldTek)
  const b = gm(oldTek)
  const cross = (from: ReturnType<typeof gm>, to: ReturnType<typeof gm>): number => {
    const esp = run(from.dp, ping('10.1.0.5', '10.2.0.9'))!
    const spi = ((esp[20]! << 24) | (esp[21]! << 16) | (esp[22]! << 8) | esp[23]!) >>> 0
    t.ok(run(to.dp, esp), `SPI 0x${spi.toString(16)} accepted`)
    return spi
  }
  // The push reaches A first; B a little later. Both wait ATD before sending on the new TEK.
  a.sas.install({ params: newTek, lifetimeSec: 3600, activationDelaySec: 30, deactivationDelaySec: 60 })
  t.equal(cross(a, b), 0x1000, 'A still sends on the old TEK; B has not got the new one yet')
  b.clock.advance(5000)
  b.sas.install({ params: newTek, lifetimeSec: 3600, activationDelaySec: 30, deactivationDelaySec: 60 })
  a.clock.advance(30_000)
  t.equal(cross(a, b), 0x2000, 'A switched; B already receives on the new TEK')
  t.equal(cross(b, a), 0x1000, 'B not yet switched; A still receives on the old one')
  b.clock.advance(30_000)
  t.equal(cross(b, a), 0x2000)
  a.clock.advance(30_000)
  const late = run(b.dp, ping('10.1.0.5', '10.2.0.9'))!
  t.ok(late)
  t.equal(a.sas.inbound(0x1000), undefined, 'old TEK retired after DTD')
  t.end()
})

t.test('AES-GCM with RFC 6054 sender IDs between members; per-sender replay windows keyed by SID', (t) => {
  const params = aesGcm(128)
  const a = gm(params, { sid: 1 })
  const c = gm(params, { sid: 3 })
  const b = gm(params, { sid: 2, replay: 'sender' })
  const e1 = run(a.dp, ping('10.1.0.5', '10.2.0.9'))!
  const e3 = run(c.dp, ping('10.3.0.5', '10.2.0.9'))!
  t.equal(toHex(e1.subarray(28, 36)), '0001000000000001', 'IV = SID 1 ‖ seq 1')
  t.equal(toHex(e3.subarray(28, 36)), '0003000000000001', 'IV = SID 3 ‖ seq 1')
  t.ok(run(b.dp, e1), 'seq 1 from SID 1')
  t.ok(run(b.dp, e3), 'seq 1 from SID 3: another window')
  t.equal(run(b.dp, e3), null, 'replay')
  const rx = gm(params) // no SID: receive only
  t.equal(run(rx.dp, ping('10.1.0.5', '10.2.0.9')), null)
  t.equal(rx.dp.counters.dropNoSenderId, 1)
  t.ok(run(rx.dp, run(a.dp, ping('10.1.0.5', '10.2.0.9'))!), 'but it decrypts')
  t.end()
})

t.test('node engine gives the same data plane behaviour', { skip: hasNative ? false : 'native engine missing: node is the only engine' }, (t) => {
  const params = aesCbc(128, 2)
  const a = gm(params, { engine: 'node' })
  const b = gm(params, { engine: 'native' })
  const p = ping('10.1.0.5', '10.2.0.9', 300)
  t.equal(toHex(run(b.dp, run(a.dp, p)!)!), toHex(p))
  t.equal(toHex(run(a.dp, run(b.dp, p)!)!), toHex(p))
  t.equal(a.dp.snapshot().sas[0]?.engine, 'node')
  t.end()
})

t.test('ESP socket: sealed packets leave through espOut, the rest through the TUN; what it refuses takes the TUN', async (t) => {
  const params = aesCbc(256, 2, 0x5a5a0077)
  const a = gm(params, { autoStart: false })
  const b = gm(params, { autoStart: true })
  // A sink that takes at most `take` packets per call, like a socket whose buffer fills.
  const sink = { take: Infinity, calls: 0, sent: [] as Uint8Array[], closed: false,
    send(buf: Uint8Array, offsets: Int32Array, sizes: Int32Array, count: number): number {
      this.calls++
      const n = Math.min(count, this.take)
      for (let i = 0; i < n; i++) this.sent.push(buf.slice(offsets[i] as number, (offsets[i] as number) + (sizes[i] as number)))
      return n
    },
    close(): void { this.closed = true } }
  a.dp.setEspOut(sink)
  void a.dp.start()
  const pings = Array.from({ length: 6 }, (_, i) => ping('10.1.0.5', '10.2.0.9', 84, { seq: i }))
  for (const p of pings) a.kernel.send(p)
  const dns = udp('10.1.0.5', '10.2.0.9', 5353, 53, new Uint8Array(40))
  a.kernel.send(dns)
  t.equal(toHex(await a.kernel.receive()), toHex(dns), 'a clear (deny) packet is written to the TUN')
  while (sink.sent.length < 6) await new Promise((r) => setImmediate(r))
  for (const [i, esp] of sink.sent.entries()) {
    t.equal(parseIpv4Header(esp).protocol, IpProto.ESP)
    const ref = openEsp(params, esp.subarray(20))
    t.ok(ref.ok && toHex(ref.inner) === toHex(pings[i] as Uint8Array), `ESP packet ${i} on the socket opens to ping ${i}`)
  }
  t.match(a.dp.snapshot().counters, { espSocketPackets: 6, espSocketFallbacks: 0, encryptedPackets: 6, clearPackets: 1, txPackets: 7 })
  // The socket now takes 2 of each batch: the others go through the TUN, in order after them.
  sink.take = 2
  sink.sent.length = 0
  const more = Array.from({ length: 5 }, (_, i) => ping('10.1.0.5', '10.2.0.9', 84, { seq: 100 + i }))
  for (const p of more) a.kernel.send(p)
  const viaTun: Uint8Array[] = []
  while (sink.sent.length + viaTun.length < 5) viaTun.push(await a.kernel.receive())
  t.ok(viaTun.length >= 3 && sink.sent.length >= 2, `${sink.sent.length} on the socket, ${viaTun.length} through the TUN`)
  const c = a.dp.snapshot().counters
  t.equal(c.espSocketPackets, 6 + sink.sent.length)
  t.equal(c.espSocketFallbacks, viaTun.length, 'each refused packet is counted')
  for (const esp of [...sink.sent, ...viaTun]) b.kernel.send(esp)
  const opened = new Set<string>()
  for (let i = 0; i < 5; i++) opened.add(toHex(await b.kernel.receive()))
  t.same(opened, new Set(more.map(toHex)), 'the far member opens every one of them')
  a.dp.setEspOut(undefined)
  a.kernel.send(more[0] as Uint8Array)
  t.equal(parseIpv4Header(await a.kernel.receive()).protocol, IpProto.ESP, 'without a sink, sealed packets take the TUN again')
  await a.dp.close()
  await b.dp.close()
  a.sas.close()
  b.sas.close()
})
