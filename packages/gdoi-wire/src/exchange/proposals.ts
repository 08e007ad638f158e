// Phase-1 proposals (spec §2.7): Phase1Proposal ↔ KEY_IKE transforms, and the choice of a transform.
import { attrNumber, numAttr, tv } from '../attributes.js'
import { Doi, IkeAttr, IkeAuth, IkeEncryption, IkeHash, KEY_IKE, LifeType, PayloadType, ProtocolId } from '../constants.js'
import type { DataAttribute, IkeSaPayload, ProposalPayload, TransformPayload } from '../payloads/types.js'
import type { Phase1AuthMethod, Phase1Encryption, Phase1Group, Phase1Proposal } from './main-mode-config.js'
import type { HashName } from '../crypto/algorithms.js'

/** enc, key length, hash, auth, group, life type, life duration (Cisco/gdoid order, key length after enc). */
export const DEFAULT_PHASE1_ATTRIBUTE_ORDER: readonly number[] = [
  IkeAttr.ENCRYPTION_ALGORITHM,
  IkeAttr.KEY_LENGTH,
  IkeAttr.HASH_ALGORITHM,
  IkeAttr.AUTHENTICATION_METHOD,
  IkeAttr.GROUP_DESCRIPTION,
  IkeAttr.LIFE_TYPE,
  IkeAttr.LIFE_DURATION,
]

/** RFC 2407 §4.5 default when a transform carries no seconds lifetime. */
export const DEFAULT_PHASE1_LIFETIME_SEC = 28800

const HASH_ATTR: Readonly<Record<HashName, number>> = {
  md5: IkeHash.MD5,
  sha1: IkeHash.SHA1,
  sha256: IkeHash.SHA2_256,
  sha384: IkeHash.SHA2_384,
  sha512: IkeHash.SHA2_512,
}

const ENCRYPTION: Readonly<Record<Phase1Encryption, { readonly attr: number; readonly keyBits?: number }>> = {
  '3des': { attr: IkeEncryption.TRIPLE_DES_CBC },
  aes128: { attr: IkeEncryption.AES_CBC, keyBits: 128 },
  aes192: { attr: IkeEncryption.AES_CBC, keyBits: 192 },
  aes256: { attr: IkeEncryption.AES_CBC, keyBits: 256 },
}

const AUTH_ATTR: Readonly<Record<Phase1AuthMethod, number>> = { psk: IkeAuth.PRE_SHARED_KEY, rsa: IkeAuth.RSA_SIG }

/** The IKE attribute values of a proposal (what goes on the wire, and what crypto.ikeCipher takes). */
export function phase1ProposalAttrs(p: Phase1Proposal): { encAttr: number; keyBits?: number; hashAttr: number } {
  const e = ENCRYPTION[p.encryption]
  return e.keyBits === undefined
    ? { encAttr: e.attr, hashAttr: HASH_ATTR[p.hash] }
    : { encAttr: e.attr, keyBits: e.keyBits, hashAttr: HASH_ATTR[p.hash] }
}

export function phase1TransformAttributes(p: Phase1Proposal, order: readonly number[] = DEFAULT_PHASE1_ATTRIBUTE_ORDER): DataAttribute[] {
  const e = ENCRYPTION[p.encryption]
  const byType = new Map<number, DataAttribute>([
    [IkeAttr.ENCRYPTION_ALGORITHM, tv(IkeAttr.ENCRYPTION_ALGORITHM, e.attr)],
    [IkeAttr.HASH_ALGORITHM, tv(IkeAttr.HASH_ALGORITHM, HASH_ATTR[p.hash])],
    [IkeAttr.AUTHENTICATION_METHOD, tv(IkeAttr.AUTHENTICATION_METHOD, AUTH_ATTR[p.auth])],
    [IkeAttr.GROUP_DESCRIPTION, tv(IkeAttr.GROUP_DESCRIPTION, p.group)],
    [IkeAttr.LIFE_TYPE, tv(IkeAttr.LIFE_TYPE, LifeType.SECONDS)],
    [IkeAttr.LIFE_DURATION, numAttr(IkeAttr.LIFE_DURATION, p.lifetimeSec)],
  ])
  if (e.keyBits !== undefined) byType.set(IkeAttr.KEY_LENGTH, tv(IkeAttr.KEY_LENGTH, e.keyBits))
  const out: DataAttribute[] = []
  for (const t of order) {
    const a = byType.get(t)
    if (a !== undefined) {
      out.push(a)
      byType.delete(t)
    }
  }
  for (const a of byType.values()) out.push(a) // anything the order list forgot, in a fixed order
  return out
}

/** MM1's SA payload: one ISAKMP proposal, one KEY_IKE transform per configured policy, in order. */
export function buildPhase1OfferSa(
  proposals: readonly Phase1Proposal[],
  doi: 1 | 2,
  order?: readonly number[],
  firstTransformNumber = 1,
): IkeSaPayload {
  const transforms: TransformPayload[] = proposals.map((p, i) => ({
    number: firstTransformNumber + i,
    transformId: KEY_IKE,
    attributes: phase1TransformAttributes(p, order),
  }))
  return {
    type: PayloadType.SA,
    kind: 'ike',
    doi,
    situation: phase1Situation(doi),
    proposals: [{ number: 1, protocolId: ProtocolId.ISAKMP, spi: new Uint8Array(0), transforms }],
  }
}

/** DOI 2: four zero octets (RFC 6407 §5.2); DOI 1: SIT_IDENTITY_ONLY. */
export function phase1Situation(doi: number): Uint8Array {
  return doi === Doi.IPSEC ? Uint8Array.of(0, 0, 0, 1) : new Uint8Array(4)
}

/** The parameters of one received transform, or why it cannot be used. */
export type ParsedPhase1Transform = { readonly ok: true; readonly proposal: Phase1Proposal } | { readonly ok: false; readonly why: string }

export function parsePhase1Transform(t: TransformPayload): ParsedPhase1Transform {
  if (t.transformId !== KEY_IKE) return { ok: false, why: `transform id ${t.transformId} is not KEY_IKE` }
  const known = new Set<number>([
    IkeAttr.ENCRYPTION_ALGORITHM,
    IkeAttr.HASH_ALGORITHM,
    IkeAttr.AUTHENTICATION_METHOD,
    IkeAttr.GROUP_DESCRIPTION,
    IkeAttr.GROUP_TYPE,
    IkeAttr.LIFE_TYPE,
    IkeAttr.LIFE_DURATION,
    IkeAttr.KEY_LENGTH,
  ])
  for (const a of t.attributes) if (!known.has(a.type)) return { ok: false, why: `unsupported attribute ${a.type}` }
  const attrs = t.attributes
  const enc = attrNumber(attrs, IkeAttr.ENCRYPTION_ALGORITHM)
  const keyBits = attrNumber(attrs, IkeAttr.KEY_LENGTH)
  let encryption: Phase1Encryption | undefined
  if (enc === IkeEncryption.TRIPLE_DES_CBC && keyBits === undefined) encryption = '3des'
  else if (enc === IkeEncryption.AES_CBC) {
    encryption = keyBits === 128 ? 'aes128' : keyBits === 192 ? 'aes192' : keyBits === 256 ? 'aes256' : undefined
  }
  if (encryption === undefined) return { ok: false, why: `encryption ${enc}/${keyBits}` }
  const hashAttr = attrNumber(attrs, IkeAttr.HASH_ALGORITHM)
  const hash = (Object.keys(HASH_ATTR) as HashName[]).find((h) => HASH_ATTR[h] === hashAttr)
  if (hash === undefined) return { ok: false, why: `hash ${hashAttr}` }
  const authAttr = attrNumber(attrs, IkeAttr.AUTHENTICATION_METHOD)
  const auth: Phase1AuthMethod | undefined =
    authAttr === IkeAuth.PRE_SHARED_KEY ? 'psk' : authAttr === IkeAuth.RSA_SIG ? 'rsa' : undefined
  if (auth === undefined) return { ok: false, why: `authentication method ${authAttr}` }
  const groupAttr = attrNumber(attrs, IkeAttr.GROUP_DESCRIPTION)
  if (groupAttr !== 2 && groupAttr !== 5 && groupAttr !== 14) return { ok: false, why: `group ${groupAttr}` }
  const groupType = attrNumber(attrs, IkeAttr.GROUP_TYPE)
  if (groupType !== undefined && groupType !== 1) return { ok: false, why: `group type ${groupType}` }
  const lifetimeSec = secondsLifetime(attrs)
  if (lifetimeSec === undefined) return { ok: false, why: 'life duration' }
  const group: Phase1Group = groupAttr
  return { ok: true, proposal: { encryption, hash, auth, group, lifetimeSec } }
}

/** Life Type / Life Duration pairs in order (RFC 2407 §4.5); only the seconds one matters here. */
function secondsLifetime(attrs: readonly DataAttribute[]): number | undefined {
  let seconds: number | undefined
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs[i] as DataAttribute
    if (a.type !== IkeAttr.LIFE_TYPE || !a.tv) continue
    const d = attrs[i + 1]
    if (d === undefined || d.type !== IkeAttr.LIFE_DURATION) return undefined
    const v = attrNumber([d], IkeAttr.LIFE_DURATION)
    if (v === undefined || v === 0) return undefined
    if (a.value === LifeType.SECONDS) seconds = v
  }
  return seconds ?? DEFAULT_PHASE1_LIFETIME_SEC
}

/** Same algorithms (encryption, hash, authentication method, DH group); lifetimes are compared separately. */
export function samePhase1Suite(a: Phase1Proposal, b: Phase1Proposal): boolean {
  return a.encryption === b.encryption && a.hash === b.hash && a.auth === b.auth && a.group === b.group
}

export interface Phase1Choice {
  readonly proposal: ProposalPayload
  readonly transform: TransformPayload
  /** Negotiated parameters: the offered transform's (its lifetime included). */
  readonly params: Phase1Proposal
}

/**
 * Responder choice (spec §1.7 "MM1"): the first offered ISAKMP transform, in the initiator's order,
 * that matches a local proposal and passes `usable` (e.g. credentials exist for its auth method).
 * Lifetimes follow Cisco IOS: a transform matches a local policy only when its lifetime is ≤ the
 * local one, and then the offered (shorter) lifetime is used — MM2 echoes the transform unchanged,
 * so both ends end up with the same lifetime.
 */
export function choosePhase1Transform(
  offer: IkeSaPayload,
  local: readonly Phase1Proposal[],
  usable: (p: Phase1Proposal) => boolean,
): Phase1Choice | undefined {
  for (const proposal of offer.proposals) {
    if (proposal.protocolId !== ProtocolId.ISAKMP) continue
    for (const transform of proposal.transforms) {
      const parsed = parsePhase1Transform(transform)
      if (!parsed.ok) continue
      const offered = parsed.proposal
      const mine = local.find((l) => samePhase1Suite(l, offered) && offered.lifetimeSec <= l.lifetimeSec)
      if (mine === undefined || !usable(offered)) continue
      return { proposal, transform, params: offered }
    }
  }
  return undefined
}
