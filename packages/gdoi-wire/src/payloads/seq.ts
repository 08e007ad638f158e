// Sequence Number payload (type 18), RFC 6407 §5.7, spec §2.17. Payload Length must be 8.
// | Next Payload  |   RESERVED    |        Payload Length         |
// |                       Sequence Number (32)                    |
import { PayloadType } from '../constants.js'
import type { BodyCodec } from './body-codec.js'
import type { SeqPayload } from './types.js'

export const seq: BodyCodec<SeqPayload> = {
  bodyLength: () => 4,
  encodeBody: (p, w) => {
    w.u32(p.seq, 'sequence number')
  },
  // message.ts requires the body to be exhausted, so a length other than 8 fails as trailing bytes or truncation.
  decodeBody: (r) => ({ type: PayloadType.SEQ, seq: r.u32('sequence number') }),
}
