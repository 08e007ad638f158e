import t from 'tap'
import { PayloadType } from '../../src/constants.js'
import { assertRoundTrip } from '../helpers/round-trip.js'
import { assertVector, hex } from '../helpers/vectors.js'

t.test('vendor IDs of spec §2.18 round-trip and decode', (t) => {
  for (const v of ['afcad71368a1f1c96b8696fc77570100', '4048b7d56ebce88525e7de7f00d6c2d380000000', '12f5f28c457168a9702d9fe274cc0100']) {
    assertRoundTrip(t, { type: PayloadType.VENDOR_ID, data: hex(v) })
  }
  // strongSwan MM1: RFC 3706 DPD vendor ID, followed by another VID.
  assertVector(t, '0d000014 afcad71368a1f1c96b8696fc77570100', PayloadType.VENDOR_ID, { type: PayloadType.VENDOR_ID, data: hex('afcad71368a1f1c96b8696fc77570100') })
  t.end()
})
