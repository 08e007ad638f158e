// pcap (both byte orders, µs or ns timestamps) and pcapng (any section/interface mix) → IPv4 packets
// with their frame numbers. Frame numbers count every packet record, as Wireshark does, so a non-IPv4
// frame (ARP) is skipped but still takes its number.
import { CaptureError } from './capture-error.js'
import { FileReader } from './file-reader.js'
import { assertLinkType, ipv4FromFrame } from './link-layer.js'

export interface CapturedPacket {
  readonly frame: number
  /** Seconds since the epoch (fractional). */
  readonly timeSec: number
  /** The IPv4 packet, from its header (a view into the file). */
  readonly ip: Uint8Array
}

const PCAP_MAGIC_US = 0xa1b2c3d4
const PCAP_MAGIC_NS = 0xa1b23c4d
const PCAP_MAGIC_US_SWAPPED = 0xd4c3b2a1
const PCAP_MAGIC_NS_SWAPPED = 0x4d3cb2a1
const PCAPNG_SHB = 0x0a0d0d0a
const PCAPNG_BOM = 0x1a2b3c4d
const PCAPNG_BOM_SWAPPED = 0x4d3c2b1a
/** Larger records than this are treated as a corrupt file rather than allocated. */
const MAX_RECORD_BYTES = 1 << 18

export function readCapture(file: Uint8Array): CapturedPacket[] {
  if (file.length < 4) throw new CaptureError('ERR_CAPTURE_FORMAT', 0, `file is ${file.length} bytes, too short for a capture`)
  const r = new FileReader(file)
  const magic = r.u32BeAt(0, 'magic')
  switch (magic) {
    case PCAP_MAGIC_US:
    case PCAP_MAGIC_NS:
    case PCAP_MAGIC_US_SWAPPED:
    case PCAP_MAGIC_NS_SWAPPED:
      return readPcap(r, magic)
    case PCAPNG_SHB:
      return readPcapng(r)
    default:
      throw new CaptureError('ERR_CAPTURE_FORMAT', 0, `unknown magic 0x${magic.toString(16).padStart(8, '0')} (not pcap or pcapng)`)
  }
}

function readPcap(r: FileReader, magic: number): CapturedPacket[] {
  r.littleEndian = magic === PCAP_MAGIC_US_SWAPPED || magic === PCAP_MAGIC_NS_SWAPPED
  const fracPerSec = magic === PCAP_MAGIC_NS || magic === PCAP_MAGIC_NS_SWAPPED ? 1e9 : 1e6
  r.need(24, 'pcap file header')
  const linkType = r.u32At(20, 'linktype') & 0xffff
  assertLinkType(linkType, 20)
  const out: CapturedPacket[] = []
  r.pos = 24
  let frame = 0
  while (r.remaining > 0) {
    const at = r.pos
    r.need(16, `record header of frame ${frame + 1}`)
    const sec = r.u32('ts_sec')
    const frac = r.u32('ts_frac')
    const inclLen = r.u32('incl_len')
    r.u32('orig_len')
    if (inclLen > MAX_RECORD_BYTES) throw new CaptureError('ERR_CAPTURE_FORMAT', at + 8, `record of frame ${frame + 1} claims ${inclLen} bytes`)
    const data = r.bytesAt(r.pos, inclLen, `frame ${frame + 1}`)
    r.pos += inclLen
    frame++
    const ip = ipv4FromFrame(linkType, data)
    if (ip) out.push({ frame, timeSec: sec + frac / fracPerSec, ip })
  }
  return out
}

interface Interface {
  readonly linkType: number
  readonly linkTypeAt: number
  /** Timestamp units per second (10^6 unless if_tsresol says otherwise). */
  readonly unitsPerSec: bigint
  readonly offsetSec: number
}

function readPcapng(r: FileReader): CapturedPacket[] {
  const out: CapturedPacket[] = []
  let interfaces: Interface[] = []
  let frame = 0
  let first = true
  while (r.remaining > 0) {
    const at = r.pos
    r.need(12, 'pcapng block header')
    const type = r.u32BeAt(at, 'block type') // 0x0a0d0d0a reads the same in both orders
    if (type === PCAPNG_SHB) {
      const bom = r.u32BeAt(at + 8, 'byte-order magic')
      if (bom !== PCAPNG_BOM && bom !== PCAPNG_BOM_SWAPPED) {
        throw new CaptureError('ERR_CAPTURE_FORMAT', at + 8, `bad pcapng byte-order magic 0x${bom.toString(16)}`)
      }
      r.littleEndian = bom === PCAPNG_BOM_SWAPPED
      interfaces = [] // a new section starts with no interfaces
      first = false
    } else if (first) {
      throw new CaptureError('ERR_CAPTURE_FORMAT', at, 'pcapng file does not start with a section header block')
    }
    const blockType = r.u32At(at, 'block type')
    const len = r.u32At(at + 4, 'block total length')
    if (len < 12 || len % 4 !== 0) throw new CaptureError('ERR_CAPTURE_FORMAT', at + 4, `block total length ${len} is not a multiple of 4 ≥ 12`)
    r.need(len, `block of type ${blockType}`)
    const trailer = r.u32At(at + len - 4, 'trailing block length')
    if (trailer !== len) throw new CaptureError('ERR_CAPTURE_FORMAT', at + len - 4, `trailing block length ${trailer} differs from ${len}`)
    const bodyEnd = at + len - 4
    switch (blockType) {
      case 1: // Interface Description Block
        interfaces.push(readIdb(r, at, bodyEnd))
        break
      case 6: // Enhanced Packet Block
      case 2: {
        // (obsolete) Packet Block: 16-bit interface id + 16-bit drops count
        frame++
        const iface = blockType === 6 ? r.u32At(at + 8, 'interface id') : r.u16At(at + 8, 'interface id')
        const tsHigh = r.u32At(at + 12, 'timestamp (high)')
        const tsLow = r.u32At(at + 16, 'timestamp (low)')
        const capLen = r.u32At(at + 20, 'captured length')
        if (at + 28 + capLen > bodyEnd) throw new CaptureError('ERR_CAPTURE_FORMAT', at + 20, `captured length ${capLen} runs past its block`)
        const ifc = interfaceAt(interfaces, iface, at + 8)
        const ip = ipv4FromFrame(ifc.linkType, r.bytesAt(at + 28, capLen, 'packet data'))
        if (ip) out.push({ frame, timeSec: timestamp(ifc, tsHigh, tsLow), ip })
        break
      }
      case 3: {
        // Simple Packet Block: no timestamp, interface 0
        frame++
        const origLen = r.u32At(at + 8, 'original length')
        const capLen = Math.min(origLen, bodyEnd - (at + 12))
        const ifc = interfaceAt(interfaces, 0, at + 8)
        const ip = ipv4FromFrame(ifc.linkType, r.bytesAt(at + 12, capLen, 'packet data'))
        if (ip) out.push({ frame, timeSec: 0, ip })
        break
      }
      default:
        break // SHB handled above; name resolution, statistics, custom blocks: nothing to take
    }
    r.pos = at + len
  }
  return out
}

function readIdb(r: FileReader, at: number, bodyEnd: number): Interface {
  const linkType = r.u16At(at + 8, 'IDB linktype')
  let unitsPerSec = 1_000_000n
  let offsetSec = 0
  let p = at + 16
  while (p + 4 <= bodyEnd) {
    const code = r.u16At(p, 'option code')
    const len = r.u16At(p + 2, 'option length')
    if (code === 0) break
    if (p + 4 + len > bodyEnd) throw new CaptureError('ERR_CAPTURE_FORMAT', p + 2, `IDB option ${code} runs past its block`)
    if (code === 9 && len >= 1) {
      const res = r.u8At(p + 4, 'if_tsresol')
      const exp = BigInt(res & 0x7f)
      unitsPerSec = res & 0x80 ? 2n ** exp : 10n ** exp
    } else if (code === 14 && len >= 8) {
      const hi = r.u32At(p + 4 + (r.littleEndian ? 4 : 0), 'if_tsoffset')
      const lo = r.u32At(p + 4 + (r.littleEndian ? 0 : 4), 'if_tsoffset')
      offsetSec = (hi | 0) * 2 ** 32 + lo // signed 64-bit seconds
    }
    p += 4 + Math.ceil(len / 4) * 4
  }
  return { linkType, linkTypeAt: at + 8, unitsPerSec, offsetSec }
}

function interfaceAt(interfaces: readonly Interface[], id: number, at: number): Interface {
  const ifc = interfaces[id]
  if (!ifc) throw new CaptureError('ERR_CAPTURE_FORMAT', at, `packet refers to interface ${id}, which has no description block`)
  assertLinkType(ifc.linkType, ifc.linkTypeAt)
  return ifc
}

function timestamp(ifc: Interface, high: number, low: number): number {
  const units = (BigInt(high) << 32n) | BigInt(low)
  const whole = units / ifc.unitsPerSec
  const frac = units % ifc.unitsPerSec
  return Number(whole) + ifc.offsetSec + Number(frac) / Number(ifc.unitsPerSec)
}
