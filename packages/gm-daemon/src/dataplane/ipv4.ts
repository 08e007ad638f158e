// IPv4 headers for tunnel mode with address preservation (spec §4.3): the outer header copies the inner
// source and destination, ToS (DSCP and ECN, RFC 6040 normal mode), TTL and DF, and carries protocol 50.
// Plus ICMP "fragmentation needed" (RFC 792/1191) for DF packets that would not fit once encapsulated.
// Hot-path functions read and write numbers at offsets in a caller's buffer and allocate nothing.

export const IPV4_HEADER_BYTES = 20
export const IpProto = { ICMP: 1, TCP: 6, UDP: 17, ESP: 50, SCTP: 132 } as const
export const IPV4_DF = 0x4000
export const IPV4_MF = 0x2000
export const IPV4_OFFSET_MASK = 0x1fff

export function u16(b: Uint8Array, at: number): number {
  return ((b[at] as number) << 8) | (b[at + 1] as number)
}
export function u32(b: Uint8Array, at: number): number {
  return (((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number)) >>> 0
}
export function setU16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff
  b[at + 1] = v & 0xff
}
export function setU32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff
  b[at + 1] = (v >>> 16) & 0xff
  b[at + 2] = (v >>> 8) & 0xff
  b[at + 3] = v & 0xff
}

/** RFC 1071 one's-complement sum over buf[off, off + len), folded and complemented. */
export function ipChecksum(b: Uint8Array, off: number, len: number): number {
  let sum = 0
  const end = off + (len & ~1)
  for (let i = off; i < end; i += 2) sum += ((b[i] as number) << 8) | (b[i + 1] as number)
  if (len & 1) sum += (b[off + len - 1] as number) << 8
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

/**
 * Header length of a well-formed IPv4 packet at b[off] of `len` captured bytes, or −1: version 4, IHL ≥ 5,
 * total length ≥ IHL and ≤ len. (The checksum is left to the kernel, which checked it on the way in.)
 */
export function ipv4HeaderBytes(b: Uint8Array, off: number, len: number): number {
  if (len < IPV4_HEADER_BYTES) return -1
  const vihl = b[off] as number
  if (vihl >> 4 !== 4) return -1
  const ihl = (vihl & 0x0f) * 4
  if (ihl < IPV4_HEADER_BYTES) return -1
  const total = u16(b, off + 2)
  if (total < ihl || total > len) return -1
  return ihl
}

export const ipv4TotalBytes = (b: Uint8Array, off: number): number => u16(b, off + 2)
export const ipv4Protocol = (b: Uint8Array, off: number): number => b[off + 9] as number
export const ipv4Src = (b: Uint8Array, off: number): number => u32(b, off + 12)
export const ipv4Dst = (b: Uint8Array, off: number): number => u32(b, off + 16)
export const ipv4FlagsFrag = (b: Uint8Array, off: number): number => u16(b, off + 6)
export const ipv4IsFragment = (b: Uint8Array, off: number): boolean => (u16(b, off + 6) & (IPV4_MF | IPV4_OFFSET_MASK)) !== 0
export const ipv4IsNonInitialFragment = (b: Uint8Array, off: number): boolean => (u16(b, off + 6) & IPV4_OFFSET_MASK) !== 0

/**
 * Writes the 20-octet outer header at b[outer] for the inner packet at b[inner]: address preservation,
 * ToS/TTL/DF copied, protocol 50, the given identification, a fresh checksum.
 */
export function writeOuterIpv4(b: Uint8Array, outer: number, inner: number, totalBytes: number, ident: number): void {
  b[outer] = 0x45
  b[outer + 1] = b[inner + 1] as number // ToS: DSCP + ECN
  setU16(b, outer + 2, totalBytes)
  setU16(b, outer + 4, ident & 0xffff)
  setU16(b, outer + 6, u16(b, inner + 6) & IPV4_DF)
  b[outer + 8] = b[inner + 8] as number // TTL
  b[outer + 9] = IpProto.ESP
  b[outer + 10] = 0
  b[outer + 11] = 0
  for (let i = 12; i < 20; i++) b[outer + i] = b[inner + i] as number
  setU16(b, outer + 10, ipChecksum(b, outer, IPV4_HEADER_BYTES))
}

/**
 * RFC 791 §3.2 fragmentation, in place: writes the header of one fragment of the packet whose header
 * is at b[from] (ihl octets) to b[to] (to === from for the first fragment, which keeps every option):
 * total length, MF, fragment offset (in 8-octet units, added to the packet's own offset: it may be a
 * fragment already; the last piece keeps its MF) and a fresh checksum. Later fragments carry only the
 * options flagged "copied"; the others become NOOPs, so every fragment keeps the same header length
 * (as Linux's ip_options_fragment does). Payload octets are the caller's to place.
 */
export function writeFragmentHeader(b: Uint8Array, from: number, to: number, ihl: number, totalBytes: number,
  dataOffsetBytes: number, last: boolean): void {
  const ff = u16(b, from + 6)
  if (to !== from) {
    b.copyWithin(to, from, from + ihl)
    let i = to + IPV4_HEADER_BYTES
    const end = to + ihl
    while (i < end) {
      const type = b[i] as number
      if (type === 0) break // end of options
      if (type === 1) { i++; continue }
      const l = i + 1 < end ? (b[i + 1] as number) : 0
      if (l < 2 || i + l > end) { b.fill(0, i, end); break } // malformed tail: end of options
      if ((type & 0x80) === 0) b.fill(1, i, i + l)
      i += l
    }
  }
  const more = !last || (ff & IPV4_MF) !== 0
  setU16(b, to + 2, totalBytes)
  setU16(b, to + 6, (ff & IPV4_DF) | (more ? IPV4_MF : 0) | ((ff & IPV4_OFFSET_MASK) + (dataOffsetBytes >>> 3)))
  b[to + 10] = 0
  b[to + 11] = 0
  setU16(b, to + 10, ipChecksum(b, to, ihl))
}

/** Octets an ICMP "fragmentation needed" error about a packet with an ihl-octet header occupies. */
export const icmpFragNeededBytes = (ihl: number): number => IPV4_HEADER_BYTES + 8 + ihl + 8

/**
 * Builds at b[at] an ICMP type 3 code 4 error (next-hop MTU = mtuBytes) about the packet at b[orig]
 * (its header and first 8 payload octets), addressed to the packet's source from `src` (default: the
 * packet's destination). b[at…] must not overlap b[orig, orig + ihl + 8). Returns the error's length.
 */
export function buildIcmpFragNeeded(b: Uint8Array, at: number, orig: number, mtuBytes: number, ttl: number, src?: number): number {
  const ihl = ((b[orig] as number) & 0x0f) * 4
  const quoted = Math.min(ihl + 8, u16(b, orig + 2))
  const total = IPV4_HEADER_BYTES + 8 + quoted
  b[at] = 0x45
  b[at + 1] = 0xc0 // DSCP CS6 (network control), as Linux sends ICMP errors
  setU16(b, at + 2, total)
  setU16(b, at + 4, 0)
  setU16(b, at + 6, 0)
  b[at + 8] = ttl
  b[at + 9] = IpProto.ICMP
  setU16(b, at + 10, 0)
  setU32(b, at + 12, src ?? u32(b, orig + 16))
  setU32(b, at + 16, u32(b, orig + 12))
  const icmp = at + IPV4_HEADER_BYTES
  b[icmp] = 3
  b[icmp + 1] = 4
  setU16(b, icmp + 2, 0)
  setU16(b, icmp + 4, 0)
  setU16(b, icmp + 6, mtuBytes)
  b.copyWithin(icmp + 8, orig, orig + quoted)
  setU16(b, icmp + 2, ipChecksum(b, icmp, 8 + quoted))
  setU16(b, at + 10, ipChecksum(b, at, IPV4_HEADER_BYTES))
  return total
}

// ---- off the hot path: parsing and building whole packets (status, tests, tools) ----

export interface Ipv4Header {
  readonly headerBytes: number
  readonly tos: number
  readonly totalBytes: number
  readonly ident: number
  readonly dontFragment: boolean
  readonly moreFragments: boolean
  readonly fragmentOffset: number
  readonly ttl: number
  readonly protocol: number
  readonly checksum: number
  readonly src: string
  readonly dst: string
  /** The header checksum verifies. */
  readonly checksumOk: boolean
}

export function ipv4ToU32(a: string): number {
  const parts = a.split('.')
  if (parts.length !== 4) throw new RangeError(`not an IPv4 address: ${a}`)
  let v = 0
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new RangeError(`not an IPv4 address: ${a}`)
    v = v * 256 + Number(p)
  }
  return v >>> 0
}

export function u32ToIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`
}

/** Parses the header at b[off]; throws RangeError when it is not a well-formed IPv4 header. */
export function parseIpv4Header(b: Uint8Array, off = 0, len = b.length - off): Ipv4Header {
  const ihl = ipv4HeaderBytes(b, off, len)
  if (ihl < 0) throw new RangeError('not a well-formed IPv4 packet')
  const ff = u16(b, off + 6)
  return {
    headerBytes: ihl,
    tos: b[off + 1] as number,
    totalBytes: u16(b, off + 2),
    ident: u16(b, off + 4),
    dontFragment: (ff & IPV4_DF) !== 0,
    moreFragments: (ff & IPV4_MF) !== 0,
    fragmentOffset: (ff & IPV4_OFFSET_MASK) * 8,
    ttl: b[off + 8] as number,
    protocol: b[off + 9] as number,
    checksum: u16(b, off + 10),
    src: u32ToIpv4(u32(b, off + 12)),
    dst: u32ToIpv4(u32(b, off + 16)),
    checksumOk: ipChecksum(b, off, ihl) === 0,
  }
}

export interface BuildIpv4 {
  readonly src: string
  readonly dst: string
  readonly protocol: number
  readonly payload: Uint8Array
  readonly ttl?: number
  readonly tos?: number
  readonly ident?: number
  readonly dontFragment?: boolean
}

/** A whole IPv4 packet with a 20-octet header and a valid checksum. */
export function buildIpv4(p: BuildIpv4): Uint8Array {
  const b = new Uint8Array(IPV4_HEADER_BYTES + p.payload.length)
  b[0] = 0x45
  b[1] = p.tos ?? 0
  setU16(b, 2, b.length)
  setU16(b, 4, p.ident ?? 0)
  setU16(b, 6, p.dontFragment === false ? 0 : IPV4_DF)
  b[8] = p.ttl ?? 64
  b[9] = p.protocol
  setU32(b, 12, ipv4ToU32(p.src))
  setU32(b, 16, ipv4ToU32(p.dst))
  setU16(b, 10, ipChecksum(b, 0, IPV4_HEADER_BYTES))
  b.set(p.payload, IPV4_HEADER_BYTES)
  return b
}

/** ICMP echo request (type 8) or reply (0) with a valid checksum. */
export function buildIcmpEcho(type: 0 | 8, id: number, seq: number, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + data.length)
  b[0] = type
  setU16(b, 4, id)
  setU16(b, 6, seq)
  b.set(data, 8)
  setU16(b, 2, ipChecksum(b, 0, b.length))
  return b
}

/** UDP datagram (checksum 0 = none, allowed over IPv4) for building test packets. */
export function buildUdp(sport: number, dport: number, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + data.length)
  setU16(b, 0, sport)
  setU16(b, 2, dport)
  setU16(b, 4, b.length)
  b.set(data, 8)
  return b
}
