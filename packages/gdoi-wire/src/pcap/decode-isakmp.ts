// One ISAKMP datagram → header, payloads (decrypted when the key chain can), checks, learned keys.
//   unencrypted   → walk the chain; Main Mode 1–4 feed the phase-1 state (SAi_b, transform, KE, nonces);
//                   an RFC 8263 ACK (exch 35) has its HASH checked under the known KEK (decode-ack.ts)
//   E, exch 2/4   → phase-1 CBC chain: IV = H(g^xi ‖ g^xr), then the last block of the previous message
//   E, exch 33    → GROUPKEY-PUSH under the KEK named by the cookies (decode-push.ts)
//   E, otherwise  → phase-2 exchange (PULL, Quick Mode, Informational) per (icookie, M-ID) (decode-phase2.ts)
import { attrNumber } from '../attributes.js'
import { Doi, ExchangeType, Flags, IkeAttr, ISAKMP_HEADER_BYTES, PayloadType } from '../constants.js'
import { ikeCipher, ikeHashName } from '../crypto/algorithms.js'
import { cbcDecrypt } from '../crypto/cbc.js'
import { macEqual, toHex } from '../crypto/bytes.js'
import { hashI, hashR } from '../crypto/hash-payloads.js'
import { lastBlock, phase1Iv } from '../crypto/iv-chain.js'
import { DecodeError } from '../errors.js'
import { decodeHeader } from '../header.js'
import type { IsakmpHeader, Payload, PayloadSpan } from '../payloads/types.js'
import { observeAck } from './decode-ack.js'
import { decodeInto, phase1Cipher } from './decode-common.js'
import { exchangeName } from './names.js'
import { decodePhase2 } from './decode-phase2.js'
import { decodePush, observePlainPush } from './decode-push.js'
import type { KeyChain, Phase1State } from './key-chain.js'
import { emptyResult, isTypedError, recordError, type IsakmpResult } from './result.js'

/**
 * `from` is "addr:port" of the sender (tells initiator from responder); `gdoiPort`: either UDP port is
 * 848 (names an undecrypted exchange 32 GROUPKEY-PULL rather than Quick Mode).
 */
export function decodeIsakmp(chain: KeyChain, msg: Uint8Array, from: string, nonEspMarker: boolean, gdoiPort = false): IsakmpResult {
  const out = emptyResult()
  let header: IsakmpHeader
  try {
    header = decodeHeader(msg)
  } catch (e) {
    out.errors.push(recordError('isakmp', e))
    return out
  }
  const info = { ...header, nonEspMarker, exchangeName: exchangeName(header.exchange) }
  out.isakmp = info
  if (header.length < msg.length) {
    out.errors.push({ layer: 'isakmp', code: 'ERR_TRAILING_BYTES', offset: header.length, detail: `${msg.length - header.length} octets after the message length` })
  }
  const body = msg.subarray(0, header.length)
  out.encrypted = (header.flags & Flags.ENCRYPTION) !== 0
  try {
    if (!out.encrypted) decodePlain(chain, header, body, from, out)
    else if (header.exchange === ExchangeType.GROUPKEY_PUSH) decodePush(chain, header, body, out)
    else if (header.exchange === ExchangeType.IDENTITY_PROTECTION || header.exchange === ExchangeType.AGGRESSIVE) decodePhase1(chain, header, body, from, out)
    else decodePhase2(chain, header, body, from, out)
  } catch (e) {
    if (!isTypedError(e)) throw e
    // cbcDecrypt reports a partial block relative to the ciphertext, which starts after the header.
    out.errors.push(recordError('isakmp', e, e instanceof DecodeError && e.code === 'ERR_BAD_BLOCK' ? ISAKMP_HEADER_BYTES : 0))
  }
  if (header.exchange === ExchangeType.GROUPKEY_PULL) {
    const kind = chain.ivContext(header.icookie, header.messageId).kind
    const pull = kind === undefined ? chain.phase1(header.icookie).doi === Doi.GDOI || gdoiPort : kind === 'pull'
    if (!pull) info.exchangeName = 'QUICK-MODE'
  }
  return out
}

function decodePlain(chain: KeyChain, header: IsakmpHeader, body: Uint8Array, from: string, out: IsakmpResult): void {
  const walked = decodeInto(out, body, ISAKMP_HEADER_BYTES, body.length, header, 0)
  if (walked.ok && walked.end !== body.length) {
    out.errors.push({ layer: 'isakmp', code: 'ERR_TRAILING_BYTES', offset: walked.end, detail: `${body.length - walked.end} octets after the payload chain` })
  }
  if (header.exchange === ExchangeType.IDENTITY_PROTECTION || header.exchange === ExchangeType.AGGRESSIVE) {
    observeMainMode(chain.phase1(header.icookie), header, body, out.payloads, walked.spans, from, out)
  } else if (header.exchange === ExchangeType.GROUPKEY_PUSH) {
    observePlainPush(chain, header, body, walked.spans, out)
  } else if (header.exchange === ExchangeType.GROUPKEY_PUSH_ACK && walked.ok) {
    observeAck(chain, header, body, walked.spans, out)
  }
}

const isZero = (b: Uint8Array): boolean => b.every((x) => x === 0)

/** MM1–MM4 (and Aggressive Mode 1/2): what the phase-1 IV and the HASH checks need. */
function observeMainMode(p1: Phase1State, header: IsakmpHeader, body: Uint8Array, payloads: readonly Payload[], spans: readonly PayloadSpan[], from: string, out: IsakmpResult): void {
  const fromInitiator = p1.initiator === undefined ? isZero(header.rcookie) : p1.initiator === from
  if (isZero(header.rcookie) && p1.initiator === undefined) p1.initiator = from
  if (!isZero(header.rcookie)) p1.rcookie ??= header.rcookie.slice()
  payloads.forEach((p, i) => {
    const span = spans[i]
    if (span === undefined) return
    if (p.type === PayloadType.SA && 'kind' in p && p.kind === 'ike') {
      if (fromInitiator) {
        p1.saiB = body.slice(span.start + 4, span.end)
        p1.doi = p.doi
      } else {
        const t = p.proposals[0]?.transforms[0]
        if (t === undefined) return
        try {
          const enc = attrNumber(t.attributes, IkeAttr.ENCRYPTION_ALGORITHM)
          const hashAttr = attrNumber(t.attributes, IkeAttr.HASH_ALGORITHM)
          if (enc !== undefined) p1.cipher = ikeCipher(enc, attrNumber(t.attributes, IkeAttr.KEY_LENGTH))
          if (hashAttr !== undefined) p1.hash = ikeHashName(hashAttr)
          const auth = attrNumber(t.attributes, IkeAttr.AUTHENTICATION_METHOD)
          if (auth !== undefined) p1.authMethod = auth
        } catch (e) {
          if (!isTypedError(e)) throw e
          out.notes.push(`phase-1 transform not usable for decryption: ${recordError('isakmp', e).detail}`)
        }
      }
    } else if (p.type === PayloadType.KE && 'data' in p) {
      if (fromInitiator) p1.gxi = p.data.slice()
      else p1.gxr = p.data.slice()
    } else if (p.type === PayloadType.NONCE && 'data' in p) {
      if (fromInitiator) p1.niB = p.data.slice()
      else p1.nrB = p.data.slice()
    }
  })
}

function decodePhase1(chain: KeyChain, header: IsakmpHeader, body: Uint8Array, from: string, out: IsakmpResult): void {
  const p1 = chain.phase1(header.icookie)
  const setup = phase1Cipher(p1, out)
  if (setup === undefined) return
  const hash = p1.hash ?? p1.keys?.hash
  const ctx = chain.ivContext(header.icookie, header.messageId, true)
  const ciphertext = body.subarray(ISAKMP_HEADER_BYTES)
  const key = toHex(body)
  let dec = ctx.seen.get(key)
  if (dec === undefined) {
    if (ctx.nextIv === undefined) {
      if (p1.gxi === undefined || p1.gxr === undefined || hash === undefined) {
        out.notes.push('phase-1 IV unknown: MM3/MM4 (KE payloads) or the hash algorithm are not in the capture')
        return
      }
      ctx.nextIv = phase1Iv(hash, p1.gxi, p1.gxr, setup.cipher.blockBytes)
    }
    dec = { iv: ctx.nextIv, plaintext: cbcDecrypt(setup.cipher.name, setup.encKey, ctx.nextIv, ciphertext) }
    ctx.seen.set(key, dec)
    ctx.count++
    ctx.nextIv = lastBlock(ciphertext, setup.cipher.blockBytes)
    p1.lastBlock = ctx.nextIv
  } else {
    out.notes.push('retransmission: decrypted with the IV of the first copy')
  }
  const walked = decodeInto(out, dec.plaintext, 0, dec.plaintext.length, header, ISAKMP_HEADER_BYTES)
  out.decrypted = walked.ok
  if (!walked.ok) return
  checkProofHash(p1, header, dec.plaintext, out.payloads, walked.spans, from, out)
}

/**
 * HASH_I (initiator's MM5) / HASH_R (MM6) = prf(SKEYID, g^x… ‖ CKY… ‖ SAi_b ‖ IDi…_b) (RFC 2409 §5):
 * needs SKEYID (keylog SKEYID=), g^xi/g^xr (MM3/MM4) and SAi_b (MM1); 'unknown' when any is missing.
 */
function checkProofHash(p1: Phase1State, header: IsakmpHeader, plaintext: Uint8Array, payloads: readonly Payload[], spans: readonly PayloadSpan[], from: string, out: IsakmpResult): void {
  const idAt = payloads.findIndex((p) => p.type === PayloadType.ID)
  const hashAt = payloads.findIndex((p) => p.type === PayloadType.HASH)
  if (payloads.some((p) => p.type === PayloadType.SIG)) out.checks.signature = 'unknown'
  if (hashAt < 0) return
  const idSpan = spans[idAt]
  const hashP = payloads[hashAt]
  const skeyid = p1.keys?.skeyid
  const hash = p1.hash ?? p1.keys?.hash
  if (idSpan === undefined || skeyid === undefined || hash === undefined || !p1.gxi || !p1.gxr || !p1.saiB || !hashP || !('data' in hashP)) {
    out.checks.hash = 'unknown'
    return
  }
  const idB = plaintext.subarray(idSpan.start + 4, idSpan.end)
  const expected = from === p1.initiator
    ? hashI(hash, skeyid, p1.gxi, p1.gxr, header.icookie, header.rcookie, p1.saiB, idB)
    : hashR(hash, skeyid, p1.gxr, p1.gxi, header.rcookie, header.icookie, p1.saiB, idB)
  out.checks.hash = macEqual(expected, hashP.data) ? 'ok' : 'bad'
  if (out.checks.hash === 'bad') {
    out.errors.push({ layer: 'isakmp', code: 'ERR_BAD_HASH', offset: ISAKMP_HEADER_BYTES + (spans[hashAt]?.start ?? 0), detail: `${from === p1.initiator ? 'HASH_I' : 'HASH_R'} does not verify` })
  }
}
