// pcap / pcapng reading and pcap writing: files written with our writer, hand-built block sequences,
// and the captures in /work/shared/captures.
import t from 'tap'
import { CaptureError } from '../../src/pcap/capture-error.js'
import { buildIpv4, buildUdp, internetChecksum, IpProto, parseIpv4, parseUdp } from '../../src/pcap/ipv4.js'
import { readCapture, type CapturedPacket } from '../../src/pcap/read-capture.js'
import { writePcapIp, writePcapUdp, type UdpDatagram } from '../../src/pcap/write-pcap.js'
import { tsharkFields, tsharkMissing } from '../helpers/tshark.js'
import { capture, cat, epb, ethernet, idb, shb, spb, u16, u32, block } from './helpers.js'

const DATAGRAMS: UdpDatagram[] = [
  { src: '192.0.2.1', dst: '192.0.2.2', sport: 848, dport: 848, payload: Uint8Array.from([1, 2, 3]), timeSec: 1700000000.25 },
  { src: '192.0.2.2', dst: '192.0.2.1', sport: 4500, dport: 4500, payload: new Uint8Array(1000).fill(7), timeSec: 1700000001.000001 },
  { src: '10.0.0.1', dst: '239.1.1.1', sport: 848, dport: 848, payload: new Uint8Array(0) },
]

function udpOf(p: CapturedPacket): { src: string; dst: string; sport: number; dport: number; payload: number[] } {
  const h = parseIpv4(p.ip)
  const u = parseUdp(p.ip, h.headerBytes)
  return { src: h.src, dst: h.dst, sport: u.sport, dport: u.dport, payload: [...u.payload] }
}

/** Rewrites a little-endian µs pcap from our writer into the big-endian and/or nanosecond variant. */
function variant(le: Uint8Array, bigEndian: boolean, nanos: boolean): Uint8Array {
  const out = new Uint8Array(le)
  const src = new DataView(le.buffer, le.byteOffset, le.byteLength)
  const dst = new DataView(out.buffer)
  const put32 = (at: number, v: number): void => dst.setUint32(at, v, !bigEndian)
  const put16 = (at: number, v: number): void => dst.setUint16(at, v, !bigEndian)
  put32(0, nanos ? 0xa1b23c4d : 0xa1b2c3d4)
  put16(4, src.getUint16(4, true))
  put16(6, src.getUint16(6, true))
  for (const at of [8, 12, 16, 20]) put32(at, src.getUint32(at, true))
  let at = 24
  while (at < le.length) {
    const incl = src.getUint32(at + 8, true)
    put32(at, src.getUint32(at, true))
    put32(at + 4, src.getUint32(at + 4, true) * (nanos ? 1000 : 1))
    put32(at + 8, incl)
    put32(at + 12, src.getUint32(at + 12, true))
    at += 16 + incl
  }
  return out
}

t.test('writePcapUdp → readCapture round trip, valid IPv4 and UDP checksums', (t) => {
  const file = writePcapUdp(DATAGRAMS)
  const pk = readCapture(file)
  t.equal(pk.length, 3)
  t.same(pk.map((p) => p.frame), [1, 2, 3])
  t.same(pk.map(udpOf), DATAGRAMS.map((d) => ({ src: d.src, dst: d.dst, sport: d.sport, dport: d.dport, payload: [...d.payload] })))
  t.equal(pk[0]?.timeSec, 1700000000.25)
  t.ok(Math.abs((pk[1]?.timeSec ?? 0) - 1700000001.000001) < 1e-6)
  t.equal(pk[2]?.timeSec, 0, 'absent time is 0')
  for (const p of pk) {
    const h = parseIpv4(p.ip)
    t.equal(internetChecksum(p.ip.subarray(0, h.headerBytes)), 0, 'IPv4 header checksum verifies')
    const udp = p.ip.subarray(h.headerBytes)
    const pseudo = cat(p.ip.subarray(12, 20), Uint8Array.of(0, IpProto.UDP), u16(udp.length, false))
    const padded = udp.length % 2 ? cat(udp, new Uint8Array(1)) : udp
    t.equal(internetChecksum(pseudo, padded), 0, 'UDP checksum verifies')
  }
  t.end()
})

t.test('big-endian and nanosecond pcap variants read the same', (t) => {
  const le = writePcapUdp(DATAGRAMS)
  const base = readCapture(le)
  for (const [be, ns] of [[true, false], [false, true], [true, true]] as const) {
    const pk = readCapture(variant(le, be, ns))
    t.same(pk.map(udpOf), base.map(udpOf), `be=${be} ns=${ns}`)
    t.same(pk.map((p) => p.timeSec.toFixed(6)), base.map((p) => p.timeSec.toFixed(6)), `be=${be} ns=${ns} times`)
  }
  t.end()
})

t.test('writePcapIp keeps whole IP packets (ESP) and rejects what does not fit', (t) => {
  const esp = buildIpv4('192.0.2.1', '192.0.2.9', IpProto.ESP, Uint8Array.from([0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1]))
  const pk = readCapture(writePcapIp([{ ip: esp, timeSec: 5 }]))
  t.same([...(pk[0]?.ip ?? [])], [...esp])
  t.equal(parseIpv4(esp).protocol, IpProto.ESP)
  t.throws(() => writePcapIp([{ ip: esp, timeSec: -1 }]), CaptureError)
  t.throws(() => buildUdp('192.0.2.1', '1.2.3', 1, 2, new Uint8Array(1)), CaptureError)
  t.throws(() => buildUdp('192.0.2.1', '192.0.2.2', 1, 2, new Uint8Array(70000)), CaptureError)
  t.end()
})

t.test('pcapng: hand-built sections, byte orders, tsresol, EPB/SPB, skipped blocks and non-IP frames', (t) => {
  const [a, b] = [buildIpv4('10.1.1.1', '10.1.1.2', IpProto.UDP, buildUdp('10.1.1.1', '10.1.1.2', 848, 848, Uint8Array.of(9))), buildIpv4('10.2.2.2', '10.2.2.1', IpProto.ESP, new Uint8Array(16))]
  const arp = ethernet(new Uint8Array(28), 0x0806)
  const le = true
  const file = cat(
    // section 1, little-endian: raw IPv4 interface with ns resolution, then Ethernet (µs default)
    shb(le),
    idb(228, le, 9),
    idb(1, le),
    epb(0, 1_700_000_000_123_456_789n, a, le),
    block(5, new Uint8Array(8), le), // interface statistics: skipped
    epb(1, 1_700_000_001_500_000n, ethernet(b), le),
    epb(1, 1_700_000_002_000_000n, arp, le), // ARP: takes frame 3, no packet
    block(0x40000bad, new Uint8Array(3), le), // custom block: skipped
    // section 2, big-endian: its own interface table (SPB uses interface 0, no timestamp)
    shb(false),
    idb(101, false, 0x80 | 10), // 2^-10 s
    epb(0, 3n * 1024n + 512n, a, false),
    spb(b, false),
  )
  const pk = readCapture(file)
  t.same(pk.map((p) => p.frame), [1, 2, 4, 5])
  t.equal(pk[0]?.timeSec, 1_700_000_000.123456789)
  t.equal(pk[1]?.timeSec, 1_700_000_001.5)
  t.equal(pk[2]?.timeSec, 3.5)
  t.equal(pk[3]?.timeSec, 0)
  t.same([...(pk[1]?.ip ?? [])], [...b], 'Ethernet header removed')
  t.same(pk.map((p) => parseIpv4(p.ip).protocol), [IpProto.UDP, IpProto.ESP, IpProto.UDP, IpProto.ESP])
  t.end()
})

t.test('Linux cooked v1/v2, VLAN-tagged Ethernet, BSD loopback and trailing Ethernet padding', (t) => {
  const ip = buildIpv4('10.1.1.1', '10.1.1.2', IpProto.UDP, buildUdp('10.1.1.1', '10.1.1.2', 500, 500, Uint8Array.of(1, 2)))
  const sll = cat(new Uint8Array(14), u16(0x0800, false), ip)
  const sll2 = cat(u16(0x0800, false), new Uint8Array(18), ip)
  const vlan = cat(new Uint8Array(12), u16(0x8100, false), u16(5, false), u16(0x0800, false), ip, new Uint8Array(6)) // + padding
  const loop = cat(u32(2, true), ip)
  for (const [linkType, frame] of [[113, sll], [276, sll2], [1, vlan], [0, loop]] as const) {
    const file = cat(shb(true), idb(linkType, true), epb(0, 0n, frame, true))
    t.same([...(readCapture(file)[0]?.ip ?? [])], [...ip], `linktype ${linkType}`)
  }
  t.end()
})

t.test('unreadable files throw CaptureError with a code and file offset', (t) => {
  const good = writePcapUdp(DATAGRAMS)
  const cases: [string, Uint8Array, string][] = [
    ['empty', new Uint8Array(0), 'ERR_CAPTURE_FORMAT'],
    ['text', new TextEncoder().encode('hello, not a capture'), 'ERR_CAPTURE_FORMAT'],
    ['short header', good.subarray(0, 20), 'ERR_CAPTURE_TRUNCATED'],
    ['cut record', good.subarray(0, good.length - 5), 'ERR_CAPTURE_TRUNCATED'],
    ['cut record header', good.subarray(0, 24 + 10), 'ERR_CAPTURE_TRUNCATED'],
    ['pcapng without SHB first', cat(idb(1, true)), 'ERR_CAPTURE_FORMAT'],
    ['pcapng bad trailer', (() => { const f = cat(shb(true), idb(1, true)); f[f.length - 1] = 0x7f; return f })(), 'ERR_CAPTURE_FORMAT'],
    ['pcapng packet on missing interface', cat(shb(true), epb(3, 0n, new Uint8Array(20), true)), 'ERR_CAPTURE_FORMAT'],
  ]
  const linktype = new Uint8Array(good)
  new DataView(linktype.buffer).setUint32(20, 147, true)
  cases.push(['unsupported linktype', linktype, 'ERR_LINKTYPE'])
  for (const [name, file, code] of cases) {
    const err = t.throws(() => readCapture(file), name) as unknown
    t.ok(err instanceof CaptureError, `${name}: CaptureError`)
    t.equal((err as CaptureError).code, code, name)
  }
  t.end()
})

t.test('repository captures: link types, frame numbers and times', (t) => {
  const lo = readCapture(capture('gdoi-gdoid-loopback.pcap'))
  t.equal(lo.length, 10, 'loopback: raw IPv4 (228), ten datagrams')
  t.same(lo.map((p) => p.frame), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  t.equal(lo[6]?.timeSec, 44249.74458)
  const ss = readCapture(capture('strongswan-mm-aes256-sha1-modp1536.pcapng'))
  t.equal(ss.length, 10, 'strongSwan pcapng')
  t.ok(Math.abs((ss[0]?.timeSec ?? 0) - 1795749163.763123057) < 1e-6, 'pcapng ns timestamps')
  const ow = readCapture(capture('ikev1-natt-openswan-nokeys.pcap'))
  t.equal(ow[0]?.frame, 3, 'Openswan: ARP frames 1/2 skipped but counted')
  const cisco = readCapture(capture('ikev1-cisco-mm-qm-nokeys.pcap'))
  t.equal(cisco.length, 9)
  t.equal(readCapture(capture('esp-tun-3des-md5.pcap')).length, 8)
  t.end()
})

t.test('tshark reads what we write (frame times, addresses, checksums good)', { skip: tsharkMissing() }, (t) => {
  const rows = tsharkFields(writePcapUdp(DATAGRAMS), {
    fields: ['frame.time_epoch', 'ip.src', 'ip.dst', 'udp.srcport', 'udp.length'],
  })
  t.equal(rows.length, 3)
  t.same(rows.map((r) => r['ip.src']?.[0]), DATAGRAMS.map((d) => d.src))
  t.same(rows.map((r) => r['udp.length']?.[0]), DATAGRAMS.map((d) => String(8 + d.payload.length)))
  t.equal(rows[0]?.['frame.time_epoch']?.[0], '1700000000.250000000')
  t.end()
})
