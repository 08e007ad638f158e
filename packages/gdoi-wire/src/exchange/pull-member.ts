// GM side of GROUPKEY-PULL (exchange 32, spec §1.3, §1.7 steps 7–11; RFC 6407 §3):
//   PULL1 HDR*, HASH(1), Ni, ID          -->
//   PULL2 HDR*, HASH(2), Nr, SA          <--   verify HASH(2), SA → GroupPolicy (no negotiation)
//   PULL3 HDR*, HASH(3) [, GAP]          -->   GAP = SENDER_ID_REQUEST when more than one SID is wanted
//   PULL4 HDR*, HASH(4) [, SEQ], KD      <--   verify HASH(4), KD → GroupKeys
// One random non-zero M-ID for all four. IVs: PULL1 = H(last phase-1 block ‖ M-ID), then each message
// chains from the last ciphertext block of the previous one (spec §3.4). The requester retransmits
// its last message on the 'retransmit' timer; the 'expire' timer abandons the exchange.
import { DecodeError } from '../errors.js'
import { ExchangeType, PayloadType } from '../constants.js'
import { exchangeIv } from '../crypto/iv-chain.js'
import { decodeHeader } from '../header.js'
import { Rules } from '../rules.js'
import type { Payload } from '../payloads/types.js'
import { checkKeysForPolicy, keyDownloadToKeys, type GroupKeys } from './group-keys.js'
import { groupIdToIdPayload, saPayloadToPolicy, senderIdRequestGap, type GroupId, type GroupPolicy } from './group-policy.js'
import { buildInformational, deletePhase1Payload, isErrorNotify, openInformational } from './informational.js'
import { checkPullHash, DEFAULT_NONCE_BYTES, payloadsOf, rulesError, sameBytes, sealPull } from './pull-common.js'
import { openMessage } from './protect.js'
import { DEFAULT_RETRANSMIT, EXCHANGE_MAX_MS, randomMessageId, type Action, type ExchangeCtx, type ExchangeEvent, type Phase1Sa, type RetransmitPolicy } from './types.js'

export interface PullMemberConfig {
  readonly sa: Phase1Sa
  readonly groupId: GroupId
  /** Ni length (8–128, default 16). */
  readonly nonceBytes?: number
  /** Sender IDs wanted (RFC 6407 §3.5): > 1 adds GAP(SENDER_ID_REQUEST) to PULL3; the KS gives one anyway. */
  readonly senderIdRequest?: number
  readonly retransmit?: RetransmitPolicy
  readonly exchangeMaxMs?: number
  /** RFC strict mode: unknown SAK/SAT attribute types make the policy unacceptable (default: skipped). */
  readonly strictAttributes?: boolean
  /** Local policy check (spec §1.7 step 8): return a reason to refuse the KS policy. */
  readonly acceptPolicy?: (policy: GroupPolicy) => string | undefined
}

export type PullFailure =
  | { readonly code: 'bad-hash'; readonly message: 'PULL2' | 'PULL4' }
  | { readonly code: 'notify'; readonly notifyType: number }
  | { readonly code: 'deleted' }
  | { readonly code: 'unacceptable-policy'; readonly detail: string }
  | { readonly code: 'bad-keys'; readonly detail: string }
  | { readonly code: 'malformed'; readonly detail: string }
  | { readonly code: 'timeout' }

export interface PullResult {
  readonly groupId: GroupId
  readonly policy: GroupPolicy
  readonly keys: GroupKeys
  /** PULL4 SEQ: the KEK's current counter (present iff the policy has a KEK). */
  readonly seq?: number
  readonly messageId: number
  readonly completedAtMs: number
}

interface InFlight {
  readonly config: PullMemberConfig
  readonly mid: number
  readonly ni: Uint8Array
  /** IV that decrypts the next KS message (last ciphertext block of what we sent). */
  readonly ivIn: Uint8Array
  readonly lastSent: Uint8Array
  readonly tries: number
}

export type PullMember =
  | { readonly s: 'init'; readonly config: PullMemberConfig }
  | ({ readonly s: 'awaitSa' } & InFlight)
  | ({ readonly s: 'awaitKd'; readonly nr: Uint8Array; readonly policy: GroupPolicy; readonly lastReceived: Uint8Array } & InFlight)
  | { readonly s: 'done'; readonly config: PullMemberConfig; readonly mid: number; readonly result: PullResult }
  | { readonly s: 'failed'; readonly config: PullMemberConfig; readonly reason: PullFailure }

export type PullMemberAction =
  | Action
  | { readonly type: 'pull-done'; readonly result: PullResult }
  | { readonly type: 'pull-failed'; readonly reason: PullFailure }

export type PullMemberStep = readonly [PullMember, readonly PullMemberAction[]]

/** Validates the configuration (TypeError on a programming error) and returns the initial state. */
export function initPullMember(config: PullMemberConfig): PullMember {
  const n = config.nonceBytes ?? DEFAULT_NONCE_BYTES
  if (!Number.isInteger(n) || n < 8 || n > 128) throw new TypeError('PullMemberConfig.nonceBytes must be 8..128 (RFC 6407 §5.8)')
  const k = config.senderIdRequest ?? 0
  if (!Number.isInteger(k) || k < 0 || k > 0xffff) throw new TypeError('PullMemberConfig.senderIdRequest must be 0..65535')
  return { s: 'init', config }
}

export function stepPullMember(st: PullMember, ev: ExchangeEvent, ctx: ExchangeCtx): PullMemberStep {
  switch (st.s) {
    case 'init':
      return ev.type === 'start' ? start(st.config, ctx) : [st, []]
    case 'awaitSa':
    case 'awaitKd':
      if (ev.type === 'timer') return onTimer(st, ev.timer)
      if (ev.type === 'datagram') return st.s === 'awaitSa' ? onPull2(st, ev.bytes, ctx) : onPull4(st, ev.bytes, ctx)
      return [st, []]
    case 'done':
    case 'failed':
      return [st, []]
  }
}

// PULL1 HASH(1),Ni,ID -->
function start(config: PullMemberConfig, ctx: ExchangeCtx): PullMemberStep {
  const { sa } = config
  const mid = randomMessageId(ctx.rng)
  const ni = ctx.rng(config.nonceBytes ?? DEFAULT_NONCE_BYTES).slice()
  const iv = exchangeIv(sa.hash, sa.lastBlock, mid, sa.cipher.blockBytes)
  const rest: Payload[] = [{ type: PayloadType.NONCE, data: ni }, groupIdToIdPayload(config.groupId)]
  const sealed = sealPull(sa, mid, iv, undefined, undefined, rest)
  const rt = config.retransmit ?? DEFAULT_RETRANSMIT
  return [
    { s: 'awaitSa', config, mid, ni, ivIn: sealed.lastBlock, lastSent: sealed.bytes, tries: 0 },
    [
      { type: 'send', bytes: sealed.bytes },
      { type: 'arm', timer: 'retransmit', ms: rt.intervalMs },
      { type: 'arm', timer: 'expire', ms: config.exchangeMaxMs ?? EXCHANGE_MAX_MS },
    ],
  ]
}

function onTimer(st: Extract<PullMember, { s: 'awaitSa' | 'awaitKd' }>, timer: 'retransmit' | 'expire'): PullMemberStep {
  const rt = st.config.retransmit ?? DEFAULT_RETRANSMIT
  if (timer === 'expire' || st.tries >= rt.maxTries) return fail(st.config, { code: 'timeout' })
  return [
    { ...st, tries: st.tries + 1 },
    [
      { type: 'send', bytes: st.lastSent },
      { type: 'arm', timer: 'retransmit', ms: rt.intervalMs },
    ],
  ]
}

function fail(config: PullMemberConfig, reason: PullFailure, extra: readonly PullMemberAction[] = []): PullMemberStep {
  return [
    { s: 'failed', config, reason },
    [...extra, { type: 'cancel', timer: 'retransmit' }, { type: 'cancel', timer: 'expire' }, { type: 'pull-failed', reason }],
  ]
}

type Classified = { kind: 'ignore' } | { kind: 'pull' } | { kind: 'failed'; step: PullMemberStep }

/** Routes a datagram: our PULL M-ID → process; an Informational under our phase-1 SA → notify/delete; else ignore. */
function classify(st: Extract<PullMember, { s: 'awaitSa' | 'awaitKd' }>, bytes: Uint8Array): Classified {
  let h
  try {
    h = decodeHeader(bytes)
  } catch (e) {
    if (e instanceof DecodeError) return { kind: 'ignore' }
    throw e
  }
  const sa = st.config.sa
  if (!sameBytes(h.icookie, sa.icookie) || !sameBytes(h.rcookie, sa.rcookie)) return { kind: 'ignore' }
  if (h.exchange === ExchangeType.INFORMATIONAL) {
    // Only an authenticated Informational (HASH(1) under this phase-1 SA) may end the exchange.
    const info = openInformational(sa, bytes)
    if (!info.ok) return { kind: 'ignore' }
    for (const p of info.payloads) {
      if (p.type === PayloadType.NOTIFICATION && isErrorNotify(p.notifyType)) {
        return { kind: 'failed', step: fail(st.config, { code: 'notify', notifyType: p.notifyType }) }
      }
      if (p.type === PayloadType.DELETE && p.spiSize === 16 && p.spis.some((spi) => sameBytes(spi.subarray(0, 8), sa.icookie))) {
        return { kind: 'failed', step: fail(st.config, { code: 'deleted' }) }
      }
    }
    return { kind: 'ignore' }
  }
  if (h.exchange !== ExchangeType.GROUPKEY_PULL || h.messageId !== st.mid) return { kind: 'ignore' }
  return { kind: 'pull' }
}

function tryOpen(sa: Phase1Sa, bytes: Uint8Array, iv: Uint8Array): ReturnType<typeof openMessage> | undefined {
  try {
    return openMessage(sa, bytes, iv)
  } catch (e) {
    if (e instanceof DecodeError) return undefined
    throw e
  }
}

// PULL2 HASH(2),Nr,SA <--   then   PULL3 HASH(3)[,GAP] -->
function onPull2(st: Extract<PullMember, { s: 'awaitSa' }>, bytes: Uint8Array, ctx: ExchangeCtx): PullMemberStep {
  const c = classify(st, bytes)
  if (c.kind === 'failed') return c.step
  if (c.kind === 'ignore') return [st, []]
  const { config } = st
  const sa = config.sa
  const m = tryOpen(sa, bytes, st.ivIn)
  if (m === undefined) return [st, []] // undecryptable or malformed: drop, keep waiting
  if (!checkPullHash(sa, m, st.ni, undefined)) return fail(config, { code: 'bad-hash', message: 'PULL2' })
  const ruleErr = rulesError(Rules.PULL2, m)
  if (ruleErr !== undefined) return fail(config, { code: 'malformed', detail: ruleErr })
  const nr = payloadsOf.nonce(m.chain.payloads)[0]
  const saPayload = payloadsOf.sa(m.chain.payloads)[0]
  if (nr === undefined || saPayload === undefined) return fail(config, { code: 'malformed', detail: 'PULL2 without Nr or GDOI SA' })
  const decoded = saPayloadToPolicy(saPayload, { groupId: config.groupId, ...(config.strictAttributes === true ? { strict: true } : {}) })
  const refusal = decoded.ok ? config.acceptPolicy?.(decoded.value) : decoded.reason
  if (!decoded.ok || refusal !== undefined) {
    // RFC 6407 §3.3: tell the KS with an Informational Delete, then tear down phase 1 (the daemon's job).
    const del = buildInformational(sa, randomMessageId(ctx.rng), [deletePhase1Payload(sa)])
    return fail(config, { code: 'unacceptable-policy', detail: refusal ?? 'refused' }, [{ type: 'send', bytes: del }])
  }
  const nrB = nr.data.slice()
  const rest: Payload[] = (config.senderIdRequest ?? 0) > 1 ? [senderIdRequestGap(config.senderIdRequest ?? 0)] : []
  const sealed = sealPull(sa, st.mid, m.lastBlock, st.ni, nrB, rest)
  const rt = config.retransmit ?? DEFAULT_RETRANSMIT
  return [
    { s: 'awaitKd', config, mid: st.mid, ni: st.ni, nr: nrB, policy: decoded.value, ivIn: sealed.lastBlock, lastSent: sealed.bytes, tries: 0, lastReceived: bytes.slice() },
    [
      { type: 'send', bytes: sealed.bytes },
      { type: 'arm', timer: 'retransmit', ms: rt.intervalMs },
    ],
  ]
}

// PULL4 HASH(4),[SEQ],KD <--
function onPull4(st: Extract<PullMember, { s: 'awaitKd' }>, bytes: Uint8Array, ctx: ExchangeCtx): PullMemberStep {
  if (sameBytes(st.lastReceived, bytes)) return [st, []] // a retransmitted PULL2: our PULL3 timer covers it
  const c = classify(st, bytes)
  if (c.kind === 'failed') return c.step
  if (c.kind === 'ignore') return [st, []]
  const { config } = st
  const sa = config.sa
  const m = tryOpen(sa, bytes, st.ivIn)
  if (m === undefined) return [st, []]
  if (!checkPullHash(sa, m, st.ni, st.nr)) return fail(config, { code: 'bad-hash', message: 'PULL4' })
  const ruleErr = rulesError(Rules.PULL4, m)
  if (ruleErr !== undefined) return fail(config, { code: 'malformed', detail: ruleErr })
  const kd = payloadsOf.kd(m.chain.payloads)[0]
  if (kd === undefined) return fail(config, { code: 'malformed', detail: 'PULL4 without KD' })
  const seq = payloadsOf.seq(m.chain.payloads)[0]?.seq
  if (st.policy.kek !== undefined && seq === undefined) return fail(config, { code: 'malformed', detail: 'PULL4 without SEQ although the policy has a KEK' })
  const keys = keyDownloadToKeys(kd)
  if (!keys.ok) return fail(config, { code: 'bad-keys', detail: keys.reason })
  const problem = checkKeysForPolicy(st.policy, keys.value, { requireSigningKey: true })
  if (problem !== undefined) return fail(config, { code: 'bad-keys', detail: problem })
  const result: PullResult = {
    groupId: config.groupId,
    policy: st.policy,
    keys: keys.value,
    ...(seq !== undefined && st.policy.kek !== undefined ? { seq } : {}),
    messageId: st.mid,
    completedAtMs: ctx.nowMs(),
  }
  return [
    { s: 'done', config, mid: st.mid, result },
    [{ type: 'cancel', timer: 'retransmit' }, { type: 'cancel', timer: 'expire' }, { type: 'pull-done', result }],
  ]
}
