// Hash payload (type 8), spec §2.8. Body: opaque octets. prf output; its length depends on the negotiated hash.
// | Next Payload  |   RESERVED    |        Payload Length         |
// |                       data (variable) ...                     |
import { PayloadType } from '../constants.js'
import type { BodyCodec } from './body-codec.js'
import type { HashPayload } from './types.js'

export const hash: BodyCodec<HashPayload> = {
  bodyLength: (p) => p.data.length,
  encodeBody: (p, w) => {
    w.bytes(p.data, 'Hash data')
  },
  decodeBody: (r) => ({ type: PayloadType.HASH, data: r.rest() }),
}
