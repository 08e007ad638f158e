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
// The targets live in targets-codec.ts and targets-exchange.ts, their shared helpers in finding.ts; this
// file is the registry (layout, seeds, share of the long run).
import { KdType, PayloadType } from '../src/constants.js'
import { decodeChain, encodeChain } from '../src/message.js'
import { afterHashInput, captureSeeds, chainInput, chainSeeds, datagramSeeds, espSeeds, sessionMessage } from './corpus.js'
import { fuzzChain, fuzzDatagram, fuzzEsp, fuzzPcap, fuzzPolicy } from './targets-codec.js'
import {
  fuzzAck,
  fuzzInformational,
  fuzzMm5Sealed,
  fuzzMmInitiator,
  fuzzMmResponder,
  fuzzPullKeyServer,
  fuzzPullKeyServerSealed,
  fuzzPullMember,
  fuzzPullMemberSealed,
  fuzzPush,
  fuzzPushKek,
  fuzzPushSigned,
} from './targets-exchange.js'
import { chainEnd, type Layout } from './structure.js'

export { bugKind, FuzzFinding } from './finding.js'
export * from './targets-codec.js'
export * from './targets-exchange.js'

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
