// Vendor ID payload (type 13), spec §2.8. Body: opaque octets. Recognise-and-ignore (spec §2.18).
// | Next Payload  |   RESERVED    |        Payload Length         |
// |                       data (variable) ...                     |
import { PayloadType } from '../constants.js'
import type { BodyCodec } from './body-codec.js'
import type { VendorIdPayload } from './types.js'

export const vendorId: BodyCodec<VendorIdPayload> = {
  bodyLength: (p) => p.data.length,
  encodeBody: (p, w) => {
    w.bytes(p.data, 'Vendor ID data')
  },
  decodeBody: (r) => ({ type: PayloadType.VENDOR_ID, data: r.rest() }),
}
