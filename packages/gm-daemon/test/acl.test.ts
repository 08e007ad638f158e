// Downloaded ACL: SAT selectors → policy ids, data-plane ACL entries, Cisco access-list text.
import t from 'tap'
import type { TrafficSelector } from '@gdoi/wire/exchange/index'
import { ciscoAclLine, rangeToPrefixes, selectorId, selectorsToAcl } from '../src/acl.js'

const prefix = (address: string, prefixLength: number, port = 0) => ({ address: { kind: 'prefix' as const, address, prefixLength }, port })

t.test('rangeToPrefixes covers a range exactly', (t) => {
  t.same(rangeToPrefixes('10.0.0.0', '10.0.0.255'), ['10.0.0.0/24'])
  t.same(rangeToPrefixes('10.0.0.1', '10.0.0.6'), ['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/31', '10.0.0.6/32'])
  t.same(rangeToPrefixes('0.0.0.0', '255.255.255.255'), ['0.0.0.0/0'])
  t.same(rangeToPrefixes('192.0.2.9', '192.0.2.9'), ['192.0.2.9/32'])
  t.end()
})

t.test('selector ids, data-plane entries and Cisco lines', (t) => {
  const ip: TrafficSelector = { protocol: 0, src: prefix('10.1.0.0', 16), dst: prefix('10.2.0.0', 16) }
  const dns: TrafficSelector = { protocol: 17, src: prefix('10.1.0.0', 16), dst: prefix('10.2.0.5', 32, 53) }
  const any: TrafficSelector = { protocol: 0, src: prefix('0.0.0.0', 0), dst: prefix('0.0.0.0', 0) }
  const range: TrafficSelector = { protocol: 6, src: { address: { kind: 'range', first: '10.0.0.1', last: '10.0.0.2' }, port: 0 }, dst: prefix('10.9.0.0', 16, 22) }
  const v6: TrafficSelector = { protocol: 0, src: prefix('2001:db8::', 32), dst: prefix('2001:db8:1::', 48) }
  t.equal(selectorId(ip), 'ip 10.1.0.0/16 10.2.0.0/16')
  t.equal(selectorId(dns), 'udp 10.1.0.0/16 10.2.0.5/32:53')
  t.equal(ciscoAclLine(ip), 'permit ip 10.1.0.0 0.0.255.255 10.2.0.0 0.0.255.255')
  t.equal(ciscoAclLine(dns), 'permit udp 10.1.0.0 0.0.255.255 host 10.2.0.5 port = 53')
  t.equal(ciscoAclLine(any), 'permit ip any any')
  t.equal(ciscoAclLine(range), 'permit tcp range 10.0.0.1 10.0.0.2 10.9.0.0 0.0.255.255 port = 22')
  const conv = selectorsToAcl([ip, dns, ip, any, range, v6])
  t.same(conv.entries, [
    { action: 'permit', src: '10.1.0.0/16', dst: '10.2.0.0/16', policyId: 'ip 10.1.0.0/16 10.2.0.0/16', mirrored: true },
    { action: 'permit', protocol: 17, src: '10.1.0.0/16', dst: '10.2.0.5/32', dstPorts: [53, 53], policyId: 'udp 10.1.0.0/16 10.2.0.5/32:53', mirrored: true },
    { action: 'permit', src: 'any', dst: 'any', policyId: 'ip 0.0.0.0/0 0.0.0.0/0', mirrored: true },
    { action: 'permit', protocol: 6, src: '10.0.0.1/32', dst: '10.9.0.0/16', dstPorts: [22, 22], policyId: 'tcp 10.0.0.1-10.0.0.2 10.9.0.0/16:22', mirrored: true },
    { action: 'permit', protocol: 6, src: '10.0.0.2/32', dst: '10.9.0.0/16', dstPorts: [22, 22], policyId: 'tcp 10.0.0.1-10.0.0.2 10.9.0.0/16:22', mirrored: true },
  ], 'duplicates folded, ranges split, IPv6 left out')
  t.same(conv.skipped, [{ policyId: 'ip 2001:db8::/32 2001:db8:1::/48', reason: 'not an IPv4 selector' }])
  t.end()
})
