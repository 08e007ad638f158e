// GROUPKEY-PUSH against the real gdoid trace B (spec §7.3): the GM registers from the trace PULL, then
// accepts the two real pushes (static KEK IV, bare-hash signature with the 162-octet SPKI from the KD)
// and refuses their replays. Also the RFC 8263 ACK of spec §5.6 (self-computed example vector).
import t from 'tap'
import {
  buildAck,
  EMPTY_PUSH_MEMBER_STATE,
  HashMemory,
  initPullMember,
  installKekFromPull,
  processPush,
  stepPullMember,
  verifyAck,
  type PullResult,
  type PushMemberState,
} from '../../src/exchange/index.js'
import { ack8263, pushB, traceB } from '../crypto/fixtures.js'
import { hex, testCtx, toHex, traceSa } from './exchange-helpers.js'

function registerTraceB(): PullResult {
  const sa = traceSa(traceB, 'initiator', '10.0.224.37', '10.0.224.44')
  const ctx = testCtx([hex(traceB.pullMid), hex('7cb79b6494c75a2775653839d80ff11c')])
  const frame = (n: string) => hex(traceB.frames.find((f) => f.name === n)?.wire ?? '')
  let st = initPullMember({ sa, groupId: { kind: 'number', value: 1234 } })
  ;[st] = stepPullMember(st, { type: 'start' }, ctx) //                              PULL1 -->
  ;[st] = stepPullMember(st, { type: 'datagram', bytes: frame('PULL2') }, ctx) //    PULL2 <--, PULL3 -->
  ;[st] = stepPullMember(st, { type: 'datagram', bytes: frame('PULL4') }, ctx) //    PULL4 <--
  if (st.s !== 'done') throw new Error(`registration ended in ${st.s}`)
  return st.result
}

t.test('trace B push: decrypt with the static IV, bare-hash signature, SEQ 1 > 0 accepted; replays refused', (t) => {
  const reg = registerTraceB()
  let state: PushMemberState = installKekFromPull(EMPTY_PUSH_MEMBER_STATE, reg)
  t.equal(state.keks.length, 1)
  t.equal(state.keks[0]?.lastSeq, 0, 'PULL4 SEQ 0')
  t.equal(state.keks[0]?.publicKey.length, 162)

  // PUSH SEQ 1: SEQ, SA{SAT 0x2e22fbb7, SAT 0x2123d5f2}, KD, SIG <--
  const r1 = processPush(state, hex(pushB.push1))
  if (!('accepted' in r1)) throw new Error(`push 1 rejected: ${JSON.stringify(r1.rejected)}`)
  const a1 = r1.accepted
  t.equal(a1.seq, 1)
  t.equal(a1.sigForm, 'bare', 'gdoid signs the bare hash')
  t.equal(a1.lengthVariant, 'unpadded', 'hashed header carries the unpadded length 0x190')
  t.equal(a1.ivVariant, 'static')
  t.equal(toHex(a1.kekSpi), pushB.kekSpi)
  t.same(
    a1.policy?.teks.map((x) => [x.spi, x.encapsulation, x.lifetimeSec]),
    [
      [0x2e22fbb7, 'transport', 60],
      [0x2123d5f2, 'transport', 60],
    ],
  )
  t.same(
    a1.keys?.teks.map((x) => [x.spi, x.encKey.length, x.authKey?.length]),
    [
      [0x2e22fbb7, 24, 20],
      [0x2123d5f2, 24, 20],
    ],
  )
  t.same(a1.deletes, [])
  t.equal(a1.newKek, undefined)
  t.equal(a1.ack, undefined, 'no KEK_ACK_REQUESTED in the SAK')
  state = r1.state
  t.equal(state.keks[0]?.lastSeq, 1)

  // the same push again --> dropped before any crypto (hash memory)
  const dup = processPush(state, hex(pushB.push1))
  t.same('rejected' in dup && dup.rejected, { code: 'duplicate' })
  // ... and without the hash memory, by SEQ (1 ≤ 1)
  const replay = processPush({ ...state, recentHashes: [] }, hex(pushB.push1))
  t.same('rejected' in replay && replay.rejected, { code: 'replay', seq: 1, lastSeq: 1 })

  // PUSH SEQ 2 (frame 32), same KEK <--
  const r2 = processPush(state, hex(pushB.push2))
  if (!('accepted' in r2)) throw new Error(`push 2 rejected: ${JSON.stringify(r2.rejected)}`)
  t.equal(r2.accepted.seq, 2)
  t.same(
    r2.accepted.policy?.teks.map((x) => x.spi),
    [0x6181ef69, 0x29bacf25],
  )
  t.equal(r2.state.keks[0]?.lastSeq, 2)
  // push 1 after push 2: older SEQ
  const old = processPush({ ...r2.state, recentHashes: [] }, hex(pushB.push1))
  t.same('rejected' in old && old.rejected, { code: 'replay', seq: 1, lastSeq: 2 })
  t.end()
})

t.test('trace B push: tampering and unknown cookies', (t) => {
  const state = installKekFromPull(EMPTY_PUSH_MEMBER_STATE, registerTraceB())
  const flipped = hex(pushB.push1)
  flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 0x01 // last block: the SIG/padding
  const r = processPush(state, flipped)
  t.ok('rejected' in r && (r.rejected.code === 'bad-signature' || r.rejected.code === 'malformed'))
  const cookie = hex(pushB.push1)
  cookie[0] = 0x41
  const unknown = processPush(state, cookie)
  t.same('rejected' in unknown && unknown.rejected, { code: 'unknown-kek' })
  const short = processPush(state, hex(pushB.push1).subarray(0, 100))
  t.equal('rejected' in short && short.rejected.code, 'malformed', 'truncated datagram')
  const notPush = processPush(state, hex(traceB.frames[0]?.wire ?? ''))
  t.equal('rejected' in notPush && notPush.rejected.code, 'malformed', 'MM1 is not a push')
  t.end()
})

t.test('RFC 8263 ACK: the spec §5.6 self-computed vector, built and verified', (t) => {
  const bytes = buildAck({ kekSpi: hex(ack8263.kekSpi), ackRequested: 1, baseKey: hex(ack8263.baseKey), seq: 1, member: '10.0.224.37', lBits: ack8263.lBits })
  t.equal(bytes.length, 84)
  t.equal(toHex(bytes), ack8263.datagramPrefix + ack8263.hash + ack8263.seqPayload + ack8263.idPayload)
  const memory = new HashMemory()
  const lookup = (spi: Uint8Array) => (toHex(spi) === ack8263.kekSpi ? { ackRequested: 1, baseKey: hex(ack8263.baseKey) } : undefined)
  const ok = verifyAck(bytes, lookup, { memory, nowMs: 5 })
  t.match(ok, { ok: true, seq: 1, memberAddress: '10.0.224.37' })
  t.same(verifyAck(bytes, lookup, { memory, nowMs: 6 }), { ok: false, reason: 'duplicate' })
  const bad = bytes.slice()
  bad[40] = (bad[40] ?? 0) ^ 1
  t.same(verifyAck(bad, lookup), { ok: false, reason: 'bad-hash' })
  t.same(verifyAck(bytes, () => ({ baseKey: hex(ack8263.baseKey) })), { ok: false, reason: 'not-requested' })
  t.same(verifyAck(bytes, () => undefined), { ok: false, reason: 'unknown-kek' })
  t.match(verifyAck(bytes.subarray(0, 60), lookup), { ok: false, reason: 'malformed' })
  t.end()
})
