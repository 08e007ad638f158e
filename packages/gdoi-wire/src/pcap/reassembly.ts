// IPv4 fragment reassembly (RFC 791) for the capture decoder: large ISAKMP messages (certificates,
// big KDs) arrive fragmented. The datagram is reported at the frame that completes it, as Wireshark does.
import { Writer } from '../writer.js'
import type { Ipv4Header } from './ipv4.js'

interface Pending {
  /** Header bytes of the first fragment (offset 0), once seen. */
  header?: Uint8Array
  /** Fragment offset → payload. */
  readonly parts: Map<number, Uint8Array>
  /** Known once the last fragment (MF = 0) is seen. */
  totalBytes?: number
}

const MAX_PENDING = 1024

export class Reassembler {
  readonly #pending = new Map<string, Pending>()

  /** Adds a fragment; returns the whole IPv4 packet when this one completes it. */
  add(ip: Uint8Array, h: Ipv4Header): Uint8Array | undefined {
    const key = `${h.src}>${h.dst}/${h.protocol}/${h.id}`
    let p = this.#pending.get(key)
    if (!p) {
      if (this.#pending.size >= MAX_PENDING) {
        const oldest = this.#pending.keys().next().value
        if (oldest !== undefined) this.#pending.delete(oldest)
      }
      p = { parts: new Map() }
      this.#pending.set(key, p)
    }
    const payload = ip.subarray(h.headerBytes, Math.min(ip.length, h.totalLength))
    p.parts.set(h.fragmentOffset, payload)
    if (h.fragmentOffset === 0) p.header = ip.subarray(0, h.headerBytes)
    if (!h.moreFragments) p.totalBytes = h.fragmentOffset + payload.length
    if (p.header === undefined || p.totalBytes === undefined) return undefined
    let covered = 0
    for (const off of [...p.parts.keys()].sort((a, b) => a - b)) {
      if (off > covered) return undefined
      covered = Math.max(covered, off + (p.parts.get(off)?.length ?? 0))
    }
    if (covered < p.totalBytes) return undefined
    this.#pending.delete(key)
    const total = p.header.length + p.totalBytes
    if (total > 0xffff) return undefined
    const out = new Uint8Array(total)
    out.set(p.header)
    for (const [off, part] of p.parts) out.set(part.subarray(0, Math.max(0, p.totalBytes - off)), p.header.length + off)
    const w = new Writer(out)
    w.setU16(2, total, 'total length')
    w.setU16(6, 0, 'flags/fragment offset')
    return out
  }
}
