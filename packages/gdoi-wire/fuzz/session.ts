// One in-memory registration driven by our own exchanges (as test/exchange/registration.test.ts does):
// Main Mode (PSK, AES-256, SHA-1, MODP-1536) → GROUPKEY-PULL → three GROUPKEY-PUSHes (TEK rollover,
// delete, KEK rollover) → RFC 8263 ACK → an Informational. It supplies the fuzzers with
//   - datagrams and decrypted plaintexts of every message (corpus seeds), and
//   - the intermediate states of every receiving role (states are immutable values, so one state can be
//     fed any number of hostile datagrams without replaying the exchange up to it).
// Deterministic: rng and clock come from exchange-helpers' testCtx; built once, lazily.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { ExchangeType, NotifyType, PayloadType } from '../src/constants.js'
import { splitKekKey } from '../src/crypto/push.js'
import { exchangeIv } from '../src/crypto/iv-chain.js'
import { decodeHeader } from '../src/header.js'
import {
  buildAck,
  buildInformational,
  buildPush,
  createInitiator,
  createResponder,
  deletePhase1Payload,
  EMPTY_PUSH_MEMBER_STATE,
  initPullKeyServer,
  initPullMember,
  installKekFromPull,
  notifyPayload,
  openMessage,
  processPush,
  stepInitiator,
  stepPullKeyServer,
  stepPullMember,
  stepResponder,
  type AckKek,
  type ExchangeCtx,
  type GroupKeys,
  type GroupPolicy,
  type MainModeInitiator,
  type MainModeResponder,
  type Phase1Proposal,
  type Phase1Sa,
  type PullKeyServer,
  type PullKeyServerConfig,
  type PullMember,
  type PushMemberState,
  type TekPolicy,
} from '../src/exchange/index.js'
import type { Phase1Keys } from '../src/exchange/main-mode-shared.js'
import { idIpv4, onlySent, testCtx, toHex } from '../test/exchange/exchange-helpers.js'
import { KS_SIGNING_KEY_PEM } from '../test/exchange/test-keys.js'

export const PSK = new TextEncoder().encode('MYISAKMPKEY')
export const LAB: Phase1Proposal = { encryption: 'aes256', hash: 'sha1', auth: 'psk', group: 5, lifetimeSec: 86400 }
export const KS_ADDRESS = '192.0.2.1'
export const GM_ADDRESS = '192.0.2.10'
const GROUP_ID = 1234

/** A datagram of the session, named after its message, with its plaintext when it is encrypted. */
export interface SessionMessage {
  readonly name: string
  readonly bytes: Uint8Array
  /** Decrypted payload chain (plus zero padding) for encrypted messages. */
  readonly plaintext?: Uint8Array
}

export interface FuzzKek {
  readonly spi: Uint8Array
  readonly cipher: 'aes-256-cbc'
  readonly algorithmKey: Uint8Array
  readonly signingKey: KeyObject
  readonly sigHash: 'sha256'
}

export interface Session {
  readonly messages: readonly SessionMessage[]
  readonly gmSa: Phase1Sa
  readonly ksSa: Phase1Sa
  /** Main Mode responder (KS) waiting for MM1, MM3, MM5. */
  readonly responder: { readonly awaitMm1: MainModeResponder; readonly awaitMm3: MainModeResponder; readonly awaitMm5: MainModeResponder }
  /** MM5 keys of the responder (to seal hostile MM5 plaintexts). */
  readonly mm5Keys: Phase1Keys
  /** Main Mode initiator (GM) waiting for MM2, MM4, MM6. */
  readonly initiator: { readonly awaitMm2: MainModeInitiator; readonly awaitMm4: MainModeInitiator; readonly awaitMm6: MainModeInitiator }
  /** PULL keyserver: before PULL1 and waiting for PULL3 (config without a shared replay memory). */
  readonly pullKs: { readonly init: PullKeyServer; readonly awaitPull3: PullKeyServer; readonly config: PullKeyServerConfig }
  /** PULL member waiting for PULL2 and PULL4. */
  readonly pullMember: { readonly awaitSa: PullMember; readonly awaitKd: PullMember }
  /** The GM's push state after registration: the group KEK installed, lastSeq 0. */
  readonly pushMember: PushMemberState
  /** The same KEK but with a fast 1024-bit signing key (hostile-but-signed push target). */
  readonly fastPushMember: PushMemberState
  readonly kek: FuzzKek
  readonly fastKek: FuzzKek
  /** Hex of P (plaintext before SIG) of every push the KS really signed: anything else accepted is a forgery. */
  readonly authenticPushContent: ReadonlySet<string>
  readonly ackLookup: (spi: Uint8Array) => AckKek | undefined
  /** SEQ values of the ACKs the GM really built. */
  readonly authenticAckSeqs: ReadonlySet<number>
  /** A deterministic context; a fresh one per fuzz input keeps every run reproducible from its input. */
  readonly ctx: () => ExchangeCtx
}

const tek = (spi: number, cipher: 'aes-gcm-16' | 'aes-cbc'): TekPolicy => ({
  spi,
  selector: {
    protocol: 0,
    src: { address: { kind: 'prefix', address: '10.0.0.0', prefixLength: 8 }, port: 0 },
    dst: { address: { kind: 'prefix', address: '10.0.0.0', prefixLength: 8 }, port: 0 },
  },
  transform: cipher === 'aes-gcm-16' ? { cipher, keyBits: 256 } : { cipher, keyBits: 128, integrity: 'sha256' },
  lifetimeSec: 3600,
  encapsulation: 'tunnel',
})
const tekKey = (spi: number, cipher: 'aes-gcm-16' | 'aes-cbc') =>
  cipher === 'aes-gcm-16' ? { spi, encKey: new Uint8Array(36).fill(spi & 0xff) } : { spi, encKey: new Uint8Array(16).fill(spi & 0xff), authKey: new Uint8Array(32).fill(0x5a) }

function spkiOf(k: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(k).export({ type: 'spki', format: 'der' }))
}

function build(): Session {
  const messages: SessionMessage[] = []
  const signingKey = createPrivateKey(KS_SIGNING_KEY_PEM)
  const kekSpi = Uint8Array.from({ length: 16 }, (_, i) => 0x30 + i)
  const kekAlgKey = Uint8Array.from({ length: 48 }, (_, i) => i)
  const kek: FuzzKek = { spi: kekSpi, cipher: 'aes-256-cbc', algorithmKey: kekAlgKey, signingKey, sigHash: 'sha256' }
  const kekKeys = { spi: kekSpi, algorithmKey: kekAlgKey, signingPublicKey: spkiOf(signingKey) }
  const transport = { protocol: 17, src: { address: KS_ADDRESS, port: 848 }, dst: { address: '239.192.0.1', port: 848 } }
  const policy: GroupPolicy = {
    kek: { spi: kekSpi, algorithm: 'aes', keyBits: 256, lifetimeSec: 86400, sigHash: 'sha256', sigAlgorithm: 'rsa', sigKeyBits: 2048, transport, ackRequested: 1 },
    teks: [tek(0x1001, 'aes-gcm-16'), tek(0x2001, 'aes-cbc')],
  }
  const keys: GroupKeys = { kek: kekKeys, teks: [tekKey(0x1001, 'aes-gcm-16'), tekKey(0x2001, 'aes-cbc')] }

  // ---- Main Mode: GM initiator, KS responder ----
  const ksCtx = testCtx([], 'fuzz-ks')
  const gmCtx = testCtx([], 'fuzz-gm')
  const rcfg = { proposals: [LAB], pskFor: () => PSK, localId: idIpv4(KS_ADDRESS) }
  const awaitMm1 = createResponder(rcfg, GM_ADDRESS)
  let init = createInitiator({ proposals: [LAB], psk: PSK, localId: idIpv4(GM_ADDRESS) })
  let a
  ;[init, a] = stepInitiator(init, { type: 'start' }, gmCtx)
  const mm1 = onlySent(a) //                                                       MM1 HDR, SA -->
  const awaitMm2 = init
  const [awaitMm3, b1] = stepResponder(awaitMm1, { type: 'datagram', bytes: mm1 }, ksCtx)
  const mm2 = onlySent(b1) //                                                      MM2 HDR, SA <--
  ;[init, a] = stepInitiator(init, { type: 'datagram', bytes: mm2 }, gmCtx)
  const awaitMm4 = init
  const mm3 = onlySent(a) //                                                       MM3 HDR, KE, Ni -->
  const [awaitMm5, b2] = stepResponder(awaitMm3, { type: 'datagram', bytes: mm3 }, ksCtx)
  const mm4 = onlySent(b2) //                                                      MM4 HDR, KE, Nr <--
  ;[init, a] = stepInitiator(init, { type: 'datagram', bytes: mm4 }, gmCtx)
  const awaitMm6 = init
  const mm5 = onlySent(a) //                                                       MM5 HDR*, IDii, HASH_I -->
  const [ksDone, b3] = stepResponder(awaitMm5, { type: 'datagram', bytes: mm5 }, ksCtx)
  const mm6 = onlySent(b3) //                                                      MM6 HDR*, IDir, HASH_R <--
  ;[init] = stepInitiator(init, { type: 'datagram', bytes: mm6 }, gmCtx)
  if (init.s !== 'done' || ksDone.s !== 'done' || awaitMm5.s !== 'awaitMm5') throw new Error(`fuzz session: Main Mode ended in ${init.s}/${ksDone.s}`)
  const gmSa = init.sa
  const ksSa = ksDone.sa
  const mm5Keys = awaitMm5.keys
  const mm5Opened = openMessage(mm5Keys, mm5, mm5Keys.iv)
  const mm6Opened = openMessage(mm5Keys, mm6, mm5Opened.lastBlock)
  messages.push(
    { name: 'MM1', bytes: mm1 },
    { name: 'MM2', bytes: mm2 },
    { name: 'MM3', bytes: mm3 },
    { name: 'MM4', bytes: mm4 },
    { name: 'MM5', bytes: mm5, plaintext: mm5Opened.plaintext },
    { name: 'MM6', bytes: mm6, plaintext: mm6Opened.plaintext },
  )

  // ---- GROUPKEY-PULL ----
  let sid = 0
  const config: PullKeyServerConfig = {
    sa: ksSa,
    groups: {
      lookup: (id) => (toHex(id.data) === GROUP_ID.toString(16).padStart(8, '0') ? { ok: true, policyNow: policy, keysNow: keys, seq: 0 } : { ok: false, error: 'unknown-group' }),
      allocateSids: (_p, count) => ({ bits: 16, values: Array.from({ length: count }, () => ++sid) }),
    },
  }
  let gm = initPullMember({ sa: gmSa, groupId: { kind: 'number', value: GROUP_ID }, senderIdRequest: 2 })
  const ksInit = initPullKeyServer(config)
  ;[gm, a] = stepPullMember(gm, { type: 'start' }, gmCtx)
  const pull1 = onlySent(a) //                                                     PULL1 HASH(1), Ni, ID -->
  const awaitSa = gm
  const [awaitPull3, c1] = stepPullKeyServer(ksInit, { type: 'datagram', bytes: pull1 }, ksCtx)
  const pull2 = onlySent(c1) //                                                    PULL2 HASH(2), Nr, SA <--
  ;[gm, a] = stepPullMember(gm, { type: 'datagram', bytes: pull2 }, gmCtx)
  const awaitKd = gm
  const pull3 = onlySent(a) //                                                     PULL3 HASH(3), GAP -->
  const [ksPullDone, c2] = stepPullKeyServer(awaitPull3, { type: 'datagram', bytes: pull3 }, ksCtx)
  const pull4 = onlySent(c2) //                                                    PULL4 HASH(4), SEQ, KD <--
  ;[gm] = stepPullMember(gm, { type: 'datagram', bytes: pull4 }, gmCtx)
  if (gm.s !== 'done' || ksPullDone.s !== 'done') throw new Error(`fuzz session: PULL ended in ${gm.s}/${ksPullDone.s}`)
  const mid = decodeHeader(pull1).messageId
  const iv1 = exchangeIv(ksSa.hash, ksSa.lastBlock, mid, ksSa.cipher.blockBytes)
  const opened: Uint8Array[] = []
  let iv = iv1
  for (const m of [pull1, pull2, pull3, pull4]) {
    const o = openMessage(ksSa, m, iv)
    opened.push(o.plaintext)
    iv = o.lastBlock
  }
  ;['PULL1', 'PULL2', 'PULL3', 'PULL4'].forEach((name, i) => messages.push({ name, bytes: [pull1, pull2, pull3, pull4][i]!, plaintext: opened[i]! }))
  const pushMember = installKekFromPull(EMPTY_PUSH_MEMBER_STATE, gm.result)

  // ---- GROUPKEY-PUSH: TEK rollover (SEQ 1), TEK delete (SEQ 2), KEK rollover (SEQ 3) ----
  const current = { spi: kekSpi, cipher: kek.cipher, algorithmKey: kekAlgKey }
  const newKekSpi = Uint8Array.from({ length: 16 }, (_, i) => 0x60 + i)
  const newKekKeys = { spi: newKekSpi, algorithmKey: Uint8Array.from({ length: 48 }, (_, i) => 0xa0 + i), signingPublicKey: kekKeys.signingPublicKey }
  const pushes = [
    buildPush({ kek: current, seq: 1, policy: { teks: [tek(0x1002, 'aes-gcm-16')] }, keys: { teks: [tekKey(0x1002, 'aes-gcm-16')] }, signingKey, sigHash: 'sha256' }),
    buildPush({ kek: current, seq: 2, deletes: [{ kind: 'tek', spis: [0x1001] }], signingKey, sigHash: 'sha256', sigForm: 'bare' }),
    buildPush({
      kek: current,
      seq: 3,
      policy: { kek: { ...policy.kek!, spi: newKekSpi }, teks: [tek(0x1003, 'aes-cbc')] },
      keys: { kek: newKekKeys, teks: [tekKey(0x1003, 'aes-cbc')] },
      signingKey,
      sigHash: 'sha256',
      idLengthWidth: 2,
    }),
  ]
  const { iv: kekIv, key: kekKey } = splitKekKey(kek.cipher, kekAlgKey)
  const authentic = new Set<string>()
  let member = pushMember
  const ackSeqs = new Set<number>()
  pushes.forEach((p, i) => {
    const o = openMessage({ icookie: p.subarray(0, 8), rcookie: p.subarray(8, 16), cipher: { name: kek.cipher, keyBytes: 32, blockBytes: 16 }, encKey: kekKey }, p, kekIv)
    const sigSpan = o.chain.spans[o.chain.payloads.findIndex((x) => x.type === PayloadType.SIG)]!
    authentic.add(toHex(o.plaintext.subarray(0, sigSpan.start)))
    messages.push({ name: `PUSH${i + 1}`, bytes: p, plaintext: o.plaintext })
    const r = processPush(member, p)
    if (!('accepted' in r)) throw new Error(`fuzz session: push ${i + 1} rejected: ${JSON.stringify(r.rejected)}`)
    member = r.state
    if (r.accepted.ack !== undefined) {
      const ack = buildAck({ kekSpi: r.accepted.kekSpi, ackRequested: r.accepted.ack.ackRequested, baseKey: r.accepted.ack.baseKey, seq: r.accepted.seq, member: GM_ADDRESS })
      ackSeqs.add(r.accepted.seq)
      messages.push({ name: `ACK${i + 1}`, bytes: ack })
    }
  })

  // ---- Informational under phase 1, both directions ----
  messages.push(
    { name: 'INFO-N', bytes: buildInformational(ksSa, 0x01020304, [notifyPayload(NotifyType.INVALID_ID_INFORMATION)]) },
    { name: 'INFO-D', bytes: buildInformational(gmSa, 0x0a0b0c0d, [deletePhase1Payload(gmSa)]) },
  )
  for (const m of messages.slice(-2)) {
    const o = openMessage(ksSa, m.bytes, exchangeIv(ksSa.hash, ksSa.lastBlock, decodeHeader(m.bytes).messageId, ksSa.cipher.blockBytes))
    ;(messages as SessionMessage[])[messages.indexOf(m)] = { ...m, plaintext: o.plaintext }
  }

  // A 1024-bit signing key makes the signed-push target ~5× cheaper per input (only it uses this).
  const fast = generateKeyPairSync('rsa', { modulusLength: 1024, publicExponent: 0x10001 }).privateKey
  const fastKek: FuzzKek = { ...kek, signingKey: fast }
  const fastPushMember: PushMemberState = { ...pushMember, keks: pushMember.keks.map((k) => ({ ...k, publicKey: spkiOf(fast) })) }

  return {
    messages,
    gmSa,
    ksSa,
    responder: { awaitMm1, awaitMm3, awaitMm5 },
    mm5Keys,
    initiator: { awaitMm2, awaitMm4, awaitMm6 },
    pullKs: { init: ksInit, awaitPull3, config },
    pullMember: { awaitSa, awaitKd },
    pushMember,
    fastPushMember,
    kek,
    fastKek,
    authenticPushContent: authentic,
    ackLookup: (spi) => (toHex(spi) === toHex(kekSpi) ? { ackRequested: 1, baseKey: kekKey } : undefined),
    authenticAckSeqs: ackSeqs,
    ctx: () => testCtx([], 'fuzz-input'),
  }
}

let cached: Session | undefined
/** The session, built on first use (~100 ms: two MODP-1536 DH, three RSA signatures, one RSA key pair). */
export function session(): Session {
  cached ??= build()
  return cached
}

/** Exchange type of a session message (for its plaintext's SA kind). */
export function exchangeOf(m: SessionMessage): number {
  return m.bytes[18] ?? ExchangeType.INFORMATIONAL
}
