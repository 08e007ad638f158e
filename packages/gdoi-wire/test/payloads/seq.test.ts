import t from 'tap'
import { PayloadType } from '../../src/constants.js'
import { EncodeError } from '../../src/errors.js'
import { decodePayload, encodePayload } from '../../src/message.js'
import { assertRoundTrip } from '../helpers/round-trip.js'
import { assertDecodeError, assertVector, hex } from '../helpers/vectors.js'

t.test('round trip', (t) => {
  for (const n of [0, 1, 0x7fffffff, 0xffffffff]) assertRoundTrip(t, { type: PayloadType.SEQ, seq: n })
  t.end()
})

t.test('trace B PULL4 SEQ(0), followed by KD (next 17)', (t) => {
  assertVector(t, '11000008 00000000', PayloadType.SEQ, { type: PayloadType.SEQ, seq: 0 })
  assertVector(t, '01000008 00000001', PayloadType.SEQ, { type: PayloadType.SEQ, seq: 1 })
  t.end()
})

t.test('length must be 8', (t) => {
  assertDecodeError(t, () => decodePayload(hex('0000000c 00000001 00000000'), 0, 18, 'gdoi'), 'ERR_TRAILING_BYTES', 8)
  assertDecodeError(t, () => decodePayload(hex('00000006 0000'), 0, 18, 'gdoi'), 'ERR_TRUNCATED', 4)
  t.throws(() => encodePayload({ type: PayloadType.SEQ, seq: 2 ** 32 }), EncodeError)
  t.end()
})
