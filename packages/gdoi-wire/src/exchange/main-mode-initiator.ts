// IKEv1 Main Mode, initiator (GM) side (spec §1.2, §1.7 "GM (registration)" steps 1–6):
//   MM1 HDR, SA [,VID]              -->
//                                   <-- MM2 HDR, SA [,VID]
//   MM3 HDR, KE, Ni [,CR]           -->
//                                   <-- MM4 HDR, KE, Nr [,CR]
//   MM5 HDR*, IDii, [CERT,] HASH_I|SIG_I [,N(INITIAL-CONTACT)] -->
//                                   <-- MM6 HDR*, IDir, [CERT,] HASH_R|SIG_R [,N]
// rng use, in order (for vector replay): start: CKY-I (8); MM2: DH private key
// (dh.privateKeyBytes(group)), then Ni (nonceBytes).
import { ExchangeType, Flags, PayloadType } from '../constants.js'
import { DecodeError } from '../errors.js'
import { decodeHeader } from '../header.js'
import { encodeChain, encodeMessage } from '../message.js'
import { Rules, checkRules } from '../rules.js'
import type { IsakmpHeader, Payload } from '../payloads/types.js'
import { isErrorNotify, openPlainInformational } from './informational.js'
import type { InitiatorConfig, Phase1Proposal } from './main-mode-config.js'
import { checkMainModeConfig, DEFAULT_NONCE_BYTES, modpDh } from './main-mode-config.js'
import type { MainModeDone, MainModeFailed, MainModeFailure, Phase1Keys } from './main-mode-shared.js'
import { buildIdentityMessage, certRequestPayloads, derivePhase1Keys, establishedSa, mainModeFailed, verifyIdentityMessage } from './main-mode-shared.js'
import { buildPhase1OfferSa, parsePhase1Transform, samePhase1Suite } from './proposals.js'
import { openMessage, sealMessage } from './protect.js'
import { DEFAULT_RETRANSMIT, EXCHANGE_MAX_MS } from './types.js'
import type { Action, ExchangeCtx, ExchangeEvent } from './types.js'
import { describeError, equalBytes, isZero } from './util.js'
import { findKeNonce, mainModeHeader, plainChain, randomCookie, vendorIdsFrom, vendorIdsOf } from './main-mode-wire.js'

interface Requesting {
  readonly cfg: InitiatorConfig
  readonly icookie: Uint8Array
  /** The last message sent: re-sent byte for byte on 'retransmit'. */
  readonly lastSent: Uint8Array
  /** Retransmissions of lastSent so far. */
  readonly retransmits: number
}

export interface InitiatorAwaitMm2 extends Requesting {
  readonly s: 'awaitMm2'
  readonly saiB: Uint8Array
}

export interface InitiatorAwaitMm4 extends Requesting {
  readonly s: 'awaitMm4'
  readonly saiB: Uint8Array
  readonly rcookie: Uint8Array
  readonly params: Phase1Proposal
  readonly dhPrivate: Uint8Array
  readonly gxi: Uint8Array
  readonly niB: Uint8Array
  readonly lastReceived: Uint8Array
  readonly peerVendorIds: readonly Uint8Array[]
}

export interface InitiatorAwaitMm6 extends Requesting {
  readonly s: 'awaitMm6'
  readonly keys: Phase1Keys
  /** Last ciphertext block of MM5 = IV of MM6. */
  readonly ivMm6: Uint8Array
  readonly lastReceived: Uint8Array
  readonly peerVendorIds: readonly Uint8Array[]
}

export type MainModeInitiator =
  | { readonly s: 'idle'; readonly cfg: InitiatorConfig }
  | InitiatorAwaitMm2
  | InitiatorAwaitMm4
  | InitiatorAwaitMm6
  | MainModeDone
  | MainModeFailed

export type InitiatorStep = readonly [MainModeInitiator, readonly Action[]]

/** Validates the configuration (throws TypeError on a programming error) and returns the idle state. */
export function createInitiator(cfg: InitiatorConfig): MainModeInitiator {
  checkMainModeConfig('InitiatorConfig', cfg, 'psk', cfg.psk !== undefined)
  return { s: 'idle', cfg }
}

export function stepInitiator(st: MainModeInitiator, ev: ExchangeEvent, ctx: ExchangeCtx): InitiatorStep {
  switch (ev.type) {
    case 'start':
      return st.s === 'idle' ? start(st.cfg, ctx) : [st, []]
    case 'timer':
      return onTimer(st, ev.timer)
    case 'datagram':
      return onDatagram(st, ev.bytes, ctx)
  }
}

function start(cfg: InitiatorConfig, ctx: ExchangeCtx): InitiatorStep {
  const icookie = randomCookie(ctx.rng)
  const sa = buildPhase1OfferSa(cfg.proposals, cfg.doi ?? 2, cfg.attributeOrder, cfg.firstTransformNumber ?? 1)
  const saiB = encodeChain([sa]).slice(4)
  const payloads: Payload[] = [sa, ...vendorIdsOf(cfg.vendorIds)]
  const mm1 = encodeMessage(mainModeHeader(icookie, new Uint8Array(8), 0), payloads)
  const rt = cfg.retransmit ?? DEFAULT_RETRANSMIT
  // MM1 HDR, SA -->
  return [
    { s: 'awaitMm2', cfg, icookie, lastSent: mm1, retransmits: 0, saiB },
    [
      { type: 'send', bytes: mm1 },
      { type: 'arm', timer: 'retransmit', ms: rt.intervalMs },
      { type: 'arm', timer: 'expire', ms: cfg.exchangeMaxMs ?? EXCHANGE_MAX_MS },
    ],
  ]
}

function onTimer(st: MainModeInitiator, timer: 'retransmit' | 'expire'): InitiatorStep {
  if (st.s !== 'awaitMm2' && st.s !== 'awaitMm4' && st.s !== 'awaitMm6') return [st, []]
  if (timer === 'expire') return fail('timeout', `no ${awaited(st.s)} within the exchange lifetime`)
  const rt = st.cfg.retransmit ?? DEFAULT_RETRANSMIT
  if (st.retransmits >= rt.maxTries) return fail('timeout', `no ${awaited(st.s)} after ${rt.maxTries} retransmissions`)
  return [
    { ...st, retransmits: st.retransmits + 1 },
    [
      { type: 'send', bytes: st.lastSent },
      { type: 'arm', timer: 'retransmit', ms: rt.intervalMs },
    ],
  ]
}

function awaited(s: 'awaitMm2' | 'awaitMm4' | 'awaitMm6'): string {
  return s === 'awaitMm2' ? 'MM2' : s === 'awaitMm4' ? 'MM4' : 'MM6'
}

function onDatagram(st: MainModeInitiator, bytes: Uint8Array, ctx: ExchangeCtx): InitiatorStep {
  if (st.s !== 'awaitMm2' && st.s !== 'awaitMm4' && st.s !== 'awaitMm6') return [st, []]
  let h: IsakmpHeader
  try {
    h = decodeHeader(bytes)
  } catch {
    return [st, []] // not even an ISAKMP header: not ours to judge
  }
  if (!equalBytes(h.icookie, st.icookie)) return [st, []]
  if (h.exchange === ExchangeType.INFORMATIONAL && (h.flags & Flags.ENCRYPTION) === 0) return onPlainInformational(st, bytes)
  if (h.exchange !== ExchangeType.IDENTITY_PROTECTION || h.messageId !== 0) return [st, []]
  if (st.s !== 'awaitMm2' && equalBytes(bytes, st.lastReceived)) return [st, []] // a repeat of the answer we already took
  const encrypted = (h.flags & Flags.ENCRYPTION) !== 0
  switch (st.s) {
    case 'awaitMm2':
      return encrypted || isZero(h.rcookie) ? [st, []] : onMm2(st, bytes, ctx)
    case 'awaitMm4':
      return encrypted || !equalBytes(h.rcookie, st.rcookie) ? [st, []] : onMm4(st, bytes)
    case 'awaitMm6':
      return !encrypted || !equalBytes(h.rcookie, st.keys.rcookie) ? [st, []] : onMm6(st, bytes, ctx)
  }
}

// MM2 HDR, SA <--   then   MM3 HDR, KE, Ni [,CR] -->
function onMm2(st: InitiatorAwaitMm2, bytes: Uint8Array, ctx: ExchangeCtx): InitiatorStep {
  let payloads: readonly Payload[]
  try {
    payloads = plainChain(bytes, Rules.MM2).payloads
  } catch (e) {
    return fail('malformed', `MM2: ${describeError(e)}`)
  }
  const sa = payloads[0]
  if (sa === undefined || sa.type !== PayloadType.SA || !('kind' in sa) || sa.kind !== 'ike') return fail('malformed', 'MM2: first payload is not an SA')
  const prop = sa.proposals[0]
  const transform = prop?.transforms[0]
  if (sa.proposals.length !== 1 || prop === undefined || prop.transforms.length !== 1 || transform === undefined) {
    return fail('malformed', 'MM2: SA must hold exactly one proposal with one transform')
  }
  const parsed = parsePhase1Transform(transform)
  if (!parsed.ok) return fail('no-proposal', `MM2: ${parsed.why}`)
  const offered = st.cfg.proposals.find((p) => samePhase1Suite(p, parsed.proposal))
  if (offered === undefined) return fail('no-proposal', 'MM2: the chosen transform was not offered')
  const params = { ...parsed.proposal, lifetimeSec: Math.min(parsed.proposal.lifetimeSec, offered.lifetimeSec) }
  const h = decodeHeader(bytes)
  const rcookie = h.rcookie.slice()
  const dh = st.cfg.dh ?? modpDh
  const dhPrivate = ctx.rng(dh.privateKeyBytes(params.group))
  const gxi = dh.publicKey(params.group, dhPrivate)
  const niB = ctx.rng(st.cfg.nonceBytes ?? DEFAULT_NONCE_BYTES)
  const out: Payload[] = [
    { type: PayloadType.KE, data: gxi },
    { type: PayloadType.NONCE, data: niB },
  ]
  if (params.auth === 'rsa') out.push(...certRequestPayloads(st.cfg.rsa))
  const mm3 = encodeMessage(mainModeHeader(st.icookie, rcookie, 0), out)
  const rt = st.cfg.retransmit ?? DEFAULT_RETRANSMIT
  return [
    {
      s: 'awaitMm4',
      cfg: st.cfg,
      icookie: st.icookie,
      lastSent: mm3,
      retransmits: 0,
      saiB: st.saiB,
      rcookie,
      params,
      dhPrivate,
      gxi,
      niB,
      lastReceived: bytes.slice(),
      peerVendorIds: vendorIdsFrom(payloads),
    },
    [
      { type: 'send', bytes: mm3 },
      { type: 'arm', timer: 'retransmit', ms: rt.intervalMs },
    ],
  ]
}

// MM4 HDR, KE, Nr [,CR] <--   then   MM5 HDR*, IDii, [CERT,] HASH_I|SIG_I [,N] -->
function onMm4(st: InitiatorAwaitMm4, bytes: Uint8Array): InitiatorStep {
  let payloads: readonly Payload[]
  try {
    payloads = plainChain(bytes, Rules.MM4).payloads
  } catch (e) {
    return fail('malformed', `MM4: ${describeError(e)}`)
  }
  const kn = findKeNonce(payloads)
  if (!kn.ok) return fail('malformed', `MM4: ${kn.why}`)
  if (kn.ke.length !== st.gxi.length) return fail('bad-dh', `MM4: KE is ${kn.ke.length} octets, expected ${st.gxi.length}`)
  const dh = st.cfg.dh ?? modpDh
  let gxy: Uint8Array
  try {
    gxy = dh.sharedSecret(st.params.group, st.dhPrivate, kn.ke)
  } catch (e) {
    return fail('bad-dh', `MM4: ${describeError(e)}`)
  }
  const keys = derivePhase1Keys({
    params: st.params,
    ...(st.cfg.psk === undefined ? {} : { psk: st.cfg.psk }),
    niB: st.niB,
    nrB: kn.nonce,
    gxi: st.gxi,
    gxr: kn.ke,
    gxy,
    icookie: st.icookie,
    rcookie: st.rcookie,
    saiB: st.saiB,
  })
  const mm5 = sealMessage(
    keys,
    ExchangeType.IDENTITY_PROTECTION,
    0,
    keys.iv,
    buildIdentityMessage(keys, true, st.cfg.localId, st.cfg.rsa, st.cfg.initialContact ?? false),
  )
  const rt = st.cfg.retransmit ?? DEFAULT_RETRANSMIT
  return [
    {
      s: 'awaitMm6',
      cfg: st.cfg,
      icookie: st.icookie,
      lastSent: mm5.bytes,
      retransmits: 0,
      keys,
      ivMm6: mm5.lastBlock,
      lastReceived: bytes.slice(),
      peerVendorIds: [...st.peerVendorIds, ...vendorIdsFrom(payloads)],
    },
    [
      { type: 'send', bytes: mm5.bytes },
      { type: 'arm', timer: 'retransmit', ms: rt.intervalMs },
    ],
  ]
}

// MM6 HDR*, IDir, [CERT,] HASH_R|SIG_R [,N] <--
function onMm6(st: InitiatorAwaitMm6, bytes: Uint8Array, ctx: ExchangeCtx): InitiatorStep {
  const { keys } = st
  let opened: ReturnType<typeof openMessage>
  try {
    opened = openMessage(keys, bytes, st.ivMm6)
  } catch (e) {
    const garbage = e instanceof DecodeError && e.code !== 'ERR_BAD_BLOCK' && keys.params.auth === 'psk'
    return fail(garbage ? 'auth-failed' : 'malformed', `MM6 does not decrypt to a payload chain: ${describeError(e)}`)
  }
  try {
    checkRules(Rules.MM6, opened.chain)
  } catch (e) {
    return fail('malformed', `MM6: ${describeError(e)}`)
  }
  const proof = verifyIdentityMessage(keys, false, opened.plaintext, opened.chain, st.cfg.verifyPeerCert)
  if (!proof.ok) return fail(proof.reason, `MM6: ${proof.detail}`)
  const sa = establishedSa('initiator', keys, proof, st.cfg.localId, opened.lastBlock, ctx.nowMs())
  return [
    { s: 'done', sa, peerInitialContact: proof.initialContact, peerVendorIds: st.peerVendorIds },
    [
      { type: 'cancel', timer: 'retransmit' },
      { type: 'cancel', timer: 'expire' },
    ],
  ]
}

/** An unencrypted Informational during Main Mode: an error notify ends the exchange (unauthenticated, as in every IKEv1 stack). */
function onPlainInformational(st: InitiatorAwaitMm2 | InitiatorAwaitMm4 | InitiatorAwaitMm6, bytes: Uint8Array): InitiatorStep {
  const info = openPlainInformational(bytes)
  if (!info.ok) return [st, []]
  const rcookie = st.s === 'awaitMm2' ? undefined : st.s === 'awaitMm4' ? st.rcookie : st.keys.rcookie
  if (rcookie !== undefined && !isZero(info.header.rcookie) && !equalBytes(info.header.rcookie, rcookie)) return [st, []]
  for (const p of info.payloads) {
    if (p.type === PayloadType.NOTIFICATION && 'notifyType' in p && isErrorNotify(p.notifyType)) {
      const [f, actions] = fail('peer-notify', `peer sent notify ${p.notifyType} while we awaited ${awaited(st.s)}`)
      return [{ ...(f as MainModeFailed), peerNotifyType: p.notifyType }, actions]
    }
  }
  return [st, []]
}

function fail(reason: MainModeFailure, detail: string): InitiatorStep {
  return [
    mainModeFailed(reason, detail),
    [
      { type: 'cancel', timer: 'retransmit' },
      { type: 'cancel', timer: 'expire' },
    ],
  ]
}
