// Helpers for the capture tests: the repo captures, key files, hand-built pcap/pcapng files, and the
// gdoid trace B session as a capture written with our own writer.
import { readFileSync } from 'node:fs'
import { gdoid3gmFrames, gdoidLoopbackFrames, hex, type GdoidFrame } from '../fixtures/gdoid-vectors.js'
import type { UdpDatagram } from '../../src/pcap/write-pcap.js'

export const CAPTURES = '/work/shared/captures'

export function capture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(`${CAPTURES}/${name}`))
}

export function captureText(name: string): string {
  return readFileSync(`${CAPTURES}/${name}`, 'utf8')
}

export { hex }

/** Our keylog for trace A: phase-1 keys plus SKEYID_a, so the PULL hashes can be checked. */
export const TRACE_A_KEYLOG =
  'IKEV1 a91b9d5035d8fc4f 272325e695db688b ENC=des-ede3-cbc KEY=80cdab03c1105d2b48ab436dde73f5b1bbbe55449c1efe69 HASH=sha1 ' +
  'SKEYID_A=83547d80355b03c1a3b332d80d6d60d8d0aedc49\n'

/** strongSwan Main Mode (strongswan-mm-aes256-sha1-modp1536.json): Ka and SKEYID_a. */
export const STRONGSWAN_KEYLOG =
  'IKEV1 f372158c720e7822 d7cf26dbeacd4df2 ENC=aes-256-cbc KEY=e3958776c7f62d6e1e457b525f1ff8d7cdf3016b03a1eabd8a621e1ac0cbfd15 HASH=sha1 ' +
  'SKEYID_A=a05760944e98e4c2e56058f62b4b47c445d7719e\n'

/** ESP keys of the FreeS/WAN flow (captures INDEX; nested outer/inner keys found for esp-nested-3des-md5.pcap). */
export const ESP_KEYLOG = [
  'ESP 12345678 TRANSFORM=3 ENCKEY=4043434545464649494a4a4c4c4f4f515152525454575758 AUTH=1 AUTHKEY=87658765876587658765876587658765',
  'ESP d1234567 TRANSFORM=12 KEYBITS=256 ENCKEY=aaaabbbbccccdddd4043434545464649494a4a4c4c4f4f515152525454575758 AUTH=2 AUTHKEY=8765876587658765876587658765876587658765',
].join('\n')

export const ESP_NESTED_KEYLOG = [
  'ESP 12345678 TRANSFORM=3 ENCKEY=43434545464649494a4a4c4c4f4f51515252545457575840 AUTH=1 AUTHKEY=65876587658765876587658765876587 DST=192.1.2.45',
  'ESP abcdabcd TRANSFORM=3 ENCKEY=434545464649494a4a4c4c4f4f5151525254545757584043 AUTH=1 AUTHKEY=87658765876587658765876587658765 DST=192.0.1.1',
].join('\n')

export function udp(f: GdoidFrame, timeSec: number): UdpDatagram {
  return { src: f.src, dst: f.dst, sport: 848, dport: 848, payload: hex(f.wire), timeSec }
}

/** Trace B session frames (1-based numbers as in gdoid-vectors.txt). */
export function traceBFrames(...numbers: number[]): GdoidFrame[] {
  return numbers.map((n) => {
    const f = gdoid3gmFrames[n - 1]
    if (!f) throw new Error(`no trace B frame ${n}`)
    return f
  })
}

export const TRACE_A = gdoidLoopbackFrames
export const TRACE_B = gdoid3gmFrames

/** Little-endian / big-endian 32- and 16-bit integers for hand-built files. */
export function u32(v: number, le: boolean): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, v >>> 0, le)
  return b
}

export function u16(v: number, le: boolean): Uint8Array {
  const b = new Uint8Array(2)
  new DataView(b.buffer).setUint16(0, v, le)
  return b
}

export function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** A pcapng block: type, total length, body (padded to 4), total length. */
export function block(type: number, body: Uint8Array, le: boolean): Uint8Array {
  const pad = (4 - (body.length % 4)) % 4
  const len = 12 + body.length + pad
  return cat(u32(type, le), u32(len, le), body, new Uint8Array(pad), u32(len, le))
}

export function option(code: number, value: Uint8Array, le: boolean): Uint8Array {
  const pad = (4 - (value.length % 4)) % 4
  return cat(u16(code, le), u16(value.length, le), value, new Uint8Array(pad))
}

export function shb(le: boolean): Uint8Array {
  return block(0x0a0d0d0a, cat(u32(0x1a2b3c4d, le), u16(1, le), u16(0, le), new Uint8Array(8).fill(0xff)), le)
}

export function idb(linkType: number, le: boolean, tsresol?: number): Uint8Array {
  const opts = tsresol === undefined ? new Uint8Array(0) : cat(option(9, Uint8Array.of(tsresol), le), option(0, new Uint8Array(0), le))
  return block(1, cat(u16(linkType, le), u16(0, le), u32(0, le), opts), le)
}

export function epb(iface: number, ts: bigint, data: Uint8Array, le: boolean): Uint8Array {
  return block(6, cat(u32(iface, le), u32(Number(ts >> 32n), le), u32(Number(ts & 0xffffffffn), le), u32(data.length, le), u32(data.length, le), data), le)
}

export function spb(data: Uint8Array, le: boolean): Uint8Array {
  return block(3, cat(u32(data.length, le), data), le)
}

export function ethernet(ip: Uint8Array, etherType = 0x0800): Uint8Array {
  return cat(new Uint8Array(12).fill(0x02), u16(etherType, false), ip)
}
