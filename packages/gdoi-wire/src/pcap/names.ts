// Number → name tables for the formatters, derived from constants.ts so they cannot drift.
import {
  AddressPreservation, AuthAlgorithm, Doi, EncapsulationMode, EspTransform, ExchangeType, GapAttr, IdType, IkeAttr,
  IkeAuth, IkeEncryption, IkeGroup, IkeHash, IpsecAttr, KdType, KekAck, KekAlgorithm, KekAttr, KekKeyAttr, LifeType,
  NotifyType, PayloadType, SaDirection, SidAttr, SigAlgorithm, SigHash, TekKeyAttr,
} from '../constants.js'

type Table = Readonly<Record<string, number>>

function invert(t: Table): ReadonlyMap<number, string> {
  return new Map(Object.entries(t).map(([k, v]) => [v, k]))
}

function lookup(m: ReadonlyMap<number, string>, n: number): string {
  return m.get(n) ?? String(n)
}

const EXCHANGES = invert(ExchangeType)
const PAYLOADS = invert(PayloadType)
const SHORT_PAYLOADS: ReadonlyMap<number, string> = new Map([
  [PayloadType.SA, 'SA'], [PayloadType.KE, 'KE'], [PayloadType.ID, 'ID'], [PayloadType.CERT, 'CERT'],
  [PayloadType.CR, 'CR'], [PayloadType.HASH, 'HASH'], [PayloadType.SIG, 'SIG'], [PayloadType.NONCE, 'NONCE'],
  [PayloadType.NOTIFICATION, 'N'], [PayloadType.DELETE, 'D'], [PayloadType.VENDOR_ID, 'VID'],
  [PayloadType.SA_KEK, 'SAK'], [PayloadType.SA_TEK, 'SAT'], [PayloadType.KEY_DOWNLOAD, 'KD'], [PayloadType.SEQ, 'SEQ'],
  [PayloadType.NAT_D, 'NAT-D'], [PayloadType.NAT_OA, 'NAT-OA'], [PayloadType.GAP, 'GAP'],
  [130, 'NAT-D-draft'], [131, 'NAT-OA-draft'], [132, 'FRAGMENT(cisco)'],
])

export function exchangeName(n: number): string {
  if (n === ExchangeType.IDENTITY_PROTECTION) return 'MAIN-MODE'
  return lookup(EXCHANGES, n).replaceAll('_', '-')
}

/**
 * Name of a payload kept opaque: 15/16 at top level are not SA KEK/TEK (those exist only nested in a
 * GDOI SA) but the pre-RFC 3947 NAT-T drafts' NAT-D/NAT-OA (Cisco IKEv1 sends them).
 */
export function opaquePayloadName(n: number): string {
  if (n === PayloadType.SA_KEK) return 'NAT-D-draft'
  if (n === PayloadType.SA_TEK) return 'NAT-OA-draft'
  return payloadName(n)
}

/** Short payload name (HASH, NONCE, SA, KD, SAT, …). */
export function payloadName(n: number): string {
  return SHORT_PAYLOADS.get(n) ?? lookup(PAYLOADS, n)
}

export function doiName(n: number): string {
  return lookup(invert(Doi), n)
}

export function idTypeName(n: number): string {
  return lookup(invert(IdType), n)
}

export function notifyName(n: number): string {
  return lookup(invert(NotifyType), n)
}

export function espTransformName(n: number): string {
  return `ESP_${lookup(invert(EspTransform), n)}`
}

export function authAlgorithmName(n: number): string {
  return lookup(invert(AuthAlgorithm), n)
}

export function kdTypeName(n: number): string {
  return lookup(invert(KdType), n)
}

export function encapsulationName(n: number): string {
  return lookup(invert(EncapsulationMode), n)
}

/** An attribute namespace: attribute type names, and value names for the enumerated ones. */
export interface AttributeSpace {
  readonly names: ReadonlyMap<number, string>
  readonly values: ReadonlyMap<number, ReadonlyMap<number, string>>
  /** Short TLV values are numbers (lifetimes), not keys. */
  readonly numeric: boolean
}

function space(names: Table, values: Readonly<Record<number, Table>> = {}, numeric = true): AttributeSpace {
  return { names: invert(names), values: new Map(Object.entries(values).map(([k, t]) => [Number(k), invert(t)])), numeric }
}

export const AttributeTable = {
  IKE: space(IkeAttr, {
    [IkeAttr.ENCRYPTION_ALGORITHM]: IkeEncryption,
    [IkeAttr.HASH_ALGORITHM]: IkeHash,
    [IkeAttr.AUTHENTICATION_METHOD]: IkeAuth,
    [IkeAttr.GROUP_DESCRIPTION]: IkeGroup,
    [IkeAttr.LIFE_TYPE]: LifeType,
  }),
  IPSEC: space(IpsecAttr, {
    [IpsecAttr.SA_LIFE_TYPE]: LifeType,
    [IpsecAttr.ENCAPSULATION_MODE]: EncapsulationMode,
    [IpsecAttr.AUTH_ALGORITHM]: AuthAlgorithm,
    [IpsecAttr.ADDRESS_PRESERVATION]: AddressPreservation,
    [IpsecAttr.SA_DIRECTION]: SaDirection,
  }),
  KEK: space(KekAttr, {
    [KekAttr.KEK_ALGORITHM]: KekAlgorithm,
    [KekAttr.SIG_HASH_ALGORITHM]: SigHash,
    [KekAttr.SIG_ALGORITHM]: SigAlgorithm,
    [KekAttr.KEK_ACK_REQUESTED]: KekAck,
  }),
  GAP: space(GapAttr),
  TEK_KEY: space(TekKeyAttr, {}, false),
  KEK_KEY: space(KekKeyAttr, {}, false),
  SID: space(SidAttr),
} as const

export function attributeName(table: AttributeSpace, type: number): string {
  return table.names.get(type) ?? `attr${type}`
}

/** "5(TRIPLE_DES_CBC)" for enumerated attributes, the bare number otherwise. */
export function attributeValue(table: AttributeSpace, type: number, value: number): string {
  const name = table.values.get(type)?.get(value)
  return name === undefined ? String(value) : `${value}(${name})`
}

export const IP_PROTOCOLS: ReadonlyMap<number, string> = new Map([
  [1, 'ICMP'], [4, 'IPIP'], [6, 'TCP'], [17, 'UDP'], [41, 'IPv6'], [47, 'GRE'], [50, 'ESP'], [51, 'AH'], [59, 'NONE'],
])

export function ipProtocolName(n: number): string {
  return IP_PROTOCOLS.get(n) ?? `proto ${n}`
}

const ICMP_TYPES: ReadonlyMap<number, string> = new Map([
  [0, 'echo-reply'], [3, 'unreachable'], [5, 'redirect'], [8, 'echo-request'], [11, 'time-exceeded'],
])

export function icmpTypeName(n: number): string {
  return ICMP_TYPES.get(n) ?? `type ${n}`
}
