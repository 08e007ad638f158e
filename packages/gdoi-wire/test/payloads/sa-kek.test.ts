import t from 'tap'
import { IdType, KekAlgorithm, KekAttr, PayloadType, SigAlgorithm, SigHash } from '../../src/constants.js'
import { EncodeError } from '../../src/errors.js'
import { tv, u32Attr } from '../../src/attributes.js'
import { decodePayload, encodePayload } from '../../src/message.js'
import type { SaKekPayload } from '../../src/payloads/types.js'
import { assertRoundTrip } from '../helpers/round-trip.js'
import { assertDecodeError, assertNestedVector, hex, inGdoiSa, toHex } from '../helpers/vectors.js'

const SPI = hex('61626364656667683031323334353637') // "abcdefgh01234567"
const traceSak: SaKekPayload = {
  type: PayloadType.SA_KEK,
  protocol: 17,
  src: { idType: IdType.IPV4_ADDR, port: 848, data: hex('0a00e02c') },
  dst: { idType: IdType.IPV4_ADDR, port: 848, data: hex('ef0a0101') },
  spi: SPI,
  attributes: [tv(KekAttr.KEK_ALGORITHM, KekAlgorithm.TRIPLE_DES), tv(KekAttr.SIG_HASH_ALGORITHM, SigHash.SHA1), tv(KekAttr.SIG_ALGORITHM, SigAlgorithm.RSA)],
  idLengthWidth: 1,
}
// Spec §2.13 trace SAK (Next Payload 16: SATs follow) and the same with 2-octet ID lengths.
const SAK_1 = '10000035 11 01 0350 04 0a00e02c 01 0350 04 ef0a0101 6162636465666768 3031323334353637 00000000 80020002 80050002 80060001'
const SAK_2 = '00000037 11 01 0350 0004 0a00e02c 01 0350 0004 ef0a0101 6162636465666768 3031323334353637 00000000 80020002 80050002 80060001'

t.test('round trip in both ID-length widths; the SA TEK width option leaves a SAK alone', (t) => {
  assertRoundTrip(t, traceSak)
  assertRoundTrip(t, { ...traceSak, idLengthWidth: 2 })
  const inSa = (opts?: { idLengthWidth: 2 }) => toHex(encodePayload({ type: 1, kind: 'gdoi', doi: 2, situation: 0, attributePayloads: [traceSak] }, undefined, 0, opts))
  t.equal(inSa({ idLengthWidth: 2 }), inSa(), 'SAK keeps the 1-octet RFC form under the tshark switch')
  const v6 = { idType: IdType.IPV6_ADDR, port: 0, data: new Uint8Array(16).fill(0xfe) }
  assertRoundTrip(t, { ...traceSak, src: v6, dst: v6, attributes: [u32Attr(KekAttr.KEK_KEY_LIFETIME, 86400), tv(KekAttr.KEK_ACK_REQUESTED, 1)] })
  const fqdn = { idType: IdType.FQDN, port: 848, data: new TextEncoder().encode('ks') }
  assertRoundTrip(t, { ...traceSak, src: fqdn, dst: fqdn, attributes: [] })
  assertRoundTrip(t, { ...traceSak, src: fqdn, dst: { ...fqdn, data: new Uint8Array(0) }, idLengthWidth: 2 })
  t.end()
})

t.test('spec §2.13 trace SAK decodes (1-octet lengths); the 2-octet form is detected and kept', (t) => {
  const one = assertNestedVector(t, 15, SAK_1.replace(/^10/, '00'), traceSak)
  t.equal((one as SaKekPayload).idLengthWidth, 1)
  const two = assertNestedVector(t, 15, SAK_2, { ...traceSak, idLengthWidth: 2 })
  t.equal((two as SaKekPayload).idLengthWidth, 2)
  // A decoded 2-octet SAK re-encodes as it came, whatever the SA TEK option says.
  const sa = decodePayload(hex(inGdoiSa(15, SAK_2)), 0, 1, 'gdoi').payload
  t.equal(toHex(encodePayload(sa, undefined, 0, { idLengthWidth: 1 })), toHex(hex(inGdoiSa(15, SAK_2))))
  t.end()
})

t.test('malformed SAKs throw DecodeError at the right field', (t) => {
  const sa = (nested: string) => () => decodePayload(hex(inGdoiSa(15, nested)), 0, 1, 'gdoi')
  // RESERVED2 not zero: the 4 octets after the SPI (SA header 16 + SAK offset 37).
  assertDecodeError(t, sa(SAK_1.replace(/^10/, '00').replace('00000000 8002', '00000001 8002')), 'ERR_RESERVED_NONZERO', 16 + 37)
  // IPv4 ID with a length of 5: neither form fits the ID type.
  assertDecodeError(t, sa('00000035 11 01 0350 05 0a00e02c 01 0350 04 ef0a0101 6162636465666768 3031323334353637 00000000 80020002 80050002 80060001'), 'ERR_BAD_LENGTH', 16 + 8)
  // SRC in 1-octet form but DST length 0 for an IPv4 DST.
  assertDecodeError(t, sa('00000031 11 01 0350 04 0a00e02c 01 0350 00 6162636465666768 3031323334353637 00000000 80020002 80050002 80060001'), 'ERR_BAD_LENGTH', 16 + 16)
  // Cut inside the SPI.
  assertDecodeError(t, sa('00000019 11 01 0350 04 0a00e02c 01 0350 04 ef0a0101 61626364'), 'ERR_TRUNCATED')
  t.end()
})

t.test('values the decoder could not read back are refused at encode time', (t) => {
  const enc = (v: SaKekPayload) => () => encodePayload({ type: 1, kind: 'gdoi', doi: 2, situation: 0, attributePayloads: [v] })
  t.throws(enc({ ...traceSak, spi: new Uint8Array(15) }), EncodeError, 'SPI must be 16 octets')
  t.throws(enc({ ...traceSak, src: { ...traceSak.src, data: hex('0a00e02c01') } }), EncodeError, 'IPv4 ID with 5 octets')
  t.throws(enc({ ...traceSak, src: { idType: IdType.FQDN, port: 0, data: new Uint8Array(0) } }), EncodeError, 'empty variable ID in 1-octet form')
  t.throws(enc({ ...traceSak, src: { idType: IdType.FQDN, port: 0, data: new Uint8Array(256) }, idLengthWidth: 2 }), EncodeError, '2-octet form needs a zero high octet')
  t.end()
})
