// GROUPKEY-PULL against the real gdoid traces (spec §7.3): both roles, driven with the trace keys and
// the trace's own M-ID and nonces as "randomness", must reproduce every datagram byte for byte.
import t, { type Test } from 'tap'
import {
  initPullKeyServer,
  initPullMember,
  stepPullKeyServer,
  stepPullMember,
  type GroupKeys,
  type GroupPolicy,
  type GroupProvider,
  type PullResult,
  type TekPolicy,
} from '../../src/exchange/index.js'
import { traceA, traceB, type Phase1Trace } from '../crypto/fixtures.js'
import { actionOf, hex, onlySent, testCtx, toHex, traceSa } from './exchange-helpers.js'

const wire = (tr: Phase1Trace, name: string): Uint8Array => {
  const f = tr.frames.find((x) => x.name === name)
  if (f === undefined) throw new Error(name)
  return hex(f.wire)
}

// Ni / Nr as they appear in the trace plaintexts of PULL1 / PULL2.
const nonces = {
  A: { ni: '69d181efe0b9580e4106b883719b382a', nr: 'da43c65f2ef1bf2076c00d1ebab8cd0e' },
  B: { ni: '7cb79b6494c75a2775653839d80ff11c', nr: '29a5c670d1ed0e52e63f4a3705f04e4f' },
}

function runGm(tr: Phase1Trace, ni: string, gm: string, ks: string): PullResult {
  const sa = traceSa(tr, 'initiator', gm, ks)
  const ctx = testCtx([hex(tr.pullMid), hex(ni)])
  let st = initPullMember({ sa, groupId: { kind: 'number', value: 1234 } })
  let acts
  // PULL1 HASH(1),Ni,ID -->
  ;[st, acts] = stepPullMember(st, { type: 'start' }, ctx)
  t.equal(toHex(onlySent(acts)), toHex(wire(tr, 'PULL1')), 'PULL1 identical to the trace')
  // PULL2 HASH(2),Nr,SA <--   PULL3 HASH(3) -->
  ;[st, acts] = stepPullMember(st, { type: 'datagram', bytes: wire(tr, 'PULL2') }, ctx)
  t.equal(st.s, 'awaitKd')
  t.equal(toHex(onlySent(acts)), toHex(wire(tr, 'PULL3')), 'PULL3 identical to the trace')
  // PULL4 HASH(4),[SEQ],KD <--
  ;[st, acts] = stepPullMember(st, { type: 'datagram', bytes: wire(tr, 'PULL4') }, ctx)
  if (st.s !== 'done') throw new Error(`GM ended in ${st.s}: ${JSON.stringify(st.s === 'failed' ? st.reason : '')}`)
  t.ok(actionOf(acts, 'pull-done'))
  t.same(acts.filter((a) => a.type === 'cancel').length, 2, 'timers cancelled')
  return st.result
}

t.test('trace B, GM side: PULL with SAK; result carries KEK, SEQ 0, two TEKs', (t) => {
  const r = runGm(traceB, nonces.B.ni, '10.0.224.37', '10.0.224.44')
  t.equal(r.seq, 0)
  t.equal(r.messageId, 0x3cc1f923)
  t.equal(Buffer.from(r.policy.kek?.spi ?? []).toString(), 'abcdefgh01234567')
  t.equal(r.keys.kek?.signingPublicKey?.length, 162)
  t.same(
    r.policy.teks.map((x) => x.spi),
    [0x1122aabb, 0x3344ccdd],
  )
  t.same(
    r.keys.teks.map((x) => Buffer.from(x.encKey).toString()),
    ['ABCDEFGHIJKLMNOPQRSTUVWX', 'FEDCBA11LKJIHG22RQPONM33'],
  )
  t.end()
})

t.test('trace A, GM side: two SATs, no SAK, no SEQ', (t) => {
  const r = runGm(traceA, nonces.A.ni, '127.0.0.1', '127.0.0.2')
  t.equal(r.seq, undefined)
  t.equal(r.policy.kek, undefined)
  t.equal(r.policy.teks.length, 2)
  t.same(
    r.policy.teks.map((x) => [x.spi, x.encapsulation, x.lifetimeSec, x.transform.cipher, x.transform.integrity]),
    [
      [0x1122aabb, 'tunnel', 3600, '3des', 'sha1'],
      [0x3344ccdd, 'tunnel', 3600, '3des', 'sha1'],
    ],
  )
  t.equal(r.keys.teks.length, 2)
  t.end()
})

// The gdoid KS configurations of the two traces, as semantic policies (trace A: gdoid writes the
// selector ports 1024/512 in host byte order, so they read as 4/2).
const host = (address: string, port = 0) => ({ address: { kind: 'prefix' as const, address, prefixLength: 32 }, port })
const sat = (spi: number, src: string, dst: string, mode: 'tunnel' | 'transport', life: number, port = 0): TekPolicy => ({
  spi,
  selector: { protocol: 0, src: host(src, port), dst: host(dst, port) },
  transform: { cipher: '3des', integrity: 'sha1' },
  lifetimeSec: life,
  encapsulation: mode,
})
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s)
const tekKeys: GroupKeys['teks'] = [
  { spi: 0x1122aabb, encKey: ascii('ABCDEFGHIJKLMNOPQRSTUVWX'), authKey: ascii('12345678901234567890') },
  { spi: 0x3344ccdd, encKey: ascii('FEDCBA11LKJIHG22RQPONM33'), authKey: ascii('01234567890123456789') },
]
const policyB: GroupPolicy = {
  kek: {
    spi: ascii('abcdefgh01234567'),
    algorithm: '3des',
    keyBits: 192,
    sigHash: 'sha1',
    sigAlgorithm: 'rsa',
    transport: { protocol: 17, src: { address: '10.0.224.44', port: 848 }, dst: { address: '239.10.1.1', port: 848 } },
  },
  teks: [sat(0x1122aabb, '10.0.224.37', '239.1.1.1', 'transport', 60), sat(0x3344ccdd, '10.0.224.40', '239.1.1.2', 'transport', 60)],
}
const spkiB =
  '30819f300d06092a864886f70d010101050003818d0030818902818100be255ebdc6e5fa2d7c56e0345ae032a256c15a47edfcd0e005a29a69cdfd627bb80c67f6fa8f1d54835e944df0d73e0152d008a9c238c9f3cea007d98e0d08eee41cb54d9a02ba92c47bd2bf296d924d320923b53a5c9aa9b1a67fdb37057bb08766500d8a32ffade1dce8ba4d05c909feefe12014215bb76d4ce7abea1c020f0203010001'
const keysB: GroupKeys = { kek: { spi: ascii('abcdefgh01234567'), algorithmKey: ascii('IVIVIVIVABCDEFGHIJKLMNOPQRSTUVWX'), signingPublicKey: hex(spkiB) }, teks: tekKeys }
const policyA: GroupPolicy = {
  teks: [sat(0x1122aabb, '172.19.137.42', '239.192.1.1', 'tunnel', 3600, 4), sat(0x3344ccdd, '172.19.137.42', '239.192.1.2', 'tunnel', 3600, 2)],
}

function provider(policyNow: GroupPolicy, keysNow: GroupKeys): GroupProvider & { lookups: number } {
  return {
    lookups: 0,
    lookup(id) {
      this.lookups++
      return toHex(id.data) === '000004d2' ? { ok: true, policyNow, keysNow, seq: 0 } : { ok: false, error: 'unknown-group' }
    },
  }
}

function runKs(t: Test, tr: Phase1Trace, nr: string, gm: string, ks: string, policy: GroupPolicy, keys: GroupKeys): void {
  const sa = traceSa(tr, 'responder', gm, ks)
  const ctx = testCtx([hex(nr)])
  const groups = provider(policy, keys)
  let st = initPullKeyServer({ sa, groups, omitPolicyDefaults: true })
  let acts
  // PULL1 HASH(1),Ni,ID -->   PULL2 HASH(2),Nr,SA <--
  ;[st, acts] = stepPullKeyServer(st, { type: 'datagram', bytes: wire(tr, 'PULL1') }, ctx)
  t.equal(st.s, 'awaitPull3')
  t.equal(toHex(onlySent(acts)), toHex(wire(tr, 'PULL2')), 'PULL2 identical to the trace')
  t.notOk(actionOf(acts, 'registered'), 'no registration before PULL3')
  // PULL3 HASH(3) -->   PULL4 HASH(4),[SEQ],KD <--
  ;[st, acts] = stepPullKeyServer(st, { type: 'datagram', bytes: wire(tr, 'PULL3') }, ctx)
  t.equal(st.s, 'done')
  t.equal(toHex(onlySent(acts)), toHex(wire(tr, 'PULL4')), 'PULL4 identical to the trace')
  const reg = actionOf(acts, 'registered')?.registration
  t.same(reg?.groupId, { kind: 'number', value: 1234 })
  t.equal(toHex(reg?.peerId.data ?? new Uint8Array()), toHex(sa.peerId.data))
  t.same(reg?.tekSpis, [0x1122aabb, 0x3344ccdd])
}

t.test('trace B, KS side: reproduces PULL2 and PULL4 byte for byte', (t) => {
  runKs(t, traceB, nonces.B.nr, '10.0.224.37', '10.0.224.44', policyB, keysB)
  t.end()
})

t.test('trace A, KS side: reproduces PULL2 and PULL4 byte for byte', (t) => {
  runKs(t, traceA, nonces.A.nr, '127.0.0.1', '127.0.0.2', policyA, { teks: tekKeys })
  t.end()
})
