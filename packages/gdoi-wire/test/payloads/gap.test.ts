import t from 'tap'
import { GapAttr, PayloadType } from '../../src/constants.js'
import { tv } from '../../src/attributes.js'
import { decodePayload } from '../../src/message.js'
import type { GapPayload } from '../../src/payloads/types.js'
import { assertRoundTrip } from '../helpers/round-trip.js'
import { assertDecodeError, assertNestedVector, assertVector, hex } from '../helpers/vectors.js'

const kekToTek: GapPayload = { type: PayloadType.GAP, attributes: [tv(GapAttr.ACTIVATION_TIME_DELAY, 15), tv(GapAttr.DEACTIVATION_TIME_DELAY, 30)] }

t.test('round trip, top level and nested', (t) => {
  assertRoundTrip(t, kekToTek)
  assertRoundTrip(t, { type: PayloadType.GAP, attributes: [] })
  assertRoundTrip(t, { type: PayloadType.GAP, attributes: [tv(GapAttr.SENDER_ID_REQUEST, 4), { type: 200, tv: false, value: hex('abcd') }] })
  assertRoundTrip(t, { type: 1, kind: 'gdoi', doi: 2, situation: 0, attributePayloads: [kekToTek] })
  t.end()
})

t.test('RFC 6407 §5.4 layout: PULL3 SENDER_ID_REQUEST, and ATD/DTD nested before a SAT', (t) => {
  assertVector(t, '00000008 80030002', PayloadType.GAP, { type: PayloadType.GAP, attributes: [tv(GapAttr.SENDER_ID_REQUEST, 2)] }, 'gdoi')
  assertNestedVector(t, 22, '0000000c 8001000f 8002001e', kekToTek)
  t.end()
})

t.test('a half attribute is truncated', (t) => {
  assertDecodeError(t, () => decodePayload(hex('00000006 8003'), 0, PayloadType.GAP, 'gdoi'), 'ERR_TRUNCATED', 6)
  t.end()
})
