// Key Download payload (type 17), RFC 6407 §5.6, spec §2.16.
// | Next Payload  |   RESERVED    |        Payload Length         |
// |   Number of Key Packets       |           RESERVED2           |
// |                      Key Packets ...                          |
// Key packet:
// |    KD Type    |   RESERVED    |            KD Length          |   (KD Length includes these 4 octets)
// |   SPI Size    |   SPI (SPI Size octets)  |  Key Packet Attributes ...
import { PayloadType } from '../constants.js'
import { DecodeError, EncodeError } from '../errors.js'
import { attributesLength, decodeAttributes, encodeAttributes } from '../attributes.js'
import type { Reader } from '../reader.js'
import type { Writer } from '../writer.js'
import type { BodyCodec } from './body-codec.js'
import type { KeyDownloadPayload, KeyPacket } from './types.js'

const KEY_PACKET_HEADER_BYTES = 5 // type, reserved, length (2), SPI size

function packetLength(k: KeyPacket): number {
  return KEY_PACKET_HEADER_BYTES + k.spi.length + attributesLength(k.attributes)
}

function encodePacket(k: KeyPacket, w: Writer): void {
  if (k.spi.length > 0xff) throw new EncodeError('ERR_TOO_LONG', `key packet SPI of ${k.spi.length} octets`)
  w.u8(k.kdType, 'KD type').u8(0, 'KD reserved').u16(packetLength(k), 'KD length')
  w.u8(k.spi.length, 'KD SPI size').bytes(k.spi, 'KD SPI')
  encodeAttributes(k.attributes, w)
}

function decodePacket(r: Reader): KeyPacket {
  const kdType = r.u8('KD type')
  r.zero(1, 'KD reserved')
  const lengthAt = r.pos
  const length = r.u16('KD length')
  if (length < KEY_PACKET_HEADER_BYTES) throw new DecodeError('ERR_BAD_LENGTH', lengthAt, `KD length ${length} < ${KEY_PACKET_HEADER_BYTES}`)
  if (length - 4 > r.remaining) throw new DecodeError('ERR_BAD_LENGTH', lengthAt, `KD length ${length} runs past the payload`)
  const body = r.sub(length - 4, 'key packet')
  const spi = body.bytes(body.u8('KD SPI size'), 'KD SPI')
  return { kdType, spi, attributes: decodeAttributes(body) }
}

export const keyDownload: BodyCodec<KeyDownloadPayload> = {
  bodyLength: (p) => p.packets.reduce((n, k) => n + packetLength(k), 4),
  encodeBody: (p, w) => {
    w.u16(p.packets.length, 'number of key packets').u16(0, 'KD RESERVED2')
    for (const k of p.packets) encodePacket(k, w)
  },
  decodeBody: (r) => {
    const countAt = r.pos
    const count = r.u16('number of key packets')
    r.zero(2, 'KD RESERVED2')
    // No pre-sizing by `count`: each packet consumes at least 5 octets before it is stored.
    const packets: KeyPacket[] = []
    for (let i = 0; i < count; i++) {
      if (r.remaining === 0) throw new DecodeError('ERR_BAD_VALUE', countAt, `number of key packets ${count}, payload holds ${i}`)
      packets.push(decodePacket(r))
    }
    return { type: PayloadType.KEY_DOWNLOAD, packets }
  },
}
