import t from 'tap'
import {
  buildIcmpFragNeeded, buildIpv4, icmpFragNeededBytes, ipChecksum, ipv4HeaderBytes, ipv4ToU32, parseIpv4Header,
  u32ToIpv4, writeOuterIpv4, IpProto,
} from '../../src/dataplane/ipv4.js'
import { hex, ping, toHex } from './helpers.js'

t.test('RFC 1071 checksum', (t) => {
  // A header from the KLIPS capture (esp-tun-aes256-sha1.pcap frame 1): checksum f902.
  const h = hex('45000098fcea00004032f902c0010217c001022d')
  t.equal(ipChecksum(h, 0, 20), 0, 'a valid header sums to zero')
  const z = h.slice()
  z[10] = 0
  z[11] = 0
  t.equal(ipChecksum(z, 0, 20), 0xf902)
  // RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 → sum ddf2, checksum 220d
  t.equal(ipChecksum(hex('0001f203f4f5f6f7'), 0, 8), 0x220d)
  // odd length: the last octet is padded with zero: 0001 + f203 + f4f5 + f600 = 2dcf9 → dcfb → 2304
  t.equal(ipChecksum(hex('0001f203f4f5f6'), 0, 7), 0x2304, 'odd length pads with zero')
  t.end()
})

t.test('addresses and header validation', (t) => {
  t.equal(ipv4ToU32('192.0.2.1'), 0xc0000201)
  t.equal(u32ToIpv4(0xc0000201), '192.0.2.1')
  t.equal(ipv4ToU32('255.255.255.255'), 0xffffffff)
  for (const bad of ['1.2.3', '1.2.3.256', 'a.b.c.d', '1.2.3.4.5', '']) t.throws(() => ipv4ToU32(bad))
  const p = ping('10.0.0.1', '10.0.0.2', 60)
  t.equal(ipv4HeaderBytes(p, 0, p.length), 20)
  t.equal(ipv4HeaderBytes(p, 0, 19), -1, 'truncated')
  t.equal(ipv4HeaderBytes(p, 0, 59), -1, 'total length beyond the data')
  const v6 = p.slice()
  v6[0] = 0x60
  t.equal(ipv4HeaderBytes(v6, 0, v6.length), -1)
  const shortIhl = p.slice()
  shortIhl[0] = 0x44
  t.equal(ipv4HeaderBytes(shortIhl, 0, shortIhl.length), -1)
  const h = parseIpv4Header(p)
  t.match(h, { headerBytes: 20, totalBytes: 60, ttl: 64, protocol: 1, src: '10.0.0.1', dst: '10.0.0.2', dontFragment: true, checksumOk: true })
  t.end()
})

t.test('outer header: address preservation, ToS/TTL/DF copied, protocol 50, checksum', (t) => {
  for (const df of [true, false]) {
    const inner = ping('10.1.2.3', '10.9.8.7', 84, { dontFragment: df, tos: 0xb8, ttl: 17 })
    const buf = new Uint8Array(20 + 24 + inner.length)
    buf.set(inner, 44)
    writeOuterIpv4(buf, 0, 44, 200, 0x1234)
    const h = parseIpv4Header(buf, 0, 200)
    t.match(h, { src: '10.1.2.3', dst: '10.9.8.7', tos: 0xb8, ttl: 17, protocol: IpProto.ESP, totalBytes: 200, ident: 0x1234, dontFragment: df, moreFragments: false, fragmentOffset: 0, checksumOk: true })
  }
  t.end()
})

t.test('ICMP fragmentation needed (RFC 792 type 3 code 4, RFC 1191 next-hop MTU)', (t) => {
  const orig = ping('10.1.0.5', '10.2.0.9', 1500, { dontFragment: true })
  const buf = new Uint8Array(1600)
  buf.set(orig, 0)
  const n = buildIcmpFragNeeded(buf, 1500, 0, 1438, 64)
  t.equal(n, icmpFragNeededBytes(20))
  t.equal(n, 56)
  const icmp = buf.subarray(1500, 1500 + n)
  const h = parseIpv4Header(icmp)
  t.match(h, { src: '10.2.0.9', dst: '10.1.0.5', protocol: 1, totalBytes: 56, checksumOk: true, ttl: 64 })
  t.equal(icmp[20], 3)
  t.equal(icmp[21], 4)
  t.equal((icmp[26]! << 8) | icmp[27]!, 1438, 'next-hop MTU')
  t.equal(ipChecksum(icmp, 20, 36), 0, 'ICMP checksum')
  t.equal(toHex(icmp.subarray(28, 56)), toHex(orig.subarray(0, 28)), 'quotes the header and 8 octets')
  const n2 = buildIcmpFragNeeded(buf, 1500, 0, 1400, 64, ipv4ToU32('10.1.0.1'))
  t.equal(parseIpv4Header(buf.subarray(1500, 1500 + n2)).src, '10.1.0.1', 'configured source')
  t.end()
})

t.test('buildIpv4', (t) => {
  const p = buildIpv4({ src: '1.2.3.4', dst: '5.6.7.8', protocol: 17, payload: new Uint8Array(3), dontFragment: false, ident: 9 })
  t.match(parseIpv4Header(p), { totalBytes: 23, dontFragment: false, ident: 9, checksumOk: true })
  t.end()
})
