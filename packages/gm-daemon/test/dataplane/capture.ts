// IPv4 packets of /work/shared/captures files: @gdoi/wire's capture reader (the pcap workstream), with a
// minimal classic-pcap fallback (Ethernet / raw IPv4) while that module is not there.
import { readFileSync } from 'node:fs'

export const CAPTURES_DIR = '/work/shared/captures'

function parseClassicPcap(file: Uint8Array): Uint8Array[] {
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength)
  const magic = v.getUint32(0, true)
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d
  if (!le && magic !== 0xd4c3b2a1 && magic !== 0x4d3cb2a1) throw new Error('not a classic pcap file')
  const linkType = v.getUint32(20, le)
  const out: Uint8Array[] = []
  for (let at = 24; at + 16 <= file.length;) {
    const incl = v.getUint32(at + 8, le)
    const data = file.subarray(at + 16, at + 16 + incl)
    at += 16 + incl
    if (linkType === 1 && data[12] === 0x08 && data[13] === 0x00) out.push(data.subarray(14))
    else if (linkType === 101 || linkType === 228) out.push(data)
  }
  return out
}

export async function readCaptureIps(name: string): Promise<Uint8Array[]> {
  const bytes = new Uint8Array(readFileSync(`${CAPTURES_DIR}/${name}`))
  try {
    const mod = (await import('@gdoi/wire/pcap/read-capture')) as { readCapture?: (b: Uint8Array) => { ip: Uint8Array }[] }
    if (typeof mod.readCapture === 'function') return mod.readCapture(bytes).map((p) => p.ip)
  } catch {
    // capture reader not available yet
  }
  return parseClassicPcap(bytes)
}
