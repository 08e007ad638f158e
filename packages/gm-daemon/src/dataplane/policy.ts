// The group's traffic policy as an ordered ACL (Cisco GET VPN style, spec §4.3): entries are tried in
// order, the first match decides. `permit` = protect with the TEK of its policyId; `deny` = pass in the
// clear; no match = pass in the clear. Entries are mirrored by default (a KS ACL `permit ip A B` also
// matches B → A). GDOI control traffic (UDP 848 either way) is never encrypted, whatever the ACL says.
// Matching reads numbers straight from the packet and allocates nothing.
import { IpProto, ipv4ToU32, ipv4IsNonInitialFragment, u16, u32 } from './ipv4.js'

export const GDOI_PORT = 848

export interface AclEntry {
  readonly action: 'permit' | 'deny'
  /** IP protocol number; absent or 0 = any. */
  readonly protocol?: number
  /** 'a.b.c.d/len', 'a.b.c.d' (host) or 'any' (default). */
  readonly src?: string
  readonly dst?: string
  /** Inclusive port ranges (TCP, UDP, SCTP); absent = any. */
  readonly srcPorts?: readonly [number, number]
  readonly dstPorts?: readonly [number, number]
  /** The SAT/TEK that protects a permit entry (SaTable slot id). Default 'default'. */
  readonly policyId?: string
  /** Also match the reverse direction. Default true. */
  readonly mirrored?: boolean
}

/** match() results that are not entry indices. */
export const PolicyMatch = { NONE: -1, CONTROL: -2 } as const

export class PolicyError extends Error {
  override name = 'PolicyError'
  readonly code = 'ERR_POLICY'
  constructor(detail: string) { super(`ERR_POLICY: ${detail}`) }
}

function prefix(s: string | undefined, where: string): [addr: number, mask: number] {
  if (s === undefined || s === 'any' || s === '0.0.0.0/0') return [0, 0]
  const [a, l] = s.split('/')
  const len = l === undefined ? 32 : Number(l)
  if (!Number.isInteger(len) || len < 0 || len > 32) throw new PolicyError(`${where}: bad prefix length in ${s}`)
  let addr: number
  try { addr = ipv4ToU32(a ?? '') } catch { throw new PolicyError(`${where}: bad address ${s}`) }
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0
  return [(addr & mask) >>> 0, mask]
}

function ports(r: readonly [number, number] | undefined, where: string): [number, number] {
  if (r === undefined) return [0, 0xffff]
  const [lo, hi] = r
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi > 0xffff || lo > hi) throw new PolicyError(`${where}: bad port range ${lo}-${hi}`)
  return [lo, hi]
}

const hasPorts = (proto: number): boolean => proto === IpProto.TCP || proto === IpProto.UDP || proto === IpProto.SCTP || proto === 136

export class Policy {
  readonly entries: readonly AclEntry[]
  /** Distinct policy ids of the permit entries, in order of first use. */
  readonly policyIds: readonly string[]
  // Columns (struct of arrays) so match() touches only typed arrays.
  readonly #permit: Uint8Array
  readonly #proto: Uint8Array
  readonly #mirrored: Uint8Array
  readonly #portsSet: Uint8Array
  readonly #src: Uint32Array
  readonly #srcMask: Uint32Array
  readonly #dst: Uint32Array
  readonly #dstMask: Uint32Array
  readonly #sp: Uint16Array // lo, hi pairs
  readonly #dp: Uint16Array
  readonly #policyIndex: Int32Array
  // The packet being matched (#read), as numbers.
  #pProto = 0
  #pSrc = 0
  #pDst = 0
  #pSport = -1
  #pDport = -1

  constructor(entries: readonly AclEntry[]) {
    const n = entries.length
    this.entries = entries.slice()
    this.#permit = new Uint8Array(n)
    this.#proto = new Uint8Array(n)
    this.#mirrored = new Uint8Array(n)
    this.#portsSet = new Uint8Array(n)
    this.#src = new Uint32Array(n)
    this.#srcMask = new Uint32Array(n)
    this.#dst = new Uint32Array(n)
    this.#dstMask = new Uint32Array(n)
    this.#sp = new Uint16Array(2 * n)
    this.#dp = new Uint16Array(2 * n)
    this.#policyIndex = new Int32Array(n).fill(-1)
    const ids: string[] = []
    entries.forEach((e, i) => {
      const where = `entry ${i}`
      if (e.action !== 'permit' && e.action !== 'deny') throw new PolicyError(`${where}: action ${String(e.action)}`)
      const proto = e.protocol ?? 0
      if (!Number.isInteger(proto) || proto < 0 || proto > 255) throw new PolicyError(`${where}: protocol ${proto}`)
      if ((e.srcPorts || e.dstPorts) && !hasPorts(proto)) throw new PolicyError(`${where}: ports need protocol TCP, UDP or SCTP`)
      this.#permit[i] = e.action === 'permit' ? 1 : 0
      this.#proto[i] = proto
      this.#mirrored[i] = e.mirrored === false ? 0 : 1
      this.#portsSet[i] = e.srcPorts || e.dstPorts ? 1 : 0
      ;[this.#src[i], this.#srcMask[i]] = prefix(e.src, `${where} src`)
      ;[this.#dst[i], this.#dstMask[i]] = prefix(e.dst, `${where} dst`)
      ;[this.#sp[2 * i], this.#sp[2 * i + 1]] = ports(e.srcPorts, `${where} srcPorts`)
      ;[this.#dp[2 * i], this.#dp[2 * i + 1]] = ports(e.dstPorts, `${where} dstPorts`)
      if (e.action === 'permit') {
        const id = e.policyId ?? 'default'
        let k = ids.indexOf(id)
        if (k < 0) k = ids.push(id) - 1
        this.#policyIndex[i] = k
      }
    })
    this.policyIds = ids
  }

  get length(): number { return this.entries.length }
  isPermit(entry: number): boolean { return this.#permit[entry] === 1 }
  /** Index into policyIds of a permit entry, −1 for deny. */
  policyIndex(entry: number): number { return this.#policyIndex[entry] ?? -1 }

  /**
   * First entry matching the IPv4 packet at b[off] (header length ihl, already validated), or
   * PolicyMatch.CONTROL for GDOI control traffic, or PolicyMatch.NONE.
   * Non-initial fragments carry no ports: they match port-restricted permit entries (protect rather than
   * leak) but not port-restricted deny entries.
   */
  match(b: Uint8Array, off: number, ihl: number, len: number): number {
    this.#read(b, off, ihl, len)
    const proto = this.#pProto
    const sport = this.#pSport
    const dport = this.#pDport
    if (proto === IpProto.UDP && (sport === GDOI_PORT || dport === GDOI_PORT)) return PolicyMatch.CONTROL
    const src = this.#pSrc
    const dst = this.#pDst
    const n = this.#proto.length
    for (let i = 0; i < n; i++) {
      const p = this.#proto[i] as number
      if (p !== 0 && p !== proto) continue
      if (this.#one(i, src, dst, sport, dport)) return i
      if (this.#mirrored[i] === 1 && this.#one(i, dst, src, dport, sport)) return i
    }
    return PolicyMatch.NONE
  }

  /**
   * Inbound check after decryption (RFC 4301 §5.2): does some permit entry covering one of `policyIds`
   * match the inner packet? Deny entries are skipped: a local exclusion stops this GM from encrypting,
   * not from accepting what other members encrypted.
   */
  permits(b: Uint8Array, off: number, ihl: number, len: number, policyIds: readonly string[]): boolean {
    this.#read(b, off, ihl, len)
    const proto = this.#pProto
    const src = this.#pSrc
    const dst = this.#pDst
    const sport = this.#pSport
    const dport = this.#pDport
    const n = this.#proto.length
    for (let i = 0; i < n; i++) {
      if (this.#permit[i] !== 1) continue
      const p = this.#proto[i] as number
      if (p !== 0 && p !== proto) continue
      if (!this.#one(i, src, dst, sport, dport) && !(this.#mirrored[i] === 1 && this.#one(i, dst, src, dport, sport))) continue
      if (policyIds.includes(this.policyIds[this.#policyIndex[i] as number] as string)) return true
    }
    return false
  }

  /**
   * The selector fields of the IPv4 packet at b[off] into #p*, shared by match() and permits() without
   * allocating a tuple per packet. Ports are −1 when the packet has none to compare: not TCP/UDP/SCTP/
   * UDP-Lite, a non-initial fragment, or too short.
   */
  #read(b: Uint8Array, off: number, ihl: number, len: number): void {
    const proto = b[off + 9] as number
    this.#pProto = proto
    this.#pSrc = u32(b, off + 12)
    this.#pDst = u32(b, off + 16)
    if (hasPorts(proto) && !ipv4IsNonInitialFragment(b, off) && len >= ihl + 4) {
      this.#pSport = u16(b, off + ihl)
      this.#pDport = u16(b, off + ihl + 2)
    } else {
      this.#pSport = -1
      this.#pDport = -1
    }
  }

  #one(i: number, src: number, dst: number, sport: number, dport: number): boolean {
    if (((src & (this.#srcMask[i] as number)) >>> 0) !== this.#src[i]) return false
    if (((dst & (this.#dstMask[i] as number)) >>> 0) !== this.#dst[i]) return false
    if (this.#portsSet[i] === 0) return true
    if (sport < 0) return this.#permit[i] === 1 // no ports to compare (non-initial fragment / truncated)
    return sport >= (this.#sp[2 * i] as number) && sport <= (this.#sp[2 * i + 1] as number) &&
      dport >= (this.#dp[2 * i] as number) && dport <= (this.#dp[2 * i + 1] as number)
  }
}

export function createPolicy(entries: readonly AclEntry[]): Policy {
  return new Policy(entries)
}
