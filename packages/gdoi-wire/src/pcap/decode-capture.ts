// The capture decoding pipeline (pure: packets and keys in, records out):
//   IPv4 (fragments reassembled) → UDP 500/848 ISAKMP; UDP 4500: 0xff keepalive, 0x00000000 marker +
//   ISAKMP, else ESP-in-UDP; IP protocol 50 ESP → one CaptureRecord per datagram, in capture order,
//   with the key chain (phase 1 → PULL → KEK/TEKs → pushes → ESP) followed across the whole file.
import { GDOI_PORT } from '../constants.js'
import { DecodeError } from '../errors.js'
import { decodeEsp } from './decode-esp.js'
import { decodeIsakmp } from './decode-isakmp.js'
import { be16 } from './file-reader.js'
import { IpProto, parseIpv4, parseUdp, type Ipv4Header } from './ipv4.js'
import { KeyChain, NO_KEYS, type CaptureKeys } from './key-chain.js'
import type { CapturedPacket } from './read-capture.js'
import { Reassembler } from './reassembly.js'
import type { CaptureRecord } from './record.js'
import { emptyResult, recordError } from './result.js'

export const IKE_PORT = 500
export const NAT_T_PORT = 4500

export interface CaptureDecoder {
  /** Decodes the next packet; undefined for packets that are not ISAKMP/ESP (or an incomplete fragment). */
  decode(packet: CapturedPacket): CaptureRecord | undefined
  readonly keys: KeyChain
}

/** A decoder that keeps its key chain across calls (for streaming, or for feeding several files). */
export function createCaptureDecoder(keys: CaptureKeys = NO_KEYS): CaptureDecoder {
  const chain = new KeyChain(keys)
  const frags = new Reassembler()
  return { keys: chain, decode: (p) => decodePacket(chain, frags, p) }
}

export function decodeCapture(packets: readonly CapturedPacket[], keys: CaptureKeys = NO_KEYS): CaptureRecord[] {
  const d = createCaptureDecoder(keys)
  const out: CaptureRecord[] = []
  for (const p of packets) {
    const r = d.decode(p)
    if (r) out.push(r)
  }
  return out
}

function decodePacket(chain: KeyChain, frags: Reassembler, packet: CapturedPacket): CaptureRecord | undefined {
  let ip = packet.ip
  let h: Ipv4Header
  try {
    h = parseIpv4(ip)
  } catch (e) {
    return { ...base(packet, '?', '?'), kind: 'ip', errors: [recordError('ip', e)] }
  }
  if (h.moreFragments || h.fragmentOffset > 0) {
    const whole = frags.add(ip, h)
    if (whole === undefined) return undefined
    ip = whole
    h = parseIpv4(ip)
  }
  if (h.protocol === IpProto.ESP) {
    const payload = ip.subarray(h.headerBytes, Math.min(ip.length, h.totalLength))
    const res = decodeEsp(chain, payload, h.src, h.dst, false)
    return espRecord(packet, h, undefined, res)
  }
  if (h.protocol !== IpProto.UDP) return undefined
  let udp: ReturnType<typeof parseUdp>
  try {
    udp = parseUdp(ip, h.headerBytes, Math.min(ip.length, h.totalLength))
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e
    // Only report broken UDP when the ports say it was ours.
    const ports = ip.length >= h.headerBytes + 4 ? [be16(ip, h.headerBytes), be16(ip, h.headerBytes + 2)] : []
    if (!ports.some(isIkePort)) return undefined
    return { ...base(packet, h.src, h.dst), kind: 'isakmp', errors: [recordError('udp', e)] }
  }
  const ports = { sport: udp.sport, dport: udp.dport }
  const from = `${h.src}:${udp.sport}`
  if (udp.sport === NAT_T_PORT || udp.dport === NAT_T_PORT) {
    const pl = udp.payload
    if (pl.length === 1 && pl[0] === 0xff) return { ...base(packet, h.src, h.dst), ...ports, kind: 'nat-keepalive' }
    if (pl.length >= 4 && pl[0] === 0 && pl[1] === 0 && pl[2] === 0 && pl[3] === 0) {
      return isakmpRecord(packet, h, ports, decodeIsakmp(chain, pl.subarray(4), from, true, false))
    }
    return espRecord(packet, h, ports, decodeEsp(chain, pl, h.src, h.dst, true))
  }
  if (isIkePort(udp.sport) || isIkePort(udp.dport)) {
    const gdoiPort = udp.sport === GDOI_PORT || udp.dport === GDOI_PORT
    return isakmpRecord(packet, h, ports, decodeIsakmp(chain, udp.payload, from, false, gdoiPort))
  }
  return undefined
}

function isIkePort(p: number | undefined): boolean {
  return p === IKE_PORT || p === GDOI_PORT || p === NAT_T_PORT
}

function base(packet: CapturedPacket, src: string, dst: string): Omit<CaptureRecord, 'kind'> {
  return { frame: packet.frame, timeSec: packet.timeSec, src, dst, encrypted: false, decrypted: false, payloads: [], checks: {}, learned: [], notes: [], errors: [] }
}

function isakmpRecord(packet: CapturedPacket, h: Ipv4Header, ports: { sport: number; dport: number }, r: ReturnType<typeof emptyResult>): CaptureRecord {
  return {
    ...base(packet, h.src, h.dst),
    ...ports,
    kind: 'isakmp',
    ...(r.isakmp ? { isakmp: r.isakmp } : {}),
    encrypted: r.encrypted,
    decrypted: r.decrypted,
    payloads: r.payloads,
    checks: r.checks,
    learned: r.learned,
    notes: r.notes,
    errors: r.errors,
  }
}

function espRecord(packet: CapturedPacket, h: Ipv4Header, ports: { sport: number; dport: number } | undefined, r: ReturnType<typeof decodeEsp>): CaptureRecord {
  return {
    ...base(packet, h.src, h.dst),
    ...(ports ?? {}),
    kind: 'esp',
    ...(r.esp ? { esp: r.esp } : {}),
    encrypted: true,
    decrypted: r.esp?.decrypted ?? false,
    checks: r.checks,
    notes: r.notes,
    errors: r.errors,
  }
}
