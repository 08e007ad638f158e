// Fuzz targets: pure functions of one input that may throw DecodeError (the input was rejected by the
// codec) and nothing else. Any other exception — including FuzzFinding, which a target throws when a
// receive path that must never throw did throw, or when an invariant broke (a forged push or ACK was
// accepted, a decoded chain does not re-encode) — is a bug. STYLE.md "Codecs and errors", spec §2.19,
// §6.5 (CVE-2023-20109: parser bugs in GDOI attribute processing).
//
//   datagram               decodeMessage; an encrypted body is also walked as if it were plaintext
//   chain                  decodeChain for any first payload type and both SA kinds, rules, re-encoding
//   policy                 decoded GDOI chains interpreted as a GM does (SA → policy, KD → keys, checks)
//   push / push-kek        processPush with the group KEK installed (push-kek: input = octets after the KEK cookies)
//   push-signed            hostile plaintext signed and encrypted by the real KS key (a compromised KS), then
//                          a follow-up push under every KEK the result installed
//   ack                    verifyAck (RFC 8263) with the KEK's ACK key
//   informational          openPlainInformational, openInformational and the openMessage underneath
//   mm-responder/initiator Main Mode step functions in every waiting state
//   mm5-sealed             hostile MM5 plaintext encrypted with the responder's phase-1 keys
//   pull-keyserver/member  GROUPKEY-PULL step functions in every waiting state
//   pull-*-sealed          hostile PULL plaintext with a correct HASH(n), encrypted (a compromised GM / KS)
//   pcap                   readCapture (CaptureError allowed) then decodeCapture with keys (must not throw)
//   esp                    openEsp for GCM, CBC+HMAC, 3DES+MD5 and CTR SAs
import { ExchangeType, Flags, ISAKMP_VERSION, KdType, PayloadType } from '../src/constants.js'
import { DecodeError } from '../src/errors.js'
import { decodeHeader } from '../src/header.js'
import { checkRules, Rules, type MessageRule } from '../src/rules.js'
import { decodeChain, decodeMessage, encodeChain, encodeEncryptedMessage, saKindFor } from '../src/message.js'
import { cbcDecrypt, cbcEncrypt } from '../src/crypto/cbc.js'
import type { CbcCipherName } from '../src/crypto/algorithms.js'
import { exchangeIv } from '../src/crypto/iv-chain.js'
import { informationalHash, pullHash } from '../src/crypto/hash-payloads.js'
import { pushSignedBytes, signPush, splitKekKey } from '../src/crypto/push.js'
import {
  checkKeysForPolicy,
  choosePhase1Transform,
  HashMemory,
  idPayloadToGroupId,
  kekCipherName,
  keyDownloadToKeys,
  openInformational,
  openMessage,
  openPlainInformational,
  parsePhase1Transform,
  processPush,
  saPayloadToPolicy,
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
import { openEsp } from '../src/esp/esp.js'
import { CaptureError } from '../src/pcap/capture-error.js'
import { decodeCapture } from '../src/pcap/decode-capture.js'
import { formatJsonLines } from '../src/pcap/format-json.js'
import { formatText } from '../src/pcap/format-text.js'
import { parseKeyFile } from '../src/pcap/key-file.js'
import { readCapture } from '../src/pcap/read-capture.js'
import type { Payload } from '../src/payloads/types.js'
import { afterHashInput, captureSeeds, chainInput, chainSeeds, datagramSeeds, ESP_SAS, espSeeds, sessionMessage } from './corpus.js'
import { LAB, session } from './session.js'
import { chainEnd, type Layout } from './structure.js'

/** A receive path broke its contract (threw, or accepted what it must not). Always a bug. */
export class FuzzFinding extends Error {
  override name = 'FuzzFinding'
  /** The constructor name of what the code under test threw, or 'invariant'. */
  readonly kind: string
  constructor(kind: string, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.kind = kind
  }
}

export interface FuzzTarget {
  readonly name: string
  readonly layout: Layout
  /** Runs one input; returns an outcome label (statistics). Throws DecodeError when the codec rejected the input. */
  readonly run: (data: Uint8Array) => string
  /** Seed inputs (built lazily; deterministic). */
  readonly seeds: () => Uint8Array[]
  /** Relative share of the long run (expensive targets get less). */
  readonly weight: number
}

// ---- helpers ----------------------------------------------------------------------------------------

/** Calls a function that must not throw at all; anything thrown becomes a FuzzFinding. */
function mustReturn<T>(what: string, fn: () => T): T {
  try {
    return fn()
  } catch (e) {
    const kind = e instanceof Error ? e.constructor.name : typeof e
    throw new FuzzFinding(kind, `${what} threw ${kind}: ${e instanceof Error ? e.message : String(e)}`, e)
  }
}

/** Harness-side work (building a sealed input); undefined when the harness cannot build it. */
function harness<T>(fn: () => T): T | undefined {
  try {
    return fn()
  } catch {
    return undefined
  }
}

function invariant(ok: boolean, message: string): void {
  if (!ok) throw new FuzzFinding('invariant', message)
}

const RULES_BY_EXCHANGE: Readonly<Record<number, readonly MessageRule[]>> = {
  [ExchangeType.IDENTITY_PROTECTION]: [Rules.MM1, Rules.MM2, Rules.MM3, Rules.MM4, Rules.MM5, Rules.MM6],
  [ExchangeType.INFORMATIONAL]: [Rules.INFORMATIONAL],
  [ExchangeType.GROUPKEY_PULL]: [Rules.PULL1, Rules.PULL2, Rules.PULL3, Rules.PULL4],
  [ExchangeType.GROUPKEY_PUSH]: [Rules.PUSH],
  [ExchangeType.GROUPKEY_PUSH_ACK]: [Rules.ACK],
}
const ALL_RULES: readonly MessageRule[] = Object.values(Rules)

/**
 * The one message rule a receiver would check (receivers know which message they expect): one of the
 * exchange's rules picked by `which`; any rule for other exchanges. Passes or throws DecodeError.
 */
function oneRule(exchange: number | undefined, which: number, chain: Parameters<typeof checkRules>[1]): string {
  const rules = (exchange === undefined ? undefined : RULES_BY_EXCHANGE[exchange]) ?? ALL_RULES
  const rule = rules[which % rules.length] ?? Rules.MM1
  checkRules(rule, chain)
  return rule.name
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex')

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

function stateLabel(step: readonly [{ readonly s: string }, readonly { readonly type: string }[]]): string {
  const [st, actions] = step
  invariant(typeof st.s === 'string' && Array.isArray(actions), 'step did not return [state, actions]')
  return st.s
}

// ---- codec targets ----------------------------------------------------------------------------------

/** decodeMessage on a datagram; an encrypted body is also decoded as if it were the plaintext. */
export function fuzzDatagram(data: Uint8Array): string {
  const m = decodeMessage(data)
  if (m.chain !== undefined) return `chain/${oneRule(m.header.exchange, m.header.messageId, m.chain)}`
  const ct = m.ciphertext ?? new Uint8Array(0)
  decodeChain(ct, 0, ct.length, m.header.nextPayload, saKindFor(m.header.exchange))
  return 'ciphertext-as-chain'
}

/**
 * | first payload type | selector (bit 0: SA kind gdoi; the rest picks a message rule) | chain |: decode,
 * re-encode byte for byte, then one message rule.
 */
export function fuzzChain(data: Uint8Array): string {
  const first = data[0] ?? 0
  const sel = data[1] ?? 0
  const kind = (sel & 1) === 1 ? 'gdoi' : 'ike'
  const c = decodeChain(data, Math.min(2, data.length), data.length, first, kind)
  const again = mustReturn('encodeChain of a decoded chain', () => encodeChain(c.payloads))
  invariant(equal(again, data.subarray(2, c.end)), `decoded ${kind} chain re-encodes differently: ${hexOf(data.subarray(2, c.end))} → ${hexOf(again)}`)
  return `ok/${kind}/${oneRule(undefined, sel >> 1, c)}`
}

/** A decoded GDOI chain interpreted as a GM interprets PULL2/PULL4/push contents, plus phase-1 SA offers. */
export function fuzzPolicy(data: Uint8Array): string {
  const c = decodeChain(data, Math.min(2, data.length), data.length, data[0] ?? 0, ((data[1] ?? 0) & 1) === 1 ? 'gdoi' : 'ike')
  let label = 'no-policy'
  const policies = []
  const keys = []
  for (const p of c.payloads as Payload[]) {
    if ('unknown' in p) continue
    if (p.type === PayloadType.SA && p.kind === 'gdoi') {
      const strict = mustReturn('saPayloadToPolicy (strict)', () => saPayloadToPolicy(p, { strict: true }))
      const r = mustReturn('saPayloadToPolicy', () => saPayloadToPolicy(p))
      invariant(!strict.ok || r.ok, 'strict policy accepted what the lenient one refused')
      if (r.ok) {
        policies.push(r.value)
        if (r.value.kek !== undefined) {
          const k = r.value.kek
          mustReturn('kekCipherName of an accepted SAK', () => kekCipherName(k))
        }
        label = 'policy'
      }
    } else if (p.type === PayloadType.SA && p.kind === 'ike') {
      for (const pr of p.proposals) for (const t of pr.transforms) mustReturn('parsePhase1Transform', () => parsePhase1Transform(t))
      mustReturn('choosePhase1Transform', () => choosePhase1Transform(p, [LAB, { ...LAB, encryption: '3des', hash: 'md5', group: 2 }], () => true))
    } else if (p.type === PayloadType.KEY_DOWNLOAD) {
      const k = mustReturn('keyDownloadToKeys', () => keyDownloadToKeys(p))
      if (k.ok) keys.push(k.value)
    } else if (p.type === PayloadType.ID) {
      mustReturn('idPayloadToGroupId', () => idPayloadToGroupId(p))
    }
  }
  for (const pol of policies) {
    for (const k of keys) {
      mustReturn('checkKeysForPolicy', () => checkKeysForPolicy(pol, k, { requireSigningKey: true }))
      if (mustReturn('checkKeysForPolicy', () => checkKeysForPolicy(pol, k)) === undefined) label = 'policy+keys'
    }
  }
  return label
}

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

// ---- captures, ESP ----------------------------------------------------------------------------------

let captureKeys: ReturnType<typeof parseKeyFile> | undefined
function keysForCaptures(): ReturnType<typeof parseKeyFile> {
  const s = session()
  const line = `IKEV1 ${hexOf(s.gmSa.icookie)} ${hexOf(s.gmSa.rcookie)} ENC=aes-256-cbc KEY=${hexOf(s.gmSa.encKey)} HASH=sha1 SKEYID_A=${hexOf(s.gmSa.skeyidA)}`
  captureKeys ??= parseKeyFile(`${line}\n`)
  return captureKeys
}

export function fuzzPcap(data: Uint8Array): string {
  let packets
  try {
    packets = readCapture(data)
  } catch (e) {
    if (e instanceof CaptureError) return `capture-error/${e.code}`
    throw new FuzzFinding(e instanceof Error ? e.constructor.name : typeof e, `readCapture threw ${String(e)}`, e)
  }
  const records = mustReturn('decodeCapture', () => decodeCapture(packets, keysForCaptures()))
  mustReturn('formatText', () => formatText(records))
  mustReturn('formatJsonLines', () => formatJsonLines(records))
  return records.length > 0 ? 'records' : 'no-records'
}

export function fuzzEsp(data: Uint8Array): string {
  return ESP_SAS.map((p) => {
    const r = mustReturn('openEsp', () => openEsp(p, data))
    return r.ok ? 'ok' : r.reason
  }).join(',')
}

// ---- registry ---------------------------------------------------------------------------------------

const DATAGRAM: Layout = { kind: 'datagram', headerAt: 0 }
const CHAIN_IKE: Layout = { kind: 'chain', start: 2, firstAt: 0, saKind: 'ike' }
const CHAIN_GDOI: Layout = { kind: 'chain', start: 2, firstAt: 0, saKind: 'gdoi' }
const OPAQUE: Layout = { kind: 'opaque' }

const named = (...names: string[]) => () => names.map((n) => sessionMessage(n).bytes)
const pushPlainInput = (name: string): Uint8Array => {
  const p = sessionMessage(name).plaintext!
  const end = chainEnd(p, 0, p.length, PayloadType.SEQ)
  // P without the SIG payload (its predecessor still names SIG, the target patches that anyway).
  const sigAt = (() => {
    let at = 0
    let type: number = PayloadType.SEQ
    while (type !== PayloadType.SIG && at + 4 <= (end?.end ?? 0)) {
      type = p[at] ?? 0
      at += ((p[at + 2] ?? 0) << 8) | (p[at + 3] ?? 0)
    }
    return at
  })()
  return chainInput(PayloadType.SEQ, 1, p.subarray(0, sigAt))
}

/**
 * P of a push that re-sends the registration's whole policy (PULL2's SA: SAK for the current KEK + SATs)
 * and keys (PULL4's KD), with and without the KEK key packet (a re-sent SAK may come without one).
 */
function fullPolicyPushInputs(): Uint8Array[] {
  const open = (name: string) => {
    const p = sessionMessage(name).plaintext!
    return decodeChain(p, 0, p.length, PayloadType.HASH, 'gdoi').payloads
  }
  const sa = open('PULL2').find((x) => x.type === PayloadType.SA)
  const kd = open('PULL4').find((x) => x.type === PayloadType.KEY_DOWNLOAD)
  if (sa === undefined || kd === undefined || !('packets' in kd)) return []
  const teksOnly = { ...kd, packets: kd.packets.filter((k) => k.kdType === KdType.TEK) }
  const withKek = { ...kd, packets: kd.packets.filter((k) => k.kdType !== KdType.SID) }
  return [withKek, teksOnly].map((k) => chainInput(PayloadType.SEQ, 1, encodeChain([{ type: PayloadType.SEQ, seq: 7 }, sa, k])))
}

export const TARGETS: readonly FuzzTarget[] = [
  { name: 'datagram', layout: DATAGRAM, run: fuzzDatagram, seeds: datagramSeeds, weight: 4 },
  { name: 'chain', layout: CHAIN_GDOI, run: fuzzChain, seeds: () => chainSeeds(), weight: 4 },
  { name: 'policy', layout: CHAIN_GDOI, run: fuzzPolicy, seeds: () => chainSeeds(), weight: 2 },
  { name: 'push', layout: DATAGRAM, run: fuzzPush, seeds: named('PUSH1', 'PUSH2', 'PUSH3', 'ACK1'), weight: 1 },
  { name: 'push-kek', layout: { kind: 'datagram', headerAt: -16 }, run: fuzzPushKek, seeds: () => named('PUSH1', 'PUSH2', 'PUSH3')().map((b) => b.subarray(16)), weight: 1 },
  { name: 'push-signed', layout: CHAIN_GDOI, run: fuzzPushSigned, seeds: () => [...['PUSH1', 'PUSH2', 'PUSH3'].map(pushPlainInput), ...fullPolicyPushInputs()], weight: 0.25 },
  { name: 'ack', layout: DATAGRAM, run: fuzzAck, seeds: named('ACK1', 'ACK2', 'ACK3'), weight: 1 },
  { name: 'informational', layout: DATAGRAM, run: fuzzInformational, seeds: named('INFO-N', 'INFO-D', 'MM1'), weight: 1 },
  { name: 'mm-responder', layout: DATAGRAM, run: fuzzMmResponder, seeds: named('MM1', 'MM3', 'MM5', 'INFO-N'), weight: 1 },
  { name: 'mm-initiator', layout: DATAGRAM, run: fuzzMmInitiator, seeds: named('MM2', 'MM4', 'MM6'), weight: 1 },
  { name: 'mm5-sealed', layout: CHAIN_IKE, run: fuzzMm5Sealed, seeds: () => [chainInput(PayloadType.ID, 0, sessionMessage('MM5').plaintext!), ...chainSeeds((v) => v.first === PayloadType.ID)], weight: 1 },
  { name: 'pull-keyserver', layout: DATAGRAM, run: fuzzPullKeyServer, seeds: named('PULL1', 'PULL3'), weight: 1 },
  { name: 'pull-keyserver-sealed', layout: CHAIN_GDOI, run: fuzzPullKeyServerSealed, seeds: () => [afterHashInput('PULL1', 0), afterHashInput('PULL3', 1)], weight: 1 },
  { name: 'pull-member', layout: DATAGRAM, run: fuzzPullMember, seeds: named('PULL2', 'PULL4', 'INFO-N'), weight: 1 },
  { name: 'pull-member-sealed', layout: CHAIN_GDOI, run: fuzzPullMemberSealed, seeds: () => [afterHashInput('PULL2', 0), afterHashInput('PULL4', 1)], weight: 1 },
  { name: 'pcap', layout: OPAQUE, run: fuzzPcap, seeds: captureSeeds, weight: 0.5 },
  { name: 'esp', layout: OPAQUE, run: fuzzEsp, seeds: espSeeds, weight: 1 },
]

export function target(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name)
  if (t === undefined) throw new Error(`no fuzz target ${name} (have: ${TARGETS.map((x) => x.name).join(', ')})`)
  return t
}

/** The targets as the plain `(data) => void` functions a fuzzing engine calls (DecodeError = rejected input). */
export const targetFns: Readonly<Record<string, (data: Uint8Array) => void>> = Object.fromEntries(
  TARGETS.map((t) => [t.name, (data: Uint8Array): void => void t.run(data)]),
)

/** Classifies what a target threw: undefined for an allowed rejection, else the bug's kind. */
export function bugKind(e: unknown): string | undefined {
  if (e instanceof DecodeError) return undefined
  if (e instanceof FuzzFinding) return e.kind === 'invariant' ? 'invariant' : `escaped ${e.kind}`
  return e instanceof Error ? e.constructor.name : typeof e
}
