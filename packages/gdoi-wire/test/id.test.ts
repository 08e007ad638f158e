import t from 'tap'
import { IdType, PayloadType } from '../src/constants.js'
import { DecodeError, EncodeError } from '../src/errors.js'
import { bytesToIpv4, groupIdKeyId, idIpv4, ipv4ToBytes } from '../src/id.js'
import { hex } from './helpers/vectors.js'

t.test('group identity and IPv4 helpers', (t) => {
  t.same(groupIdKeyId(1234), { type: PayloadType.ID, idType: IdType.KEY_ID, protocol: 0, port: 0, data: hex('000004d2') })
  t.same(groupIdKeyId(0xffffffff).data, hex('ffffffff'))
  t.same(idIpv4('10.0.224.37'), { type: PayloadType.ID, idType: IdType.IPV4_ADDR, protocol: 0, port: 0, data: hex('0a00e025') })
  t.same(ipv4ToBytes('0.0.0.0'), hex('00000000'))
  t.equal(bytesToIpv4(hex('ef0a0101')), '239.10.1.1')
  for (const bad of ['1.2.3', '1.2.3.256', '01.2.3.4', 'a.b.c.d', '1.2.3.4 ', '']) t.throws(() => ipv4ToBytes(bad), EncodeError, bad)
  for (const n of [-1, 2 ** 32, 1.5]) t.throws(() => groupIdKeyId(n), EncodeError)
  t.throws(() => bytesToIpv4(hex('0a00e0')), DecodeError)
  t.end()
})
