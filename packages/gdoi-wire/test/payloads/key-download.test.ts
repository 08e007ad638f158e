import t from 'tap'
import { KdType, KekKeyAttr, PayloadType, SidAttr, TekKeyAttr } from '../../src/constants.js'
import { EncodeError } from '../../src/errors.js'
import { tlv, tv } from '../../src/attributes.js'
import { decodePayload, encodePayload } from '../../src/message.js'
import type { KeyDownloadPayload } from '../../src/payloads/types.js'
import { assertRoundTrip } from '../helpers/round-trip.js'
import { assertDecodeError, assertVector, gp, hex } from '../helpers/vectors.js'

const KD = PayloadType.KEY_DOWNLOAD
const ascii = (s: string) => new TextEncoder().encode(s)

// Spec §7.3 trace A PULL4: two TEK key packets with ASCII test keys.
const traceAKd: KeyDownloadPayload = {
  type: KD,
  packets: [
    { kdType: KdType.TEK, spi: hex('1122aabb'), attributes: [tlv(TekKeyAttr.TEK_ALGORITHM_KEY, ascii('ABCDEFGHIJKLMNOPQRSTUVWX')), tlv(TekKeyAttr.TEK_INTEGRITY_KEY, ascii('12345678901234567890'))] },
    { kdType: KdType.TEK, spi: hex('3344ccdd'), attributes: [tlv(TekKeyAttr.TEK_ALGORITHM_KEY, ascii('FEDCBA11LKJIHG22RQPONM33')), tlv(TekKeyAttr.TEK_INTEGRITY_KEY, ascii('01234567890123456789'))] },
  ],
}
const TRACE_A_KD =
  '00000082 0002 0000' +
  ' 01 00 003d 04 1122aabb 0001 0018 4142434445464748494a4b4c4d4e4f505152535455565758 0002 0014 3132333435363738393031323334353637383930' +
  ' 01 00 003d 04 3344ccdd 0001 0018 46454443424131314c4b4a49484732325251504f4e4d3333 0002 0014 3031323334353637383930313233343536373839'

t.test('round trip: TEK, KEK (IV‖key + SPKI), SID, LKH, empty', (t) => {
  assertRoundTrip(t, traceAKd)
  assertRoundTrip(t, { type: KD, packets: [] })
  assertRoundTrip(t, {
    type: KD,
    packets: [
      { kdType: KdType.KEK, spi: ascii('abcdefgh01234567'), attributes: [tlv(KekKeyAttr.KEK_ALGORITHM_KEY, ascii('IVIVIVIVABCDEFGHIJKLMNOPQRSTUVWX')), tlv(KekKeyAttr.SIG_ALGORITHM_KEY, new Uint8Array(294).fill(0x30))] },
      { kdType: KdType.SID, spi: new Uint8Array(0), attributes: [tv(SidAttr.NUMBER_OF_SID_BITS, 8), tlv(SidAttr.SID_VALUE, hex('00000001')), tlv(SidAttr.SID_VALUE, hex('00000002'))] },
      { kdType: KdType.LKH, spi: new Uint8Array(16), attributes: [] },
    ],
  })
  t.end()
})

t.test('spec §2.16 / trace A PULL4 KD vector', (t) => {
  assertVector(t, TRACE_A_KD, KD, traceAKd, 'gdoi')
  t.end()
})

t.test('malformed key downloads', (t) => {
  const dec = (h: string) => () => decodePayload(hex(h), 0, KD, 'gdoi')
  const tek = '01 00 0009 04 1122aabb'
  assertDecodeError(t, dec(gp(0, `0002 0000 ${tek}`)), 'ERR_BAD_VALUE', 4, 'more packets announced than present')
  assertDecodeError(t, dec(gp(0, `0001 0000 ${tek} ${tek}`)), 'ERR_TRAILING_BYTES', 17, 'fewer packets announced than present')
  assertDecodeError(t, dec(gp(0, `0001 0001 ${tek}`)), 'ERR_RESERVED_NONZERO', 6)
  assertDecodeError(t, dec(gp(0, '0001 0000 01 01 0009 04 1122aabb')), 'ERR_RESERVED_NONZERO', 9)
  assertDecodeError(t, dec(gp(0, '0001 0000 01 00 0004 04 1122aabb')), 'ERR_BAD_LENGTH', 10, 'KD length < 5')
  assertDecodeError(t, dec(gp(0, '0001 0000 01 00 0020 04 1122aabb')), 'ERR_BAD_LENGTH', 10, 'KD length past the payload')
  assertDecodeError(t, dec(gp(0, '0001 0000 01 00 0007 04 1122aabb')), 'ERR_TRUNCATED', 13, 'SPI past the key packet')
  assertDecodeError(t, dec(gp(0, '0001 0000 01 00 000b 04 1122aabb 0001')), 'ERR_TRUNCATED', 19, 'half an attribute')
  t.end()
})

t.test('SPI over 255 octets cannot be encoded', (t) => {
  t.throws(() => encodePayload({ type: KD, packets: [{ kdType: 1, spi: new Uint8Array(256), attributes: [] }] }), EncodeError)
  t.end()
})
