// SA TEK payload (type 16), nested in a GDOI SA only — RFC 6407 §5.5/§5.5.1, spec §2.14.
// | Next Payload  |   RESERVED    |        Payload Length         |
// |  Protocol-ID  |   TEK Protocol-Specific Payload (variable)    |
// For Protocol-ID 1 (ESP) and 2 (AH) the protocol-specific part is
// |   Protocol    |  SRC ID Type  |          SRC ID Port          |
// |SRC ID Data Len|   SRC ID Data ... | DST ID Type | DST ID Port | DST ID Data Len | DST ID Data ...
// | Transform ID  |                    SPI (4)                    |  RFC 2407 SA attributes ...
// Other protocol IDs (Cisco ref: 128 SRTP, 161 IEC 90-5) are kept opaque in `raw`.
import { PayloadType, TekProtocol } from '../constants.js'
import { EncodeError } from '../errors.js'
import { attributesLength, decodeAttributes, encodeAttributes } from '../attributes.js'
import type { Reader } from '../reader.js'
import type { BodyCodec } from './body-codec.js'
import { readTrafficId, trafficIdLength, writeTrafficId } from './traffic-id.js'
import type { EncodeOptions, IpsecTek, SaTekPayload } from './types.js'

function isIpsec(protocolId: number): boolean {
  return protocolId === TekProtocol.IPSEC_ESP || protocolId === TekProtocol.IPSEC_AH
}

function ipsecLength(t: IpsecTek, opts: EncodeOptions | undefined): number {
  const width = opts?.idLengthWidth ?? t.idLengthWidth
  return 1 + trafficIdLength(t.src, width) + trafficIdLength(t.dst, width) + 1 + 4 + attributesLength(t.attributes)
}

function decodeIpsec(r: Reader): IpsecTek {
  const protocol = r.u8('SAT protocol')
  const src = readTrafficId(r, undefined, 'SAT SRC')
  const dst = readTrafficId(r, src.width, 'SAT DST')
  const transformId = r.u8('SAT transform ID')
  const spi = r.u32('SAT SPI')
  return { protocol, src: src.id, dst: dst.id, transformId, spi, attributes: decodeAttributes(r), idLengthWidth: src.width }
}

export const saTek: BodyCodec<SaTekPayload> = {
  bodyLength: (p, opts) => 1 + (p.ipsec !== undefined ? ipsecLength(p.ipsec, opts) : (p.raw?.length ?? 0)),
  encodeBody: (p, w, opts) => {
    w.u8(p.protocolId, 'SAT protocol-id')
    const t = p.ipsec
    if (t === undefined) {
      // Only a decoded non-IPsec SAT has `raw`; an IPsec protocol ID with raw bytes would not decode back.
      if (p.raw === undefined || isIpsec(p.protocolId)) throw new EncodeError('ERR_BAD_VALUE', `SAT protocol-id ${p.protocolId} needs ${isIpsec(p.protocolId) ? 'ipsec' : 'raw'}`)
      w.bytes(p.raw, 'SAT protocol-specific payload')
      return
    }
    if (!isIpsec(p.protocolId)) throw new EncodeError('ERR_BAD_VALUE', `SAT protocol-id ${p.protocolId} is not ESP/AH but has an ipsec part`)
    const width = opts?.idLengthWidth ?? t.idLengthWidth
    w.u8(t.protocol, 'SAT protocol')
    writeTrafficId(t.src, width, w, 'SAT SRC')
    writeTrafficId(t.dst, width, w, 'SAT DST')
    w.u8(t.transformId, 'SAT transform ID').u32(t.spi, 'SAT SPI')
    encodeAttributes(t.attributes, w)
  },
  decodeBody: (r) => {
    const protocolId = r.u8('SAT protocol-id')
    return isIpsec(protocolId)
      ? { type: PayloadType.SA_TEK, protocolId, ipsec: decodeIpsec(r) }
      : { type: PayloadType.SA_TEK, protocolId, raw: r.rest() }
  },
}
