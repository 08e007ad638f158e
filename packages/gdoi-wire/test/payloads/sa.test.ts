import t from 'tap'
import { Doi, IkeAttr, PayloadType, ProtocolId } from '../../src/constants.js'
import { EncodeError } from '../../src/errors.js'
import { tv } from '../../src/attributes.js'
import { decodePayload, encodePayload } from '../../src/message.js'
import type { GdoiSaPayload, IkeSaPayload, SaPayload } from '../../src/payloads/types.js'
import { assertRoundTrip } from '../helpers/round-trip.js'
import { assertDecodeError, assertVector, gp, hex, inGdoiSa } from '../helpers/vectors.js'

const SA = PayloadType.SA
// Spec §7.3 trace A MM1: SA (DOI 2) with one proposal and one KEY_IKE transform numbered 0.
const MM1_SA = '00000034 00000002 00000000 00000028 01010001 00000020 00010000 80010005 80020002 80030001 80040002 800b0001 800c0e10'
const mm1Sa: IkeSaPayload = {
  type: SA, kind: 'ike', doi: Doi.GDOI, situation: hex('00000000'),
  proposals: [{
    number: 1, protocolId: ProtocolId.ISAKMP, spi: new Uint8Array(0),
    transforms: [{ number: 0, transformId: 1, attributes: [tv(1, 5), tv(2, 2), tv(3, 1), tv(4, 2), tv(11, 1), tv(12, 3600)] }],
  }],
}

t.test('IKE SA round trip: several proposals and transforms, SPIs, DOI 1 and 2', (t) => {
  assertRoundTrip(t, mm1Sa)
  assertRoundTrip(t, { ...mm1Sa, doi: Doi.IPSEC, situation: hex('00000001'), proposals: [] })
  const t1 = { number: 1, transformId: 1, attributes: [tv(IkeAttr.ENCRYPTION_ALGORITHM, 7), tv(IkeAttr.KEY_LENGTH, 256)] }
  assertRoundTrip(t, {
    ...mm1Sa,
    proposals: [
      { number: 1, protocolId: ProtocolId.IPSEC_ESP, spi: hex('cdc5f077'), transforms: [t1, { ...t1, number: 2 }, { ...t1, number: 3, attributes: [] }] },
      { number: 2, protocolId: ProtocolId.IPSEC_AH, spi: hex('01020304'), transforms: [] },
    ],
  })
  t.end()
})

t.test('trace A MM1 SA: SAi_b as in spec §7.3 (IKE form even with DOI 2)', (t) => {
  assertVector(t, MM1_SA, SA, mm1Sa, 'ike')
  t.end()
})

// Spec §7.3 trace A PULL2 SA: two SATs, no SAK (body of the plaintext from offset 44).
const PULL2_SA_A =
  '00000066 00000002 00000000 00100000' +
  ' 1000002b 010001000404ac13892a01000404efc00101031122aabb80040001800500028001000180020e10' +
  ' 0000002b 010001000204ac13892a01000204efc00102033344ccdd80040001800500028001000180020e10'

t.test('GDOI SA: trace A PULL2 decodes into two SATs and re-encodes', (t) => {
  const sa = decodePayload(hex(PULL2_SA_A), 0, SA, 'gdoi').payload as GdoiSaPayload
  t.equal(sa.kind, 'gdoi')
  t.same(sa.attributePayloads.map((p) => p.type), [16, 16])
  assertVector(t, PULL2_SA_A, SA, sa, 'gdoi')
  assertRoundTrip(t, sa)
  t.end()
})

t.test('GDOI SA with SAK, GAP, SATs, an unknown nested payload, or nothing nested', (t) => {
  const gdoi = (attributePayloads: GdoiSaPayload['attributePayloads']): GdoiSaPayload => ({ type: SA, kind: 'gdoi', doi: 2, situation: 0, attributePayloads })
  assertRoundTrip(t, gdoi([]))
  assertRoundTrip(t, gdoi([{ type: 22, attributes: [tv(1, 15)] }, { type: 200, unknown: true, body: hex('abcdef') }]))
  const nested = gdoi([{ type: 99, unknown: true, body: new Uint8Array(0) }])
  assertVector(t, '00000014 00000002 00000000 00630000 00000004', SA, nested, 'gdoi')
  t.end()
})

t.test('which layout: GDOI exchange + DOI 2 only', (t) => {
  // In an IKE exchange a DOI-2 SA is the phase-1 proposal (spec §1.2).
  t.equal((decodePayload(hex(MM1_SA), 0, SA, 'ike').payload as SaPayload).kind, 'ike')
  // In a GDOI exchange a DOI-1 SA is an IPsec Quick Mode SA (strongSwan sends one in exchange 32).
  const qm = gp(0, '00000001 00000001 ' + gp(0, '01030401 cdc5f077 ' + gp(0, '010c0000 80060100')))
  t.equal((decodePayload(hex(qm), 0, SA, 'gdoi').payload as SaPayload).kind, 'ike')
  t.end()
})

t.test('malformed SAs', (t) => {
  const gdoi = (h: string) => () => decodePayload(hex(h), 0, SA, 'gdoi')
  const ike = (h: string) => () => decodePayload(hex(h), 0, SA, 'ike')
  assertDecodeError(t, gdoi('00000010 00000002 00000000 01000000'), 'ERR_BAD_VALUE', 12, 'SA attribute next payload > 255')
  assertDecodeError(t, gdoi('00000010 00000002 00000000 00000001'), 'ERR_RESERVED_NONZERO', 14)
  assertDecodeError(t, gdoi(inGdoiSa(16, '00000004')), 'ERR_TRUNCATED', 20, 'SAT without a protocol-id')
  assertDecodeError(t, gdoi('00000016 00000002 00000000 00630000 00000004 0000'), 'ERR_TRAILING_BYTES', 20, 'bytes after the nested chain')
  assertDecodeError(t, gdoi('00000014 00000002 00000000 00630000 63000004'), 'ERR_TRUNCATED', 20, 'nested chain does not end')
  assertDecodeError(t, gdoi('00000014 00000002 00000000 00100000 00010004'), 'ERR_RESERVED_NONZERO', 17)
  assertDecodeError(t, ike(gp(0, '00000002 00000000 ' + gp(0, '01010002 ' + gp(0, '00010000')))), 'ERR_BAD_VALUE', 19, '# of transforms ≠ transforms present')
  assertDecodeError(t, ike(gp(0, '00000002 00000000 ' + gp(5, '01010000') + gp(0, ''))), 'ERR_UNEXPECTED_PAYLOAD', 20, 'proposal followed by a non-proposal')
  assertDecodeError(t, ike(gp(0, '00000002 00000000 ' + gp(0, '01010002 ' + gp(2, '00010000') + gp(0, '00010000')))), 'ERR_UNEXPECTED_PAYLOAD', 28, 'transform followed by a non-transform')
  assertDecodeError(t, ike(gp(0, '00000002 00000000 ' + gp(0, '01010001 ' + gp(0, '00010001')))), 'ERR_RESERVED_NONZERO', 26)
  assertDecodeError(t, ike('00000008 00000002'), 'ERR_TRUNCATED', 8)
  t.end()
})

t.test('values that cannot be encoded', (t) => {
  t.throws(() => encodePayload({ ...mm1Sa, situation: hex('00') }), EncodeError)
  t.throws(() => encodePayload({ ...mm1Sa, proposals: [{ ...mm1Sa.proposals[0]!, spi: new Uint8Array(256) }] }), EncodeError)
  t.throws(() => encodePayload({ type: SA, kind: 'gdoi', doi: 2, situation: 0, attributePayloads: [{ type: 16, unknown: true, body: new Uint8Array(70000) }] }), EncodeError)
  t.end()
})
