// A payload whose type we do not decode (or 15/16 outside a GDOI SA, where Cisco IKEv1 uses 15 for
// pre-RFC NAT discovery): the body is kept as opaque octets and re-encoded unchanged (strongSwan
// unknown_payload.c). Whether an unknown payload is acceptable is decided by rules.ts, not here.
import type { BodyCodec } from './body-codec.js'
import type { OpaquePayload } from './types.js'

export const unknown: BodyCodec<OpaquePayload> = {
  bodyLength: (p) => p.body.length,
  encodeBody: (p, w) => {
    w.bytes(p.body, `payload ${p.type} body`)
  },
  decodeBody: (r, ctx) => ({ type: ctx.type, unknown: true, body: r.rest() }),
}
