// Encrypted exchanges under a phase-1 SA other than Main Mode (spec §1.3, §1.4, §3.4):
// GROUPKEY-PULL (32; also IKEv1 Quick Mode, the same number), Informational (5), anything else.
// IV of the first message = H(last phase-1 block ‖ M-ID); later ones chain from the previous message
// of the same (icookie, M-ID). HASH(1..4) are checked when the key file gave SKEYID_a.
import { ExchangeType, ISAKMP_HEADER_BYTES, PayloadType } from '../constants.js'
import type { HashName } from '../crypto/algorithms.js'
import { concatBytes, macEqual, toHex, u32be } from '../crypto/bytes.js'
import { cbcDecrypt } from '../crypto/cbc.js'
import { informationalHash, pullHash } from '../crypto/hash-payloads.js'
import { exchangeIv, lastBlock } from '../crypto/iv-chain.js'
import { prf } from '../crypto/prf.js'
import type { IsakmpHeader, Payload, PayloadSpan } from '../payloads/types.js'
import { decodeInto, phase1Cipher } from './decode-common.js'
import type { IvContext, KeyChain } from './key-chain.js'
import { gdoiSa, keyDownload, learnKeyDownload, noteSaPolicies, seqOf } from './learn-keys.js'
import type { IsakmpResult } from './result.js'

export function decodePhase2(chain: KeyChain, header: IsakmpHeader, body: Uint8Array, from: string, out: IsakmpResult): void {
  const p1 = chain.phase1(header.icookie)
  const setup = phase1Cipher(p1, out)
  if (setup === undefined) return
  const hash = p1.hash ?? p1.keys?.hash
  if (hash === undefined) {
    out.notes.push('phase-1 hash algorithm unknown (MM1/MM2 not in the capture and the key file does not name it)')
    return
  }
  if (p1.lastBlock === undefined) {
    out.notes.push('IV unknown: the encrypted Main Mode messages (MM5/MM6) of this phase-1 SA are not in the capture')
    return
  }
  const block = setup.cipher.blockBytes
  const ctx = chain.ivContext(header.icookie, header.messageId)
  const ciphertext = body.subarray(ISAKMP_HEADER_BYTES)
  const wire = toHex(body)
  let dec = ctx.seen.get(wire)
  let index: number
  if (dec !== undefined) {
    out.notes.push('retransmission: decrypted with the IV of the first copy')
    index = [...ctx.seen.keys()].indexOf(wire) + 1
  } else {
    const fresh = exchangeIv(hash, p1.lastBlock, header.messageId, block)
    const iv = ctx.nextIv ?? fresh
    const plaintext = cbcDecrypt(setup.cipher.name, setup.encKey, iv, ciphertext)
    dec = { iv, plaintext }
    // The chained IV only differs in the first block; if it does not give a payload header, the
    // first message of the exchange may be missing from the capture: try the fresh IV.
    if (ctx.nextIv !== undefined && !looksLikeChain(plaintext, header.nextPayload)) {
      const alt = cbcDecrypt(setup.cipher.name, setup.encKey, fresh, ciphertext)
      if (looksLikeChain(alt, header.nextPayload)) {
        dec = { iv: fresh, plaintext: alt }
        out.notes.push('IV: H(last phase-1 block ‖ M-ID) used, the chained IV did not decrypt (earlier messages missing?)')
      }
    }
    if (ctx.count === 0) ctx.initiator = from
    ctx.seen.set(wire, dec)
    ctx.count++
    ctx.nextIv = lastBlock(ciphertext, block)
    index = ctx.count
  }
  const walked = decodeInto(out, dec.plaintext, 0, dec.plaintext.length, header, ISAKMP_HEADER_BYTES)
  out.decrypted = walked.ok
  if (!walked.ok) {
    out.notes.push('the decrypted body is not a valid payload chain: wrong key, or an IV from a message missing in the capture')
    return
  }
  const payloads = out.payloads
  if (header.exchange === ExchangeType.GROUPKEY_PULL && index === 1) {
    ctx.kind = payloads.some((p) => p.type === PayloadType.SA && 'kind' in p && p.kind === 'ike') ? 'quick-mode' : 'pull'
  }
  const nonce = payloads.find((p) => p.type === PayloadType.NONCE)
  if (nonce && 'data' in nonce) {
    if (from === ctx.initiator) ctx.niB ??= nonce.data.slice()
    else ctx.nrB ??= nonce.data.slice()
  }
  checkHash(p1.keys?.skeyidA, hash, header, dec.plaintext, payloads, walked.spans, walked.end, ctx, index, out)
  if (header.exchange === ExchangeType.GROUPKEY_PULL && ctx.kind !== 'quick-mode') learnFromPull(chain, ctx, payloads, out)
}

/** First payload header plausible: reserved octet 0, length ≥ 4 and inside the body. */
function looksLikeChain(plaintext: Uint8Array, first: number): boolean {
  if (first === 0 || plaintext.length < 4) return false
  const len = ((plaintext[2] ?? 0) << 8) | (plaintext[3] ?? 0)
  return plaintext[1] === 0 && len >= 4 && len <= plaintext.length
}

function checkHash(
  skeyidA: Uint8Array | undefined, hash: HashName, header: IsakmpHeader, plaintext: Uint8Array,
  payloads: readonly Payload[], spans: readonly PayloadSpan[], chainEnd: number, ctx: IvContext, index: number, out: IsakmpResult,
): void {
  const first = payloads[0]
  const firstSpan = spans[0]
  if (first?.type !== PayloadType.HASH || !('data' in first) || firstSpan === undefined) {
    out.checks.hash = 'unknown'
    if (header.exchange === ExchangeType.GROUPKEY_PULL || header.exchange === ExchangeType.INFORMATIONAL) {
      out.notes.push('first payload is not HASH')
    }
    return
  }
  if (skeyidA === undefined) {
    out.checks.hash = 'unknown'
    return
  }
  const rest = plaintext.subarray(firstSpan.end, chainEnd)
  const mid = header.messageId
  const candidates: Uint8Array[] = []
  if (header.exchange === ExchangeType.INFORMATIONAL) {
    candidates.push(informationalHash(hash, skeyidA, mid, rest))
  } else if (index === 1) {
    candidates.push(pullHash(hash, skeyidA, mid, undefined, undefined, rest))
  } else if (ctx.niB === undefined || (index >= 3 && ctx.nrB === undefined)) {
    out.checks.hash = 'unknown'
    out.notes.push('HASH not checked: a nonce of this exchange is missing from the capture')
    return
  } else if (index === 2) {
    candidates.push(pullHash(hash, skeyidA, mid, ctx.niB, undefined, rest))
  } else {
    candidates.push(pullHash(hash, skeyidA, mid, ctx.niB, ctx.nrB, rest))
    // IKEv1 Quick Mode HASH(3) = prf(SKEYID_a, 0 ‖ M-ID ‖ Ni_b ‖ Nr_b) (RFC 2409 §5.5).
    if (rest.length === 0 && ctx.nrB) candidates.push(prf(hash, skeyidA, concatBytes(Uint8Array.of(0), u32be(mid, 'M-ID'), ctx.niB, ctx.nrB)))
  }
  const ok = candidates.some((c) => macEqual(c, first.data))
  out.checks.hash = ok ? 'ok' : 'bad'
  if (!ok) out.errors.push({ layer: 'isakmp', code: 'ERR_BAD_HASH', offset: ISAKMP_HEADER_BYTES + firstSpan.start, detail: `HASH(${index}) does not verify` })
}

/** PULL2: remember the SAK/SATs; PULL4: install the keys of the KD and take the SEQ. */
function learnFromPull(chain: KeyChain, ctx: IvContext, payloads: readonly Payload[], out: IsakmpResult): void {
  if (out.checks.hash === 'bad') {
    out.notes.push('keys not learned: HASH does not verify')
    return
  }
  const sa = gdoiSa(payloads)
  if (sa) {
    const sak = noteSaPolicies(chain, sa)
    if (sak) ctx.sak = sak
  }
  const kd = keyDownload(payloads)
  if (kd) learnKeyDownload(chain, kd, out)
  const seq = seqOf(payloads)
  if (seq !== undefined && ctx.sak) {
    const kek = chain.kek(ctx.sak.spi)
    if (kek) {
      if (seq > kek.lastSeq) kek.lastSeq = seq
      out.learned.push({ kind: 'seq', kekSpi: kek.spi, seq: kek.lastSeq })
    }
  }
}
