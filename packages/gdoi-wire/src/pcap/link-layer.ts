// Link-layer types we dissect down to IPv4 (tcpdump.org/linktypes.html numbers, as stored in files).
import { CaptureError } from './capture-error.js'
import { be16 } from './file-reader.js'

export const LinkType = {
  NULL: 0, // BSD loopback: 4-byte address family in the capturing host's order
  ETHERNET: 1,
  RAW: 101, // raw IP, version from the first nibble
  LINUX_SLL: 113,
  IPV4: 228,
  LINUX_SLL2: 276,
} as const

const ETHERTYPE_IPV4 = 0x0800
const ETHERTYPE_VLAN = [0x8100, 0x88a8, 0x9100]

export function isSupportedLinkType(linkType: number): boolean {
  return (Object.values(LinkType) as number[]).includes(linkType)
}

export function assertLinkType(linkType: number, at: number): void {
  if (!isSupportedLinkType(linkType)) {
    throw new CaptureError('ERR_LINKTYPE', at, `link-layer type ${linkType} is not supported (Ethernet, raw IP, Linux cooked v1/v2, BSD loopback are)`)
  }
}

/**
 * The IPv4 packet inside one captured frame, trimmed to the IP Total Length when the frame is longer
 * (Ethernet padding); undefined for anything that is not IPv4 (ARP, IPv6, ...).
 */
export function ipv4FromFrame(linkType: number, frame: Uint8Array): Uint8Array | undefined {
  let at: number
  switch (linkType) {
    case LinkType.ETHERNET: {
      if (frame.length < 14) return undefined
      at = 12
      let type = be16(frame, at)
      while (ETHERTYPE_VLAN.includes(type) && frame.length >= at + 6) {
        at += 4
        type = be16(frame, at)
      }
      if (type !== ETHERTYPE_IPV4) return undefined
      at += 2
      break
    }
    case LinkType.LINUX_SLL:
      if (frame.length < 16 || be16(frame, 14) !== ETHERTYPE_IPV4) return undefined
      at = 16
      break
    case LinkType.LINUX_SLL2:
      if (frame.length < 20 || be16(frame, 0) !== ETHERTYPE_IPV4) return undefined
      at = 20
      break
    case LinkType.NULL: {
      if (frame.length < 4) return undefined
      const family = frame[0] === 0 ? (frame[3] ?? 0) : (frame[0] ?? 0)
      if (family !== 2) return undefined // AF_INET, either byte order
      at = 4
      break
    }
    case LinkType.RAW:
    case LinkType.IPV4:
      at = 0
      break
    default:
      return undefined
  }
  return trimIpv4(frame.subarray(at))
}

function trimIpv4(ip: Uint8Array): Uint8Array | undefined {
  if (ip.length < 1 || (ip[0] ?? 0) >> 4 !== 4) return undefined
  if (ip.length >= 4) {
    const total = be16(ip, 2)
    if (total >= 20 && total < ip.length) return ip.subarray(0, total)
  }
  return ip
}
