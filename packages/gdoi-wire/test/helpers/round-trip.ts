// dns-packet's testEncoder for our payloads: encodingLength equals the octets written, decode(encode(x))
// deep-equals x, encoding at offset 10 inside a larger buffer gives the same octets and decodes there,
// and re-encoding the decoded value is stable. SA KEK / SA TEK values exist only nested, so they are
// checked inside a GDOI SA (the path real messages take).
import type { Test } from 'tap'
import { PayloadType } from '../../src/constants.js'
import { decodePayload, encodePayload, payloadLength } from '../../src/message.js'
import type { SaKind } from '../../src/payloads/body-codec.js'
import type { EncodeOptions, GdoiSaPayload, Payload, SaAttributePayload } from '../../src/payloads/types.js'

export type RoundTripValue = Payload | SaAttributePayload

export interface RoundTripOptions extends EncodeOptions {
  /** SA layout to decode with; default 'gdoi' for GDOI SAs, else 'ike'. */
  readonly saKind?: SaKind
}

function isNested(v: RoundTripValue): v is SaAttributePayload {
  return !('unknown' in v) && (v.type === PayloadType.SA_KEK || v.type === PayloadType.SA_TEK)
}

function asPayload(v: RoundTripValue): Payload {
  if (!isNested(v)) return v as Payload
  const wrapper: GdoiSaPayload = { type: PayloadType.SA, kind: 'gdoi', doi: 2, situation: 0, attributePayloads: [v] }
  return wrapper
}

/** What decode should return when opts.idLengthWidth overrides the value's own width. */
function expected(v: Payload, opts: RoundTripOptions | undefined): Payload {
  const width = opts?.idLengthWidth
  if (width === undefined || v.type !== PayloadType.SA || 'unknown' in v || v.kind !== 'gdoi') return v
  return {
    ...v,
    attributePayloads: v.attributePayloads.map((x) => {
      if ('unknown' in x) return x
      if (x.type === PayloadType.SA_KEK) return { ...x, idLengthWidth: width }
      if (x.type === PayloadType.SA_TEK && x.ipsec !== undefined) return { ...x, ipsec: { ...x.ipsec, idLengthWidth: width } }
      return x
    }),
  }
}

/** Runs the round-trip checks as assertions on `t`; returns the encoding (generic header included). */
export function assertRoundTrip(t: Test, value: RoundTripValue, opts?: RoundTripOptions): Uint8Array {
  const p = asPayload(value)
  const saKind = opts?.saKind ?? (p.type === PayloadType.SA && !('unknown' in p) && p.kind === 'gdoi' ? 'gdoi' : 'ike')
  const want = expected(p, opts)
  const n = payloadLength(p, opts)
  const bytes = encodePayload(p, undefined, 0, opts)
  t.equal(bytes.length, n, 'encodingLength equals the octets written')
  t.equal((bytes[2]! << 8) | bytes[3]!, n, 'Payload Length field equals encodingLength')

  const d = decodePayload(bytes, 0, p.type, saKind)
  t.same(d.payload, want, 'decode(encode(x)) deep-equals x')
  t.equal(d.end, n, 'decode consumed the whole payload')
  t.equal(d.next, 0, 'Next Payload of a lone payload is 0')

  const big = new Uint8Array(n + 20).fill(0xee)
  encodePayload(p, big, 10, opts)
  t.same([...big.subarray(10, 10 + n)], [...bytes], 'encoding at offset 10 writes the same octets')
  t.ok(big.subarray(0, 10).every((b) => b === 0xee) && big.subarray(10 + n).every((b) => b === 0xee), 'nothing written outside the payload')
  const atOffset = decodePayload(big, 10, p.type, saKind, 10 + n)
  t.same(atOffset.payload, want, 'decodes at offset 10')

  const again = encodePayload(d.payload, undefined, 0, opts)
  t.same([...again], [...bytes], 're-encoding the decoded value is stable')
  if (isNested(value)) {
    const inner = (d.payload as GdoiSaPayload).attributePayloads[0]
    t.same(inner, (want as GdoiSaPayload).attributePayloads[0], 'nested payload survives the GDOI SA')
  }
  return bytes
}
