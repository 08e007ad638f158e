// Identification payload (type 5), IPsec-DOI layout (RFC 2407 §4.6.2, spec §2.9). Also the GDOI group
// identity in PULL1 and the RFC 8263 ACK (RFC 6407 §5.1: bytes 1–3 zero, not enforced here).
// | Next Payload  |   RESERVED    |        Payload Length         |
// |    ID Type    |  Protocol ID  |             Port              |
// |                   Identification Data ...                     |
import { PayloadType } from '../constants.js'
import type { BodyCodec } from './body-codec.js'
import type { IdPayload } from './types.js'

export const id: BodyCodec<IdPayload> = {
  bodyLength: (p) => 4 + p.data.length,
  encodeBody: (p, w) => {
    w.u8(p.idType, 'ID type').u8(p.protocol, 'ID protocol').u16(p.port, 'ID port').bytes(p.data, 'ID data')
  },
  decodeBody: (r) => ({
    type: PayloadType.ID,
    idType: r.u8('ID type'),
    protocol: r.u8('ID protocol'),
    port: r.u16('ID port'),
    data: r.rest(),
  }),
}
