// Delete payload (type 12), RFC 2408 §3.15, spec §2.11 (GDOI push deletes: RFC 6407 §5.9).
// | Next Payload  |   RESERVED    |        Payload Length         |
// |              Domain of Interpretation (DOI)                   |
// |  Protocol-Id  |   SPI Size    |           # of SPIs           |
// |                SPI(es) (# of SPIs × SPI Size octets)          |
// `delete` is a reserved word, hence the codec name `del`.
import { PayloadType } from '../constants.js'
import { DecodeError, EncodeError } from '../errors.js'
import type { BodyCodec } from './body-codec.js'
import type { DeletePayload } from './types.js'

export const del: BodyCodec<DeletePayload> = {
  bodyLength: (p) => 8 + p.spiSize * p.spis.length,
  encodeBody: (p, w) => {
    for (const spi of p.spis) {
      if (spi.length !== p.spiSize) throw new EncodeError('ERR_BAD_VALUE', `delete SPI of ${spi.length} octets, SPI size is ${p.spiSize}`)
    }
    w.u32(p.doi, 'delete DOI').u8(p.protocolId, 'delete protocol-id').u8(p.spiSize, 'delete SPI size').u16(p.spis.length, '# of SPIs')
    for (const spi of p.spis) w.bytes(spi, 'delete SPI')
  },
  decodeBody: (r) => {
    const doi = r.u32('delete DOI')
    const protocolId = r.u8('delete protocol-id')
    const spiSize = r.u8('delete SPI size')
    const countAt = r.pos
    const count = r.u16('# of SPIs')
    // Check the total before building the list, so a large count cannot make us allocate.
    if (spiSize === 0 && count > 0) throw new DecodeError('ERR_BAD_VALUE', countAt, `${count} SPIs of size 0`)
    if (spiSize * count !== r.remaining) {
      throw new DecodeError('ERR_BAD_LENGTH', countAt, `${count} SPIs × ${spiSize} octets ≠ ${r.remaining} octets in the payload`)
    }
    const spis: Uint8Array[] = []
    for (let i = 0; i < count; i++) spis.push(r.bytes(spiSize, 'delete SPI'))
    return { type: PayloadType.DELETE, doi, protocolId, spiSize, spis }
  },
}
