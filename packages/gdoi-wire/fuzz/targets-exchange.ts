// Fuzz targets for the receive paths that face the network: GROUPKEY-PUSH (also signed by a compromised
// KS), ACK, Informational, both Main Mode roles and both GROUPKEY-PULL roles (also with correctly HASHed
// hostile plaintexts). They start from the states of one real registration (session.ts); a step must
// return a state, never throw. See targets.ts for the contract.
import { ExchangeType, Flags, ISAKMP_VERSION, PayloadType } from '../src/constants.js'
import { decodeHeader } from '../src/header.js'
import { decodeChain, encodeEncryptedMessage } from '../src/message.js'
import { cbcDecrypt, cbcEncrypt } from '../src/crypto/cbc.js'
import type { CbcCipherName } from '../src/crypto/algorithms.js'
import { exchangeIv } from '../src/crypto/iv-chain.js'
import { pullHash } from '../src/crypto/hash-payloads.js'
import { pushSignedBytes, signPush, splitKekKey } from '../src/crypto/push.js'
import {
  HashMemory,
  openInformational,
  openMessage,
  openPlainInformational,
  processPush,
  stepInitiator,
  stepPullKeyServer,
  stepPullMember,
  stepResponder,
  verifyAck,
  type MainModeInitiator,
  type MainModeResponder,
  type Phase1Sa,
  type PullKeyServer,
  type PullMember,
  type PushMemberState,
} from '../src/exchange/index.js'
import { sessionMessage } from './corpus.js'
import { concat, equal, harness, hexOf, invariant, mustReturn, stateLabel } from './finding.js'
import { session } from './session.js'
import { chainEnd } from './structure.js'

// ---- GROUPKEY-PUSH ----------------------------------------------------------------------------------

function kekOpen(state: PushMemberState, data: Uint8Array): Uint8Array | undefined {
  const spi = data.subarray(0, 16)
  const kek = state.keks.find((k) => equal(k.spi, spi))
  if (kek === undefined) return undefined
  const { iv, key } = splitKekKey(kek.cipher, kek.algorithmKey)
  return cbcDecrypt(kek.cipher, key, iv, data.subarray(28))
}

function pushOutcome(state: PushMemberState, data: Uint8Array, authentic: ReadonlySet<string> | undefined): string {
  const r = mustReturn('processPush', () => processPush(state, data))
  if ('rejected' in r) return `rejected/${r.rejected.code}`
  if (authentic !== undefined) {
    // Accepted: P (the plaintext before SIG) must be one the KS signed, else a signature was forged.
    const plain = harness(() => kekOpen(state, data))
    const chain = plain === undefined ? undefined : harness(() => decodeChain(plain, 0, plain.length, data[16] ?? 0, 'gdoi'))
    const sigAt = chain?.spans[chain.payloads.findIndex((p) => p.type === PayloadType.SIG)]?.start
    invariant(plain !== undefined && sigAt !== undefined && authentic.has(hexOf(plain.subarray(0, sigAt))), 'processPush accepted a push the KS never signed')
  }
  return 'accepted'
}

export function fuzzPush(data: Uint8Array): string {
  const s = session()
  return pushOutcome(s.pushMember, data, s.authenticPushContent)
}

/** The input is everything after the cookies: random octets always arrive under the group KEK's SPI. */
export function fuzzPushKek(data: Uint8Array): string {
  const s = session()
  return pushOutcome(s.pushMember, concat(s.kek.spi, data), s.authenticPushContent)
}

const SIG_HEADER_BYTES = 4

/** Signs and encrypts P (raw octets, the last payload's Next Payload patched to SIG) as a push under `kek`. */
function signedPush(spi: Uint8Array, cipher: CbcCipherName, algorithmKey: Uint8Array, first: number, p: Uint8Array): Uint8Array {
  const s = session()
  const walk = chainEnd(p, 0, p.length, first)
  const body = p.slice(0, walk?.end ?? p.length)
  if (walk !== undefined) body[walk.lastAt] = PayloadType.SIG
  const sigLen = 128
  const sig = signPush(s.fastKek.sigHash, s.fastKek.signingKey, pushSignedBytes(spi, body, sigLen), 'rfc')
  const sigPayload = concat(Uint8Array.of(0, 0, (SIG_HEADER_BYTES + sigLen) >> 8, (SIG_HEADER_BYTES + sigLen) & 0xff), sig)
  const { iv, key } = splitKekKey(cipher, algorithmKey)
  const ciphertext = cbcEncrypt(cipher, key, iv, concat(body, sigPayload))
  const next = walk === undefined && p.length === 0 ? PayloadType.SIG : first
  return encodeEncryptedMessage(
    { icookie: spi.subarray(0, 8), rcookie: spi.subarray(8, 16), nextPayload: next, version: ISAKMP_VERSION, exchange: ExchangeType.GROUPKEY_PUSH, flags: Flags.ENCRYPTION, messageId: 0 },
    ciphertext,
  )
}

/**
 * A compromised KS: | first payload type | unused | P… | is signed with the KS key and encrypted under the
 * group KEK. Whatever P holds, processPush must return; after an acceptance, a second signed push (or,
 * when even the harness cannot encrypt under an installed KEK, random blocks) goes to every KEK held.
 */
export function fuzzPushSigned(data: Uint8Array): string {
  const s = session()
  const first = data[0] ?? 0
  const p = data.subarray(Math.min(2, data.length))
  const kek0 = s.fastPushMember.keks[0]!
  const bytes = signedPush(kek0.spi, kek0.cipher, kek0.algorithmKey, first, p)
  const r = mustReturn('processPush (signed)', () => processPush(s.fastPushMember, bytes))
  if ('rejected' in r) return `rejected/${r.rejected.code}`
  for (const k of r.state.keks) {
    const again =
      harness(() => signedPush(k.spi, k.cipher, k.algorithmKey, PayloadType.SEQ, Uint8Array.of(PayloadType.SIG, 0, 0, 8, 0, 0, 0, 9))) ??
      encodeEncryptedMessage(
        { icookie: k.spi.subarray(0, 8), rcookie: k.spi.subarray(8, 16), nextPayload: PayloadType.SEQ, version: ISAKMP_VERSION, exchange: ExchangeType.GROUPKEY_PUSH, flags: Flags.ENCRYPTION, messageId: 0 },
        new Uint8Array(48).fill(0xa5),
      )
    mustReturn('processPush after a hostile push was accepted', () => processPush(r.state, again))
  }
  return 'accepted'
}

// ---- ACK, Informational -----------------------------------------------------------------------------

export function fuzzAck(data: Uint8Array): string {
  const s = session()
  const v = mustReturn('verifyAck', () => verifyAck(data, s.ackLookup, { memory: new HashMemory(), nowMs: 0 }))
  if (!v.ok) return `rejected/${v.reason}`
  invariant(s.authenticAckSeqs.has(v.seq), `verifyAck accepted an ACK for SEQ ${v.seq} that the GM never built`)
  return 'accepted'
}

const INFO_MIDS = new Set([0x01020304, 0x0a0b0c0d])

export function fuzzInformational(data: Uint8Array): string {
  const s = session()
  mustReturn('openPlainInformational', () => openPlainInformational(data))
  const o = mustReturn('openInformational', () => openInformational(s.gmSa, data))
  invariant(!o.ok || INFO_MIDS.has(o.messageId), 'openInformational accepted an Informational nobody built')
  // openInformational maps every exception to 'malformed'; the layer below must throw DecodeError only.
  const h = decodeHeader(data)
  openMessage(s.gmSa, data, exchangeIv(s.gmSa.hash, s.gmSa.lastBlock, h.messageId, s.gmSa.cipher.blockBytes))
  return o.ok ? 'accepted' : `rejected/${o.reason}`
}

// ---- Main Mode --------------------------------------------------------------------------------------

export function fuzzMmResponder(data: Uint8Array): string {
  const s = session()
  const { awaitMm1, awaitMm3, awaitMm5 } = s.responder
  const out = [awaitMm1, awaitMm3, awaitMm5].map((st: MainModeResponder) =>
    stateLabel(mustReturn(`stepResponder(${st.s})`, () => stepResponder(st, { type: 'datagram', bytes: data }, s.ctx()))),
  )
  return out.join(',')
}

export function fuzzMmInitiator(data: Uint8Array): string {
  const s = session()
  const { awaitMm2, awaitMm4, awaitMm6 } = s.initiator
  const out = [awaitMm2, awaitMm4, awaitMm6].map((st: MainModeInitiator) =>
    stateLabel(mustReturn(`stepInitiator(${st.s})`, () => stepInitiator(st, { type: 'datagram', bytes: data }, s.ctx()))),
  )
  return out.join(',')
}

/** | first payload type | unused | MM5 plaintext |: encrypted with the responder's phase-1 keys, then MM5. */
export function fuzzMm5Sealed(data: Uint8Array): string {
  const s = session()
  const k = s.mm5Keys
  const plain = data.subarray(Math.min(2, data.length))
  const ct = harness(() => cbcEncrypt(k.cipher.name, k.encKey, k.iv, plain))
  if (ct === undefined) return 'harness-skip'
  const bytes = encodeEncryptedMessage(
    { icookie: k.icookie, rcookie: k.rcookie, nextPayload: data[0] ?? 0, version: ISAKMP_VERSION, exchange: ExchangeType.IDENTITY_PROTECTION, flags: Flags.ENCRYPTION, messageId: 0 },
    ct,
  )
  const st = s.responder.awaitMm5
  return stateLabel(mustReturn('stepResponder(awaitMm5, sealed)', () => stepResponder(st, { type: 'datagram', bytes }, s.ctx())))
}

// ---- GROUPKEY-PULL ----------------------------------------------------------------------------------

function withReplay(st: PullKeyServer): PullKeyServer {
  return { ...st, config: { ...st.config, replay: new HashMemory() } } as PullKeyServer
}

export function fuzzPullKeyServer(data: Uint8Array): string {
  const s = session()
  return [s.pullKs.init, s.pullKs.awaitPull3]
    .map((st) => stateLabel(mustReturn(`stepPullKeyServer(${st.s})`, () => stepPullKeyServer(withReplay(st), { type: 'datagram', bytes: data }, s.ctx()))))
    .join(',')
}

export function fuzzPullMember(data: Uint8Array): string {
  const s = session()
  return [s.pullMember.awaitSa, s.pullMember.awaitKd]
    .map((st: PullMember) => stateLabel(mustReturn(`stepPullMember(${st.s})`, () => stepPullMember(st, { type: 'datagram', bytes: data }, s.ctx()))))
    .join(',')
}

/** HDR*(32), HASH(n) over M-ID ‖ [Ni_b] ‖ [Nr_b] ‖ rest, rest — rest being raw fuzz octets. */
function sealedPull(sa: Phase1Sa, mid: number, iv: Uint8Array, ni: Uint8Array | undefined, nr: Uint8Array | undefined, first: number, rest: Uint8Array): Uint8Array | undefined {
  return harness(() => {
    const end = chainEnd(rest, 0, rest.length, first)?.end ?? rest.length
    const h = pullHash(sa.hash, sa.skeyidA, mid, ni, nr, rest.subarray(0, end))
    const hashPayload = concat(Uint8Array.of(first, 0, (4 + h.length) >> 8, (4 + h.length) & 0xff), h)
    const ct = cbcEncrypt(sa.cipher.name, sa.encKey, iv, concat(hashPayload, rest))
    return encodeEncryptedMessage(
      { icookie: sa.icookie, rcookie: sa.rcookie, nextPayload: PayloadType.HASH, version: ISAKMP_VERSION, exchange: ExchangeType.GROUPKEY_PULL, flags: Flags.ENCRYPTION, messageId: mid },
      ct,
    )
  })
}

/** A compromised GM: | type after HASH | selector (bit 0: PULL3, else PULL1) | payloads after HASH |. */
export function fuzzPullKeyServerSealed(data: Uint8Array): string {
  const s = session()
  const first = data[0] ?? 0
  const rest = data.subarray(Math.min(2, data.length))
  const pull3 = ((data[1] ?? 0) & 1) === 1
  const st = pull3 ? s.pullKs.awaitPull3 : s.pullKs.init
  const gm = s.gmSa
  const bytes =
    st.s === 'awaitPull3'
      ? sealedPull(gm, st.mid, st.ivIn, st.ni, st.nr, first, rest)
      : (() => {
          const mid = decodeHeader(sessionMessage('PULL1').bytes).messageId
          return sealedPull(gm, mid, exchangeIv(gm.hash, gm.lastBlock, mid, gm.cipher.blockBytes), undefined, undefined, first, rest)
        })()
  if (bytes === undefined) return 'harness-skip'
  return stateLabel(mustReturn(`stepPullKeyServer(${st.s}, sealed)`, () => stepPullKeyServer(withReplay(st), { type: 'datagram', bytes }, s.ctx())))
}

/** A compromised KS: | type after HASH | selector (bit 0: PULL4, else PULL2) | payloads after HASH |. */
export function fuzzPullMemberSealed(data: Uint8Array): string {
  const s = session()
  const first = data[0] ?? 0
  const rest = data.subarray(Math.min(2, data.length))
  const st = ((data[1] ?? 0) & 1) === 1 ? s.pullMember.awaitKd : s.pullMember.awaitSa
  if (st.s !== 'awaitSa' && st.s !== 'awaitKd') throw new Error('session PULL member state')
  const bytes = sealedPull(s.ksSa, st.mid, st.ivIn, st.ni, st.s === 'awaitKd' ? st.nr : undefined, first, rest)
  if (bytes === undefined) return 'harness-skip'
  return stateLabel(mustReturn(`stepPullMember(${st.s}, sealed)`, () => stepPullMember(st, { type: 'datagram', bytes }, s.ctx())))
}
