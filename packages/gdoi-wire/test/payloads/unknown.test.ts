import t from 'tap'
import { PayloadType } from '../../src/constants.js'
import { decodePayload } from '../../src/message.js'
import { assertRoundTrip } from '../helpers/round-trip.js'
import { assertVector, hex } from '../helpers/vectors.js'

t.test('unknown payload types are kept as opaque octets', (t) => {
  for (const type of [14, 19, 20, 21, 130, 132, 200, 255]) assertRoundTrip(t, { type, unknown: true, body: hex('00112233445566') })
  assertRoundTrip(t, { type: 128, unknown: true, body: new Uint8Array(0) })
  t.end()
})

t.test('15 and 16 at top level are opaque, in IKE and in GDOI exchanges', (t) => {
  // Cisco IKEv1 MM3: payload 15 used as NAT discovery (20 octets of hash).
  const natd = '00000018 3d4ddcd4e4ae6a5d8d1e6b3bc9fa5a0c6a2f4b1e'
  for (const kind of ['ike', 'gdoi'] as const) {
    assertVector(t, natd, PayloadType.SA_KEK, { type: 15, unknown: true, body: hex(natd).subarray(4) }, kind)
    const d = decodePayload(hex('00000008 01020304'), 0, PayloadType.SA_TEK, kind)
    t.same(d.payload, { type: 16, unknown: true, body: hex('01020304') })
  }
  assertRoundTrip(t, { type: 15, unknown: true, body: hex('0102') })
  t.end()
})
