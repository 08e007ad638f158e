import t from 'tap'
import { Doi, PayloadType, TekProtocol } from '../../src/constants.js'
import { EncodeError } from '../../src/errors.js'
import { decodePayload, encodePayload } from '../../src/message.js'
import { assertRoundTrip } from '../helpers/round-trip.js'
import { assertDecodeError, assertVector, hex } from '../helpers/vectors.js'

const D = PayloadType.DELETE

t.test('round trip: RFC 6407 §5.9 push deletes and a phase-1 delete', (t) => {
  assertRoundTrip(t, { type: D, doi: Doi.GDOI, protocolId: TekProtocol.IPSEC_ESP, spiSize: 4, spis: [hex('1122aabb'), hex('3344ccdd')] })
  assertRoundTrip(t, { type: D, doi: Doi.GDOI, protocolId: 0, spiSize: 16, spis: [new Uint8Array(16)] })
  assertRoundTrip(t, { type: D, doi: Doi.GDOI, protocolId: TekProtocol.IPSEC_ESP, spiSize: 4, spis: [] })
  assertRoundTrip(t, { type: D, doi: Doi.IPSEC, protocolId: 1, spiSize: 0, spis: [] })
  t.end()
})

t.test('strongSwan Informational: delete of the ISAKMP SA (DOI 1, protocol 1, SPI = cookies)', (t) => {
  assertVector(t, '0000001c 00000001 01 10 0001 f372158c720e7822d7cf26dbeacd4df2', D, {
    type: D, doi: 1, protocolId: 1, spiSize: 16, spis: [hex('f372158c720e7822d7cf26dbeacd4df2')],
  })
  t.end()
})

t.test('the SPI count must match the payload length, and never drives allocation', (t) => {
  assertDecodeError(t, () => decodePayload(hex('00000010 00000002 01 04 0002 1122aabb'), 0, D, 'gdoi'), 'ERR_BAD_LENGTH', 10)
  assertDecodeError(t, () => decodePayload(hex('00000014 00000002 01 04 0001 1122aabb 3344ccdd'), 0, D, 'gdoi'), 'ERR_BAD_LENGTH', 10)
  assertDecodeError(t, () => decodePayload(hex('0000000c 00000002 01 00 ffff'), 0, D, 'gdoi'), 'ERR_BAD_VALUE', 10)
  t.throws(() => encodePayload({ type: D, doi: 2, protocolId: 1, spiSize: 4, spis: [hex('112233')] }), EncodeError)
  t.end()
})
