// Informational exchange (type 5, spec §1.4, §2.11).
//  * before phase 1 completes: HDR, N            — unencrypted, Message ID 0, no HASH (RFC 2409 §5.7)
//  * after phase 1:            HDR*, HASH(1), N|D — own random non-zero M-ID, HASH(1) = prf(SKEYID_a, M-ID ‖ N|D),
//                                                   IV = H(last phase-1 block ‖ M-ID)[0:block]
// Used by the KS for INVALID-ID-INFORMATION after a bad PULL1 and by GMs for Delete.
import { Doi, ExchangeType, ISAKMP_VERSION, PayloadType, ProtocolId } from '../constants.js'
import { exchangeIv } from '../crypto/iv-chain.js'
import { informationalHash } from '../crypto/hash-payloads.js'
import { decodeMessage, encodeChain, encodeMessage } from '../message.js'
import type { DeletePayload, IsakmpHeader, NotificationPayload, Payload } from '../payloads/types.js'
import { constantTimeEqual, describeError, isakmpSpi } from './util.js'
import { bytesAfterFirstPayload, openMessage, sealMessage } from './protect.js'
import type { Phase1Sa } from './types.js'

export type InformationalPayload = NotificationPayload | DeletePayload

export interface NotifyOptions {
  /** Default 1 (IPsec DOI; spec §2.11: "2 is acceptable"). */
  readonly doi?: number
  /** Default 1 (ISAKMP). */
  readonly protocolId?: number
  /** Default empty (SPI size 0). For the ISAKMP SA: CKY-I ‖ CKY-R. */
  readonly spi?: Uint8Array
  readonly data?: Uint8Array
}

export function notifyPayload(notifyType: number, opts: NotifyOptions = {}): NotificationPayload {
  return {
    type: PayloadType.NOTIFICATION,
    doi: opts.doi ?? Doi.IPSEC,
    protocolId: opts.protocolId ?? ProtocolId.ISAKMP,
    notifyType,
    spi: opts.spi ?? new Uint8Array(0),
    data: opts.data ?? new Uint8Array(0),
  }
}

/** D for the phase-1 SA itself: protocol ISAKMP, SPI size 16, SPI = cookies (spec §1.4). */
export function deletePhase1Payload(sa: Pick<Phase1Sa, 'icookie' | 'rcookie'>, doi: number = Doi.IPSEC): DeletePayload {
  return { type: PayloadType.DELETE, doi, protocolId: ProtocolId.ISAKMP, spiSize: 16, spis: [isakmpSpi(sa.icookie, sa.rcookie)] }
}

export function deletePayload(doi: number, protocolId: number, spiSize: number, spis: readonly Uint8Array[]): DeletePayload {
  return { type: PayloadType.DELETE, doi, protocolId, spiSize, spis }
}

/** Is this notify type an error (1..16383, RFC 2408 §3.14.1)? */
export function isErrorNotify(notifyType: number): boolean {
  return notifyType >= 1 && notifyType < 16384
}

// ---- after phase 1 ----------------------------------------------------------------------------------

/** HDR*, HASH(1), N|D… under the phase-1 SA, with the caller's (random, non-zero) Message ID. */
export function buildInformational(sa: Phase1Sa, messageId: number, payloads: readonly InformationalPayload[]): Uint8Array {
  if (payloads.length === 0) throw new RangeError('buildInformational: no N or D payload')
  const rest = encodeChain(payloads)
  const hash = informationalHash(sa.hash, sa.skeyidA, messageId, rest)
  const iv = exchangeIv(sa.hash, sa.lastBlock, messageId, sa.cipher.blockBytes)
  return sealMessage(sa, ExchangeType.INFORMATIONAL, messageId, iv, [{ type: PayloadType.HASH, data: hash }, ...payloads]).bytes
}

export type OpenedInformational =
  | { readonly ok: true; readonly messageId: number; readonly payloads: readonly InformationalPayload[] }
  | { readonly ok: false; readonly reason: 'malformed' | 'bad-hash'; readonly detail: string }

/**
 * Decrypts and authenticates an encrypted Informational under `sa`. Never throws on untrusted input.
 * Payload byte fields are views into a fresh plaintext buffer (safe to keep).
 */
export function openInformational(sa: Phase1Sa, bytes: Uint8Array): OpenedInformational {
  let messageId: number
  try {
    messageId = decodeMessage(bytes).header.messageId
  } catch (e) {
    return { ok: false, reason: 'malformed', detail: describeError(e) }
  }
  try {
    const iv = exchangeIv(sa.hash, sa.lastBlock, messageId, sa.cipher.blockBytes)
    const m = openMessage(sa, bytes, iv)
    if (m.header.exchange !== ExchangeType.INFORMATIONAL) return { ok: false, reason: 'malformed', detail: `exchange ${m.header.exchange}` }
    if (messageId === 0) return { ok: false, reason: 'malformed', detail: 'Message ID 0' }
    const [first, ...others] = m.chain.payloads
    if (first === undefined || first.type !== PayloadType.HASH || !('data' in first)) {
      return { ok: false, reason: 'malformed', detail: 'first payload is not HASH' }
    }
    const expected = informationalHash(sa.hash, sa.skeyidA, messageId, bytesAfterFirstPayload(m.plaintext, m.chain))
    if (!constantTimeEqual(first.data, expected)) return { ok: false, reason: 'bad-hash', detail: 'HASH(1) mismatch' }
    const payloads = onlyNotifyOrDelete(others)
    if (payloads === undefined) return { ok: false, reason: 'malformed', detail: 'payload other than N or D after HASH(1)' }
    return { ok: true, messageId, payloads }
  } catch (e) {
    return { ok: false, reason: 'malformed', detail: describeError(e) }
  }
}

// ---- before phase 1 (plaintext) -----------------------------------------------------------------------

/** HDR, N|D… unencrypted (exchange 5, flags 0). Message ID 0 unless given. */
export function buildPlainInformational(
  icookie: Uint8Array,
  rcookie: Uint8Array,
  payloads: readonly InformationalPayload[],
  messageId = 0,
): Uint8Array {
  if (payloads.length === 0) throw new RangeError('buildPlainInformational: no N or D payload')
  return encodeMessage(
    { icookie, rcookie, version: ISAKMP_VERSION, exchange: ExchangeType.INFORMATIONAL, flags: 0, messageId },
    payloads,
  )
}

/** The unencrypted error notify a Main Mode responder sends (spec §1.7): N(type), protocol ISAKMP, SPI = cookies. */
export function buildPlainNotify(icookie: Uint8Array, rcookie: Uint8Array, notifyType: number, doi: number = Doi.IPSEC): Uint8Array {
  return buildPlainInformational(icookie, rcookie, [notifyPayload(notifyType, { doi, spi: isakmpSpi(icookie, rcookie) })])
}

export type OpenedPlainInformational =
  | { readonly ok: true; readonly header: IsakmpHeader; readonly payloads: readonly InformationalPayload[] }
  | { readonly ok: false; readonly reason: 'malformed'; readonly detail: string }

/** Decodes an unencrypted Informational (pre-phase-1 error notify). Unauthenticated: treat as a hint. */
export function openPlainInformational(bytes: Uint8Array): OpenedPlainInformational {
  try {
    const m = decodeMessage(bytes)
    if (m.header.exchange !== ExchangeType.INFORMATIONAL || m.chain === undefined) {
      return { ok: false, reason: 'malformed', detail: 'not an unencrypted Informational' }
    }
    const payloads = onlyNotifyOrDelete(m.chain.payloads)
    if (payloads === undefined || payloads.length === 0) return { ok: false, reason: 'malformed', detail: 'payload other than N or D' }
    return { ok: true, header: m.header, payloads }
  } catch (e) {
    return { ok: false, reason: 'malformed', detail: describeError(e) }
  }
}

function onlyNotifyOrDelete(ps: readonly Payload[]): InformationalPayload[] | undefined {
  const out: InformationalPayload[] = []
  for (const p of ps) {
    if (p.type === PayloadType.NOTIFICATION && 'notifyType' in p) out.push(p)
    else if (p.type === PayloadType.DELETE && 'spis' in p) out.push(p)
    else if (p.type === PayloadType.VENDOR_ID) continue
    else return undefined
  }
  return out
}
