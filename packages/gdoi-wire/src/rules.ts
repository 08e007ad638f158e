// Which payloads each message may carry — data, not code (strongSwan encoding/message.c *_rules[]).
// Checked on the decoded chain before any exchange logic sees it; spec §1.2–§1.6 give the contents.
// A type not listed in `counts` or `ignored` is ERR_UNEXPECTED_PAYLOAD (ISAKMP has no critical bit,
// and for GDOI messages failing is safer than guessing, spec §2.1).
import { PayloadType as T } from './constants.js'
import { DecodeError } from './errors.js'
import type { DecodedChain } from './message.js'

export type PayloadCount = readonly [min: number, max: number]

export interface MessageRule {
  readonly name: string
  /** Whether the message travels with the E flag set (checked by the exchange against the header). */
  readonly encrypted: boolean
  /** Payload type that must come first, if any. */
  readonly first?: number
  /** Payload type that must come last, if any. */
  readonly last?: number
  /** Allowed payload types with their [min, max] occurrences. */
  readonly counts: Readonly<Partial<Record<number, PayloadCount>>>
  /** Sets of types whose combined occurrences must lie in [min, max] (e.g. HASH or SIG in MM5). */
  readonly groups?: readonly { readonly types: readonly number[]; readonly count: PayloadCount }[]
  /** Relative order of these types where present (types not listed may appear anywhere). */
  readonly order?: readonly number[]
  /** Types tolerated anywhere and any number of times, and skipped (vendor IDs, NAT-D drafts). */
  readonly ignored?: readonly number[]
}

const MANY = 32
/** Phase 1 extras peers send and we skip: VIDs, NAT-D/NAT-OA (RFC 3947: 20/21; drafts: 130/131; Cisco IOS: 15). */
const PHASE1_IGNORED = [T.VENDOR_ID, T.NAT_D, T.NAT_OA, 130, 131] as const

export const Rules = {
  MM1: { name: 'MM1', encrypted: false, first: T.SA, counts: { [T.SA]: [1, 1] }, ignored: PHASE1_IGNORED },
  MM2: { name: 'MM2', encrypted: false, first: T.SA, counts: { [T.SA]: [1, 1] }, ignored: PHASE1_IGNORED },
  MM3: {
    name: 'MM3', encrypted: false,
    counts: { [T.KE]: [1, 1], [T.NONCE]: [1, 1], [T.CR]: [0, 4] },
    ignored: [...PHASE1_IGNORED, T.SA_KEK],
  },
  MM4: {
    name: 'MM4', encrypted: false,
    counts: { [T.KE]: [1, 1], [T.NONCE]: [1, 1], [T.CR]: [0, 4] },
    ignored: [...PHASE1_IGNORED, T.SA_KEK],
  },
  MM5: {
    name: 'MM5', encrypted: true, first: T.ID,
    counts: { [T.ID]: [1, 1], [T.CERT]: [0, 4], [T.HASH]: [0, 1], [T.SIG]: [0, 1], [T.NOTIFICATION]: [0, 4] },
    groups: [{ types: [T.HASH, T.SIG], count: [1, 1] }],
    ignored: [T.VENDOR_ID],
  },
  MM6: {
    name: 'MM6', encrypted: true, first: T.ID,
    counts: { [T.ID]: [1, 1], [T.CERT]: [0, 4], [T.HASH]: [0, 1], [T.SIG]: [0, 1], [T.NOTIFICATION]: [0, 4] },
    groups: [{ types: [T.HASH, T.SIG], count: [1, 1] }],
    ignored: [T.VENDOR_ID],
  },
  // GROUPKEY-PULL, RFC 6407 §3.2: HASH first in every message.
  PULL1: {
    name: 'PULL1', encrypted: true, first: T.HASH,
    counts: { [T.HASH]: [1, 1], [T.NONCE]: [1, 1], [T.ID]: [1, 1] },
    order: [T.HASH, T.NONCE, T.ID],
  },
  PULL2: {
    name: 'PULL2', encrypted: true, first: T.HASH,
    counts: { [T.HASH]: [1, 1], [T.NONCE]: [1, 1], [T.SA]: [1, 1] },
    order: [T.HASH, T.NONCE, T.SA],
  },
  PULL3: { name: 'PULL3', encrypted: true, first: T.HASH, counts: { [T.HASH]: [1, 1], [T.GAP]: [0, 1] } },
  PULL4: {
    name: 'PULL4', encrypted: true, first: T.HASH,
    counts: { [T.HASH]: [1, 1], [T.SEQ]: [0, 1], [T.KEY_DOWNLOAD]: [1, 1] },
    order: [T.HASH, T.SEQ, T.KEY_DOWNLOAD],
  },
  // GROUPKEY-PUSH, RFC 6407 §4: SEQ, D*, [SA, KD], SIG. CERT (RFC 3547 only) is skipped, never required.
  PUSH: {
    name: 'PUSH', encrypted: true, first: T.SEQ, last: T.SIG,
    counts: { [T.SEQ]: [1, 1], [T.DELETE]: [0, MANY], [T.SA]: [0, 1], [T.KEY_DOWNLOAD]: [0, 1], [T.SIG]: [1, 1] },
    order: [T.SEQ, T.DELETE, T.SA, T.KEY_DOWNLOAD, T.SIG],
    ignored: [T.CERT],
  },
  // GROUPKEY-PUSH-ACK, RFC 8263 §3: HDR, HASH, SEQ, ID (unencrypted).
  ACK: {
    name: 'ACK', encrypted: false, first: T.HASH,
    counts: { [T.HASH]: [1, 1], [T.SEQ]: [1, 1], [T.ID]: [1, 1] },
    order: [T.HASH, T.SEQ, T.ID],
  },
  // Informational, RFC 2409 §5.7: HASH(1) first when protected; unprotected ones (before phase 1
  // completes) carry no HASH. At least one N or D.
  INFORMATIONAL: {
    name: 'INFORMATIONAL', encrypted: true, first: T.HASH,
    counts: { [T.HASH]: [0, 1], [T.NOTIFICATION]: [0, MANY], [T.DELETE]: [0, MANY] },
    groups: [{ types: [T.NOTIFICATION, T.DELETE], count: [1, MANY] }],
  },
} as const satisfies Record<string, MessageRule>

/** Throws DecodeError ERR_UNEXPECTED_PAYLOAD (offset: the offending payload, or the chain end) unless `chain` obeys `rule`. */
export function checkRules(rule: MessageRule, chain: DecodedChain): void {
  const fail = (at: number, detail: string): never => {
    throw new DecodeError('ERR_UNEXPECTED_PAYLOAD', at, `${rule.name}: ${detail}`)
  }
  const ignored = new Set(rule.ignored ?? [])
  const seen = new Map<number, number>()
  let orderIndex = -1
  const kept = chain.payloads.flatMap((p, i) => (ignored.has(p.type) ? [] : [{ type: p.type, at: chain.spans[i]?.start ?? chain.end }]))
  for (const { type, at } of kept) {
    const allowed = rule.counts[type]
    if (allowed === undefined) fail(at, `payload ${type} not allowed`)
    const n = (seen.get(type) ?? 0) + 1
    seen.set(type, n)
    if (allowed !== undefined && n > allowed[1]) fail(at, `more than ${allowed[1]} payload(s) of type ${type}`)
    const o = rule.order?.indexOf(type) ?? -1
    if (o >= 0) {
      if (o < orderIndex) fail(at, `payload ${type} out of order`)
      orderIndex = o
    }
  }
  // `first` applies only when the message has that payload at all (an unprotected Informational has no HASH).
  const head = kept[0]
  if (rule.first !== undefined && (seen.get(rule.first) ?? 0) > 0 && head?.type !== rule.first) fail(head?.at ?? chain.end, `first payload must be ${rule.first}`)
  const tail = kept[kept.length - 1]
  if (rule.last !== undefined && tail !== undefined && tail.type !== rule.last) fail(tail.at, `last payload must be ${rule.last}`)
  for (const [k, c] of Object.entries(rule.counts)) {
    if (c !== undefined && (seen.get(Number(k)) ?? 0) < c[0]) fail(chain.end, `missing payload ${k} (need ${c[0]})`)
  }
  for (const g of rule.groups ?? []) {
    const n = g.types.reduce((s, t) => s + (seen.get(t) ?? 0), 0)
    if (n < g.count[0] || n > g.count[1]) fail(chain.end, `${n} payloads of types ${g.types.join('/')}, need ${g.count[0]}..${g.count[1]}`)
  }
}
