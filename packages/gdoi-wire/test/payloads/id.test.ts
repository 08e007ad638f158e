import t from 'tap'
import { IdType, PayloadType } from '../../src/constants.js'
import { groupIdKeyId, idIpv4 } from '../../src/id.js'
import { decodePayload } from '../../src/message.js'
import { assertRoundTrip } from '../helpers/round-trip.js'
import { assertDecodeError, assertVector, hex } from '../helpers/vectors.js'

t.test('round trip', (t) => {
  assertRoundTrip(t, groupIdKeyId(1234))
  assertRoundTrip(t, idIpv4('10.0.224.37'))
  assertRoundTrip(t, { type: PayloadType.ID, idType: IdType.FQDN, protocol: 17, port: 848, data: new TextEncoder().encode('ks.example') })
  assertRoundTrip(t, { type: PayloadType.ID, idType: IdType.DER_ASN1_DN, protocol: 0, port: 0, data: new Uint8Array(0) })
  t.end()
})

t.test('trace vectors: PULL1 group identity (KEY_ID 1234) and MM5 IDii (127.0.0.1)', (t) => {
  assertVector(t, '0000000c 0b000000 000004d2', PayloadType.ID, groupIdKeyId(1234))
  assertVector(t, '0800000c 01000000 7f000001', PayloadType.ID, idIpv4('127.0.0.1'))
  t.end()
})

t.test('a body shorter than the fixed part is truncated', (t) => {
  assertDecodeError(t, () => decodePayload(hex('00000007 0b0000'), 0, PayloadType.ID, 'gdoi'), 'ERR_TRUNCATED', 6)
  t.end()
})
