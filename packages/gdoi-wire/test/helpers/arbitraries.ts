// fast-check arbitraries for every payload value the codec can encode. They generate only values
// the decoder reads back identically (e.g. fixed-length address IDs), which is the codec's contract.
import fc from 'fast-check'
import { IdType, PayloadType as T } from '../../src/constants.js'
import type {
  DataAttribute, GdoiSaPayload, IdLengthWidth, IkeSaPayload, Payload, SaAttributePayload, SaKekPayload, SaTekPayload, TrafficId,
} from '../../src/payloads/types.js'

// Plain objects (fast-check's default null prototype would fail node:assert's deepStrictEqual).
const rec: typeof fc.record = ((model: never) => fc.record(model, { noNullPrototype: true })) as typeof fc.record

const bytes = (maxLength: number, minLength = 0) => fc.uint8Array({ minLength, maxLength })
const u8 = fc.integer({ min: 0, max: 0xff })
const u16 = fc.integer({ min: 0, max: 0xffff })
const u32 = fc.integer({ min: 0, max: 0xffffffff })

export const attribute: fc.Arbitrary<DataAttribute> = fc.oneof(
  rec({ type: fc.integer({ min: 0, max: 0x7fff }), tv: fc.constant(true as const), value: u16 }),
  rec({ type: fc.integer({ min: 0, max: 0x7fff }), tv: fc.constant(false as const), value: bytes(40) }),
)
export const attributes = fc.array(attribute, { maxLength: 6 })

const FIXED: Record<number, number> = { [IdType.IPV4_ADDR]: 4, [IdType.IPV4_ADDR_SUBNET]: 8, [IdType.IPV4_ADDR_RANGE]: 8, [IdType.IPV6_ADDR]: 16, [IdType.IPV6_ADDR_SUBNET]: 32, [IdType.IPV6_ADDR_RANGE]: 32 }
const VARIABLE_ID_TYPES = [IdType.FQDN, IdType.USER_FQDN, IdType.DER_ASN1_DN, IdType.KEY_ID, 0, 200]

export function trafficId(width: IdLengthWidth): fc.Arbitrary<TrafficId> {
  const fixed = fc.constantFrom(...Object.keys(FIXED).map(Number)).chain((idType) => rec({ idType: fc.constant(idType), port: u16, data: bytes(FIXED[idType]!, FIXED[idType]!) }))
  const variable = rec({ idType: fc.constantFrom(...VARIABLE_ID_TYPES), port: u16, data: bytes(40, width === 1 ? 1 : 0) })
  return fc.oneof(fixed, variable)
}

const width = fc.constantFrom<IdLengthWidth>(1, 2)

export const saKek: fc.Arbitrary<SaKekPayload> = width.chain((w) =>
  rec({
    type: fc.constant(T.SA_KEK), protocol: u8, src: trafficId(w), dst: trafficId(w), spi: bytes(16, 16), attributes, idLengthWidth: fc.constant(w),
  }),
)

export const saTek: fc.Arbitrary<SaTekPayload> = fc.oneof(
  width.chain((w) =>
    rec({
      type: fc.constant(T.SA_TEK),
      protocolId: fc.constantFrom(1, 2),
      ipsec: rec({ protocol: u8, src: trafficId(w), dst: trafficId(w), transformId: u8, spi: u32, attributes, idLengthWidth: fc.constant(w) }),
    }),
  ),
  rec({ type: fc.constant(T.SA_TEK), protocolId: u8.filter((p) => p !== 1 && p !== 2), raw: bytes(30) }),
)

export const gap = rec({ type: fc.constant(T.GAP), attributes })

const NESTED_KNOWN = new Set<number>([T.SA_KEK, T.SA_TEK, T.GAP])
const nestedUnknown = rec({ type: fc.integer({ min: 1, max: 255 }).filter((x) => !NESTED_KNOWN.has(x)), unknown: fc.constant(true as const), body: bytes(20) })
export const saAttribute: fc.Arbitrary<SaAttributePayload> = fc.oneof(saKek, saTek, gap, nestedUnknown)

export const gdoiSa: fc.Arbitrary<GdoiSaPayload> = rec({
  type: fc.constant(T.SA), kind: fc.constant('gdoi' as const), doi: fc.constant(2), situation: u32, attributePayloads: fc.array(saAttribute, { maxLength: 4 }),
})

const transform = rec({ number: u8, transformId: u8, attributes })
const proposal = rec({ number: u8, protocolId: u8, spi: bytes(16), transforms: fc.array(transform, { maxLength: 4 }) })
export const ikeSa: fc.Arbitrary<IkeSaPayload> = rec({
  type: fc.constant(T.SA), kind: fc.constant('ike' as const), doi: u32, situation: bytes(4, 4), proposals: fc.array(proposal, { maxLength: 3 }),
})

const data = <K extends number>(type: K) => rec({ type: fc.constant(type), data: bytes(64) })
const TOP_KNOWN = new Set<number>([T.SA, T.KE, T.ID, T.CERT, T.CR, T.HASH, T.SIG, T.NONCE, T.NOTIFICATION, T.DELETE, T.VENDOR_ID, T.KEY_DOWNLOAD, T.SEQ, T.GAP])

const keyPacket = rec({ kdType: u8, spi: bytes(16), attributes })
const deletePayload = fc.integer({ min: 0, max: 16 }).chain((spiSize) =>
  rec({
    type: fc.constant(T.DELETE), doi: u32, protocolId: u8, spiSize: fc.constant(spiSize),
    spis: spiSize === 0 ? fc.constant([]) : fc.array(bytes(spiSize, spiSize), { maxLength: 4 }),
  }),
)

/** Top-level payloads, keyed by codec, so a failure names the payload. */
export const topLevel: Record<string, fc.Arbitrary<Payload>> = {
  ikeSa, gdoiSa, gap,
  ke: data(T.KE), nonce: data(T.NONCE), hash: data(T.HASH), sig: data(T.SIG), vendorId: data(T.VENDOR_ID),
  id: rec({ type: fc.constant(T.ID), idType: u8, protocol: u8, port: u16, data: bytes(32) }),
  cert: rec({ type: fc.constant(T.CERT), encoding: u8, data: bytes(64) }),
  cr: rec({ type: fc.constant(T.CR), certType: u8, authority: bytes(32) }),
  notification: rec({ type: fc.constant(T.NOTIFICATION), doi: u32, protocolId: u8, notifyType: u16, spi: bytes(16), data: bytes(32) }),
  delete: deletePayload,
  keyDownload: rec({ type: fc.constant(T.KEY_DOWNLOAD), packets: fc.array(keyPacket, { maxLength: 4 }) }),
  seq: rec({ type: fc.constant(T.SEQ), seq: u32 }),
  unknown: rec({ type: fc.integer({ min: 1, max: 255 }).filter((x) => !TOP_KNOWN.has(x)), unknown: fc.constant(true as const), body: bytes(40) }),
}

export const anyTopLevel: fc.Arbitrary<Payload> = fc.oneof(...Object.values(topLevel))
