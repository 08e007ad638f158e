// SA KEK payload (type 15), nested in a GDOI SA only — RFC 6407 §5.3, spec §2.13.
// | Next Payload  |   RESERVED    |        Payload Length         |
// |   Protocol    |  SRC ID Type  |          SRC ID Port          |
// |SRC ID Data Len|   SRC ID Data (variable)                      |
// |  DST ID Type  |          DST ID Port          |DST ID Data Len|
// |   DST ID Data (variable)                                      |
// |                          SPI (16 octets)                      |
// |                          RESERVED2 (4, zero)                  |
// |                          KEK Attributes ...                   |
// ID Data Len is 1 octet (RFC) or 2 (DigiCert): see traffic-id.ts and spec §2.19.
import { PayloadType } from '../constants.js'
import { EncodeError } from '../errors.js'
import { attributesLength, decodeAttributes, encodeAttributes } from '../attributes.js'
import type { BodyCodec } from './body-codec.js'
import { readTrafficId, trafficIdLength, writeTrafficId } from './traffic-id.js'
import type { SaKekPayload } from './types.js'

export const KEK_SPI_BYTES = 16

// The SAK keeps the width it was built or decoded with: EncodeOptions.idLengthWidth is the SA TEK
// switch only, because tshark 4.0 reads SAK ID lengths as 1 octet (the RFC form) and SAT ones as 2.
export const saKek: BodyCodec<SaKekPayload> = {
  bodyLength: (p) => {
    const width = p.idLengthWidth
    return 1 + trafficIdLength(p.src, width) + trafficIdLength(p.dst, width) + KEK_SPI_BYTES + 4 + attributesLength(p.attributes)
  },
  encodeBody: (p, w) => {
    if (p.spi.length !== KEK_SPI_BYTES) throw new EncodeError('ERR_BAD_VALUE', `KEK SPI must be 16 octets, got ${p.spi.length}`)
    const width = p.idLengthWidth
    w.u8(p.protocol, 'SAK protocol')
    writeTrafficId(p.src, width, w, 'SAK SRC')
    writeTrafficId(p.dst, width, w, 'SAK DST')
    w.bytes(p.spi, 'SAK SPI').zeros(4, 'SAK RESERVED2')
    encodeAttributes(p.attributes, w)
  },
  decodeBody: (r) => {
    const protocol = r.u8('SAK protocol')
    const src = readTrafficId(r, undefined, 'SAK SRC')
    const dst = readTrafficId(r, src.width, 'SAK DST')
    const spi = r.bytes(KEK_SPI_BYTES, 'SAK SPI')
    r.zero(4, 'SAK RESERVED2')
    return {
      type: PayloadType.SA_KEK,
      protocol,
      src: src.id,
      dst: dst.id,
      spi,
      attributes: decodeAttributes(r),
      idLengthWidth: src.width,
    }
  },
}
