// IKEv1 Main Mode, responder (KS) side (spec §1.2, §1.7 "KS" rows MM1, MM5):
//   --> MM1 HDR, SA [,VID]                    MM2 HDR, SA (the one chosen transform) [,VID] <--
//   --> MM3 HDR, KE, Ni [,CR]                 MM4 HDR, KE, Nr [,CR] <--
//   --> MM5 HDR*, IDii, [CERT,] HASH_I|SIG_I  MM6 HDR*, IDir, [CERT,] HASH_R|SIG_R [,N] <--
// The responder never retransmits on its own: a byte-identical repeat of the last request is answered
// with the cached last response and never processed twice (isDuplicate / cachedResponse). Failures end
// in { s: 'failed' } plus, where spec §1.7 says so, an unencrypted notify to send. States are immutable
// values: a caller that prefers to ignore a failed MM5 (e.g. a spoofed one) can keep the previous state.
// rng use, in order (for vector replay): MM1: CKY-R (8); MM3: DH private key (dh.privateKeyBytes(group)),
// then Nr (nonceBytes).
import { ExchangeType, Flags, PayloadType } from '../constants.js'
import { DecodeError } from '../errors.js'
import { decodeHeader } from '../header.js'
import { encodeMessage } from '../message.js'
import { Rules, checkRules } from '../rules.js'
import type { IkeSaPayload, IsakmpHeader, Payload } from '../payloads/types.js'
import { buildPlainNotify, isErrorNotify, openPlainInformational } from './informational.js'
import type { Phase1Proposal, ResponderConfig } from './main-mode-config.js'
import { checkMainModeConfig, DEFAULT_NONCE_BYTES, modpDh } from './main-mode-config.js'
import type { MainModeDone, MainModeFailed, MainModeFailure, Phase1Keys } from './main-mode-shared.js'
import {
  establishedSa,
  MAIN_MODE_FAILURE_NOTIFY,
  buildIdentityMessage,
  certRequestPayloads,
  derivePhase1Keys,
  mainModeFailed,
  verifyIdentityMessage,
} from './main-mode-shared.js'
import { findKeNonce, mainModeHeader, plainChain, randomCookie, vendorIdsFrom, vendorIdsOf } from './main-mode-wire.js'
import { choosePhase1Transform } from './proposals.js'
import { openMessage, sealMessage } from './protect.js'
import { EXCHANGE_MAX_MS } from './types.js'
import type { Action, ExchangeCtx, ExchangeEvent } from './types.js'
import { describeError, equalBytes, isZero } from './util.js'

/** The last request and the response it got: a byte-identical repeat of `request` is answered with `response`. */
export interface ResponseCache {
  readonly request: Uint8Array
  readonly response: Uint8Array
}

interface Responding {
  readonly cfg: ResponderConfig
  readonly peerAddress: string
  readonly cache: ResponseCache
}

export interface ResponderAwaitMm1 {
  readonly s: 'awaitMm1'
  readonly cfg: ResponderConfig
  readonly peerAddress: string
}

export interface ResponderAwaitMm3 extends Responding {
  readonly s: 'awaitMm3'
  readonly icookie: Uint8Array
  readonly rcookie: Uint8Array
  readonly saiB: Uint8Array
  readonly params: Phase1Proposal
  readonly psk?: Uint8Array
  readonly peerVendorIds: readonly Uint8Array[]
}

export interface ResponderAwaitMm5 extends Responding {
  readonly s: 'awaitMm5'
  readonly keys: Phase1Keys
  readonly peerVendorIds: readonly Uint8Array[]
}

/** Main Mode done; keeps the MM5→MM6 cache so a retransmitted MM5 (lost MM6) is answered again. */
export interface ResponderDone extends MainModeDone {
  readonly cache: ResponseCache
}

export type MainModeResponder = ResponderAwaitMm1 | ResponderAwaitMm3 | ResponderAwaitMm5 | ResponderDone | MainModeFailed

export type ResponderStep = readonly [MainModeResponder, readonly Action[]]

/**
 * A responder for one peer; feed it the MM1 datagram next. `peerAddress` (the datagram's source address)
 * is what `pskFor` is asked about. Throws TypeError on an unusable configuration.
 */
export function createResponder(cfg: ResponderConfig, peerAddress: string): MainModeResponder {
  checkMainModeConfig('ResponderConfig', cfg, 'pskFor', cfg.pskFor !== undefined)
  return { s: 'awaitMm1', cfg, peerAddress }
}

/** Is `bytes` a byte-identical repeat of the last request this responder answered? */
export function isDuplicate(st: MainModeResponder, bytes: Uint8Array): boolean {
  return 'cache' in st && equalBytes(st.cache.request, bytes)
}

/** The cached response to send again when `bytes` repeats the last request, else undefined. */
export function cachedResponse(st: MainModeResponder, bytes: Uint8Array): Uint8Array | undefined {
  return isDuplicate(st, bytes) && 'cache' in st ? st.cache.response : undefined
}

export function stepResponder(st: MainModeResponder, ev: ExchangeEvent, ctx: ExchangeCtx): ResponderStep {
  switch (ev.type) {
    case 'start':
      return [st, []]
    case 'timer':
      if (ev.timer !== 'expire' || st.s === 'done' || st.s === 'failed') return [st, []]
      return [mainModeFailed('timeout', `${st.s === 'awaitMm1' ? 'MM1' : st.s === 'awaitMm3' ? 'MM3' : 'MM5'} not received in time`), []]
    case 'datagram':
      return onDatagram(st, ev.bytes, ctx)
  }
}

function onDatagram(st: MainModeResponder, bytes: Uint8Array, ctx: ExchangeCtx): ResponderStep {
  if (st.s === 'failed') return [st, []]
  const again = cachedResponse(st, bytes)
  if (again !== undefined) return [st, [{ type: 'send', bytes: again }]] // retransmitted request: answer, never reprocess
  if (st.s === 'done') return [st, []]
  let h: IsakmpHeader
  try {
    h = decodeHeader(bytes)
  } catch (e) {
    return st.s === 'awaitMm1' ? [mainModeFailed('malformed', `MM1: ${describeError(e)}`), []] : [st, []]
  }
  if (st.s === 'awaitMm1') return onMm1(st, h, bytes, ctx)
  const icookie = st.s === 'awaitMm3' ? st.icookie : st.keys.icookie
  const rcookie = st.s === 'awaitMm3' ? st.rcookie : st.keys.rcookie
  if (!equalBytes(h.icookie, icookie) || !equalBytes(h.rcookie, rcookie)) return [st, []]
  if (h.exchange === ExchangeType.INFORMATIONAL && (h.flags & Flags.ENCRYPTION) === 0) return onPlainInformational(st, bytes)
  if (h.exchange !== ExchangeType.IDENTITY_PROTECTION || h.messageId !== 0) return [st, []]
  const encrypted = (h.flags & Flags.ENCRYPTION) !== 0
  if (st.s === 'awaitMm3') return encrypted ? [st, []] : onMm3(st, bytes, ctx)
  return encrypted ? onMm5(st, bytes, ctx) : [st, []] // a stale plaintext message (e.g. an older MM3) is dropped
}

// MM1 HDR, SA -->   then   MM2 HDR, SA <--
function onMm1(st: ResponderAwaitMm1, h: IsakmpHeader, bytes: Uint8Array, ctx: ExchangeCtx): ResponderStep {
  const { cfg } = st
  if (h.exchange !== ExchangeType.IDENTITY_PROTECTION || h.messageId !== 0 || (h.flags & Flags.ENCRYPTION) !== 0) {
    return [mainModeFailed('malformed', 'MM1: not an unencrypted Main Mode message with Message ID 0'), []]
  }
  if (isZero(h.icookie) || !isZero(h.rcookie)) return [mainModeFailed('malformed', 'MM1: bad cookies'), []]
  let offer: IkeSaPayload
  let saiB: Uint8Array
  let payloads: readonly Payload[]
  try {
    const chain = plainChain(bytes, Rules.MM1)
    const first = chain.payloads[0]
    const span = chain.spans[0]
    if (first === undefined || span === undefined || first.type !== PayloadType.SA || !('kind' in first) || first.kind !== 'ike') {
      throw new DecodeError('ERR_UNEXPECTED_PAYLOAD', 28, 'MM1 must start with an SA payload')
    }
    offer = first
    saiB = bytes.slice(span.start + 4, span.end)
    payloads = chain.payloads
  } catch (e) {
    return [mainModeFailed('malformed', `MM1: ${describeError(e)}`), []]
  }
  const icookie = h.icookie.slice()
  const notify = (reason: MainModeFailure, detail: string): ResponderStep =>
    failWithNotify(cfg, reason, detail, icookie, new Uint8Array(8))
  if (offer.doi !== 1 && offer.doi !== 2) return notify('no-proposal', `MM1: SA DOI ${offer.doi}`)
  const psk = cfg.pskFor?.(st.peerAddress)
  const choice = choosePhase1Transform(offer, cfg.proposals, (p) => (p.auth === 'psk' ? psk !== undefined : cfg.rsa !== undefined))
  if (choice === undefined) return notify('no-proposal', 'MM1: no acceptable transform')
  const rcookie = randomCookie(ctx.rng)
  const chosen: IkeSaPayload = {
    ...offer,
    proposals: [{ ...choice.proposal, transforms: [choice.transform] }],
  }
  const mm2 = encodeMessage(mainModeHeader(icookie, rcookie, 0), [chosen, ...vendorIdsOf(cfg.vendorIds)])
  return [
    {
      s: 'awaitMm3',
      cfg,
      peerAddress: st.peerAddress,
      cache: { request: bytes.slice(), response: mm2 },
      icookie,
      rcookie,
      saiB,
      params: choice.params,
      ...(choice.params.auth === 'psk' && psk !== undefined ? { psk: psk.slice() } : {}),
      peerVendorIds: vendorIdsFrom(payloads),
    },
    [
      { type: 'send', bytes: mm2 },
      { type: 'arm', timer: 'expire', ms: cfg.exchangeMaxMs ?? EXCHANGE_MAX_MS },
    ],
  ]
}

// MM3 HDR, KE, Ni [,CR] -->   then   MM4 HDR, KE, Nr [,CR] <--
function onMm3(st: ResponderAwaitMm3, bytes: Uint8Array, ctx: ExchangeCtx): ResponderStep {
  const { cfg, params } = st
  let payloads: readonly Payload[]
  try {
    payloads = plainChain(bytes, Rules.MM3).payloads
  } catch (e) {
    return [mainModeFailed('malformed', `MM3: ${describeError(e)}`), cancelExpire]
  }
  const kn = findKeNonce(payloads)
  if (!kn.ok) return [mainModeFailed('malformed', `MM3: ${kn.why}`), cancelExpire]
  const dh = cfg.dh ?? modpDh
  const dhPrivate = ctx.rng(dh.privateKeyBytes(params.group))
  const gxr = dh.publicKey(params.group, dhPrivate)
  if (kn.ke.length !== gxr.length) {
    return failWithNotify(cfg, 'bad-dh', `MM3: KE is ${kn.ke.length} octets, expected ${gxr.length}`, st.icookie, st.rcookie)
  }
  let gxy: Uint8Array
  try {
    gxy = dh.sharedSecret(params.group, dhPrivate, kn.ke)
  } catch (e) {
    return failWithNotify(cfg, 'bad-dh', `MM3: ${describeError(e)}`, st.icookie, st.rcookie)
  }
  const nrB = ctx.rng(cfg.nonceBytes ?? DEFAULT_NONCE_BYTES)
  const keys = derivePhase1Keys({
    params,
    ...(st.psk === undefined ? {} : { psk: st.psk }),
    niB: kn.nonce,
    nrB,
    gxi: kn.ke,
    gxr,
    gxy,
    icookie: st.icookie,
    rcookie: st.rcookie,
    saiB: st.saiB,
  })
  const out: Payload[] = [
    { type: PayloadType.KE, data: gxr },
    { type: PayloadType.NONCE, data: nrB },
  ]
  if (params.auth === 'rsa') out.push(...certRequestPayloads(cfg.rsa))
  const mm4 = encodeMessage(mainModeHeader(st.icookie, st.rcookie, 0), out)
  return [
    {
      s: 'awaitMm5',
      cfg,
      peerAddress: st.peerAddress,
      cache: { request: bytes.slice(), response: mm4 },
      keys,
      peerVendorIds: [...st.peerVendorIds, ...vendorIdsFrom(payloads)],
    },
    [{ type: 'send', bytes: mm4 }],
  ]
}

// MM5 HDR*, IDii, [CERT,] HASH_I|SIG_I -->   then   MM6 HDR*, IDir, [CERT,] HASH_R|SIG_R <--
function onMm5(st: ResponderAwaitMm5, bytes: Uint8Array, ctx: ExchangeCtx): ResponderStep {
  const { cfg, keys } = st
  let opened: ReturnType<typeof openMessage>
  try {
    opened = openMessage(keys, bytes, keys.iv)
  } catch (e) {
    // A ciphertext that is not a payload chain under our PSK-derived key almost always means the PSKs differ.
    const garbage = e instanceof DecodeError && e.code !== 'ERR_BAD_BLOCK' && keys.params.auth === 'psk'
    const reason: MainModeFailure = garbage ? 'auth-failed' : 'malformed'
    return failWithNotify(cfg, reason, `MM5 does not decrypt to a payload chain: ${describeError(e)}`, keys.icookie, keys.rcookie)
  }
  try {
    checkRules(Rules.MM5, opened.chain)
  } catch (e) {
    return failWithNotify(cfg, 'malformed', `MM5: ${describeError(e)}`, keys.icookie, keys.rcookie)
  }
  const proof = verifyIdentityMessage(keys, true, opened.plaintext, opened.chain, cfg.verifyPeerCert)
  if (!proof.ok) return failWithNotify(cfg, proof.reason, `MM5: ${proof.detail}`, keys.icookie, keys.rcookie)
  const mm6 = sealMessage(
    keys,
    ExchangeType.IDENTITY_PROTECTION,
    0,
    opened.lastBlock,
    buildIdentityMessage(keys, false, cfg.localId, cfg.rsa, cfg.initialContact ?? false),
  )
  const sa = establishedSa('responder', keys, proof, cfg.localId, mm6.lastBlock, ctx.nowMs())
  return [
    {
      s: 'done',
      sa,
      peerInitialContact: proof.initialContact,
      peerVendorIds: st.peerVendorIds,
      cache: { request: bytes.slice(), response: mm6.bytes },
    },
    [
      { type: 'send', bytes: mm6.bytes },
      { type: 'cancel', timer: 'expire' },
    ],
  ]
}

function onPlainInformational(st: ResponderAwaitMm3 | ResponderAwaitMm5, bytes: Uint8Array): ResponderStep {
  const info = openPlainInformational(bytes)
  if (!info.ok) return [st, []]
  for (const p of info.payloads) {
    if (p.type === PayloadType.NOTIFICATION && 'notifyType' in p && isErrorNotify(p.notifyType)) {
      const f: MainModeFailed = { ...mainModeFailed('peer-notify', `peer sent notify ${p.notifyType}`), peerNotifyType: p.notifyType }
      return [f, cancelExpire]
    }
  }
  return [st, []]
}

const cancelExpire: readonly Action[] = [{ type: 'cancel', timer: 'expire' }]

function failWithNotify(
  cfg: ResponderConfig,
  reason: MainModeFailure,
  detail: string,
  icookie: Uint8Array,
  rcookie: Uint8Array,
): ResponderStep {
  const notifyType = MAIN_MODE_FAILURE_NOTIFY[reason]
  const actions: Action[] = [...cancelExpire]
  if (notifyType !== undefined && cfg.notifyOnFailure !== false) {
    actions.unshift({ type: 'send', bytes: buildPlainNotify(icookie, rcookie, notifyType) })
  }
  return [mainModeFailed(reason, detail), actions]
}
