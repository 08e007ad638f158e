// IPv4 and UDP headers: dissection (through the codec's Reader, so a short packet is a DecodeError with
// its offset) and construction with valid checksums for the pcap writer.
import { DecodeError } from '../errors.js'
import { Reader } from '../reader.js'
import { Writer } from '../writer.js'
import { CaptureError } from './capture-error.js'

export const IpProto = { ICMP: 1, IPV4: 4, TCP: 6, UDP: 17, IPV6: 41, ESP: 50, AH: 51 } as const

export interface Ipv4Header {
  readonly headerBytes: number
  readonly tos: number
  readonly totalLength: number
  readonly id: number
  readonly moreFragments: boolean
  /** Fragment offset in bytes. */
  readonly fragmentOffset: number
  readonly ttl: number
  readonly protocol: number
  readonly src: string
  readonly dst: string
}

export function parseIpv4(ip: Uint8Array): Ipv4Header {
  const r = new Reader(ip)
  const vihl = r.u8('IPv4 version/IHL')
  if (vihl >> 4 !== 4) throw new DecodeError('ERR_BAD_VERSION', 0, `IP version ${vihl >> 4}, expected 4`)
  const headerBytes = (vihl & 0x0f) * 4
  if (headerBytes < 20) throw new DecodeError('ERR_BAD_LENGTH', 0, `IPv4 header length ${headerBytes} < 20`)
  const tos = r.u8('IPv4 TOS')
  const totalLength = r.u16('IPv4 total length')
  const id = r.u16('IPv4 identification')
  const frag = r.u16('IPv4 flags/fragment offset')
  const ttl = r.u8('IPv4 TTL')
  const protocol = r.u8('IPv4 protocol')
  r.u16('IPv4 header checksum')
  const src = ipv4String(r.bytes(4, 'IPv4 source'))
  const dst = ipv4String(r.bytes(4, 'IPv4 destination'))
  if (totalLength < headerBytes) throw new DecodeError('ERR_BAD_LENGTH', 2, `IPv4 total length ${totalLength} < header length ${headerBytes}`)
  if (ip.length < headerBytes) throw new DecodeError('ERR_TRUNCATED', ip.length, `IPv4 options: need ${headerBytes} bytes, have ${ip.length}`)
  return {
    headerBytes,
    tos,
    totalLength,
    id,
    moreFragments: (frag & 0x2000) !== 0,
    fragmentOffset: (frag & 0x1fff) * 8,
    ttl,
    protocol,
    src,
    dst,
  }
}

/** The IP payload (bounded by Total Length; shorter when the capture snapped the packet). */
export function ipv4Payload(ip: Uint8Array, h: Ipv4Header): Uint8Array {
  return ip.subarray(h.headerBytes, Math.min(ip.length, h.totalLength))
}

export interface UdpHeader {
  readonly sport: number
  readonly dport: number
  readonly length: number
  readonly payload: Uint8Array
}

/** The UDP header at `start` of the IP packet `ip` (error offsets are absolute in `ip`). */
export function parseUdp(ip: Uint8Array, start: number, end = ip.length): UdpHeader {
  const r = new Reader(ip, start, end)
  const sport = r.u16('UDP source port')
  const dport = r.u16('UDP destination port')
  const length = r.u16('UDP length')
  r.u16('UDP checksum')
  if (length < 8) throw new DecodeError('ERR_BAD_LENGTH', start + 4, `UDP length ${length} < 8`)
  if (start + length > end) throw new DecodeError('ERR_TRUNCATED', end, `UDP length ${length}, packet has ${end - start}`)
  return { sport, dport, length, payload: ip.subarray(start + 8, start + length) }
}

export function ipv4String(b: Uint8Array): string {
  return `${b[0] ?? 0}.${b[1] ?? 0}.${b[2] ?? 0}.${b[3] ?? 0}`
}

export function ipv4Bytes(s: string): Uint8Array {
  const parts = s.split('.')
  const out = new Uint8Array(4)
  if (parts.length !== 4) throw new CaptureError('ERR_CAPTURE_ENCODE', -1, `not an IPv4 address: ${s}`)
  parts.forEach((p, i) => {
    const n = Number(p)
    if (!/^\d{1,3}$/.test(p) || n > 255) throw new CaptureError('ERR_CAPTURE_ENCODE', -1, `not an IPv4 address: ${s}`)
    out[i] = n
  })
  return out
}

/** RFC 1071 ones'-complement sum over the concatenation of `parts` (each padded to even length). */
export function internetChecksum(...parts: Uint8Array[]): number {
  let sum = 0
  for (const p of parts) {
    for (let i = 0; i < p.length; i += 2) sum += ((p[i] ?? 0) << 8) | (p[i + 1] ?? 0)
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

export interface Ipv4BuildOptions {
  readonly id?: number
  readonly ttl?: number
  readonly tos?: number
}

/** A 20-byte-header IPv4 packet (DF set) around `payload`, header checksum filled in. */
export function buildIpv4(src: string, dst: string, protocol: number, payload: Uint8Array, opts: Ipv4BuildOptions = {}): Uint8Array {
  const total = 20 + payload.length
  if (total > 0xffff) throw new CaptureError('ERR_CAPTURE_ENCODE', -1, `IPv4 packet of ${total} bytes exceeds 65535`)
  const w = Writer.alloc(total)
  w.u8(0x45, 'version/IHL').u8(opts.tos ?? 0, 'TOS').u16(total, 'total length').u16(opts.id ?? 0, 'id').u16(0x4000, 'flags')
  w.u8(opts.ttl ?? 64, 'TTL').u8(protocol, 'protocol').u16(0, 'checksum').bytes(ipv4Bytes(src), 'src').bytes(ipv4Bytes(dst), 'dst')
  w.setU16(10, internetChecksum(w.buf.subarray(0, 20)), 'checksum')
  w.bytes(payload, 'payload')
  return w.buf
}

/** A UDP header + payload with the checksum over the IPv4 pseudo-header. */
export function buildUdp(src: string, dst: string, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const len = 8 + payload.length
  if (len > 0xffff - 20) throw new CaptureError('ERR_CAPTURE_ENCODE', -1, `UDP payload of ${payload.length} bytes is too large`)
  const w = Writer.alloc(len)
  w.u16(sport, 'source port').u16(dport, 'destination port').u16(len, 'length').u16(0, 'checksum').bytes(payload, 'payload')
  const pseudo = Writer.alloc(12)
  pseudo.bytes(ipv4Bytes(src), 'src').bytes(ipv4Bytes(dst), 'dst').u8(0, 'zero').u8(IpProto.UDP, 'protocol').u16(len, 'length')
  const sum = internetChecksum(pseudo.buf, padEven(w.buf))
  w.setU16(6, sum === 0 ? 0xffff : sum, 'checksum')
  return w.buf
}

function padEven(b: Uint8Array): Uint8Array {
  if (b.length % 2 === 0) return b
  const out = new Uint8Array(b.length + 1)
  out.set(b)
  return out
}
