// Signature payload (type 9), spec §2.8. Body: opaque octets. For RSA as long as the modulus.
// | Next Payload  |   RESERVED    |        Payload Length         |
// |                       data (variable) ...                     |
import { PayloadType } from '../constants.js'
import type { BodyCodec } from './body-codec.js'
import type { SigPayload } from './types.js'

export const sig: BodyCodec<SigPayload> = {
  bodyLength: (p) => p.data.length,
  encodeBody: (p, w) => {
    w.bytes(p.data, 'Signature data')
  },
  decodeBody: (r) => ({ type: PayloadType.SIG, data: r.rest() }),
}
