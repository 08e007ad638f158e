// The ACL a GM downloads from its key server is the list of SAT selectors (spec §4.3): every SAT is a
// `permit` (protect) entry; TEKs that share a selector replace one another on rekey. This file turns
// selectors into
//   * a stable policy id (the SaTable slot: a new TEK for the same selector rolls over the old one),
//   * the data plane's ACL entries (IPv4 prefixes; ranges are split into prefixes, IPv6 is skipped),
//   * the Cisco `access-list` text `show crypto gdoi` prints ("ACL Downloaded From KS").
import type { AddressMatch, SelectorEnd, TrafficSelector } from '@gdoi/wire/exchange/index'
import type { AclEntry } from './dataplane/policy.js'

const PROTOCOL_NAMES: Readonly<Record<number, string>> = { 0: 'ip', 1: 'icmp', 6: 'tcp', 17: 'udp', 47: 'gre', 50: 'esp', 51: 'ahp', 89: 'ospf', 103: 'pim', 132: 'sctp' }

export function protocolName(p: number): string {
  return PROTOCOL_NAMES[p] ?? String(p)
}

function matchText(m: AddressMatch): string {
  return m.kind === 'range' ? `${m.first}-${m.last}` : `${m.address}/${m.prefixLength}`
}

function endText(e: SelectorEnd): string {
  return e.port === 0 ? matchText(e.address) : `${matchText(e.address)}:${e.port}`
}

/** Stable id of a selector, used as the SaTable slot / data-plane policyId: "udp 10.1.0.0/16 10.2.0.5/32:53". */
export function selectorId(s: TrafficSelector): string {
  return `${protocolName(s.protocol)} ${endText(s.src)} ${endText(s.dst)}`
}

export function sameSelector(a: TrafficSelector, b: TrafficSelector): boolean {
  return selectorId(a) === selectorId(b)
}

// ---- Cisco access-list text ---------------------------------------------------------------------

function ipv4ToU32(a: string): number {
  const p = a.split('.').map(Number)
  return (((p[0] ?? 0) << 24) | ((p[1] ?? 0) << 16) | ((p[2] ?? 0) << 8) | (p[3] ?? 0)) >>> 0
}

function u32ToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

function isIpv4(a: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(a)
}

function ciscoAddress(m: AddressMatch): string {
  if (m.kind === 'range') return `range ${m.first} ${m.last}`
  if (!isIpv4(m.address)) return m.prefixLength === 128 ? `host ${m.address}` : `${m.address}/${m.prefixLength}`
  if (m.prefixLength === 0) return 'any'
  if (m.prefixLength === 32) return `host ${m.address}`
  const wildcard = m.prefixLength === 0 ? 0xffffffff : (~((0xffffffff << (32 - m.prefixLength)) >>> 0)) >>> 0
  return `${m.address} ${u32ToIpv4(wildcard)}`
}

/** `permit ip 10.1.0.0 0.0.255.255 10.2.0.0 0.0.255.255` / `permit udp any port = 53 host 10.2.0.5`. */
export function ciscoAclLine(s: TrafficSelector): string {
  const end = (e: SelectorEnd): string => (e.port === 0 ? ciscoAddress(e.address) : `${ciscoAddress(e.address)} port = ${e.port}`)
  return `permit ${protocolName(s.protocol)} ${end(s.src)} ${end(s.dst)}`
}

// ---- data-plane ACL -----------------------------------------------------------------------------

/** Smallest list of IPv4 prefixes covering first..last exactly. */
export function rangeToPrefixes(first: string, last: string): string[] {
  let lo = ipv4ToU32(first)
  const hi = ipv4ToU32(last)
  const out: string[] = []
  while (lo <= hi && out.length < 64) {
    // largest block aligned at lo that stays within hi
    let len = 32
    while (len > 0) {
      const size = 2 ** (32 - (len - 1))
      if (lo % size !== 0 || lo + size - 1 > hi) break
      len--
    }
    out.push(`${u32ToIpv4(lo)}/${len}`)
    lo += 2 ** (32 - len)
  }
  return out
}

function prefixesOf(m: AddressMatch): string[] | undefined {
  if (m.kind === 'range') return isIpv4(m.first) && isIpv4(m.last) ? rangeToPrefixes(m.first, m.last) : undefined
  if (!isIpv4(m.address)) return undefined
  return [m.prefixLength === 0 ? 'any' : `${m.address}/${m.prefixLength}`]
}

const PORT_PROTOCOLS = new Set([6, 17, 132, 136])

export interface AclConversion {
  readonly entries: AclEntry[]
  /** Selectors the IPv4 data plane cannot express (IPv6), with the reason. */
  readonly skipped: { readonly policyId: string; readonly reason: string }[]
}

/** SAT selectors → the data plane's ordered ACL (one or more permit entries per selector, mirrored). */
export function selectorsToAcl(selectors: readonly TrafficSelector[]): AclConversion {
  const entries: AclEntry[] = []
  const skipped: { policyId: string; reason: string }[] = []
  const seen = new Set<string>()
  for (const s of selectors) {
    const policyId = selectorId(s)
    if (seen.has(policyId)) continue
    seen.add(policyId)
    const srcs = prefixesOf(s.src.address)
    const dsts = prefixesOf(s.dst.address)
    if (srcs === undefined || dsts === undefined) {
      skipped.push({ policyId, reason: 'not an IPv4 selector' })
      continue
    }
    const ports = PORT_PROTOCOLS.has(s.protocol)
    if (!ports && (s.src.port !== 0 || s.dst.port !== 0)) skipped.push({ policyId, reason: `ports ignored for protocol ${s.protocol}` })
    for (const src of srcs) {
      for (const dst of dsts) {
        entries.push({
          action: 'permit',
          ...(s.protocol !== 0 ? { protocol: s.protocol } : {}),
          src,
          dst,
          ...(ports && s.src.port !== 0 ? { srcPorts: [s.src.port, s.src.port] as const } : {}),
          ...(ports && s.dst.port !== 0 ? { dstPorts: [s.dst.port, s.dst.port] as const } : {}),
          policyId,
          mirrored: true,
        })
      }
    }
  }
  return { entries, skipped }
}
