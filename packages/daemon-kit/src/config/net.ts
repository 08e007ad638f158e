// IPv4 addresses, prefixes, IOS masks/wildcards, protocol and port names: the vocabulary of ACLs and
// peers, shared by the YAML schema and the IOS parser.

/** An IPv4 prefix with its host bits zero. `{ address: '0.0.0.0', length: 0 }` is "any". */
export interface Prefix {
  readonly address: string
  readonly length: number
}

export const ANY: Prefix = { address: '0.0.0.0', length: 0 }

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)'
const IPV4_RE = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`)

/** Dotted quad, no leading zeros (so nobody wonders whether 010 is octal). */
export function isIpv4(s: string): boolean {
  return IPV4_RE.test(s)
}

export function ipv4ToNumber(s: string): number {
  const p = s.split('.').map(Number)
  return (((p[0] ?? 0) << 24) | ((p[1] ?? 0) << 16) | ((p[2] ?? 0) << 8) | (p[3] ?? 0)) >>> 0
}

export function numberToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

export function maskOf(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0
}

export function isMulticastIpv4(s: string): boolean {
  return isIpv4(s) && ipv4ToNumber(s) >>> 28 === 0xe
}

export type PrefixResult = { readonly ok: true; readonly prefix: Prefix } | { readonly ok: false; readonly reason: string }

/** `any`, `A.B.C.D` (a host) or `A.B.C.D/N`. Host bits must be zero. */
export function parsePrefix(s: string): PrefixResult {
  const t = s.trim()
  if (t === 'any') return { ok: true, prefix: ANY }
  const [addr, len, ...rest] = t.split('/')
  if (addr === undefined || rest.length > 0 || !isIpv4(addr)) {
    return { ok: false, reason: 'expected "any", an IPv4 address or a prefix like 10.1.0.0/16' }
  }
  if (len === undefined) return { ok: true, prefix: { address: addr, length: 32 } }
  if (!/^(3[0-2]|[12]?\d)$/.test(len)) return { ok: false, reason: 'prefix length must be 0..32' }
  return checkHostBits(addr, Number(len))
}

function checkHostBits(addr: string, length: number): PrefixResult {
  const n = ipv4ToNumber(addr)
  const net = (n & maskOf(length)) >>> 0
  if (net !== n) {
    return { ok: false, reason: `host bits set (did you mean ${numberToIpv4(net)}/${length}?)` }
  }
  return { ok: true, prefix: { address: addr, length } }
}

/** Contiguous netmask (255.255.255.0) → prefix length, or undefined. */
export function netmaskLength(mask: string): number | undefined {
  if (!isIpv4(mask)) return undefined
  const m = ipv4ToNumber(mask)
  for (let len = 0; len <= 32; len++) if (maskOf(len) === m) return len
  return undefined
}

/** Contiguous IOS wildcard (0.0.0.255) → prefix length, or undefined (non-contiguous wildcards can't be a
 *  GDOI ID, which is a subnet). */
export function wildcardLength(wildcard: string): number | undefined {
  if (!isIpv4(wildcard)) return undefined
  const inv = ~ipv4ToNumber(wildcard) >>> 0
  for (let len = 0; len <= 32; len++) if (maskOf(len) === inv) return len
  return undefined
}

export function prefixFromAddressAndLength(addr: string, length: number): PrefixResult {
  return checkHostBits(addr, length)
}

export function formatPrefix(p: Prefix): string {
  if (p.length === 0) return 'any'
  if (p.length === 32) return p.address
  return `${p.address}/${p.length}`
}

/** IOS ACL notation: `any`, `host A`, `A W`. */
export function formatPrefixIos(p: Prefix): string {
  if (p.length === 0) return 'any'
  if (p.length === 32) return `host ${p.address}`
  return `${p.address} ${numberToIpv4(~maskOf(p.length) >>> 0)}`
}

export function prefixContains(p: Prefix, addr: string): boolean {
  const m = maskOf(p.length)
  return ((ipv4ToNumber(addr) & m) >>> 0) === ((ipv4ToNumber(p.address) & m) >>> 0)
}

/** Protocol keywords accepted in ACLs (IOS spelling) → IP protocol number; 'ip' is 0 = any. */
export const PROTOCOLS: Readonly<Record<string, number>> = {
  ip: 0,
  icmp: 1,
  igmp: 2,
  tcp: 6,
  udp: 17,
  gre: 47,
  esp: 50,
  ahp: 51,
  ospf: 89,
  pim: 103,
}

export function protocolName(n: number): string {
  for (const [name, num] of Object.entries(PROTOCOLS)) if (num === n) return name
  return String(n)
}

/** Port keywords IOS prints in ACLs (`eq www`) → number. */
export const PORT_NAMES: Readonly<Record<string, number>> = {
  ftp: 21,
  ssh: 22,
  telnet: 23,
  smtp: 25,
  domain: 53,
  bootps: 67,
  bootpc: 68,
  tftp: 69,
  www: 80,
  ntp: 123,
  snmp: 161,
  bgp: 179,
  isakmp: 500,
  syslog: 514,
  'non500-isakmp': 4500,
}

export function parsePort(s: string): number | undefined {
  if (/^\d{1,5}$/.test(s)) {
    const n = Number(s)
    return n >= 1 && n <= 65535 ? n : undefined
  }
  return PORT_NAMES[s]
}
