// Reads the IPv4 packets of a capture for the ESP known-answer tests. Uses the project's capture reader
// (src/pcap, another workstream) when it exists, otherwise a minimal classic-pcap parser for the link
// types of /work/shared/captures/esp-*.pcap (Ethernet, raw IPv4).
import { readFileSync } from 'node:fs'

export interface IpPacket { readonly frame: number; readonly ip: Uint8Array }

export const CAPTURES_DIR = '/work/shared/captures'

export function parseClassicPcap(file: Uint8Array): IpPacket[] {
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength)
  const magic = v.getUint32(0, true)
  let le: boolean
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false
  else throw new Error('not a classic pcap file')
  const linkType = v.getUint32(20, le)
  const out: IpPacket[] = []
  let at = 24
  let frame = 0
  while (at + 16 <= file.length) {
    const incl = v.getUint32(at + 8, le)
    const data = file.subarray(at + 16, at + 16 + incl)
    at += 16 + incl
    frame++
    let ip: Uint8Array
    if (linkType === 1) {
      let etherType = (data[12]! << 8) | data[13]!
      let off = 14
      if (etherType === 0x8100) { etherType = (data[16]! << 8) | data[17]!; off = 18 }
      if (etherType !== 0x0800) continue
      ip = data.subarray(off)
    } else if (linkType === 101 || linkType === 228) {
      ip = data
    } else {
      throw new Error(`link type ${linkType} not handled by the test helper`)
    }
    out.push({ frame, ip })
  }
  return out
}

export async function readIpPackets(name: string): Promise<IpPacket[]> {
  const bytes = new Uint8Array(readFileSync(`${CAPTURES_DIR}/${name}`))
  try {
    const mod = (await import('../../src/pcap/index.js')) as { readCapture?: (b: Uint8Array) => { frame: number; ip: Uint8Array }[] }
    if (typeof mod.readCapture === 'function') return mod.readCapture(bytes).map((p) => ({ frame: p.frame, ip: p.ip }))
  } catch {
    // the capture reader is written by another workstream; fall back to the local parser
  }
  return parseClassicPcap(bytes)
}

export function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/^0x/, ''), 'hex'))
}
