// Plaintext Main Mode message helpers shared by both roles (MM1–MM4 framing, KE/Nonce extraction).
import { ExchangeType, ISAKMP_VERSION, PayloadType } from '../constants.js'
import { DecodeError } from '../errors.js'
import { decodeMessage } from '../message.js'
import type { DecodedChain } from '../message.js'
import { checkRules } from '../rules.js'
import type { MessageRule } from '../rules.js'
import type { IsakmpHeader, Payload, VendorIdPayload } from '../payloads/types.js'
import { isZero } from './util.js'

/** 8 random, non-zero octets (spec §1.7 step 1). */
export function randomCookie(rng: (n: number) => Uint8Array): Uint8Array {
  for (let i = 0; i < 16; i++) {
    const c = rng(8)
    if (c.length !== 8) throw new RangeError('rng returned the wrong length')
    if (!isZero(c)) return c.slice()
  }
  throw new RangeError('rng keeps returning zero cookies')
}

export function mainModeHeader(
  icookie: Uint8Array,
  rcookie: Uint8Array,
  flags: number,
): Omit<IsakmpHeader, 'length' | 'nextPayload'> {
  return { icookie, rcookie, version: ISAKMP_VERSION, exchange: ExchangeType.IDENTITY_PROTECTION, flags, messageId: 0 }
}

/**
 * Decodes an unencrypted Main Mode message and checks it against its rule (throws DecodeError).
 * Payload fields are views into `bytes`.
 */
export function plainChain(bytes: Uint8Array, rule: MessageRule): DecodedChain {
  const m = decodeMessage(bytes)
  if (m.chain === undefined) throw new DecodeError('ERR_BAD_VALUE', 19, 'unexpected E flag')
  checkRules(rule, m.chain)
  return m.chain
}

export function vendorIdsOf(ids: readonly Uint8Array[] | undefined): VendorIdPayload[] {
  return (ids ?? []).map((data) => ({ type: PayloadType.VENDOR_ID, data }))
}

/** Copies of the VID payloads of a received message. */
export function vendorIdsFrom(payloads: readonly Payload[]): Uint8Array[] {
  const out: Uint8Array[] = []
  for (const p of payloads) if (p.type === PayloadType.VENDOR_ID && 'data' in p) out.push(p.data.slice())
  return out
}

export type KeNonce =
  | { readonly ok: true; readonly ke: Uint8Array; readonly nonce: Uint8Array }
  | { readonly ok: false; readonly why: string }

/** KE and Nonce of MM3/MM4 (copied out of the datagram); counts were checked by the MM3/MM4 rules. */
export function findKeNonce(payloads: readonly Payload[]): KeNonce {
  let ke: Uint8Array | undefined
  let nonce: Uint8Array | undefined
  for (const p of payloads) {
    if (p.type === PayloadType.KE && 'data' in p) {
      if (ke !== undefined) return { ok: false, why: 'two KE payloads' }
      ke = p.data.slice()
    } else if (p.type === PayloadType.NONCE && 'data' in p) {
      if (nonce !== undefined) return { ok: false, why: 'two Nonce payloads' }
      nonce = p.data.slice()
    }
  }
  if (ke === undefined || nonce === undefined) return { ok: false, why: 'KE or Nonce missing' }
  if (nonce.length < 8 || nonce.length > 256) return { ok: false, why: `nonce of ${nonce.length} octets (8..256)` }
  return { ok: true, ke, nonce }
}
