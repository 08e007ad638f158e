// GROUPKEY-PULL, member ↔ key server in one process over a phase-1 SA pair (AES-256/SHA-256): full
// exchange, retransmission, duplicates, reordering, bad HASH, unknown group, unauthorised member,
// a PULL3 that never arrives, replayed PULL1, SID allocation for a GCM policy, refused policy.
import t from 'tap'
import { NotifyType, PayloadType } from '../../src/constants.js'
import {
  HashMemory,
  initPullKeyServer,
  initPullMember,
  openInformational,
  policyToSaPayload,
  stepPullKeyServer,
  stepPullMember,
  type GroupKeys,
  type GroupPolicy,
  type GroupProvider,
  type PullKeyServer,
  type PullKeyServerConfig,
  type PullMember,
  type PullMemberConfig,
  type SenderIds,
} from '../../src/exchange/index.js'
import { sealPull } from '../../src/exchange/pull-common.js'
import { actionOf, onlySent, sent, syntheticPair, testCtx, toHex } from './exchange-helpers.js'

const pair = syntheticPair()
const kekSpi = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i)

const policy: GroupPolicy = {
  kek: {
    spi: kekSpi,
    algorithm: 'aes',
    keyBits: 128,
    lifetimeSec: 86000,
    sigHash: 'sha256',
    sigAlgorithm: 'rsa',
    sigKeyBits: 2048,
    transport: { protocol: 17, src: { address: '192.0.2.1', port: 848 }, dst: { address: '239.1.1.1', port: 848 } },
  },
  gap: { activationDelaySec: 15 },
  teks: [
    {
      spi: 0x11223344,
      selector: { protocol: 0, src: { address: { kind: 'prefix', address: '10.0.0.0', prefixLength: 8 }, port: 0 }, dst: { address: { kind: 'prefix', address: '10.0.0.0', prefixLength: 8 }, port: 0 } },
      transform: { cipher: 'aes-cbc', keyBits: 256, integrity: 'sha1' },
      lifetimeSec: 3500,
      encapsulation: 'tunnel',
      addressPreservation: 4,
      saDirection: 3,
    },
  ],
}
const keys: GroupKeys = {
  kek: { spi: kekSpi, algorithmKey: new Uint8Array(32).fill(0x4b), signingPublicKey: new Uint8Array(294).fill(0x50) },
  teks: [{ spi: 0x11223344, encKey: new Uint8Array(32).fill(0x45), authKey: new Uint8Array(20).fill(0x41) }],
}
const gcmPolicy: GroupPolicy = {
  teks: [{ ...(policy.teks[0] as GroupPolicy['teks'][number]), spi: 0x55667788, transform: { cipher: 'aes-gcm-16', keyBits: 128 } }],
}
const gcmKeys: GroupKeys = { teks: [{ spi: 0x55667788, encKey: new Uint8Array(20).fill(0x47) }] }

interface Db extends GroupProvider {
  sidCounter: number
  allocations: number[]
  lookups: number
}

/** Group 1234 (authorised: the GM at 192.0.2.10), serving `p`/`k`; SIDs from a counter. */
function groupDb(p: GroupPolicy = policy, k: GroupKeys = keys, seq = 0): Db {
  return {
    sidCounter: 0,
    allocations: [],
    lookups: 0,
    lookup(id, sa) {
      this.lookups++
      if (toHex(id.data) !== '000004d2') return { ok: false, error: 'unknown-group' }
      if (toHex(sa.peerId.data) !== 'c000020a') return { ok: false, error: 'unauthorized' }
      return { ok: true, policyNow: p, keysNow: k, seq }
    },
    allocateSids(_p, count): SenderIds {
      this.allocations.push(count)
      const values = Array.from({ length: count }, () => ++this.sidCounter)
      return { bits: 16, values }
    },
  }
}

const gmConfig = (over: Partial<PullMemberConfig> = {}): PullMemberConfig => ({ sa: pair.gm, groupId: { kind: 'number', value: 1234 }, ...over })
const ksConfig = (groups: GroupProvider, over: Partial<PullKeyServerConfig> = {}): PullKeyServerConfig => ({ sa: pair.ks, groups, ...over })
const dg = (bytes: Uint8Array) => ({ type: 'datagram' as const, bytes })

t.test('full PULL: policy and keys arrive intact; the KS registers only after PULL3', (t) => {
  const ctx = testCtx([], 'full')
  const db = groupDb(policy, keys, 7)
  let gm: PullMember = initPullMember(gmConfig())
  let ks: PullKeyServer = initPullKeyServer(ksConfig(db))
  let a, b
  ;[gm, a] = stepPullMember(gm, { type: 'start' }, ctx) // PULL1 HASH(1),Ni,ID -->
  t.match(a, [{ type: 'send' }, { type: 'arm', timer: 'retransmit', ms: 7000 }, { type: 'arm', timer: 'expire', ms: 120000 }])
  ;[ks, b] = stepPullKeyServer(ks, dg(onlySent(a)), ctx) // PULL2 HASH(2),Nr,SA <--
  t.equal(ks.s, 'awaitPull3')
  t.notOk(actionOf(b, 'registered'))
  ;[gm, a] = stepPullMember(gm, dg(onlySent(b)), ctx) // PULL3 HASH(3) -->
  t.equal(gm.s, 'awaitKd')
  ;[ks, b] = stepPullKeyServer(ks, dg(onlySent(a)), ctx) // PULL4 HASH(4),SEQ,KD <--
  const reg = actionOf(b, 'registered')?.registration
  t.ok(reg, 'registered after a valid PULL3')
  t.equal(reg?.seq, 7)
  t.equal(toHex(reg?.kekSpi ?? new Uint8Array()), toHex(kekSpi))
  t.same(reg?.tekSpis, [0x11223344])
  t.equal(reg?.sids, undefined, 'CBC only: no sender IDs')
  t.same(db.allocations, [])
  ;[gm, a] = stepPullMember(gm, dg(onlySent(b)), ctx)
  if (gm.s !== 'done') throw new Error(gm.s)
  t.same(gm.result.policy, { ...policy, groupId: { kind: 'number', value: 1234 } })
  t.same({ ...gm.result.keys }, keys)
  t.equal(gm.result.seq, 7)
  t.equal(gm.result.completedAtMs, ctx.clock.now)
  t.ok(actionOf(a, 'pull-done'))
  t.end()
})

t.test('retransmission and duplicates: lost PULL1, duplicated PULL2, lost PULL4', (t) => {
  const ctx = testCtx([], 'rt')
  const db = groupDb()
  let gm: PullMember = initPullMember(gmConfig())
  let ks: PullKeyServer = initPullKeyServer(ksConfig(db))
  let a, b
  ;[gm, a] = stepPullMember(gm, { type: 'start' }, ctx) // PULL1 -->  (lost)
  const pull1 = onlySent(a)
  ;[gm, a] = stepPullMember(gm, { type: 'timer', timer: 'retransmit' }, ctx) // PULL1 again -->
  t.equal(toHex(onlySent(a)), toHex(pull1), 'retransmission is byte-identical')
  t.match(a, [{ type: 'send' }, { type: 'arm', timer: 'retransmit' }])
  ;[ks, b] = stepPullKeyServer(ks, dg(pull1), ctx) // PULL2 <--
  const pull2 = onlySent(b)
  ;[ks, b] = stepPullKeyServer(ks, dg(pull1), ctx) // PULL1 duplicate --> answered from cache
  t.equal(toHex(onlySent(b)), toHex(pull2), 'cached PULL2')
  t.equal(db.lookups, 1, 'the duplicate did not reach the group database')
  ;[gm, a] = stepPullMember(gm, dg(pull2), ctx) // PULL3 -->
  const pull3 = onlySent(a)
  ;[gm, a] = stepPullMember(gm, dg(pull2), ctx) // PULL2 duplicate <-- ignored
  t.same(a, [])
  t.equal(gm.s, 'awaitKd')
  ;[ks, b] = stepPullKeyServer(ks, dg(pull3), ctx) // PULL4 <-- (lost)
  const pull4 = onlySent(b)
  t.equal(b.filter((x) => x.type === 'registered').length, 1)
  ;[gm, a] = stepPullMember(gm, { type: 'timer', timer: 'retransmit' }, ctx) // PULL3 again -->
  t.equal(toHex(onlySent(a)), toHex(pull3))
  ;[ks, b] = stepPullKeyServer(ks, dg(onlySent(a)), ctx) // cached PULL4 <--
  t.equal(toHex(onlySent(b)), toHex(pull4))
  t.notOk(actionOf(b, 'registered'), 'registered once only')
  ;[gm] = stepPullMember(gm, dg(pull4), ctx)
  t.equal(gm.s, 'done')
  ;[gm, a] = stepPullMember(gm, dg(pull4), ctx) // late duplicate of PULL4: ignored
  t.same(a, [])
  ;[ks, b] = stepPullKeyServer(ks, { type: 'timer', timer: 'expire' }, ctx)
  t.equal(ks.s, 'closed')
  t.end()
})

t.test('reordering: a stale PULL1 after PULL3 and a foreign datagram are ignored', (t) => {
  const ctx = testCtx([], 'reorder')
  let gm: PullMember = initPullMember(gmConfig())
  let ks: PullKeyServer = initPullKeyServer(ksConfig(groupDb()))
  let a, b
  ;[gm, a] = stepPullMember(gm, { type: 'start' }, ctx)
  const pull1 = onlySent(a)
  ;[ks, b] = stepPullKeyServer(ks, dg(pull1), ctx)
  ;[gm, a] = stepPullMember(gm, dg(onlySent(b)), ctx)
  ;[ks, b] = stepPullKeyServer(ks, dg(onlySent(a)), ctx)
  t.equal(ks.s, 'done')
  ;[ks, b] = stepPullKeyServer(ks, dg(pull1), ctx) // the old PULL1 arrives late: no answer
  t.same(b, [])
  ;[gm, a] = stepPullMember(gm, dg(pull1), ctx) // our own PULL1 echoed back: not a KS message
  t.same(a, [])
  t.equal(gm.s, 'awaitKd')
  ;[gm, a] = stepPullMember(gm, dg(new Uint8Array([1, 2, 3])), ctx) // garbage
  t.same(a, [])
  t.end()
})

t.test('bad HASH: KS drops PULL1 (optionally notifies); GM fails on a bad HASH(2)', (t) => {
  const ctx = testCtx([], 'badhash')
  const wrongA = { ...pair.gm, skeyidA: new Uint8Array(32).fill(9) }
  let gm: PullMember = initPullMember(gmConfig({ sa: wrongA }))
  let a
  ;[gm, a] = stepPullMember(gm, { type: 'start' }, ctx)
  const db = groupDb()
  const [ks, b] = stepPullKeyServer(initPullKeyServer(ksConfig(db)), dg(onlySent(a)), ctx)
  t.same(ks.s === 'failed' && ks.reason, { code: 'bad-hash', message: 'PULL1' })
  t.same(sent(b), [], 'silently dropped')
  t.equal(db.lookups, 0)
  const [, b2] = stepPullKeyServer(initPullKeyServer(ksConfig(db, { notifyBadHash: true })), dg(onlySent(a)), ctx)
  const info = openInformational(pair.ks, onlySent(b2))
  t.ok(info.ok && info.payloads[0]?.type === PayloadType.NOTIFICATION && 'notifyType' in info.payloads[0] && info.payloads[0].notifyType === NotifyType.INVALID_HASH_INFORMATION)

  // a PULL2 that decrypts but whose HASH(2) was made with another SKEYID_a
  gm = initPullMember(gmConfig())
  ;[gm] = stepPullMember(gm, { type: 'start' }, ctx)
  if (gm.s !== 'awaitSa') throw new Error(gm.s)
  const forged = sealPull({ ...pair.ks, skeyidA: new Uint8Array(32).fill(9) }, gm.mid, gm.ivIn, gm.ni, undefined, [
    { type: PayloadType.NONCE, data: new Uint8Array(16) },
    policyToSaPayload(policy),
  ])
  ;[gm, a] = stepPullMember(gm, dg(forged.bytes), ctx)
  t.same(gm.s === 'failed' && gm.reason, { code: 'bad-hash', message: 'PULL2' })
  t.match(a, [{ type: 'cancel', timer: 'retransmit' }, { type: 'cancel', timer: 'expire' }, { type: 'pull-failed' }])
  t.end()
})

t.test('unknown group and unauthorised member: N(INVALID-ID-INFORMATION), GM fails with the notify', (t) => {
  const ctx = testCtx([], 'unknown')
  for (const [name, gmCfg, error] of [
    ['unknown group', gmConfig({ groupId: { kind: 'number', value: 99 } }), 'unknown-group'],
    ['unauthorised GM', gmConfig({ sa: { ...pair.gm } }), 'unauthorized'],
  ] as const) {
    const db = groupDb()
    const ksSa = error === 'unauthorized' ? { ...pair.ks, peerId: { ...pair.ks.peerId, data: Uint8Array.of(192, 0, 2, 99) } } : pair.ks
    let gm: PullMember = initPullMember(gmCfg)
    let a
    ;[gm, a] = stepPullMember(gm, { type: 'start' }, ctx)
    const [ks, b] = stepPullKeyServer(initPullKeyServer(ksConfig(db, { sa: ksSa })), dg(onlySent(a)), ctx)
    t.same(ks.s === 'failed' && ks.reason, { code: error }, name)
    ;[gm, a] = stepPullMember(gm, dg(onlySent(b)), ctx)
    t.same(gm.s === 'failed' && gm.reason, { code: 'notify', notifyType: NotifyType.INVALID_ID_INFORMATION }, `${name}: GM sees the notify`)
    t.ok(actionOf(a, 'pull-failed'))
  }
  t.end()
})

t.test('PULL3 never arrives: the exchange expires and nothing is registered', (t) => {
  const ctx = testCtx([], 'nopull3')
  const db = groupDb(gcmPolicy, gcmKeys)
  const [, a] = stepPullMember(initPullMember(gmConfig()), { type: 'start' }, ctx)
  let ks: PullKeyServer = initPullKeyServer(ksConfig(db))
  let b
  ;[ks, b] = stepPullKeyServer(ks, dg(onlySent(a)), ctx)
  t.match(b, [{ type: 'send' }, { type: 'arm', timer: 'expire', ms: 120000 }])
  ;[ks, b] = stepPullKeyServer(ks, { type: 'timer', timer: 'expire' }, ctx)
  t.same(ks.s === 'failed' && ks.reason, { code: 'timeout' })
  t.notOk(actionOf(b, 'registered'))
  t.same(db.allocations, [], 'no SID allocated: group state unchanged')
  t.end()
})

t.test('GM gives up after maxTries retransmissions or on expiry', (t) => {
  const ctx = testCtx([], 'gmtimeout')
  let gm: PullMember = initPullMember(gmConfig({ retransmit: { intervalMs: 1000, maxTries: 2 } }))
  let a
  ;[gm, a] = stepPullMember(gm, { type: 'start' }, ctx)
  ;[gm, a] = stepPullMember(gm, { type: 'timer', timer: 'retransmit' }, ctx)
  ;[gm, a] = stepPullMember(gm, { type: 'timer', timer: 'retransmit' }, ctx)
  t.equal(sent(a).length, 1)
  ;[gm, a] = stepPullMember(gm, { type: 'timer', timer: 'retransmit' }, ctx)
  t.same(gm.s === 'failed' && gm.reason, { code: 'timeout' })
  ;[gm] = stepPullMember(initPullMember(gmConfig()), { type: 'start' }, ctx)
  ;[gm] = stepPullMember(gm, { type: 'timer', timer: 'expire' }, ctx)
  t.same(gm.s === 'failed' && gm.reason, { code: 'timeout' })
  t.end()
})

t.test('replayed PULL1 after the exchange ended: dropped by the hash memory', (t) => {
  const ctx = testCtx([], 'replay')
  const replay = new HashMemory()
  const db = groupDb()
  const [, a] = stepPullMember(initPullMember(gmConfig()), { type: 'start' }, ctx)
  const [ks1, b1] = stepPullKeyServer(initPullKeyServer(ksConfig(db, { replay })), dg(onlySent(a)), ctx)
  t.equal(ks1.s, 'awaitPull3')
  t.equal(sent(b1).length, 1)
  // the daemon forgot that exchange; the same PULL1 shows up again
  const [ks2, b2] = stepPullKeyServer(initPullKeyServer(ksConfig(db, { replay })), dg(onlySent(a)), ctx)
  t.same(ks2.s === 'failed' && ks2.reason, { code: 'replay' })
  t.same(b2.filter((x) => x.type === 'send'), [])
  t.equal(db.lookups, 1)
  t.end()
})

t.test('GCM policy: one SID by default, k SIDs on SENDER_ID_REQUEST, fresh on every PULL', (t) => {
  const ctx = testCtx([], 'sid')
  const db = groupDb(gcmPolicy, gcmKeys)
  const run = (senderIdRequest?: number) => {
    let gm: PullMember = initPullMember(gmConfig(senderIdRequest !== undefined ? { senderIdRequest } : {}))
    let ks: PullKeyServer = initPullKeyServer(ksConfig(db))
    let a, b
    ;[gm, a] = stepPullMember(gm, { type: 'start' }, ctx)
    ;[ks, b] = stepPullKeyServer(ks, dg(onlySent(a)), ctx)
    ;[gm, a] = stepPullMember(gm, dg(onlySent(b)), ctx)
    ;[ks, b] = stepPullKeyServer(ks, dg(onlySent(a)), ctx)
    const reg = actionOf(b, 'registered')?.registration
    ;[gm] = stepPullMember(gm, dg(onlySent(b)), ctx)
    if (gm.s !== 'done') throw new Error(gm.s)
    return { reg, result: gm.result }
  }
  const one = run()
  t.same(one.result.keys.sids, { bits: 16, values: [1] })
  t.equal(one.result.seq, undefined, 'no KEK: no SEQ')
  t.same(one.reg?.sids, { bits: 16, values: [1] })
  const three = run(3)
  t.same(three.result.keys.sids, { bits: 16, values: [2, 3, 4] })
  t.equal(three.reg?.senderIdRequest, 3)
  t.same(db.allocations, [1, 3])
  t.end()
})

t.test('unacceptable policy: GM refuses, sends an Informational Delete of the phase-1 SA', (t) => {
  const ctx = testCtx([], 'refuse')
  let gm: PullMember = initPullMember(gmConfig({ acceptPolicy: (p) => (p.teks.some((x) => x.transform.cipher === 'aes-gcm-16') ? 'no GCM here' : undefined) }))
  let a
  ;[gm, a] = stepPullMember(gm, { type: 'start' }, ctx)
  const [, b] = stepPullKeyServer(initPullKeyServer(ksConfig(groupDb(gcmPolicy, gcmKeys))), dg(onlySent(a)), ctx)
  ;[gm, a] = stepPullMember(gm, dg(onlySent(b)), ctx)
  t.same(gm.s === 'failed' && gm.reason, { code: 'unacceptable-policy', detail: 'no GCM here' })
  const info = openInformational(pair.ks, onlySent(a))
  t.ok(info.ok && info.payloads[0]?.type === PayloadType.DELETE, 'Informational with D(ISAKMP SA)')
  t.end()
})
