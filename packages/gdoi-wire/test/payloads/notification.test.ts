import t from 'tap'
import { Doi, NotifyType, PayloadType, ProtocolId } from '../../src/constants.js'
import { EncodeError } from '../../src/errors.js'
import { decodePayload, encodePayload } from '../../src/message.js'
import { assertRoundTrip } from '../helpers/round-trip.js'
import { assertDecodeError, assertVector, hex } from '../helpers/vectors.js'

const N = PayloadType.NOTIFICATION

t.test('round trip', (t) => {
  assertRoundTrip(t, { type: N, doi: Doi.IPSEC, protocolId: ProtocolId.ISAKMP, notifyType: NotifyType.INITIAL_CONTACT, spi: new Uint8Array(16).fill(1), data: new Uint8Array(0) })
  assertRoundTrip(t, { type: N, doi: Doi.GDOI, protocolId: 0, notifyType: NotifyType.INVALID_ID_INFORMATION, spi: new Uint8Array(0), data: hex('000004d2') })
  assertRoundTrip(t, { type: N, doi: 0, protocolId: ProtocolId.IPSEC_ESP, notifyType: NotifyType.R_U_THERE, spi: hex('11223344'), data: hex('00000001') })
  t.end()
})

t.test('vectors: gdoid INITIAL-CONTACT (MM5) and strongSwan NO-PROPOSAL-CHOSEN', (t) => {
  assertVector(t, '0000001c 00000001 01 10 6002 a91b9d5035d8fc4f272325e695db688b', N, {
    type: N, doi: 1, protocolId: 1, notifyType: 24578, spi: hex('a91b9d5035d8fc4f272325e695db688b'), data: new Uint8Array(0),
  })
  assertVector(t, '00000010 00000001 03 04 000e cdc5f077', N, { type: N, doi: 1, protocolId: 3, notifyType: 14, spi: hex('cdc5f077'), data: new Uint8Array(0) })
  t.end()
})

t.test('SPI size past the payload is truncated; an SPI over 255 octets cannot be encoded', (t) => {
  assertDecodeError(t, () => decodePayload(hex('0000000e 00000001 01 10 6002 aabb'), 0, N, 'ike'), 'ERR_TRUNCATED', 12)
  t.throws(() => encodePayload({ type: N, doi: 1, protocolId: 1, notifyType: 1, spi: new Uint8Array(256), data: new Uint8Array(0) }), EncodeError)
  t.end()
})
