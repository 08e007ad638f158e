// Fragmentation before encryption (RFC 4459 §5.1): an inner packet without DF whose ESP packet would not
// fit the path is split into IPv4 fragments, each sealed into an ESP packet of its own that fits; the far
// member decrypts each, and the destination reassembles. Checked against the reference ESP opener and a
// reassembler written here from RFC 791, through process() and through the read → write loop.
import t from 'tap'
import type { EspSaParams } from '@gdoi/wire/esp/index'
import { openEsp } from '@gdoi/wire/esp/index'
import { createDataPlane, Verdict, type DataPlane } from '../../src/dataplane/dataplane.js'
import { createMemoryTun } from '../../src/dataplane/memory-tun.js'
import { createPolicy, type AclEntry } from '../../src/dataplane/policy.js'
import { SaTable } from '../../src/dataplane/sa-table.js'
import { buildIpv4, buildUdp, ipChecksum, IpProto, parseIpv4Header, setU16 } from '../../src/dataplane/ipv4.js'
import { aesCbc, aesGcm, ManualClock, ping, toHex } from './helpers.js'

const ACL: AclEntry[] = [{ action: 'permit', src: '10.0.0.0/8', dst: '10.0.0.0/8' }]

function gm(params: EspSaParams, o: { pathMtuBytes: number; sid?: number; acl?: AclEntry[]; autoStart?: boolean; batchSize?: number }) {
  const clock = new ManualClock()
  const mem = createMemoryTun({ mtuBytes: 1500 })
  const sas = new SaTable({ clock, ...(o.sid !== undefined ? { sender: { sid: o.sid, sidBits: 16 } } : {}), replay: { mode: 'sa' } })
  sas.install({ params, lifetimeSec: 3600 })
  const dp = createDataPlane({ tun: mem.tun, sas, policy: createPolicy(o.acl ?? ACL), clock, pathMtuBytes: o.pathMtuBytes,
    autoStart: o.autoStart ?? false, ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}) })
  return { dp, sas, kernel: mem.kernel }
}

/** process() on one packet: every ESP packet it produced (the first, then the later fragments), or [] for a drop. */
function seal(dp: DataPlane, pkt: Uint8Array): Uint8Array[] {
  const slot = dp.slab.alloc() // process() works on slab slots; the spare ones hold the later fragments
  const at = dp.slab.dataOffset(slot)
  dp.slab.buf.set(pkt, at)
  const out: Uint8Array[] = []
  if (dp.process(dp.slab.buf, at, pkt.length) === Verdict.FORWARD) {
    out.push(dp.slab.buf.slice(dp.outOffset, dp.outOffset + dp.outLength))
    for (let i = 0; i < dp.fragmentCount; i++) out.push(dp.slab.buf.slice(dp.fragmentOffset(i), dp.fragmentOffset(i) + dp.fragmentLength(i)))
  }
  dp.releaseFragments()
  dp.slab.free(slot)
  return out
}

interface Frag { readonly header: Uint8Array; readonly data: Uint8Array; readonly offset: number; readonly more: boolean }

function fragOf(p: Uint8Array): Frag {
  const h = parseIpv4Header(p)
  return { header: p.slice(0, h.headerBytes), data: p.slice(h.headerBytes, h.totalBytes), offset: h.fragmentOffset, more: h.moreFragments }
}

/** RFC 791 reassembly of a whole datagram: contiguous from offset 0 to a last fragment without MF. */
function reassemble(frags: readonly Uint8Array[]): Uint8Array {
  const fs = frags.map(fragOf).sort((a, b) => a.offset - b.offset)
  let next = 0
  for (const f of fs) {
    if (f.offset !== next) throw new Error(`hole or overlap at ${next} (next fragment at ${f.offset})`)
    next += f.data.length
  }
  const first = fs[0]!
  if (first.offset !== 0 || fs[fs.length - 1]!.more) throw new Error('first or last fragment missing')
  const out = new Uint8Array(first.header.length + next)
  out.set(first.header, 0)
  for (const f of fs) out.set(f.data, first.header.length + f.offset)
  setU16(out, 2, out.length)
  out[6] = out[6]! & 0x40 // keep DF, clear MF and offset
  out[7] = 0
  setU16(out, 10, 0)
  setU16(out, 10, ipChecksum(out, 0, first.header.length))
  return out
}

t.test('process(): a 1400-octet packet without DF becomes two ESP packets that fit a 1000-octet path', (t) => {
  const params = aesCbc(256, 2, 0x5100)
  const a = gm(params, { pathMtuBytes: 1000 })
  const orig = ping('10.1.0.5', '10.2.0.9', 1400, { dontFragment: false, tos: 0x28, ttl: 61, seq: 7 })
  const esps = seal(a.dp, orig)
  t.equal(esps.length, 2)
  const inner: Uint8Array[] = []
  esps.forEach((esp, i) => {
    const h = parseIpv4Header(esp)
    t.ok(esp.length <= 1000, `ESP packet ${i} is ${esp.length} octets`)
    t.match(h, { protocol: 50, dontFragment: false, moreFragments: false, fragmentOffset: 0, tos: 0x28, ttl: 61, checksumOk: true, src: '10.1.0.5', dst: '10.2.0.9' })
    t.equal((esp[24]! << 24 | esp[25]! << 16 | esp[26]! << 8 | esp[27]!) >>> 0, i + 1, 'consecutive sequence numbers')
    const ref = openEsp(params, esp.subarray(20))
    if (!ref.ok) throw new Error('the reference could not open a fragment')
    inner.push(ref.inner)
  })
  const f0 = parseIpv4Header(inner[0]!)
  const f1 = parseIpv4Header(inner[1]!)
  t.match(f0, { moreFragments: true, fragmentOffset: 0, checksumOk: true, ident: 0, ttl: 61, tos: 0x28 })
  t.match(f1, { moreFragments: false, checksumOk: true, ident: 0 })
  t.equal((f0.totalBytes - 20) % 8, 0, 'the first fragment carries a multiple of 8 octets')
  t.equal(f1.fragmentOffset, f0.totalBytes - 20)
  t.equal(toHex(reassemble(inner)), toHex(orig), 'the fragments reassemble to the original packet')
  t.match(a.dp.counters, { preFragmented: 1, preFragments: 2, encryptedPackets: 2, dropTooBig: 0, icmpFragNeeded: 0 })
  t.equal(a.dp.slab.available, a.dp.slab.slots, 'releaseFragments() returned the spare slot')
  t.end()
})

t.test('the loop: GM-1 splits, GM-2 decrypts every piece; port-restricted policy holds for non-initial fragments', async (t) => {
  const params = aesGcm(128)
  const acl: AclEntry[] = [{ action: 'permit', protocol: IpProto.UDP, src: '10.1.0.0/16', dst: '10.2.0.0/16', dstPorts: [5000, 5000] }]
  const a = gm(params, { pathMtuBytes: 600, sid: 1, acl, autoStart: true, batchSize: 4 })
  const b = gm(params, { pathMtuBytes: 600, sid: 2, acl, autoStart: true })
  t.teardown(async () => { await a.dp.close(); await b.dp.close(); a.sas.close(); b.sas.close() })
  const payload = new Uint8Array(1472 - 8)
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff
  const big = buildIpv4({ src: '10.1.0.5', dst: '10.2.0.9', protocol: IpProto.UDP, payload: buildUdp(4000, 5000, payload), dontFragment: false, ident: 0x4242 })
  const small = buildIpv4({ src: '10.1.0.5', dst: '10.2.0.9', protocol: IpProto.UDP, payload: buildUdp(4000, 5000, new Uint8Array(20)), dontFragment: false })
  // five big packets and a small one, more than one read batch (4) and more spare slots than one batch has
  for (let i = 0; i < 5; i++) a.kernel.send(big)
  a.kernel.send(small)
  const esps: Uint8Array[] = []
  for (let i = 0; i < 5 * 3 + 1; i++) esps.push(await a.kernel.receive())
  for (const e of esps) {
    t.ok(e.length <= 600 && e[9] === 50, `ESP ${e.length} ≤ 600`)
    b.kernel.send(e)
  }
  const inner: Uint8Array[] = []
  for (let i = 0; i < esps.length; i++) inner.push(await b.kernel.receive())
  for (let k = 0; k < 5; k++) t.equal(toHex(reassemble(inner.slice(3 * k, 3 * k + 3))), toHex(big), `packet ${k}: three fragments, reassembled`)
  t.equal(toHex(inner[15]!), toHex(small), 'a packet that fits is sealed whole, after the others')
  t.match(a.dp.counters, { preFragmented: 5, preFragments: 15, encryptedPackets: 16, dropNoBuffer: 0 })
  t.match(b.dp.counters, { decryptedPackets: 16, dropPolicy: 0, dropReplay: 0 })
  t.equal(a.dp.slab.available, a.dp.slab.slots - 4, 'every slot back in the slab but the 4 of the pending read')
})

t.test('options: later fragments keep the copied ones and NOOP the others; an existing fragment keeps its offset and MF', (t) => {
  const params = aesCbc(128, 5, 0x5200)
  const a = gm(params, { pathMtuBytes: 700 })
  // router alert (0x94, copied) + record route (0x07, not copied) + end of options: IHL 28
  const opts = Uint8Array.of(0x94, 4, 0, 0, 0x07, 3, 4, 0)
  const base = ping('10.1.0.5', '10.2.0.9', 1200, { dontFragment: false })
  const withOpts = new Uint8Array(base.length + opts.length)
  withOpts.set(base.subarray(0, 20), 0)
  withOpts.set(opts, 20)
  withOpts.set(base.subarray(20), 28)
  withOpts[0] = 0x47
  setU16(withOpts, 2, withOpts.length)
  // and it is itself a fragment: offset 800 octets, more to follow
  setU16(withOpts, 6, 0x2000 | 100)
  setU16(withOpts, 10, 0)
  setU16(withOpts, 10, ipChecksum(withOpts, 0, 28))
  const inner = seal(a.dp, withOpts).map((e) => {
    const r = openEsp(params, e.subarray(20))
    if (!r.ok) throw new Error('reference open failed')
    return r.inner
  })
  t.ok(inner.length >= 2, `${inner.length} fragments`)
  inner.forEach((f, i) => {
    const h = parseIpv4Header(f)
    t.equal(h.headerBytes, 28)
    t.ok(h.checksumOk)
    t.ok(h.moreFragments, `fragment ${i}: MF (the original had more to follow)`)
    t.equal(toHex(f.subarray(20, 28)), i === 0 ? toHex(opts) : '9404000001010100', i === 0 ? 'all options in the first' : 'copied option kept, the other NOOPed')
  })
  t.equal(parseIpv4Header(inner[0]!).fragmentOffset, 800)
  let next = 800
  for (const f of inner) {
    const h = parseIpv4Header(f)
    t.equal(h.fragmentOffset, next)
    next += h.totalBytes - 28
  }
  t.equal(next, 800 + withOpts.length - 28, 'the pieces cover the original payload')
  t.end()
})

t.test('limits: a path too small for 8 octets of data, more pieces than spare slots, pieces past offset 65535', (t) => {
  const tiny = gm(aesCbc(256, 2, 0x5300), { pathMtuBytes: 80 })
  t.same(seal(tiny.dp, ping('10.1.0.5', '10.2.0.9', 400, { dontFragment: false })), [])
  t.equal(tiny.dp.counters.dropTooBig, 1)
  const many = gm(aesCbc(256, 2, 0x5301), { pathMtuBytes: 110, batchSize: 2 }) // 16 octets per piece, 4 spare slots
  t.same(seal(many.dp, ping('10.1.0.5', '10.2.0.9', 400, { dontFragment: false })), [])
  t.match(many.dp.counters, { dropNoBuffer: 1, encryptedPackets: 0 })
  t.equal(many.dp.slab.available, many.dp.slab.slots)
  const late = ping('10.1.0.5', '10.2.0.9', 1400, { dontFragment: false }) // a fragment at offset 64 800
  setU16(late, 6, 8100)
  setU16(late, 10, 0)
  setU16(late, 10, ipChecksum(late, 0, 20))
  const a = gm(aesCbc(256, 2, 0x5302), { pathMtuBytes: 1000 })
  t.same(seal(a.dp, late), [], 'pieces past offset 65535 are refused')
  t.match(a.dp.counters, { dropMalformed: 1, encryptedPackets: 0 })
  t.end()
})
