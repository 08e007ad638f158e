// Writes classic pcap files (little-endian, microsecond timestamps, LINKTYPE_RAW = 101): our own
// exchanges become files that tshark and gdoi-pcap read. IPv4 and UDP checksums are valid.
import { Writer } from '../writer.js'
import { CaptureError } from './capture-error.js'
import { buildIpv4, buildUdp, IpProto } from './ipv4.js'
import { LinkType } from './link-layer.js'

export interface UdpDatagram {
  readonly src: string
  readonly dst: string
  readonly sport: number
  readonly dport: number
  readonly payload: Uint8Array
  /** Seconds since the epoch; 0 when absent. */
  readonly timeSec?: number
}

export interface IpRecord {
  readonly timeSec?: number
  /** A whole IPv4 packet from its header. */
  readonly ip: Uint8Array
}

const SNAPLEN = 262144

/** One IPv4/UDP packet per datagram (IP id = its index + 1, TTL 64, DF). */
export function writePcapUdp(datagrams: readonly UdpDatagram[]): Uint8Array {
  return writePcapIp(
    datagrams.map((d, i) => {
      const udp = buildUdp(d.src, d.dst, d.sport, d.dport, d.payload)
      const ip = buildIpv4(d.src, d.dst, IpProto.UDP, udp, { id: (i + 1) & 0xffff })
      return d.timeSec === undefined ? { ip } : { ip, timeSec: d.timeSec }
    }),
  )
}

export function writePcapIp(packets: readonly IpRecord[]): Uint8Array {
  const size = 24 + packets.reduce((n, p) => n + 16 + p.ip.length, 0)
  const buf = new Uint8Array(size)
  const view = new DataView(buf.buffer)
  // Header fields are little-endian; the Writer is big-endian, so numbers go through the DataView.
  view.setUint32(0, 0xa1b2c3d4, true)
  view.setUint16(4, 2, true)
  view.setUint16(6, 4, true)
  view.setUint32(16, SNAPLEN, true)
  view.setUint32(20, LinkType.RAW, true)
  const w = new Writer(buf, 24)
  for (const [i, p] of packets.entries()) {
    const t = p.timeSec ?? 0
    if (!Number.isFinite(t) || t < 0 || t >= 2 ** 32) throw new CaptureError('ERR_CAPTURE_ENCODE', -1, `packet ${i + 1}: time ${t} does not fit a pcap timestamp`)
    if (p.ip.length > SNAPLEN) throw new CaptureError('ERR_CAPTURE_ENCODE', -1, `packet ${i + 1}: ${p.ip.length} bytes exceed the snap length`)
    let sec = Math.floor(t)
    let usec = Math.round((t - sec) * 1e6)
    if (usec >= 1_000_000) {
      sec += 1
      usec -= 1_000_000
    }
    const at = w.pos
    view.setUint32(at, sec, true)
    view.setUint32(at + 4, usec, true)
    view.setUint32(at + 8, p.ip.length, true)
    view.setUint32(at + 12, p.ip.length, true)
    w.pos += 16
    w.bytes(p.ip, 'packet')
  }
  return buf
}
