// Semantic group policy (what a KS configures and a GM installs) and its GDOI SA payload form both
// ways: SA{ [SAK] [GAP] SAT* } (spec §2.12–§2.15, §6.1). Keys are in group-keys.ts.
// Decoding is lenient where spec §2.4/§9.1 #17 says so (unknown attribute types are skipped unless
// `strict`), and refuses what a GM cannot honour (unknown algorithms, malformed selectors).
import { attrNumber, numAttr, tv, u32Attr } from '../attributes.js'
import { Doi, EncapsulationMode, GapAttr, IpsecAttr, KekAttr, LifeType, PayloadType, SigAlgorithm, TekProtocol } from '../constants.js'
import type { DataAttribute, GapPayload, GdoiSaPayload, IdLengthWidth, SaAttributePayload, SaKekPayload, SaTekPayload } from '../payloads/types.js'
import type { CbcCipherName } from '../crypto/algorithms.js'
import { addressMatchToTrafficId, idToTransportEnd, trafficIdToAddressMatch, transportEndToId, type GroupId, type TrafficSelector, type TransportEnd } from './selectors.js'
import {
  ESP_CIPHERS,
  ESP_INTEGRITY,
  KEK_CIPHERS,
  SIG_HASHES,
  byWire,
  espCipherByTransform,
  sigHashByWire,
  type EspCipherName,
  type EspIntegrityName,
  type KekCipherName,
  type SigHashName,
} from './policy-tables.js'

export type { EspCipherName, EspIntegrityName, KekCipherName, SigHashName } from './policy-tables.js'
export * from './selectors.js'

/** Rekey SA policy (SAK). */
export interface KekPolicy {
  readonly spi: Uint8Array // 16 octets: the push cookie pair
  readonly algorithm: KekCipherName
  readonly keyBits: number // 192 for 3DES, 128/192/256 for AES
  readonly lifetimeSec?: number // remaining; absent when the SAK carried none (gdoid)
  readonly sigHash: SigHashName
  readonly sigAlgorithm: 'rsa'
  readonly sigKeyBits?: number // informational only
  readonly transport: { readonly protocol: number; readonly src: TransportEnd; readonly dst: TransportEnd }
  readonly ackRequested?: number // RFC 8263 KEK_ACK_REQUESTED value (1..4)
}

export interface EspTransformPolicy {
  readonly cipher: EspCipherName
  readonly keyBits?: number // AES 128/192/256 (absent for 3DES/NULL)
  readonly integrity?: EspIntegrityName // absent for AEAD/GMAC
}

/** One SAT: one selector of one data SA. Several TekPolicy entries may share an SPI (one per ACL entry). */
export interface TekPolicy {
  readonly spi: number
  readonly selector: TrafficSelector
  readonly transform: EspTransformPolicy
  readonly lifetimeSec: number // remaining seconds
  readonly lifetimeKbytes?: number
  readonly encapsulation: 'tunnel' | 'transport'
  readonly addressPreservation?: number // AddressPreservation, default 4 (source and destination)
  readonly saDirection?: number // SaDirection, default 3 (symmetric)
}

export interface GapPolicy {
  readonly activationDelaySec?: number
  readonly deactivationDelaySec?: number
}

export interface GroupPolicy {
  readonly groupId?: GroupId // not carried by the SA payload itself
  readonly kek?: KekPolicy
  readonly gap?: GapPolicy
  readonly teks: readonly TekPolicy[]
}

export type PolicyResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string }

export interface PolicyEncodeOptions {
  /** SAK/SAT ID Data Length width: 1 = RFC 6407 (default), 2 = tshark 4.0 form. */
  readonly idLengthWidth?: IdLengthWidth
  /** Leave out ADDRESS_PRESERVATION / SA_DIRECTION when they hold the RFC default (4 / 3). */
  readonly omitDefaults?: boolean
}

export interface PolicyDecodeOptions {
  /** RFC 6407 §5.3.2/§5.4 strict mode: abort on unknown attribute types (default: skip them). */
  readonly strict?: boolean
}

const DEFAULT_TEK_LIFETIME_SEC = 28800 // RFC 2407 §4.5, when no SA Life Type is present

const fail = <T>(reason: string): PolicyResult<T> => ({ ok: false, reason })
const ok = <T>(value: T): PolicyResult<T> => ({ ok: true, value })

// ---- policy → SA payload -----------------------------------------------------------------------

export function kekPolicyToSak(k: KekPolicy, idLengthWidth: IdLengthWidth = 1): SaKekPayload {
  if (k.spi.length !== 16) throw new RangeError('KEK SPI must be 16 octets')
  const attributes: DataAttribute[] = [tv(KekAttr.KEK_ALGORITHM, KEK_CIPHERS[k.algorithm].wire)]
  if (k.algorithm === 'aes') attributes.push(tv(KekAttr.KEK_KEY_LENGTH, k.keyBits))
  if (k.lifetimeSec !== undefined) attributes.push(u32Attr(KekAttr.KEK_KEY_LIFETIME, k.lifetimeSec))
  attributes.push(tv(KekAttr.SIG_HASH_ALGORITHM, SIG_HASHES[k.sigHash]), tv(KekAttr.SIG_ALGORITHM, SigAlgorithm.RSA))
  if (k.sigKeyBits !== undefined) attributes.push(tv(KekAttr.SIG_KEY_LENGTH, k.sigKeyBits))
  if (k.ackRequested !== undefined) attributes.push(tv(KekAttr.KEK_ACK_REQUESTED, k.ackRequested))
  return {
    type: PayloadType.SA_KEK,
    protocol: k.transport.protocol,
    src: transportEndToId(k.transport.src),
    dst: transportEndToId(k.transport.dst),
    spi: k.spi,
    attributes,
    idLengthWidth,
  }
}

export function tekPolicyToSat(t: TekPolicy, opts: PolicyEncodeOptions = {}): SaTekPayload {
  const c = ESP_CIPHERS[t.transform.cipher]
  // Attribute order as the reference KS emits it (encapsulation, auth, key length, lifetime), so a
  // policy equal to gdoid's re-encodes byte for byte (trace B).
  const attributes: DataAttribute[] = [tv(IpsecAttr.ENCAPSULATION_MODE, t.encapsulation === 'tunnel' ? EncapsulationMode.TUNNEL : EncapsulationMode.TRANSPORT)]
  if (t.transform.integrity !== undefined) attributes.push(tv(IpsecAttr.AUTH_ALGORITHM, ESP_INTEGRITY[t.transform.integrity].wire))
  if (c.keyBits.length > 0) attributes.push(tv(IpsecAttr.KEY_LENGTH, t.transform.keyBits ?? 128))
  attributes.push(tv(IpsecAttr.SA_LIFE_TYPE, LifeType.SECONDS), numAttr(IpsecAttr.SA_LIFE_DURATION, t.lifetimeSec))
  if (t.lifetimeKbytes !== undefined) {
    attributes.push(tv(IpsecAttr.SA_LIFE_TYPE, LifeType.KILOBYTES), numAttr(IpsecAttr.SA_LIFE_DURATION, t.lifetimeKbytes))
  }
  const ap = t.addressPreservation ?? 4
  const dir = t.saDirection ?? 3
  if (!(opts.omitDefaults === true && ap === 4)) attributes.push(tv(IpsecAttr.ADDRESS_PRESERVATION, ap))
  if (!(opts.omitDefaults === true && dir === 3)) attributes.push(tv(IpsecAttr.SA_DIRECTION, dir))
  const sel = t.selector
  return {
    type: PayloadType.SA_TEK,
    protocolId: TekProtocol.IPSEC_ESP,
    ipsec: {
      protocol: sel.protocol,
      src: addressMatchToTrafficId(sel.src.address, sel.src.port),
      dst: addressMatchToTrafficId(sel.dst.address, sel.dst.port),
      transformId: c.transformId,
      spi: t.spi,
      attributes,
      idLengthWidth: opts.idLengthWidth ?? 1,
    },
  }
}

function gapAttributes(g: GapPolicy): DataAttribute[] {
  const attrs: DataAttribute[] = []
  if (g.activationDelaySec !== undefined) attrs.push(tv(GapAttr.ACTIVATION_TIME_DELAY, g.activationDelaySec))
  if (g.deactivationDelaySec !== undefined) attrs.push(tv(GapAttr.DEACTIVATION_TIME_DELAY, g.deactivationDelaySec))
  return attrs
}

/** The GDOI SA payload of PULL2 or of a push: SAK?, GAP?, SAT* in RFC order. Throws RangeError on a policy
 *  that cannot be expressed (no SAK and no SAT, bad addresses). */
export function policyToSaPayload(policy: GroupPolicy, opts: PolicyEncodeOptions = {}): GdoiSaPayload {
  const nested: SaAttributePayload[] = []
  if (policy.kek !== undefined) nested.push(kekPolicyToSak(policy.kek)) // SAK: always the RFC 1-octet form (see sa-kek.ts)
  if (policy.gap !== undefined) {
    const attributes = gapAttributes(policy.gap)
    if (attributes.length > 0) nested.push({ type: PayloadType.GAP, attributes } satisfies GapPayload)
  }
  for (const t of policy.teks) nested.push(tekPolicyToSat(t, opts))
  if (policy.kek === undefined && policy.teks.length === 0) throw new RangeError('a GDOI SA needs a SAK or at least one SAT')
  return { type: PayloadType.SA, kind: 'gdoi', doi: Doi.GDOI, situation: 0, attributePayloads: nested }
}

/** GAP payload for PULL3 (GM → KS): SENDER_ID_REQUEST = count. */
export function senderIdRequestGap(count: number): GapPayload {
  return { type: PayloadType.GAP, attributes: [tv(GapAttr.SENDER_ID_REQUEST, count)] }
}

// ---- SA payload → policy -----------------------------------------------------------------------

const KNOWN_KEK_ATTRS = new Set<number>(Object.values(KekAttr))
const KNOWN_IPSEC_ATTRS = new Set<number>(Object.values(IpsecAttr))

export function sakToKekPolicy(p: SaKekPayload, opts: PolicyDecodeOptions = {}): PolicyResult<KekPolicy> {
  const a = p.attributes
  if (opts.strict === true) {
    const bad = a.find((x) => !KNOWN_KEK_ATTRS.has(x.type))
    if (bad !== undefined) return fail(`unknown KEK attribute ${bad.type}`)
  }
  if (p.spi.length !== 16) return fail('KEK SPI is not 16 octets')
  const algWire = attrNumber(a, KekAttr.KEK_ALGORITHM)
  const algorithm = algWire === undefined ? undefined : byWire(KEK_CIPHERS, algWire)
  if (algorithm === undefined) return fail(`unsupported KEK_ALGORITHM ${algWire ?? '(missing)'}`)
  const cipher = KEK_CIPHERS[algorithm]
  const keyBits = attrNumber(a, KekAttr.KEK_KEY_LENGTH) ?? (algorithm === 'aes' ? undefined : cipher.defaultKeyBits)
  if (keyBits === undefined || !cipher.keyBits.includes(keyBits)) return fail(`unsupported KEK key length ${keyBits ?? '(missing)'}`)
  const sigAlg = attrNumber(a, KekAttr.SIG_ALGORITHM)
  if (sigAlg !== SigAlgorithm.RSA) return fail(`unsupported SIG_ALGORITHM ${sigAlg ?? '(missing)'}`)
  const sigHashWire = attrNumber(a, KekAttr.SIG_HASH_ALGORITHM)
  const sigHash = sigHashWire === undefined ? undefined : sigHashByWire(sigHashWire)
  if (sigHash === undefined) return fail(`unsupported SIG_HASH_ALGORITHM ${sigHashWire ?? '(missing)'}`)
  const src = idToTransportEnd(p.src)
  if (!src.ok) return src
  const dst = idToTransportEnd(p.dst)
  if (!dst.ok) return dst
  const lifetimeSec = attrNumber(a, KekAttr.KEK_KEY_LIFETIME)
  const sigKeyBits = attrNumber(a, KekAttr.SIG_KEY_LENGTH)
  const ackRequested = attrNumber(a, KekAttr.KEK_ACK_REQUESTED)
  return ok({
    spi: p.spi.slice(),
    algorithm,
    keyBits,
    ...(lifetimeSec !== undefined ? { lifetimeSec } : {}),
    sigHash,
    sigAlgorithm: 'rsa',
    ...(sigKeyBits !== undefined ? { sigKeyBits } : {}),
    transport: { protocol: p.protocol, src: src.value, dst: dst.value },
    ...(ackRequested !== undefined ? { ackRequested } : {}),
  })
}

export function satToTekPolicy(p: SaTekPayload, opts: PolicyDecodeOptions = {}): PolicyResult<TekPolicy> {
  if (p.protocolId !== TekProtocol.IPSEC_ESP || p.ipsec === undefined) return fail(`unsupported SA TEK protocol ${p.protocolId}`)
  const t = p.ipsec
  const a = t.attributes
  if (opts.strict === true) {
    const bad = a.find((x) => !KNOWN_IPSEC_ATTRS.has(x.type))
    if (bad !== undefined) return fail(`unknown SA TEK attribute ${bad.type}`)
  }
  const cipher = espCipherByTransform(t.transformId)
  if (cipher === undefined) return fail(`unsupported ESP transform ${t.transformId}`)
  const info = ESP_CIPHERS[cipher]
  // Life Type / Life Duration come in pairs (RFC 2407 §4.5); no pair at all = 28800 s.
  let lifetimeSec: number | undefined
  let lifetimeKbytes: number | undefined
  let lifeType: number | undefined
  for (const x of a) {
    if (x.type === IpsecAttr.SA_LIFE_TYPE) lifeType = attrNumber([x], x.type)
    else if (x.type === IpsecAttr.SA_LIFE_DURATION) {
      const v = attrNumber([x], x.type)
      if (v === undefined) return fail('SA Life Duration too long')
      if (lifeType === LifeType.SECONDS) lifetimeSec = v
      else if (lifeType === LifeType.KILOBYTES) lifetimeKbytes = v
      else return fail('SA Life Duration without a Life Type')
    }
  }
  const encap = attrNumber(a, IpsecAttr.ENCAPSULATION_MODE) ?? EncapsulationMode.TUNNEL
  if (encap !== EncapsulationMode.TUNNEL && encap !== EncapsulationMode.TRANSPORT) return fail(`unsupported encapsulation mode ${encap}`)
  const keyBits = attrNumber(a, IpsecAttr.KEY_LENGTH)
  if (info.keyBits.length > 0 && (keyBits === undefined || !info.keyBits.includes(keyBits))) return fail(`bad Key Length ${keyBits ?? '(missing)'} for ${cipher}`)
  const authWire = attrNumber(a, IpsecAttr.AUTH_ALGORITHM)
  const integrity = authWire === undefined ? undefined : byWire(ESP_INTEGRITY, authWire)
  if (authWire !== undefined && integrity === undefined) return fail(`unsupported authentication algorithm ${authWire}`)
  if (info.combined && integrity !== undefined) return fail(`${cipher} must not carry an authentication algorithm`)
  if (!info.combined && integrity === undefined) return fail(`${cipher} without an authentication algorithm`)
  const ap = attrNumber(a, IpsecAttr.ADDRESS_PRESERVATION) ?? 4
  const dir = attrNumber(a, IpsecAttr.SA_DIRECTION) ?? 3
  if (ap < 1 || ap > 4) return fail(`bad ADDRESS_PRESERVATION ${ap}`)
  if (dir < 1 || dir > 3) return fail(`bad SA_DIRECTION ${dir}`)
  const src = trafficIdToAddressMatch(t.src)
  if (!src.ok) return src
  const dst = trafficIdToAddressMatch(t.dst)
  if (!dst.ok) return dst
  const transform: EspTransformPolicy = {
    cipher,
    ...(info.keyBits.length > 0 && keyBits !== undefined ? { keyBits } : {}),
    ...(integrity !== undefined ? { integrity } : {}),
  }
  return ok({
    spi: t.spi,
    selector: { protocol: t.protocol, src: { address: src.value, port: t.src.port }, dst: { address: dst.value, port: t.dst.port } },
    transform,
    lifetimeSec: lifetimeSec ?? DEFAULT_TEK_LIFETIME_SEC,
    ...(lifetimeKbytes !== undefined ? { lifetimeKbytes } : {}),
    encapsulation: encap === EncapsulationMode.TUNNEL ? 'tunnel' : 'transport',
    addressPreservation: ap,
    saDirection: dir,
  })
}

/** GDOI SA payload (PULL2 or push) → policy. Order SAK, GAP, SAT is not enforced (the codec keeps wire order). */
export function saPayloadToPolicy(sa: GdoiSaPayload, opts: PolicyDecodeOptions & { readonly groupId?: GroupId } = {}): PolicyResult<GroupPolicy> {
  if (sa.doi !== Doi.GDOI) return fail(`SA DOI ${sa.doi} is not GDOI`)
  let kek: KekPolicy | undefined
  let gap: GapPolicy | undefined
  const teks: TekPolicy[] = []
  for (const p of sa.attributePayloads) {
    if ('unknown' in p) {
      if (opts.strict === true) return fail(`unknown SA attribute payload ${p.type}`)
      continue
    }
    switch (p.type) {
      case PayloadType.SA_KEK: {
        if (kek !== undefined) return fail('more than one SAK')
        const r = sakToKekPolicy(p, opts)
        if (!r.ok) return r
        kek = r.value
        break
      }
      case PayloadType.GAP: {
        const atd = attrNumber(p.attributes, GapAttr.ACTIVATION_TIME_DELAY)
        const dtd = attrNumber(p.attributes, GapAttr.DEACTIVATION_TIME_DELAY)
        gap = { ...(atd !== undefined ? { activationDelaySec: atd } : {}), ...(dtd !== undefined ? { deactivationDelaySec: dtd } : {}) }
        break
      }
      case PayloadType.SA_TEK: {
        const r = satToTekPolicy(p, opts)
        if (!r.ok) return r
        teks.push(r.value)
        break
      }
    }
  }
  if (kek === undefined && teks.length === 0) return fail('SA carries neither a SAK nor a SAT')
  return ok({
    ...(opts.groupId !== undefined ? { groupId: opts.groupId } : {}),
    ...(kek !== undefined ? { kek } : {}),
    ...(gap !== undefined ? { gap } : {}),
    teks,
  })
}

// ---- ACL → SATs (spec §6.1, §9.1 #10) ----------------------------------------------------------

export interface AclEntry {
  readonly action: 'permit' | 'deny'
  readonly selector: TrafficSelector
}

/** One SAT per `permit` entry of a `match address` ACL; all entries of one `sa ipsec` share the SPI and
 *  keys. `deny` entries (bypass) produce no SAT. */
export function teksFromAcl(sa: Omit<TekPolicy, 'selector'>, acl: readonly AclEntry[]): TekPolicy[] {
  return acl.filter((e) => e.action === 'permit').map((e) => ({ ...sa, selector: e.selector }))
}

/** true when the TEK uses counter-based IVs and senders need sender IDs (spec §4.5). */
export function isCounterModeTek(t: TekPolicy): boolean {
  return ESP_CIPHERS[t.transform.cipher].counterMode
}

/** node:crypto CBC cipher of a KEK policy (what encrypts pushes under it). */
export function kekCipherName(k: Pick<KekPolicy, 'algorithm' | 'keyBits'>): CbcCipherName {
  const name = KEK_CIPHERS[k.algorithm].nodeName(k.keyBits)
  if (name === undefined) throw new RangeError(`no ${k.algorithm} cipher with ${k.keyBits}-bit keys`)
  return name
}
