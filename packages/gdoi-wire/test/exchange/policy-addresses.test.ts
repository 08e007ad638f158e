// Address text ↔ octets, masks ↔ prefixes, selector ID conversions, and the replay hash memory.
import t from 'tap'
import { IdType } from '../../src/constants.js'
import { formatIp, maskToPrefix, parseIp, prefixToMask } from '../../src/exchange/ip-address.js'
import { addressMatchToTrafficId, HashMemory, trafficIdToAddressMatch } from '../../src/exchange/index.js'
import { hex, toHex } from './exchange-helpers.js'

t.test('IPv4 and IPv6 text forms', (t) => {
  t.equal(toHex(parseIp('192.0.2.1') ?? new Uint8Array()), 'c0000201')
  for (const bad of ['1.2.3', '1.2.3.256', '1.2.3.x', '1..2.3', '::1::', '1:2:3:4:5:6:7:8:9', 'g::1', '1:2:3:4:5:6:7', '::ffff:1.2.3']) t.equal(parseIp(bad), undefined, bad)
  const cases: [string, string, string][] = [
    ['::', '00000000000000000000000000000000', '::'],
    ['::1', '00000000000000000000000000000001', '::1'],
    ['2001:DB8::1', '20010db8000000000000000000000001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['1:0:2:0:3:0:4:0', '00010000000200000003000000040000', '1:0:2:0:3:0:4:0'],
    ['::ffff:192.0.2.1', '00000000000000000000ffffc0000201', '::ffff:c000:201'],
    ['fe80::', 'fe800000000000000000000000000000', 'fe80::'],
  ]
  for (const [text, bytes, canonical] of cases) {
    t.equal(toHex(parseIp(text) ?? new Uint8Array()), bytes, text)
    t.equal(formatIp(hex(bytes)), canonical, `format ${bytes}`)
  }
  t.equal(formatIp(new Uint8Array(5)), undefined)
  t.end()
})

t.test('prefix lengths and masks', (t) => {
  t.equal(toHex(prefixToMask(20, 4)), 'fffff000')
  t.equal(toHex(prefixToMask(0, 4)), '00000000')
  t.equal(maskToPrefix(hex('ffffff80')), 25)
  t.equal(maskToPrefix(hex('ff00ff00')), undefined)
  t.equal(maskToPrefix(hex('ffffffffffffffff0000000000000000')), 64)
  t.end()
})

t.test('selector identities both ways', (t) => {
  const v6net = addressMatchToTrafficId({ kind: 'prefix', address: '2001:db8::', prefixLength: 48 }, 0)
  t.equal(v6net.idType, IdType.IPV6_ADDR_SUBNET)
  t.same(trafficIdToAddressMatch(v6net), { ok: true, value: { kind: 'prefix', address: '2001:db8::', prefixLength: 48 } })
  const v6range = addressMatchToTrafficId({ kind: 'range', first: '2001:db8::1', last: '2001:db8::ff' }, 443)
  t.equal(v6range.idType, IdType.IPV6_ADDR_RANGE)
  t.same(trafficIdToAddressMatch(v6range), { ok: true, value: { kind: 'range', first: '2001:db8::1', last: '2001:db8::ff' } })
  t.throws(() => addressMatchToTrafficId({ kind: 'prefix', address: '10.0.0.0', prefixLength: 33 }, 0), RangeError)
  t.throws(() => addressMatchToTrafficId({ kind: 'range', first: '10.0.0.1', last: '::1' }, 0), RangeError)
  t.throws(() => addressMatchToTrafficId({ kind: 'prefix', address: 'nope', prefixLength: 8 }, 0), RangeError)
  t.match(trafficIdToAddressMatch({ idType: IdType.IPV4_ADDR, port: 0, data: new Uint8Array(3) }), { ok: false })
  t.match(trafficIdToAddressMatch({ idType: IdType.IPV4_ADDR_RANGE, port: 0, data: new Uint8Array(4) }), { ok: false })
  t.match(trafficIdToAddressMatch({ idType: IdType.IPV4_ADDR_SUBNET, port: 0, data: new Uint8Array(4) }), { ok: false })
  t.match(trafficIdToAddressMatch({ idType: IdType.FQDN, port: 0, data: new Uint8Array(4) }), { ok: false, reason: /unsupported selector ID type 2/ })
  t.end()
})

t.test('HashMemory: expiry and capacity', (t) => {
  const m = new HashMemory(2, 100)
  m.add('a', 0)
  t.ok(m.has('a', 50))
  t.notOk(m.has('a', 100), 'expired')
  t.equal(m.size, 0)
  m.add('a', 200)
  m.add('b', 201)
  m.add('c', 202)
  t.equal(m.size, 2)
  t.notOk(m.has('a', 203), 'oldest evicted')
  t.ok(m.has('b', 203) && m.has('c', 203))
  m.add('b', 204)
  m.add('d', 205)
  t.ok(m.has('b', 206), 're-added key is young again')
  t.notOk(m.has('c', 206))
  t.end()
})
