// Certificate (type 6) and Certificate Request (type 7) payloads, RFC 2408 §3.9/§3.10, spec §2.10.
// CERT: | Cert Encoding |  Certificate Data ...
// CR:   |  Cert Type    |  Certificate Authority (DER DN, may be empty) ...
import { PayloadType } from '../constants.js'
import type { BodyCodec } from './body-codec.js'
import type { CertPayload, CrPayload } from './types.js'

export const cert: BodyCodec<CertPayload> = {
  bodyLength: (p) => 1 + p.data.length,
  encodeBody: (p, w) => {
    w.u8(p.encoding, 'cert encoding').bytes(p.data, 'certificate data')
  },
  decodeBody: (r) => ({ type: PayloadType.CERT, encoding: r.u8('cert encoding'), data: r.rest() }),
}

export const cr: BodyCodec<CrPayload> = {
  bodyLength: (p) => 1 + p.authority.length,
  encodeBody: (p, w) => {
    w.u8(p.certType, 'cert type').bytes(p.authority, 'certificate authority')
  },
  decodeBody: (r) => ({ type: PayloadType.CR, certType: r.u8('cert type'), authority: r.rest() }),
}
