// GROUPKEY-PUSH (spec §5.1–§5.3): cookies = KEK SPI; decrypt with the KEK's static IV (fallback: the
// last ciphertext block of the previous accepted push); SEQ must exceed the KEK's last accepted one;
// SIG verified with the KS public key from PULL4 (either RSA form, either hashed Length); only then
// are the pushed SA/KD learned and lastSeq moved.
import { ISAKMP_HEADER_BYTES, PayloadType } from '../constants.js'
import { concatBytes, toHex } from '../crypto/bytes.js'
import { cbcDecrypt } from '../crypto/cbc.js'
import { lastBlock } from '../crypto/iv-chain.js'
import { verifyPush } from '../crypto/push.js'
import type { IsakmpHeader, PayloadSpan } from '../payloads/types.js'
import { decodeInto } from './decode-common.js'
import type { KeyChain, KekState } from './key-chain.js'
import { gdoiSa, keyDownload, learnKeyDownload, noteSaPolicies, seqOf } from './learn-keys.js'
import type { IsakmpResult } from './result.js'

/** Next Payload values a SEQ payload may carry in a push (D, SA, KD, SIG, CERT). */
const AFTER_SEQ = new Set([PayloadType.DELETE, PayloadType.SA, PayloadType.KEY_DOWNLOAD, PayloadType.SIG, PayloadType.CERT] as number[])

function looksLikeSeq(plaintext: Uint8Array): boolean {
  return AFTER_SEQ.has(plaintext[0] ?? 0) && plaintext[1] === 0 && plaintext[2] === 0 && plaintext[3] === 8
}

export function decodePush(chain: KeyChain, header: IsakmpHeader, body: Uint8Array, out: IsakmpResult): void {
  const spi = concatBytes(header.icookie, header.rcookie)
  const kek = chain.kek(spi)
  if (kek === undefined) {
    out.notes.push(`no KEK for SPI ${toHex(spi)} (no GROUPKEY-PULL delivering it decrypted earlier in the capture)`)
    return
  }
  const ciphertext = body.subarray(ISAKMP_HEADER_BYTES)
  let plaintext = cbcDecrypt(kek.cipher.name, kek.key, kek.iv, ciphertext)
  if (!looksLikeSeq(plaintext) && kek.lastBlock !== undefined) {
    const alt = cbcDecrypt(kek.cipher.name, kek.key, kek.lastBlock, ciphertext)
    if (looksLikeSeq(alt)) {
      plaintext = alt
      out.notes.push('IV: last ciphertext block of the previous push (chained, not the static KEK IV)')
    }
  }
  const walked = decodeInto(out, plaintext, 0, plaintext.length, header, ISAKMP_HEADER_BYTES)
  out.decrypted = walked.ok
  if (!walked.ok) {
    out.notes.push('the decrypted body is not a valid payload chain: wrong KEK or IV')
    return
  }
  checkAndLearn(chain, kek, header, body, plaintext, walked.spans, ISAKMP_HEADER_BYTES, out, lastBlock(ciphertext, kek.cipher.blockBytes))
}

/** A push sent in the clear (test copies for tshark, spec §8.1): same checks when the KEK is known. */
export function observePlainPush(chain: KeyChain, header: IsakmpHeader, body: Uint8Array, spans: readonly PayloadSpan[], out: IsakmpResult): void {
  const kek = chain.kek(concatBytes(header.icookie, header.rcookie))
  if (kek === undefined) return
  const plaintext = body.subarray(ISAKMP_HEADER_BYTES)
  const shifted = spans.map((s) => ({ start: s.start - ISAKMP_HEADER_BYTES, end: s.end - ISAKMP_HEADER_BYTES }))
  checkAndLearn(chain, kek, header, body, plaintext, shifted, ISAKMP_HEADER_BYTES, out, undefined)
}

function checkAndLearn(
  chain: KeyChain, kek: KekState, header: IsakmpHeader, body: Uint8Array, plaintext: Uint8Array,
  spans: readonly PayloadSpan[], shift: number, out: IsakmpResult, cipherLastBlock: Uint8Array | undefined,
): void {
  const payloads = out.payloads
  const wire = toHex(body)
  const duplicate = kek.accepted.has(wire)
  const seq = seqOf(payloads)
  if (payloads[0]?.type !== PayloadType.SEQ || seq === undefined) {
    out.checks.seq = 'unknown'
    out.errors.push({ layer: 'isakmp', code: 'ERR_UNEXPECTED_PAYLOAD', offset: shift, detail: 'a GROUPKEY-PUSH must start with SEQ' })
  } else if (duplicate) {
    out.checks.seq = 'duplicate'
    out.notes.push('retransmission of an accepted push')
  } else if (seq > kek.lastSeq) {
    out.checks.seq = 'ok'
  } else {
    out.checks.seq = 'replay'
    out.errors.push({ layer: 'isakmp', code: 'ERR_SEQ_REPLAY', offset: shift + (spans[0]?.start ?? 0), detail: `SEQ ${seq} is not larger than the last accepted ${kek.lastSeq}` })
  }

  const sigAt = payloads.findIndex((p) => p.type === PayloadType.SIG)
  const sigP = payloads[sigAt]
  const sigSpan = spans[sigAt]
  if (sigP === undefined || sigSpan === undefined || !('data' in sigP)) {
    out.checks.signature = 'bad'
    out.errors.push({ layer: 'isakmp', code: 'ERR_UNEXPECTED_PAYLOAD', offset: shift, detail: 'GROUPKEY-PUSH without a SIG payload' })
  } else if (kek.publicKey === undefined || kek.sigHash === undefined) {
    out.checks.signature = 'unknown'
    out.notes.push('signature not verified: the KS public key or SIG_HASH_ALGORITHM is unknown')
  } else {
    const v = verifyPush(kek.sigHash, kek.publicKey, kek.spi, plaintext.subarray(0, sigSpan.start), sigP.data, header.length)
    out.checks.signature = v.ok ? 'ok' : 'bad'
    if (v.ok) out.notes.push(`signature: ${v.form === 'rfc' ? 'RFC 6407 (DigestInfo)' : 'bare hash (gdoid)'} form, ${v.lengthVariant} length`)
    else out.errors.push({ layer: 'isakmp', code: 'ERR_BAD_SIGNATURE', offset: shift + sigSpan.start, detail: 'push SIG does not verify with the KS public key' })
  }

  if (out.checks.signature === 'bad' || out.checks.seq === 'replay' || out.checks.seq === 'unknown') {
    out.notes.push('keys not learned from this push')
    return
  }
  if (out.checks.seq === 'duplicate') return
  if (seq !== undefined) kek.lastSeq = seq
  kek.accepted.add(wire)
  if (cipherLastBlock) kek.lastBlock = cipherLastBlock
  out.learned.push({ kind: 'seq', kekSpi: kek.spi, seq: kek.lastSeq })
  const sa = gdoiSa(payloads)
  if (sa) noteSaPolicies(chain, sa)
  const kd = keyDownload(payloads)
  if (kd) learnKeyDownload(chain, kd, out, kek)
}
