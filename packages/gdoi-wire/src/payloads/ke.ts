// Key Exchange payload (type 4), spec §2.8. Body: opaque octets. g^x, left-padded to the prime length by the sender.
// | Next Payload  |   RESERVED    |        Payload Length         |
// |                       data (variable) ...                     |
import { PayloadType } from '../constants.js'
import type { BodyCodec } from './body-codec.js'
import type { KePayload } from './types.js'

export const ke: BodyCodec<KePayload> = {
  bodyLength: (p) => p.data.length,
  encodeBody: (p, w) => {
    w.bytes(p.data, 'Key Exchange data')
  },
  decodeBody: (r) => ({ type: PayloadType.KE, data: r.rest() }),
}
