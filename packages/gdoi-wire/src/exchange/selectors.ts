// Traffic identities of the group policy (spec §2.9, §2.13, §2.14): group IDs (PULL1 ID payload),
// SAT selectors (address, subnet or range + port) and the SAK rekey transport (single addresses),
// converted both ways between text addresses and ISAKMP ID data.
import { IdType, PayloadType } from '../constants.js'
import type { IdPayload, TrafficId } from '../payloads/types.js'
import { formatIp, ipFamily, maskToPrefix, parseIp, prefixToMask } from './ip-address.js'

export type SelectorResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string }

const fail = <T>(reason: string): SelectorResult<T> => ({ ok: false, reason })
const ok = <T>(value: T): SelectorResult<T> => ({ ok: true, value })

/** Group identity as configured (`identity number N` → ID_KEY_ID, `identity address ipv4 A` → ID_IPV4_ADDR). */
export type GroupId = { readonly kind: 'number'; readonly value: number } | { readonly kind: 'ipv4'; readonly address: string }

/** An address match: a prefix (a host is /32 or /128) or an inclusive range. */
export type AddressMatch =
  | { readonly kind: 'prefix'; readonly address: string; readonly prefixLength: number }
  | { readonly kind: 'range'; readonly first: string; readonly last: string }

export interface SelectorEnd {
  readonly address: AddressMatch
  readonly port: number // 0 = any
}

export interface TrafficSelector {
  readonly protocol: number // IP protocol, 0 = any
  readonly src: SelectorEnd
  readonly dst: SelectorEnd
}

export interface TransportEnd {
  readonly address: string
  readonly port: number
}

/** Rekey SA policy (SAK). */
// ---- group identity --------------------------------------------------------------------------

export function groupIdToIdPayload(g: GroupId): IdPayload {
  if (g.kind === 'number') {
    const data = new Uint8Array(4)
    new DataView(data.buffer).setUint32(0, g.value >>> 0)
    return { type: PayloadType.ID, idType: IdType.KEY_ID, protocol: 0, port: 0, data }
  }
  const data = parseIp(g.address)
  if (data?.length !== 4) throw new RangeError(`group address ${g.address} is not IPv4`)
  return { type: PayloadType.ID, idType: IdType.IPV4_ADDR, protocol: 0, port: 0, data }
}

/** PULL1 ID → group identity; undefined for ID types a KS does not serve (spec §2.9). */
export function idPayloadToGroupId(id: IdPayload): GroupId | undefined {
  if (id.idType === IdType.KEY_ID && id.data.length === 4) {
    return { kind: 'number', value: new DataView(id.data.buffer, id.data.byteOffset, 4).getUint32(0) }
  }
  if (id.idType === IdType.IPV4_ADDR && id.data.length === 4) return { kind: 'ipv4', address: formatIp(id.data) ?? '' }
  return undefined
}

export function sameGroupId(a: GroupId, b: GroupId): boolean {
  return a.kind === 'number' ? b.kind === 'number' && a.value === b.value : b.kind === 'ipv4' && a.address === b.address
}

// ---- identities (SAK transport, SAT selectors) -------------------------------------------------

export function addressMatchToTrafficId(m: AddressMatch, port: number): TrafficId {
  if (m.kind === 'range') {
    const a = parseIp(m.first)
    const b = parseIp(m.last)
    if (a === undefined || b === undefined || a.length !== b.length) throw new RangeError(`bad range ${m.first}-${m.last}`)
    const data = new Uint8Array(a.length * 2)
    data.set(a, 0)
    data.set(b, a.length)
    return { idType: a.length === 4 ? IdType.IPV4_ADDR_RANGE : IdType.IPV6_ADDR_RANGE, port, data }
  }
  const a = parseIp(m.address)
  if (a === undefined) throw new RangeError(`bad address ${m.address}`)
  const full = a.length * 8
  if (!Number.isInteger(m.prefixLength) || m.prefixLength < 0 || m.prefixLength > full) throw new RangeError(`bad prefix /${m.prefixLength}`)
  if (m.prefixLength === full) return { idType: a.length === 4 ? IdType.IPV4_ADDR : IdType.IPV6_ADDR, port, data: a }
  const data = new Uint8Array(a.length * 2)
  data.set(a, 0)
  data.set(prefixToMask(m.prefixLength, a.length), a.length)
  return { idType: a.length === 4 ? IdType.IPV4_ADDR_SUBNET : IdType.IPV6_ADDR_SUBNET, port, data }
}

export function trafficIdToAddressMatch(id: TrafficId): SelectorResult<AddressMatch> {
  const d = id.data
  const n = id.idType === IdType.IPV4_ADDR || id.idType === IdType.IPV4_ADDR_SUBNET || id.idType === IdType.IPV4_ADDR_RANGE ? 4 : 16
  switch (id.idType) {
    case IdType.IPV4_ADDR:
    case IdType.IPV6_ADDR:
      if (d.length !== n) return fail(`ID type ${id.idType} with ${d.length} octets`)
      return ok({ kind: 'prefix', address: formatIp(d) ?? '', prefixLength: n * 8 })
    case IdType.IPV4_ADDR_SUBNET:
    case IdType.IPV6_ADDR_SUBNET: {
      if (d.length !== 2 * n) return fail(`ID type ${id.idType} with ${d.length} octets`)
      const prefixLength = maskToPrefix(d.subarray(n))
      if (prefixLength === undefined) return fail('non-contiguous netmask in a selector')
      return ok({ kind: 'prefix', address: formatIp(d.subarray(0, n)) ?? '', prefixLength })
    }
    case IdType.IPV4_ADDR_RANGE:
    case IdType.IPV6_ADDR_RANGE:
      if (d.length !== 2 * n) return fail(`ID type ${id.idType} with ${d.length} octets`)
      return ok({ kind: 'range', first: formatIp(d.subarray(0, n)) ?? '', last: formatIp(d.subarray(n)) ?? '' })
    default:
      return fail(`unsupported selector ID type ${id.idType}`)
  }
}

export function transportEndToId(e: TransportEnd): TrafficId {
  return addressMatchToTrafficId({ kind: 'prefix', address: e.address, prefixLength: ipFamily(e.address) === 4 ? 32 : 128 }, e.port)
}

export function idToTransportEnd(id: TrafficId): SelectorResult<TransportEnd> {
  const m = trafficIdToAddressMatch(id)
  if (!m.ok) return m
  const full = id.data.length === 4 || id.idType === IdType.IPV4_ADDR_SUBNET ? 32 : 128
  if (m.value.kind !== 'prefix' || m.value.prefixLength !== full) return fail('KEK transport identity is not a single address')
  return ok({ address: m.value.address, port: id.port })
}
