// KS side of GROUPKEY-PULL (exchange 32, spec §1.3, §1.7 "KS"; RFC 6407 §3, §7.2.5). One state value
// per (cookies, M-ID), created by the daemon when a PULL1 arrives under an established phase-1 SA:
//   PULL1 HDR*, HASH(1), Ni, ID          -->   verify HASH(1), group lookup + authorisation (read only)
//   PULL2 HDR*, HASH(2), Nr, SA          <--   fresh Nr, the current policy with remaining lifetimes
//   PULL3 HDR*, HASH(3) [, GAP]          -->   verify HASH(3): only now does group state change
//   PULL4 HDR*, HASH(4), [SEQ,] KD       <--   'registered' action, SIDs allocated through the provider
// The responder never retransmits on its own: a byte-identical repeat of the last request is answered
// with the cached response. Requests whose HASH was already processed (replay memory) are dropped.
import { DecodeError } from '../errors.js'
import { ExchangeType, GapAttr, NotifyType, PayloadType } from '../constants.js'
import { exchangeIv } from '../crypto/iv-chain.js'
import { attrNumber } from '../attributes.js'
import { decodeHeader } from '../header.js'
import { Rules } from '../rules.js'
import type { IdPayload, Payload } from '../payloads/types.js'
import { keysToKeyDownload, type GroupKeys, type SenderIds } from './group-keys.js'
import { idPayloadToGroupId, isCounterModeTek, policyToSaPayload, type GroupId, type GroupPolicy } from './group-policy.js'
import { buildInformational, notifyPayload } from './informational.js'
import { checkPullHash, DEFAULT_NONCE_BYTES, payloadsOf, rulesError, sameBytes, sealPull, toHexString } from './pull-common.js'
import { openMessage, type OpenedMessage } from './protect.js'
import type { HashMemory } from './replay-memory.js'
import { EXCHANGE_MAX_MS, randomMessageId, type Action, type ExchangeCtx, type ExchangeEvent, type Phase1Sa } from './types.js'

/** A group the KS serves, as of now. */
export interface GroupLookupOk {
  readonly ok: true
  /** The current policy with *remaining* lifetimes; live KEK and TEK SPIs. */
  readonly policyNow: GroupPolicy
  /** Keys matching policyNow (KEK IV ‖ key + signing public key, one entry per TEK SPI); no SIDs. */
  readonly keysNow: GroupKeys
  /** SEQ of the last push sent under the current KEK (0 if none); sent in PULL4 when a KEK exists. */
  readonly seq: number
}

export type GroupLookupError = { readonly ok: false; readonly error: 'unknown-group' | 'unauthorized' }

/** Synchronous group database supplied by the daemon. `lookup` must not change any state. */
export interface GroupProvider {
  /** PULL1 group identity + the phase-1 SA (peer identity for authorisation, RFC 6407 §3.1). */
  lookup(id: IdPayload, sa: Phase1Sa): GroupLookupOk | GroupLookupError
  /**
   * Called once, after a valid PULL3, when the policy has counter-mode TEKs: `count` fresh sender IDs
   * (RFC 6407 §3.5; never reused while an SA a holder may have used is alive). undefined = exhausted:
   * PULL4 then carries no SID packet and the GM can only receive.
   */
  allocateSids?(policy: GroupPolicy, count: number, sa: Phase1Sa): SenderIds | undefined
}

export interface PullKeyServerConfig {
  readonly sa: Phase1Sa
  readonly groups: GroupProvider
  /** HASH(1)/HASH(3) values already processed (RFC 6407 §7.2.5). Share one per phase-1 SA or per KS. */
  readonly replay?: HashMemory
  /** Nr length (default 16). */
  readonly nonceBytes?: number
  /** SAK/SAT ID Data Length width in PULL2 (default 1, RFC form). */
  readonly idLengthWidth?: 1 | 2
  readonly omitPolicyDefaults?: boolean
  /** How long an unfinished exchange waits for PULL3, and a finished one answers repeats (default 120 s). */
  readonly exchangeMaxMs?: number
  /** Upper bound on SENDER_ID_REQUEST honoured (default 16). */
  readonly maxSenderIds?: number
  /** Answer a bad HASH(1)/HASH(3) with N(INVALID-HASH-INFORMATION) instead of dropping silently. */
  readonly notifyBadHash?: boolean
}

export interface PullRegistration {
  readonly groupIdPayload: IdPayload
  readonly groupId?: GroupId
  /** The member's phase-1 identity and SA (its address/port is the daemon's knowledge). */
  readonly peerId: IdPayload
  readonly icookie: Uint8Array
  readonly rcookie: Uint8Array
  readonly messageId: number
  readonly senderIdRequest?: number
  readonly sids?: SenderIds
  readonly seq?: number
  readonly kekSpi?: Uint8Array
  readonly tekSpis: readonly number[]
  readonly atMs: number
}

export type PullKsFailure =
  | { readonly code: 'malformed'; readonly detail: string }
  | { readonly code: 'bad-hash'; readonly message: 'PULL1' | 'PULL3' }
  | { readonly code: 'replay' }
  | { readonly code: 'unknown-group' }
  | { readonly code: 'unauthorized' }
  | { readonly code: 'timeout' }

interface Cached {
  readonly config: PullKeyServerConfig
  readonly mid: number
  readonly lastRequest: Uint8Array
  readonly lastResponse: Uint8Array
}

export type PullKeyServer =
  | { readonly s: 'init'; readonly config: PullKeyServerConfig }
  | ({
      readonly s: 'awaitPull3'
      readonly ni: Uint8Array
      readonly nr: Uint8Array
      readonly group: GroupLookupOk
      readonly groupIdPayload: IdPayload
      readonly ivIn: Uint8Array
    } & Cached)
  | ({ readonly s: 'done'; readonly registration: PullRegistration } & Cached)
  | { readonly s: 'failed'; readonly config: PullKeyServerConfig; readonly reason: PullKsFailure }
  /** The finished exchange stopped answering repeats: the daemon may forget it. */
  | { readonly s: 'closed'; readonly config: PullKeyServerConfig }

export type PullKeyServerAction =
  | Action
  | { readonly type: 'registered'; readonly registration: PullRegistration }
  | { readonly type: 'pull-failed'; readonly reason: PullKsFailure }

export type PullKeyServerStep = readonly [PullKeyServer, readonly PullKeyServerAction[]]

export function initPullKeyServer(config: PullKeyServerConfig): PullKeyServer {
  return { s: 'init', config }
}

export function stepPullKeyServer(st: PullKeyServer, ev: ExchangeEvent, ctx: ExchangeCtx): PullKeyServerStep {
  switch (st.s) {
    case 'init':
      return ev.type === 'datagram' ? onPull1(st.config, ev.bytes, ctx) : [st, []]
    case 'awaitPull3':
      if (ev.type === 'timer') return ev.timer === 'expire' ? fail(st.config, { code: 'timeout' }) : [st, []]
      return ev.type === 'datagram' ? onPull3(st, ev.bytes, ctx) : [st, []]
    case 'done':
      if (ev.type === 'timer') return ev.timer === 'expire' ? [{ s: 'closed', config: st.config }, []] : [st, []]
      if (ev.type === 'datagram' && sameBytes(st.lastRequest, ev.bytes)) return [st, [{ type: 'send', bytes: st.lastResponse }]]
      return [st, []]
    case 'failed':
    case 'closed':
      return [st, []]
  }
}

function fail(config: PullKeyServerConfig, reason: PullKsFailure, extra: readonly PullKeyServerAction[] = []): PullKeyServerStep {
  return [{ s: 'failed', config, reason }, [...extra, { type: 'cancel', timer: 'expire' }, { type: 'pull-failed', reason }]]
}

/** Header checks, decryption and message rules; undefined = drop (not ours, undecryptable, malformed). */
function open(config: PullKeyServerConfig, bytes: Uint8Array, iv: ((mid: number) => Uint8Array) | Uint8Array, mid?: number): OpenedMessage | string {
  try {
    const h = decodeHeader(bytes)
    if (h.exchange !== ExchangeType.GROUPKEY_PULL) return `exchange ${h.exchange}`
    if (h.messageId === 0) return 'Message ID 0'
    if (mid !== undefined && h.messageId !== mid) return 'other Message ID'
    return openMessage(config.sa, bytes, iv instanceof Uint8Array ? iv : iv(h.messageId))
  } catch (e) {
    if (e instanceof DecodeError) return e.message
    throw e
  }
}

function badHashNotify(config: PullKeyServerConfig, ctx: ExchangeCtx): PullKeyServerAction[] {
  if (config.notifyBadHash !== true) return []
  return [{ type: 'send', bytes: buildInformational(config.sa, randomMessageId(ctx.rng), [notifyPayload(NotifyType.INVALID_HASH_INFORMATION)]) }]
}

function hashKey(m: OpenedMessage): string {
  const first = m.chain.payloads[0]
  return first !== undefined && 'data' in first && first.data instanceof Uint8Array ? toHexString(first.data) : ''
}

// PULL1 HASH(1),Ni,ID -->   then   PULL2 HASH(2),Nr,SA <--
function onPull1(config: PullKeyServerConfig, bytes: Uint8Array, ctx: ExchangeCtx): PullKeyServerStep {
  const sa = config.sa
  const m = open(config, bytes, (mid) => exchangeIv(sa.hash, sa.lastBlock, mid, sa.cipher.blockBytes))
  if (typeof m === 'string') return fail(config, { code: 'malformed', detail: m })
  const mid = m.header.messageId
  if (!checkPullHash(sa, m, undefined, undefined)) return fail(config, { code: 'bad-hash', message: 'PULL1' }, badHashNotify(config, ctx))
  const key = hashKey(m)
  if (config.replay?.has(key, ctx.nowMs()) === true) return fail(config, { code: 'replay' })
  config.replay?.add(key, ctx.nowMs())
  const ruleErr = rulesError(Rules.PULL1, m)
  if (ruleErr !== undefined) return fail(config, { code: 'malformed', detail: ruleErr })
  const ni = payloadsOf.nonce(m.chain.payloads)[0]
  const id = payloadsOf.id(m.chain.payloads)[0]
  if (ni === undefined || id === undefined) return fail(config, { code: 'malformed', detail: 'PULL1 without Ni or ID' })
  if (ni.data.length < 8 || ni.data.length > 128) return fail(config, { code: 'malformed', detail: `Ni of ${ni.data.length} octets` })
  const groupIdPayload: IdPayload = { ...id, data: id.data.slice() }
  const group = config.groups.lookup(groupIdPayload, sa)
  if (!group.ok) {
    // RFC 6407 §3.1/§3.4, spec §1.7: N(INVALID-ID-INFORMATION) under phase-1 protection.
    const info = buildInformational(sa, randomMessageId(ctx.rng), [notifyPayload(NotifyType.INVALID_ID_INFORMATION)])
    return fail(config, { code: group.error }, [{ type: 'send', bytes: info }])
  }
  const niB = ni.data.slice()
  const nr = ctx.rng(config.nonceBytes ?? DEFAULT_NONCE_BYTES).slice()
  const saPayload = policyToSaPayload(group.policyNow, {
    ...(config.idLengthWidth !== undefined ? { idLengthWidth: config.idLengthWidth } : {}),
    ...(config.omitPolicyDefaults === true ? { omitDefaults: true } : {}),
  })
  const opts = config.idLengthWidth !== undefined ? { idLengthWidth: config.idLengthWidth } : undefined
  const sealed = sealPull(sa, mid, m.lastBlock, niB, undefined, [{ type: PayloadType.NONCE, data: nr }, saPayload], opts)
  return [
    { s: 'awaitPull3', config, mid, ni: niB, nr, group, groupIdPayload, ivIn: sealed.lastBlock, lastRequest: bytes.slice(), lastResponse: sealed.bytes },
    [
      { type: 'send', bytes: sealed.bytes },
      { type: 'arm', timer: 'expire', ms: config.exchangeMaxMs ?? EXCHANGE_MAX_MS },
    ],
  ]
}

// PULL3 HASH(3)[,GAP] -->   then   PULL4 HASH(4),[SEQ],KD <--
function onPull3(st: Extract<PullKeyServer, { s: 'awaitPull3' }>, bytes: Uint8Array, ctx: ExchangeCtx): PullKeyServerStep {
  if (sameBytes(st.lastRequest, bytes)) return [st, [{ type: 'send', bytes: st.lastResponse }]] // PULL1 again: PULL2 was lost
  const { config } = st
  const sa = config.sa
  const m = open(config, bytes, st.ivIn, st.mid)
  if (typeof m === 'string') return [st, []] // not decryptable as PULL3 of this exchange: drop
  if (!checkPullHash(sa, m, st.ni, st.nr)) return fail(config, { code: 'bad-hash', message: 'PULL3' }, badHashNotify(config, ctx))
  const ruleErr = rulesError(Rules.PULL3, m)
  if (ruleErr !== undefined) return fail(config, { code: 'malformed', detail: ruleErr })
  config.replay?.add(hashKey(m), ctx.nowMs())
  const gap = payloadsOf.gap(m.chain.payloads)[0]
  const requested = gap === undefined ? undefined : attrNumber(gap.attributes, GapAttr.SENDER_ID_REQUEST)

  // From here on group state may change (RFC 6407 §3.2, §7.2.5).
  const { policyNow: policy, keysNow, seq } = st.group
  let sids: SenderIds | undefined
  if (policy.teks.some(isCounterModeTek)) {
    const count = Math.min(Math.max(1, requested ?? 1), config.maxSenderIds ?? 16)
    sids = config.groups.allocateSids?.(policy, count, sa)
  }
  const keys: GroupKeys = { ...(keysNow.kek !== undefined ? { kek: keysNow.kek } : {}), teks: keysNow.teks, ...(sids !== undefined ? { sids } : {}) }
  const rest: Payload[] = []
  if (policy.kek !== undefined) rest.push({ type: PayloadType.SEQ, seq })
  rest.push(keysToKeyDownload(keys))
  const sealed = sealPull(sa, st.mid, m.lastBlock, st.ni, st.nr, rest)
  const groupId = idPayloadToGroupId(st.groupIdPayload)
  const registration: PullRegistration = {
    groupIdPayload: st.groupIdPayload,
    ...(groupId !== undefined ? { groupId } : {}),
    peerId: sa.peerId,
    icookie: sa.icookie,
    rcookie: sa.rcookie,
    messageId: st.mid,
    ...(requested !== undefined ? { senderIdRequest: requested } : {}),
    ...(sids !== undefined ? { sids } : {}),
    ...(policy.kek !== undefined ? { seq, kekSpi: policy.kek.spi } : {}),
    tekSpis: [...new Set(policy.teks.map((t) => t.spi))],
    atMs: ctx.nowMs(),
  }
  return [
    { s: 'done', config, mid: st.mid, registration, lastRequest: bytes.slice(), lastResponse: sealed.bytes },
    [
      { type: 'send', bytes: sealed.bytes },
      { type: 'registered', registration },
      { type: 'arm', timer: 'expire', ms: config.exchangeMaxMs ?? EXCHANGE_MAX_MS },
    ],
  ]
}
