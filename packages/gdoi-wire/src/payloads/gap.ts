// Group Associated Policy payload (type 22), RFC 6407 §5.4, spec §2.15: data attributes only.
// Nested in a GDOI SA (KS→GM: ATD/DTD) or top-level in PULL3 (GM→KS: SENDER_ID_REQUEST).
// | Next Payload  |   RESERVED    |        Payload Length         |
// |                   Group Associated Policy Attributes ...      |
import { PayloadType } from '../constants.js'
import { attributesLength, decodeAttributes, encodeAttributes } from '../attributes.js'
import type { BodyCodec } from './body-codec.js'
import type { GapPayload } from './types.js'

export const gap: BodyCodec<GapPayload> = {
  bodyLength: (p) => attributesLength(p.attributes),
  encodeBody: (p, w) => {
    encodeAttributes(p.attributes, w)
  },
  decodeBody: (r) => ({ type: PayloadType.GAP, attributes: decodeAttributes(r) }),
}
