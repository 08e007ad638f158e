import t from 'tap'
import { AuthAlgorithm, EncapsulationMode, EspTransform, IdType, IpsecAttr, PayloadType, TekProtocol } from '../../src/constants.js'
import { EncodeError } from '../../src/errors.js'
import { numAttr, tv } from '../../src/attributes.js'
import { decodePayload, encodePayload } from '../../src/message.js'
import type { SaTekPayload } from '../../src/payloads/types.js'
import { assertRoundTrip } from '../helpers/round-trip.js'
import { assertDecodeError, assertNestedVector, gp, hex, inGdoiSa, toHex } from '../helpers/vectors.js'

const traceSat: SaTekPayload = {
  type: PayloadType.SA_TEK,
  protocolId: TekProtocol.IPSEC_ESP,
  ipsec: {
    protocol: 0,
    src: { idType: IdType.IPV4_ADDR, port: 1024, data: hex('ac13892a') },
    dst: { idType: IdType.IPV4_ADDR, port: 1024, data: hex('efc00101') },
    transformId: EspTransform.TRIPLE_DES,
    spi: 0x1122aabb,
    attributes: [tv(IpsecAttr.ENCAPSULATION_MODE, EncapsulationMode.TUNNEL), tv(IpsecAttr.AUTH_ALGORITHM, AuthAlgorithm.HMAC_SHA1), tv(IpsecAttr.SA_LIFE_TYPE, 1), tv(IpsecAttr.SA_LIFE_DURATION, 3600)],
    idLengthWidth: 1,
  },
}
// Spec §2.14 trace SAT (1-octet ID lengths = RFC form) and the tshark-4.0 2-octet form of the same SAT.
const SAT_1 = '0000002b 01 00 01 0400 04 ac13892a 01 0400 04 efc00101 03 1122aabb 80040001 80050002 80010001 80020e10'
const SAT_2 = '0000002d 01 00 01 0400 0004 ac13892a 01 0400 0004 efc00101 03 1122aabb 80040001 80050002 80010001 80020e10'

t.test('round trip: ESP, AH, subnets, GCM, both widths, opaque protocol IDs', (t) => {
  assertRoundTrip(t, traceSat)
  assertRoundTrip(t, traceSat, { idLengthWidth: 2 })
  const subnet = { idType: IdType.IPV4_ADDR_SUBNET, port: 0, data: hex('0a010100ffffff00') }
  const gcm: SaTekPayload = {
    type: PayloadType.SA_TEK, protocolId: TekProtocol.IPSEC_ESP,
    ipsec: { protocol: 0, src: subnet, dst: subnet, transformId: EspTransform.AES_GCM_16, spi: 0xffffffff, attributes: [tv(IpsecAttr.KEY_LENGTH, 256), numAttr(IpsecAttr.SA_LIFE_DURATION, 86400)], idLengthWidth: 2 },
  }
  assertRoundTrip(t, gcm)
  assertRoundTrip(t, { ...gcm, protocolId: TekProtocol.IPSEC_AH })
  assertRoundTrip(t, { type: PayloadType.SA_TEK, protocolId: 128, raw: hex('0102030405') })
  assertRoundTrip(t, { type: PayloadType.SA_TEK, protocolId: 161, raw: new Uint8Array(0) })
  t.end()
})

t.test('spec §2.14 trace SAT and its 2-octet form', (t) => {
  assertNestedVector(t, 16, SAT_1, traceSat)
  assertNestedVector(t, 16, SAT_2, { ...traceSat, ipsec: { ...traceSat.ipsec!, idLengthWidth: 2 } })
  const sa2 = decodePayload(hex(inGdoiSa(16, SAT_2)), 0, 1, 'gdoi').payload
  t.equal(toHex(encodePayload(sa2, undefined, 0, { idLengthWidth: 1 })), toHex(hex(inGdoiSa(16, SAT_1))), 'opts.idLengthWidth overrides the decoded width')
  t.end()
})

t.test('malformed SATs', (t) => {
  const sa = (nested: string) => () => decodePayload(hex(inGdoiSa(16, nested)), 0, 1, 'gdoi')
  // 2-octet SRC length of 5 for an IPv4 address: neither form.
  assertDecodeError(t, sa(gp(0, '01 00 01 0400 0005 ac13892a01 01 0400 0004 efc00101 03 1122aabb')), 'ERR_BAD_LENGTH', 16 + 9)
  // TLV attribute whose length runs past the SAT.
  assertDecodeError(t, sa(gp(0, '01 00 01 0400 04 ac13892a 01 0400 04 efc00101 03 1122aabb 0002 0008')), 'ERR_TRUNCATED', 16 + 31)
  // Truncated before the SPI.
  assertDecodeError(t, sa(gp(0, '01 00 01 0400 04 ac13892a 01 0400 04 efc00101 03')), 'ERR_TRUNCATED', 16 + 23)
  t.end()
})

t.test('inconsistent values are refused at encode time', (t) => {
  const enc = (v: SaTekPayload) => () => encodePayload({ type: 1, kind: 'gdoi', doi: 2, situation: 0, attributePayloads: [v] })
  t.throws(enc({ type: PayloadType.SA_TEK, protocolId: 1, raw: hex('00') }), EncodeError, 'ESP needs the ipsec part')
  t.throws(enc({ type: PayloadType.SA_TEK, protocolId: 128 }), EncodeError, 'opaque protocol needs raw')
  t.throws(enc({ ...traceSat, protocolId: 128 }), EncodeError, 'ipsec part under a non-IPsec protocol id')
  t.end()
})
