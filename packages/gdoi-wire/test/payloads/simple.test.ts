// KE, Nonce, HASH, SIG and Vendor ID: opaque bodies.
import t from 'tap'
import { PayloadType } from '../../src/constants.js'
import { decodePayload } from '../../src/message.js'
import type { NoncePayload, Payload } from '../../src/payloads/types.js'
import { assertRoundTrip } from '../helpers/round-trip.js'
import { assertVector, hex } from '../helpers/vectors.js'

const TYPES = [PayloadType.KE, PayloadType.NONCE, PayloadType.HASH, PayloadType.SIG, PayloadType.VENDOR_ID] as const

t.test('round trip with empty, short and long data', (t) => {
  for (const type of TYPES) {
    for (const n of [0, 1, 16, 300]) assertRoundTrip(t, { type, data: new Uint8Array(n).map((_, i) => i * 7) } as Payload)
  }
  t.end()
})

t.test('trace vectors', (t) => {
  // Trace A PULL1: HASH(1) then Nonce then ID.
  assertVector(t, '0a000018 cbcd9b402b21b9a9837189139d6bb0f73b3272e3', PayloadType.HASH, { type: PayloadType.HASH, data: hex('cbcd9b402b21b9a9837189139d6bb0f73b3272e3') })
  assertVector(t, '05000014 69d181efe0b9580e4106b883719b382a', PayloadType.NONCE, { type: PayloadType.NONCE, data: hex('69d181efe0b9580e4106b883719b382a') })
  // strongSwan MM1: the XAUTH vendor ID (spec §2.18).
  assertVector(t, '0d00000c 09002689dfd6b712', PayloadType.VENDOR_ID, { type: PayloadType.VENDOR_ID, data: hex('09002689dfd6b712') })
  // KE and SIG: header plus the first octets are enough to show the layout.
  assertVector(t, '0a000008 dc3805d3', PayloadType.KE, { type: PayloadType.KE, data: hex('dc3805d3') })
  assertVector(t, '00000008 5a657fbe', PayloadType.SIG, { type: PayloadType.SIG, data: hex('5a657fbe') })
  t.end()
})

t.test('decoded data is a view into the input, not a copy', (t) => {
  const buf = hex('00000008 01020304')
  const { payload } = decodePayload(buf, 0, PayloadType.NONCE, 'ike')
  const data = (payload as NoncePayload).data
  t.equal(data.buffer, buf.buffer)
  t.equal(data.byteOffset, buf.byteOffset + 4)
  t.end()
})
