// Textual IPv4/IPv6 addresses <-> octets, prefix lengths <-> masks. Small and pure (node:net is banned
// in gdoi-wire). Used by group-policy.ts for SAK/SAT identities.

export type IpFamily = 4 | 6

export function ipFamily(address: string): IpFamily {
  return address.includes(':') ? 6 : 4
}

/** Parses a dotted-quad or an RFC 4291 IPv6 text form (with `::`, optional trailing dotted quad). */
export function parseIp(address: string): Uint8Array | undefined {
  return ipFamily(address) === 4 ? parseIpv4(address) : parseIpv6(address)
}

function parseIpv4(s: string): Uint8Array | undefined {
  const parts = s.split('.')
  if (parts.length !== 4) return undefined
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const p = parts[i] ?? ''
    if (!/^\d{1,3}$/.test(p)) return undefined
    const v = Number(p)
    if (v > 255) return undefined
    out[i] = v
  }
  return out
}

function parseIpv6(s: string): Uint8Array | undefined {
  let text = s
  const lastColon = text.lastIndexOf(':')
  const last = text.slice(lastColon + 1)
  if (last.includes('.')) {
    // a trailing dotted quad (::ffff:192.0.2.1) becomes two hex words
    const v4 = parseIpv4(last)
    if (v4 === undefined) return undefined
    const hi = (((v4[0] ?? 0) << 8) | (v4[1] ?? 0)).toString(16)
    const lo = (((v4[2] ?? 0) << 8) | (v4[3] ?? 0)).toString(16)
    text = `${text.slice(0, lastColon + 1)}${hi}:${lo}`
  }
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const group = (h: string): number[] | undefined => {
    if (h === '') return []
    const out: number[] = []
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined
      out.push(parseInt(g, 16))
    }
    return out
  }
  const head = group(halves[0] ?? '')
  const rest = halves.length === 2 ? group(halves[1] ?? '') : []
  if (head === undefined || rest === undefined) return undefined
  const words = [...head]
  const given = head.length + rest.length
  if (halves.length === 2) {
    if (given > 7) return undefined
    for (let i = 0; i < 8 - given; i++) words.push(0)
  } else if (given !== 8) return undefined
  words.push(...rest)
  const out = new Uint8Array(16)
  words.forEach((w, i) => {
    out[2 * i] = w >> 8
    out[2 * i + 1] = w & 0xff
  })
  return out
}

/** 4 octets → dotted quad; 16 octets → RFC 5952 canonical text. */
export function formatIp(b: Uint8Array): string | undefined {
  if (b.length === 4) return Array.from(b).join('.')
  if (b.length !== 16) return undefined
  const words: number[] = []
  for (let i = 0; i < 16; i += 2) words.push(((b[i] ?? 0) << 8) | (b[i + 1] ?? 0))
  // longest run (≥ 2) of zero words becomes '::'
  let bestAt = -1
  let bestLen = 0
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && words[j] === 0) j++
    if (j - i > bestLen) {
      bestAt = i
      bestLen = j - i
    }
    i = j
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':')
  if (bestLen < 2) return hex(words)
  return `${hex(words.slice(0, bestAt))}::${hex(words.slice(bestAt + bestLen))}`
}

/** A netmask of `bytes` octets with `prefixLength` leading one bits. */
export function prefixToMask(prefixLength: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes)
  for (let i = 0; i < bytes; i++) {
    const bits = Math.max(0, Math.min(8, prefixLength - 8 * i))
    out[i] = bits === 0 ? 0 : (0xff << (8 - bits)) & 0xff
  }
  return out
}

/** The prefix length of a contiguous netmask, or undefined for a non-contiguous one. */
export function maskToPrefix(mask: Uint8Array): number | undefined {
  let len = 0
  let seenZero = false
  for (const byte of mask) {
    for (let bit = 7; bit >= 0; bit--) {
      const one = ((byte >> bit) & 1) === 1
      if (one && seenZero) return undefined
      if (one) len++
      else seenZero = true
    }
  }
  return len
}
