// Nonce payload (type 10), spec §2.8. Body: opaque octets. Length limits (IKE 8..256, GDOI 8..128) are checked by the exchanges.
// | Next Payload  |   RESERVED    |        Payload Length         |
// |                       data (variable) ...                     |
import { PayloadType } from '../constants.js'
import type { BodyCodec } from './body-codec.js'
import type { NoncePayload } from './types.js'

export const nonce: BodyCodec<NoncePayload> = {
  bodyLength: (p) => p.data.length,
  encodeBody: (p, w) => {
    w.bytes(p.data, 'Nonce data')
  },
  decodeBody: (r) => ({ type: PayloadType.NONCE, data: r.rest() }),
}
