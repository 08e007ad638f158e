// Notification payload (type 11), RFC 2408 §3.14, spec §2.11.
// | Next Payload  |   RESERVED    |        Payload Length         |
// |              Domain of Interpretation (DOI)                   |
// |  Protocol-ID  |   SPI Size    |      Notify Message Type      |
// |                SPI (SPI Size octets) ... Notification Data ...  |
import { PayloadType } from '../constants.js'
import { EncodeError } from '../errors.js'
import type { BodyCodec } from './body-codec.js'
import type { NotificationPayload } from './types.js'

export const notification: BodyCodec<NotificationPayload> = {
  bodyLength: (p) => 8 + p.spi.length + p.data.length,
  encodeBody: (p, w) => {
    // SPI Size is one octet and is derived from the SPI itself, so a decoded value always re-encodes.
    if (p.spi.length > 0xff) throw new EncodeError('ERR_TOO_LONG', `notification SPI of ${p.spi.length} octets`)
    w.u32(p.doi, 'notification DOI')
      .u8(p.protocolId, 'notification protocol-id')
      .u8(p.spi.length, 'notification SPI size')
      .u16(p.notifyType, 'notify message type')
      .bytes(p.spi, 'notification SPI')
      .bytes(p.data, 'notification data')
  },
  decodeBody: (r) => {
    const doi = r.u32('notification DOI')
    const protocolId = r.u8('notification protocol-id')
    const spiSize = r.u8('notification SPI size')
    const notifyType = r.u16('notify message type')
    const spi = r.bytes(spiSize, 'notification SPI')
    return { type: PayloadType.NOTIFICATION, doi, protocolId, notifyType, spi, data: r.rest() }
  },
}
