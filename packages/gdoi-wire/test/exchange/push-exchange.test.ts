// GROUPKEY-PUSH between our KS (buildPush) and GM (processPush), after a real in-memory PULL: TEK
// rollover (SEQ 1, 2), replay, forged signature, KEK rollover (SEQ restarts at 1 under the new KEK),
// a push under the retired KEK, delete-only pushes, both signature forms, the chained-IV fallback,
// the stale-PULL4-SEQ rule, and RFC 8263 ACKs built by the GM and verified by the KS.
import t, { type Test } from 'tap'
import { createPrivateKey, createPublicKey } from 'node:crypto'
import { cbcDecrypt, cbcEncrypt } from '../../src/crypto/cbc.js'
import { splitKekKey } from '../../src/crypto/push.js'
import {
  buildAck,
  buildPush,
  EMPTY_PUSH_MEMBER_STATE,
  HashMemory,
  initPullKeyServer,
  initPullMember,
  installKekFromPull,
  processPush,
  stepPullKeyServer,
  stepPullMember,
  verifyAck,
  type BuildPushInput,
  type GroupKeys,
  type GroupPolicy,
  type KekPolicy,
  type PullResult,
  type PushAccepted,
  type PushMemberState,
  type PushOutcome,
  type TekPolicy,
} from '../../src/exchange/index.js'
import { onlySent, syntheticPair, testCtx, toHex } from './exchange-helpers.js'
import { KS_SIGNING_KEY_PEM, OTHER_KEY_PEM } from './test-keys.js'

const signingKey = createPrivateKey(KS_SIGNING_KEY_PEM)
const spki = new Uint8Array(createPublicKey(signingKey).export({ type: 'spki', format: 'der' }))
const bytes = (n: number, v: number) => new Uint8Array(n).fill(v)
const kekSpi1 = bytes(16, 0x11)
const kekSpi2 = bytes(16, 0x22)

const kekPolicy = (spi: Uint8Array, extra: Partial<KekPolicy> = {}): KekPolicy => ({
  spi,
  algorithm: 'aes',
  keyBits: 128,
  lifetimeSec: 86400,
  sigHash: 'sha256',
  sigAlgorithm: 'rsa',
  sigKeyBits: 2048,
  transport: { protocol: 17, src: { address: '192.0.2.1', port: 848 }, dst: { address: '239.1.1.1', port: 848 } },
  ...extra,
})
const tek = (spi: number, lifetimeSec = 3600): TekPolicy => ({
  spi,
  selector: { protocol: 0, src: { address: { kind: 'prefix', address: '10.0.0.0', prefixLength: 8 }, port: 0 }, dst: { address: { kind: 'prefix', address: '10.0.0.0', prefixLength: 8 }, port: 0 } },
  transform: { cipher: 'aes-cbc', keyBits: 128, integrity: 'sha256' },
  lifetimeSec,
  encapsulation: 'tunnel',
  addressPreservation: 4,
  saDirection: 3,
})
const tekKey = (spi: number) => ({ spi, encKey: bytes(16, spi & 0xff), authKey: bytes(32, (spi >> 8) & 0xff) })
const kek1Key = { spi: kekSpi1, algorithmKey: Uint8Array.from({ length: 32 }, (_, i) => i + 1), signingPublicKey: spki }
const kek2Key = { spi: kekSpi2, algorithmKey: Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i), signingPublicKey: spki }
const current1 = { spi: kekSpi1, cipher: 'aes-128-cbc' as const, algorithmKey: kek1Key.algorithmKey }
const current2 = { spi: kekSpi2, cipher: 'aes-128-cbc' as const, algorithmKey: kek2Key.algorithmKey }

/** A real PULL over a synthetic phase-1 pair: the GM ends up with KEK 1 and TEK 0x1000, PULL4 SEQ 0. */
function register(): PullResult {
  const pair = syntheticPair()
  const ctx = testCtx([], 'push-reg')
  const policy: GroupPolicy = { kek: kekPolicy(kekSpi1), teks: [tek(0x1000)] }
  const keys: GroupKeys = { kek: kek1Key, teks: [tekKey(0x1000)] }
  let gm = initPullMember({ sa: pair.gm, groupId: { kind: 'number', value: 1234 } })
  let ks = initPullKeyServer({ sa: pair.ks, groups: { lookup: () => ({ ok: true, policyNow: policy, keysNow: keys, seq: 0 }) } })
  let a, b
  ;[gm, a] = stepPullMember(gm, { type: 'start' }, ctx) //                                   PULL1 -->
  ;[ks, b] = stepPullKeyServer(ks, { type: 'datagram', bytes: onlySent(a) }, ctx) //          PULL2 <--
  ;[gm, a] = stepPullMember(gm, { type: 'datagram', bytes: onlySent(b) }, ctx) //             PULL3 -->
  ;[ks, b] = stepPullKeyServer(ks, { type: 'datagram', bytes: onlySent(a) }, ctx) //          PULL4 <--
  ;[gm] = stepPullMember(gm, { type: 'datagram', bytes: onlySent(b) }, ctx)
  if (gm.s !== 'done') throw new Error(gm.s)
  return gm.result
}

const push = (over: Partial<BuildPushInput> & Pick<BuildPushInput, 'kek' | 'seq'>): Uint8Array => buildPush({ signingKey, sigHash: 'sha256', ...over })

function accept(t: Test, r: PushOutcome, what: string): PushAccepted {
  if (!('accepted' in r)) {
    t.fail(`${what}: rejected ${JSON.stringify(r.rejected)}`)
    throw new Error(what)
  }
  t.pass(`${what}: accepted`)
  return r.accepted
}

t.test('TEK rollovers, replay, forgery, KEK rollover, retired KEK, delete-only push, ACKs', (t) => {
  const reg = register()
  let st: PushMemberState = installKekFromPull(EMPTY_PUSH_MEMBER_STATE, reg)
  t.equal(st.keks[0]?.lastSeq, 0)

  // PUSH SEQ 1 under KEK 1: SEQ, SA{SAT 0x2000}, KD{TEK 0x2000}, SIG <--
  let r = processPush(st, push({ kek: current1, seq: 1, policy: { teks: [tek(0x2000)] }, keys: { teks: [tekKey(0x2000)] } }))
  let acc = accept(t, r, 'TEK rollover SEQ 1')
  t.equal(acc.sigForm, 'rfc', 'our KS signs the RFC (DigestInfo) form by default')
  t.equal(acc.lengthVariant, 'unpadded')
  t.same(acc.policy?.teks.map((x) => x.spi), [0x2000])
  t.same({ ...acc.keys }, { teks: [tekKey(0x2000)] })
  st = r.state

  // PUSH SEQ 2: SEQ, D(ESP 0x1000), SA{SAT 0x3000}, KD, SIG <--
  const seq2 = push({ kek: current1, seq: 2, deletes: [{ kind: 'tek', spis: [0x1000] }], policy: { teks: [tek(0x3000)] }, keys: { teks: [tekKey(0x3000)] } })
  r = processPush(st, seq2)
  acc = accept(t, r, 'TEK rollover + delete SEQ 2')
  t.same(acc.deletes, [{ kind: 'tek', protocolId: 1, spis: [0x1000] }])
  st = r.state
  t.equal(st.keks[0]?.lastSeq, 2)

  // replayed push SEQ 2 <--
  t.same((processPush(st, seq2) as { rejected: unknown }).rejected, { code: 'duplicate' })
  t.same((processPush({ ...st, recentHashes: [] }, seq2) as { rejected: unknown }).rejected, { code: 'replay', seq: 2, lastSeq: 2 })

  // stale PULL4 SEQ after pushes: re-registering must not lower lastSeq (RFC 6407 §3.3)
  t.equal(installKekFromPull(st, reg).keks[0]?.lastSeq, 2)

  // forged push SEQ 3 (another RSA key) <--: refused, lastSeq unchanged
  r = processPush(st, buildPush({ kek: current1, seq: 3, policy: { teks: [tek(0x6666)] }, keys: { teks: [tekKey(0x6666)] }, signingKey: OTHER_KEY_PEM, sigHash: 'sha256' }))
  t.same('rejected' in r && r.rejected, { code: 'bad-signature' })
  t.equal(r.state.keks[0]?.lastSeq, 2)
  t.equal(r.state, st, 'state untouched')

  // KEK rollover, SEQ 3 under KEK 1: SA{SAK(KEK 2, ACK requested), SAT 0x3000}, KD{KEK 2, TEK 0x3000} <--
  r = processPush(
    st,
    push({
      kek: current1,
      seq: 3,
      policy: { kek: kekPolicy(kekSpi2, { ackRequested: 1 }), teks: [tek(0x3000, 3000)] },
      keys: { kek: kek2Key, teks: [tekKey(0x3000)] },
    }),
  )
  acc = accept(t, r, 'KEK rollover SEQ 3')
  t.equal(toHex(acc.newKek?.spi ?? new Uint8Array()), toHex(kekSpi2))
  t.equal(acc.newKek?.lastSeq, 0, 'new KEK counts from 0')
  t.equal(acc.ack?.ackRequested, 1, 'the newest SAK asks for ACKs')
  st = r.state
  t.equal(st.keks.length, 2, 'old KEK kept until the new one is used')

  // first push under KEK 2: SEQ restarts at 1 <--
  r = processPush(st, push({ kek: current2, seq: 1, policy: { teks: [tek(0x4000)] }, keys: { teks: [tekKey(0x4000)] } }))
  acc = accept(t, r, 'SEQ 1 under the new KEK')
  t.equal(toHex(acc.kekSpi), toHex(kekSpi2))
  st = r.state
  t.same(st.keks.map((k) => toHex(k.spi)), [toHex(kekSpi2)], 'KEK 1 retired on first use of KEK 2')
  // a re-registration names the group's KEK; anything else held is stale
  t.same(installKekFromPull(st, reg).keks.map((k) => [toHex(k.spi), k.lastSeq]), [[toHex(kekSpi1), 0]])
  t.same(installKekFromPull(st, { ...reg, policy: { teks: reg.policy.teks } }).keks, [], 'group without rekey SA: no KEK')

  // RFC 8263 ACK for that push: GM builds, KS verifies -->
  if (acc.ack === undefined) throw new Error('ack expected')
  const ackBytes = buildAck({ kekSpi: acc.kekSpi, ackRequested: acc.ack.ackRequested, baseKey: acc.ack.baseKey, seq: acc.seq, member: '192.0.2.10' })
  const memory = new HashMemory()
  const ksKek = (spi: Uint8Array) => (toHex(spi) === toHex(kekSpi2) ? { ackRequested: 1, baseKey: splitKekKey('aes-128-cbc', kek2Key.algorithmKey).key } : undefined)
  t.match(verifyAck(ackBytes, ksKek, { memory, nowMs: 1 }), { ok: true, seq: 1, memberAddress: '192.0.2.10' })
  t.same(verifyAck(ackBytes, ksKek, { memory, nowMs: 2 }), { ok: false, reason: 'duplicate' })

  // a push under the retired KEK 1 (SEQ 4) <--
  r = processPush(st, push({ kek: current1, seq: 4, policy: { teks: [tek(0x5000)] }, keys: { teks: [tekKey(0x5000)] } }))
  t.same('rejected' in r && r.rejected, { code: 'unknown-kek' })

  // delete-only push SEQ 2 under KEK 2: SEQ, D(ESP 0x3000), SIG <--
  r = processPush(st, push({ kek: current2, seq: 2, deletes: [{ kind: 'tek', spis: [0x3000] }] }))
  acc = accept(t, r, 'delete-only SEQ 2')
  t.equal(acc.policy, undefined)
  t.equal(acc.keys, undefined)
  t.same(acc.deletes, [{ kind: 'tek', protocolId: 1, spis: [0x3000] }])
  t.equal(acc.ack?.ackRequested, 1, 'ACK still requested (the last SAK said so)')
  st = r.state

  // "wipe the group": D(ESP, SPI 0), D(KEK, SPI 0) <--: the KEK is gone afterwards
  r = processPush(st, push({ kek: current2, seq: 3, deletes: [{ kind: 'tek', spis: [0] }, { kind: 'kek', spis: [bytes(16, 0)] }] }))
  acc = accept(t, r, 'wipe SEQ 3')
  t.same(acc.deletes.map((d) => d.kind), ['tek', 'kek'])
  t.same(r.state.keks, [])
  t.end()
})

t.test('bare-hash signature form and the chained-IV fallback', (t) => {
  let st = installKekFromPull(EMPTY_PUSH_MEMBER_STATE, register())
  let r = processPush(st, push({ kek: current1, seq: 1, sigForm: 'bare', policy: { teks: [tek(0x2000)] }, keys: { teks: [tekKey(0x2000)] } }))
  t.equal(accept(t, r, 'bare form').sigForm, 'bare')
  st = r.state
  // a KS that chains the IV from the previous push's last ciphertext block (no RFC form; tolerated)
  const normal = push({ kek: current1, seq: 2, policy: { teks: [tek(0x3000)] }, keys: { teks: [tekKey(0x3000)] } })
  const { iv, key } = splitKekKey('aes-128-cbc', kek1Key.algorithmKey)
  const plain = cbcDecrypt('aes-128-cbc', key, iv, normal.subarray(28))
  const chainedIv = st.keks[0]?.lastCiphertextBlock
  if (chainedIv === undefined) throw new Error('no last block')
  const chained = Uint8Array.from([...normal.subarray(0, 28), ...cbcEncrypt('aes-128-cbc', key, chainedIv, plain)])
  r = processPush(st, chained)
  t.equal(accept(t, r, 'chained IV').ivVariant, 'chained')
  t.end()
})

t.test('buildPush refuses inconsistent input', (t) => {
  t.throws(() => push({ kek: current1, seq: 1, policy: { teks: [tek(1)] } }), RangeError)
  t.throws(() => push({ kek: current1, seq: 0, deletes: [{ kind: 'tek', spis: [1] }] }), RangeError)
  t.throws(() => push({ kek: current1, seq: 1 }), RangeError)
  t.throws(() => push({ kek: { ...current1, spi: bytes(8, 1) }, seq: 1, deletes: [{ kind: 'tek', spis: [1] }] }), RangeError)
  t.end()
})
