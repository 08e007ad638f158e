// KS side of GROUPKEY-PUSH (exchange 33, spec §1.5, §5; RFC 6407 §4):
//   HDR*(cookies = KEK SPI, M-ID 0), SEQ, [D…,] [SA, KD,] SIG
// P = SEQ ‖ D… ‖ SA ‖ KD is signed as H_sig("rekey" ‖ HDR' ‖ P) with HDR'.Length = the unpadded length;
// then P ‖ SIG is CBC-encrypted with the CURRENT KEK and its static IV (the IV half of KEK_ALGORITHM_KEY).
// Rekey events (spec §5.4), all built by the same function:
//   TEK rollover      policy { teks: new SATs }, keys { teks: new TEK keys }           [+ deletes of old SPIs]
//   KEK rollover      policy { kek: NEW SAK, teks }, keys { kek: NEW IV‖key (+ SPKI), teks }, kek = OLD KEK;
//                     the next push is encrypted with the new KEK and its SEQ restarts at 1 (RFC 6407 §4.3)
//   delete only       deletes, no policy, no keys (RFC 6407 §5.9)
// SID key packets never go into a push (RFC 6407 §5.6.4.4): `keys.sids` is ignored here.
import { createPrivateKey, type KeyObject } from 'node:crypto'
import { Doi, ExchangeType, Flags, ISAKMP_VERSION, PayloadType } from '../constants.js'
import type { CbcCipherName, HashName } from '../crypto/algorithms.js'
import { cbcEncrypt } from '../crypto/cbc.js'
import { pushSignedBytes, signPush, splitKekKey, type PushSigForm } from '../crypto/push.js'
import { encodeChain, encodeEncryptedMessage } from '../message.js'
import type { DeletePayload, EncodeOptions, Payload } from '../payloads/types.js'
import { keysToKeyDownload, type GroupKeys } from './group-keys.js'
import { policyToSaPayload, type GroupPolicy } from './group-policy.js'

/** The KEK that protects this push (the current one, also during a KEK rollover). */
export interface PushKek {
  readonly spi: Uint8Array // 16 = ICOOKIE ‖ RCOOKIE
  readonly cipher: CbcCipherName
  readonly algorithmKey: Uint8Array // IV ‖ key
}

/** D payloads of a push (RFC 6407 §5.9): TEKs by 32-bit SPI (0 = all), KEKs by 16-octet SPI (zeros = all). */
export type PushDelete =
  | { readonly kind: 'tek'; readonly spis: readonly number[]; readonly protocolId?: number /* GDOI numbering, 1 = ESP */ }
  | { readonly kind: 'kek'; readonly spis: readonly Uint8Array[] }

export interface BuildPushInput {
  readonly kek: PushKek
  readonly seq: number
  readonly deletes?: readonly PushDelete[]
  /** SA contents; must come with `keys` (both or neither). */
  readonly policy?: GroupPolicy
  readonly keys?: GroupKeys
  /** KS push-signing key (PEM or KeyObject), RSA. */
  readonly signingKey: KeyObject | string
  readonly sigHash: HashName
  /** 'rfc' (DigestInfo, RFC 6407 §5.3.6.1) by default; 'bare' for gdoid-derived peers. */
  readonly sigForm?: PushSigForm
  readonly idLengthWidth?: 1 | 2
  readonly omitPolicyDefaults?: boolean
}

export function pushDeletePayload(d: PushDelete): DeletePayload {
  if (d.kind === 'tek') {
    const spis = d.spis.map((spi) => {
      const b = new Uint8Array(4)
      new DataView(b.buffer).setUint32(0, spi >>> 0)
      return b
    })
    return { type: PayloadType.DELETE, doi: Doi.GDOI, protocolId: d.protocolId ?? 1, spiSize: 4, spis }
  }
  return { type: PayloadType.DELETE, doi: Doi.GDOI, protocolId: 0, spiSize: 16, spis: d.spis }
}

function signatureBytes(key: KeyObject | string): number {
  const k = typeof key === 'string' ? createPrivateKey(key) : key
  const bits = k.asymmetricKeyDetails?.modulusLength
  if (k.asymmetricKeyType !== 'rsa' || bits === undefined) throw new RangeError('push signing key must be RSA')
  return Math.ceil(bits / 8)
}

/** The complete push datagram (header + ciphertext). Throws RangeError/EncodeError on a bad input. */
export function buildPush(input: BuildPushInput): Uint8Array {
  const { kek } = input
  if (kek.spi.length !== 16) throw new RangeError('KEK SPI must be 16 octets')
  if ((input.policy === undefined) !== (input.keys === undefined)) throw new RangeError('a push carries SA and KD together, or neither (delete only)')
  if (!Number.isInteger(input.seq) || input.seq < 1 || input.seq > 0xffffffff) throw new RangeError('push SEQ must be 1..2^32-1')
  const opts = input.idLengthWidth !== undefined ? { idLengthWidth: input.idLengthWidth } : undefined
  const payloads: Payload[] = [{ type: PayloadType.SEQ, seq: input.seq }, ...(input.deletes ?? []).map(pushDeletePayload)]
  if (input.policy !== undefined && input.keys !== undefined) {
    payloads.push(
      policyToSaPayload(input.policy, {
        ...(opts ?? {}),
        ...(input.omitPolicyDefaults === true ? { omitDefaults: true } : {}),
      }),
    )
    const { sids: _ignored, ...keys } = input.keys
    payloads.push(keysToKeyDownload(keys))
  }
  if (payloads.length === 1) throw new RangeError('a push needs deletes or SA + KD')
  return sealPush(kek, payloads, input, opts)
}

export interface PushSigner {
  readonly signingKey: KeyObject | string
  readonly sigHash: HashName
  readonly sigForm?: PushSigForm
}

/**
 * Signs and encrypts an arbitrary payload list P (SEQ first, no SIG) as a push under `kek`: appends
 * SIG = Sign(H("rekey" ‖ HDR' ‖ P)), CBC-encrypts P ‖ SIG with the KEK's static IV and prepends HDR.
 * buildPush() is the checked way in; this is the raw one (tests, unusual rekey contents).
 */
export function sealPush(kek: PushKek, payloads: readonly Payload[], signer: PushSigner, opts?: EncodeOptions): Uint8Array {
  if (kek.spi.length !== 16) throw new RangeError('KEK SPI must be 16 octets')
  // Encode once with a zero signature of the right size, sign P, then patch the signature in.
  const sigLen = signatureBytes(signer.signingKey)
  const plaintext = encodeChain([...payloads, { type: PayloadType.SIG, data: new Uint8Array(sigLen) }], opts)
  const pLen = plaintext.length - 4 - sigLen
  const signed = pushSignedBytes(kek.spi, plaintext.subarray(0, pLen), sigLen)
  const sig = signPush(signer.sigHash, signer.signingKey, signed, signer.sigForm ?? 'rfc')
  if (sig.length !== sigLen) throw new RangeError(`signature of ${sig.length} octets, expected ${sigLen}`)
  plaintext.set(sig, pLen + 4)
  const { iv, key } = splitKekKey(kek.cipher, kek.algorithmKey)
  const ciphertext = cbcEncrypt(kek.cipher, key, iv, plaintext)
  return encodeEncryptedMessage(
    {
      icookie: kek.spi.subarray(0, 8),
      rcookie: kek.spi.subarray(8, 16),
      nextPayload: payloads[0]?.type ?? PayloadType.SEQ,
      version: ISAKMP_VERSION,
      exchange: ExchangeType.GROUPKEY_PUSH,
      flags: Flags.ENCRYPTION,
      messageId: 0,
    },
    ciphertext,
  )
}
