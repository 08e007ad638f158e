// ESP packets (IP protocol 50 or UDP 4500): SPI/sequence always; with an SA from the key file or one
// learned from a Key Download, opened with the ESP reference implementation and the inner packet
// summarised (tunnel: inner IPv4 header, ICMP type, ports; an inner ESP packet is opened too).
import { openEsp } from '../esp/esp.js'
import type { EspSaParams } from '../esp/suite.js'
import { Reader } from '../reader.js'
import { IpProto, ipv4Payload, parseIpv4 } from './ipv4.js'
import type { KeyChain } from './key-chain.js'
import type { Checks, EspInfo, InnerPacket, RecordError } from './record.js'
import { isTypedError, recordError } from './result.js'

export interface EspResult {
  esp?: EspInfo
  checks: Checks
  notes: string[]
  errors: RecordError[]
}

const MAX_NESTING = 4
const NEXT_HEADER_NONE = 59

export function decodeEsp(chain: KeyChain, packet: Uint8Array, src: string, dst: string, udpEncapsulated: boolean): EspResult {
  const out: EspResult = { checks: {}, notes: [], errors: [] }
  const esp = openOne(chain, packet, src, dst, udpEncapsulated, out, 0)
  if (esp) out.esp = esp
  return out
}

function openOne(chain: KeyChain, packet: Uint8Array, src: string, dst: string, udpEncapsulated: boolean, out: EspResult, depth: number): EspInfo | undefined {
  const r = new Reader(packet)
  let spi: number
  let seq: number
  try {
    spi = r.u32('ESP SPI')
    seq = r.u32('ESP sequence number')
  } catch (e) {
    out.errors.push(recordError('esp', e))
    return undefined
  }
  const base = { spi, seq, udpEncapsulated }
  const sas = chain.esp(spi, src, dst)
  if (sas.length === 0) {
    if (depth === 0) out.notes.push(`no key for ESP SPI 0x${hex8(spi)}`)
    return { ...base, decrypted: false }
  }
  let failure = 'auth'
  for (const sa of sas) {
    let res: ReturnType<typeof openEsp>
    try {
      res = openEsp(sa as EspSaParams, packet)
    } catch (e) {
      if (!isTypedError(e)) throw e
      out.errors.push(recordError('esp', e))
      continue
    }
    if (!res.ok) {
      failure = res.reason
      continue
    }
    if (depth === 0) out.checks.icv = 'ok'
    const inner = innerPacket(chain, res.nextHeader, res.inner, out, depth)
    return { ...base, decrypted: true, nextHeader: res.nextHeader, ...(inner ? { inner } : {}) }
  }
  if (depth === 0 && failure === 'auth') out.checks.icv = 'bad'
  out.errors.push({
    layer: 'esp',
    code: failure === 'auth' ? 'ERR_ESP_AUTH' : 'ERR_ESP_MALFORMED',
    detail: failure === 'auth' ? `ICV does not verify with the key for SPI 0x${hex8(spi)}` : `ESP packet does not fit the SA of SPI 0x${hex8(spi)} (length or padding)`,
  })
  return { ...base, decrypted: false }
}

function innerPacket(chain: KeyChain, nextHeader: number, inner: Uint8Array, out: EspResult, depth: number): InnerPacket | undefined {
  if (nextHeader === NEXT_HEADER_NONE) return { protocol: NEXT_HEADER_NONE, length: inner.length }
  if (nextHeader !== IpProto.IPV4) return { ...upperLayer(nextHeader, inner), length: inner.length } // transport mode
  try {
    const h = parseIpv4(inner)
    const payload = ipv4Payload(inner, h)
    const base: InnerPacket = { src: h.src, dst: h.dst, length: inner.length, ...upperLayer(h.protocol, payload) }
    if (h.protocol === IpProto.ESP && depth + 1 < MAX_NESTING) {
      const esp = openOne(chain, payload, h.src, h.dst, false, out, depth + 1)
      return esp ? { ...base, esp } : base
    }
    return base
  } catch (e) {
    out.errors.push(recordError('esp', e))
    return undefined
  }
}

function upperLayer(protocol: number, b: Uint8Array): { protocol: number; icmpType?: number; icmpCode?: number; sport?: number; dport?: number } {
  if (protocol === IpProto.ICMP && b.length >= 2) return { protocol, icmpType: b[0] ?? 0, icmpCode: b[1] ?? 0 }
  if ((protocol === IpProto.UDP || protocol === IpProto.TCP) && b.length >= 4) {
    return { protocol, sport: ((b[0] ?? 0) << 8) | (b[1] ?? 0), dport: ((b[2] ?? 0) << 8) | (b[3] ?? 0) }
  }
  return { protocol }
}

export function hex8(n: number): string {
  return n.toString(16).padStart(8, '0')
}
