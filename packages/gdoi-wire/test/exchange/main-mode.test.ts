// Main Mode, both roles in one process with a deterministic rng and clock (PSK): algorithm matrix,
// retransmission, duplicates, reordering and every failure path.
import t, { type Test } from 'tap'
import { ExchangeType, NotifyType, PayloadType } from '../../src/constants.js'
import { decodeHeader } from '../../src/header.js'
import { decodeMessage, encodeMessage } from '../../src/message.js'
import {
  buildPhase1OfferSa,
  cachedResponse,
  createInitiator,
  createResponder,
  DEFAULT_RETRANSMIT,
  isDuplicate,
  openPlainInformational,
  sealMessage,
  stepInitiator,
  stepResponder,
  type InitiatorConfig,
  type MainModeInitiator,
  type MainModeResponder,
  type Phase1Encryption,
  type Phase1Group,
  type Phase1Proposal,
  type Phase1Sa,
  type ResponderConfig,
} from '../../src/exchange/index.js'
import { GM_ADDRESS, handshake, newPair, run, start, toInitiator, toResponder, type Pair } from './mm-driver.js'
import { ascii, hex, idIpv4 } from './mm-helpers.js'

const PSK = ascii('MYISAKMPKEY')
const lab: Phase1Proposal = { encryption: 'aes256', hash: 'sha1', auth: 'psk', group: 5, lifetimeSec: 86400 }

function gmConfig(proposals: readonly Phase1Proposal[] = [lab], extra: Partial<InitiatorConfig> = {}): InitiatorConfig {
  return { proposals, psk: PSK, localId: idIpv4(GM_ADDRESS), ...extra }
}
function ksConfig(proposals: readonly Phase1Proposal[] = [lab], extra: Partial<ResponderConfig> = {}): ResponderConfig {
  return { proposals, pskFor: () => PSK, localId: idIpv4('10.0.0.1'), ...extra }
}

function assertSameKeys(t: Test, i: Phase1Sa, r: Phase1Sa): void {
  t.equal(i.role, 'initiator')
  t.equal(r.role, 'responder')
  for (const k of ['icookie', 'rcookie', 'skeyid', 'skeyidD', 'skeyidA', 'skeyidE', 'encKey', 'lastBlock'] as const) {
    t.equal(hex(i[k]), hex(r[k]), `${k} equal on both sides`)
  }
  t.same(i.cipher, r.cipher)
  t.equal(i.hash, r.hash)
  t.equal(i.lifetimeSec, r.lifetimeSec)
  t.same(i.peerId, r.localId)
  t.same(r.peerId, i.localId)
}

function doneSas(t: Test, p: Pair): [Phase1Sa, Phase1Sa] | undefined {
  t.equal(p.i.s, 'done', `initiator done (${p.i.s === 'failed' ? p.i.detail : ''})`)
  t.equal(p.r.s, 'done', `responder done (${p.r.s === 'failed' ? p.r.detail : ''})`)
  if (p.i.s !== 'done' || p.r.s !== 'done') return undefined
  return [p.i.sa, p.r.sa]
}

t.test('both roles derive identical Phase1Sa keys for groups 2/5/14, 3DES/AES-128/AES-256, SHA-1/SHA-256', (t) => {
  const groups: Phase1Group[] = [2, 5, 14]
  const ciphers: Phase1Encryption[] = ['3des', 'aes128', 'aes256']
  const expectCipher = { '3des': 'des-ede3-cbc', aes128: 'aes-128-cbc', aes192: 'aes-192-cbc', aes256: 'aes-256-cbc' } as const
  for (const group of groups) {
    for (const encryption of ciphers) {
      for (const hash of ['sha1', 'sha256'] as const) {
        const suite: Phase1Proposal = { encryption, hash, auth: 'psk', group, lifetimeSec: 3600 }
        t.test(`${encryption}/${hash}/group ${group}`, (t) => {
          const p = handshake(gmConfig([suite]), ksConfig([suite]), `${encryption}${hash}${group}`)
          const sas = doneSas(t, p)
          if (sas === undefined) return t.end()
          assertSameKeys(t, ...sas)
          t.equal(sas[0].cipher.name, expectCipher[encryption])
          t.equal(sas[0].hash, hash)
          t.equal(sas[0].skeyidA.length, hash === 'sha1' ? 20 : 32)
          t.equal(p.transcript.length, 6, 'six messages, nothing retransmitted')
          t.same(p.transcript.map((m) => m.dir), ['-->', '<--', '-->', '<--', '-->', '<--'])
          t.end()
        })
      }
    }
  }
  t.end()
})

t.test('AES-192; lifetimes as Cisco: offered ≤ local is accepted and used by both, offered > local is refused', (t) => {
  const i: Phase1Proposal = { encryption: 'aes192', hash: 'sha256', auth: 'psk', group: 14, lifetimeSec: 3000 }
  const p = handshake(gmConfig([i]), ksConfig([{ ...i, lifetimeSec: 3600 }]))
  const sas = doneSas(t, p)
  if (sas !== undefined) {
    assertSameKeys(t, ...sas)
    t.equal(sas[0].lifetimeSec, 3000)
    t.equal(sas[0].cipher.name, 'aes-192-cbc')
  }
  const q = handshake(gmConfig([{ ...i, lifetimeSec: 100_000 }]), ksConfig([{ ...i, lifetimeSec: 3600 }]))
  t.equal(q.r.s === 'failed' && q.r.reason, 'no-proposal')
  t.end()
})

t.test('the responder picks the first offered transform it accepts; DOI 2 by default, 1 on request', (t) => {
  const strong: Phase1Proposal = { encryption: 'aes256', hash: 'sha256', auth: 'psk', group: 14, lifetimeSec: 3600 }
  const weak: Phase1Proposal = { encryption: '3des', hash: 'sha1', auth: 'psk', group: 2, lifetimeSec: 3600 }
  let p = handshake(gmConfig([strong, weak]), ksConfig([weak, strong]))
  let sas = doneSas(t, p)
  t.equal(sas?.[0].cipher.name, 'aes-256-cbc', 'initiator order decides')
  const mm1 = decodeMessage(p.transcript[0]?.bytes ?? new Uint8Array())
  const sa = mm1.chain?.payloads[0]
  t.ok(sa !== undefined && 'kind' in sa && sa.kind === 'ike' && sa.doi === 2 && hex(sa.situation) === '00000000')
  const mm2 = decodeMessage(p.transcript[1]?.bytes ?? new Uint8Array())
  const sa2 = mm2.chain?.payloads[0]
  t.ok(sa2 !== undefined && 'kind' in sa2 && sa2.kind === 'ike' && sa2.proposals.length === 1 && sa2.proposals[0]?.transforms.length === 1)
  t.equal(sa2 !== undefined && 'kind' in sa2 && sa2.kind === 'ike' ? sa2.proposals[0]?.transforms[0]?.number : -1, 1)

  p = handshake(gmConfig([strong, weak], { doi: 1 }), ksConfig([weak]))
  sas = doneSas(t, p)
  t.equal(sas?.[0].cipher.name, 'des-ede3-cbc', 'only the second is acceptable')
  const sa1 = decodeMessage(p.transcript[0]?.bytes ?? new Uint8Array()).chain?.payloads[0]
  t.ok(sa1 !== undefined && 'kind' in sa1 && sa1.kind === 'ike' && sa1.doi === 1 && hex(sa1.situation) === '00000001')
  t.end()
})

t.test('INITIAL-CONTACT and vendor IDs are carried through', (t) => {
  const vid = ascii('gdoi-ts')
  const p = handshake(gmConfig([lab], { initialContact: true, vendorIds: [vid] }), ksConfig([lab], { vendorIds: [ascii('ks')] }))
  t.equal(p.r.s === 'done' && p.r.peerInitialContact, true)
  t.equal(p.i.s === 'done' && p.i.peerInitialContact, false)
  t.same(p.r.s === 'done' ? p.r.peerVendorIds.map(hex) : [], [hex(vid)])
  t.same(p.i.s === 'done' ? p.i.peerVendorIds.map(hex) : [], [hex(ascii('ks'))])
  t.end()
})

t.test('lost MM2: the initiator re-sends MM1, the responder answers from its cache without reprocessing', (t) => {
  const p = newPair(gmConfig(), ksConfig())
  // MM1 HDR, SA -->
  const [mm1] = start(p)
  if (mm1 === undefined) return t.fail('no MM1')
  // MM2 HDR, SA <--  (lost)
  const [mm2] = toResponder(p, mm1)
  const rAfterMm1 = p.r
  // retransmit timer: MM1 again, byte for byte
  const [st, actions] = stepInitiator(p.i, { type: 'timer', timer: 'retransmit' }, p.ix)
  p.i = st
  const again = actions.find((a) => a.type === 'send')
  t.ok(again !== undefined && again.type === 'send' && hex(again.bytes) === hex(mm1), 'MM1 re-sent unchanged')
  t.ok(actions.some((a) => a.type === 'arm' && a.timer === 'retransmit' && a.ms === DEFAULT_RETRANSMIT.intervalMs))
  t.equal(st.s === 'awaitMm2' && st.retransmits, 1)
  t.ok(isDuplicate(p.r, mm1))
  t.equal(hex(cachedResponse(p.r, mm1) ?? new Uint8Array()), hex(mm2 ?? new Uint8Array()))
  // MM1 (again) -->   MM2 (from cache) <--
  const [mm2again] = toResponder(p, mm1)
  t.equal(p.r, rAfterMm1, 'responder state not touched (no second CKY-R, nothing reprocessed)')
  t.equal(hex(mm2again ?? new Uint8Array()), hex(mm2 ?? new Uint8Array()), 'same MM2')
  run(p, toInitiator(p, mm2again ?? new Uint8Array()))
  const sas = doneSas(t, p)
  if (sas) assertSameKeys(t, ...sas)
  t.end()
})

t.test('duplicate MM3 answered from the cache; the duplicate MM4 is ignored by the initiator', (t) => {
  const p = newPair(gmConfig(), ksConfig())
  const [mm1] = start(p)
  const [mm2] = toResponder(p, mm1 ?? new Uint8Array())
  // MM3 HDR, KE, Ni -->  (twice: network duplicate)
  const [mm3] = toInitiator(p, mm2 ?? new Uint8Array())
  const [mm4] = toResponder(p, mm3 ?? new Uint8Array())
  const rAwaitMm5 = p.r
  const [mm4dup] = toResponder(p, mm3 ?? new Uint8Array())
  t.equal(p.r, rAwaitMm5, 'state unchanged: no second DH, no second nonce')
  t.equal(hex(mm4dup ?? new Uint8Array()), hex(mm4 ?? new Uint8Array()), 'cached MM4')
  // MM4 HDR, KE, Nr <--  (twice)
  const [mm5] = toInitiator(p, mm4 ?? new Uint8Array())
  const iAwaitMm6 = p.i
  t.same(toInitiator(p, mm4dup ?? new Uint8Array()), [], 'duplicate MM4: nothing sent')
  t.equal(p.i, iAwaitMm6, 'duplicate MM4: state unchanged')
  run(p, [mm5 ?? new Uint8Array()])
  const sas = doneSas(t, p)
  if (sas) assertSameKeys(t, ...sas)
  t.end()
})

t.test('lost MM6: MM5 re-sent, the done responder re-sends MM6 from its cache', (t) => {
  const p = newPair(gmConfig(), ksConfig())
  const [mm1] = start(p)
  const [mm2] = toResponder(p, mm1 ?? new Uint8Array())
  const [mm3] = toInitiator(p, mm2 ?? new Uint8Array())
  const [mm4] = toResponder(p, mm3 ?? new Uint8Array())
  const [mm5] = toInitiator(p, mm4 ?? new Uint8Array())
  const [mm6] = toResponder(p, mm5 ?? new Uint8Array()) // lost
  t.equal(p.r.s, 'done')
  const rDone = p.r
  const [, actions] = stepInitiator(p.i, { type: 'timer', timer: 'retransmit' }, p.ix)
  const resent = actions.find((a) => a.type === 'send')
  t.ok(resent?.type === 'send' && hex(resent.bytes) === hex(mm5 ?? new Uint8Array()), 'MM5 re-sent byte for byte')
  const [mm6again] = toResponder(p, mm5 ?? new Uint8Array())
  t.equal(p.r, rDone)
  t.equal(hex(mm6again ?? new Uint8Array()), hex(mm6 ?? new Uint8Array()))
  toInitiator(p, mm6again ?? new Uint8Array())
  const sas = doneSas(t, p)
  if (sas) assertSameKeys(t, ...sas)
  // after done, anything else is ignored
  const [st2, a2] = stepInitiator(p.i, { type: 'datagram', bytes: mm6 ?? new Uint8Array() }, p.ix)
  t.equal(st2, p.i)
  t.same(a2, [])
  t.end()
})

t.test('reordering: late duplicates and early messages are dropped without disturbing the exchange', (t) => {
  const p = newPair(gmConfig(), ksConfig())
  const [mm1] = start(p)
  const [mm2] = toResponder(p, mm1 ?? new Uint8Array())
  const [mm3] = toInitiator(p, mm2 ?? new Uint8Array())
  const [mm4] = toResponder(p, mm3 ?? new Uint8Array())
  // a delayed duplicate of MM1 reaches the responder after MM3: not the last request, plaintext → dropped
  const r = p.r
  t.same(toResponder(p, mm1 ?? new Uint8Array()), [])
  t.equal(p.r, r)
  // a delayed MM2 reaches the initiator while it waits for MM4: dropped
  const i = p.i
  t.same(toInitiator(p, mm2 ?? new Uint8Array()), [])
  t.equal(p.i, i)
  const [mm5] = toInitiator(p, mm4 ?? new Uint8Array())
  // ... and again while it waits for MM6
  t.same(toInitiator(p, mm2 ?? new Uint8Array()), [])
  t.same(toInitiator(p, mm4 ?? new Uint8Array()), [])
  t.equal(p.i.s, 'awaitMm6')
  run(p, [mm5 ?? new Uint8Array()])
  const sas = doneSas(t, p)
  if (sas) assertSameKeys(t, ...sas)

  // MM5 overtaking MM3 at a fresh responder: encrypted while MM3 is awaited → dropped, then the normal order works
  const q = newPair(gmConfig(), ksConfig(), 'reorder2')
  const [n1] = start(q)
  const [n2] = toResponder(q, n1 ?? new Uint8Array())
  const [n3] = toInitiator(q, n2 ?? new Uint8Array())
  const rq = q.r
  t.same(toResponder(q, p.transcript[4]?.bytes ?? new Uint8Array()), [], 'foreign MM5 (other cookies) dropped')
  t.equal(q.r, rq)
  run(q, [n3 ?? new Uint8Array()])
  t.ok(doneSas(t, q))
  t.end()
})

t.test('wrong PSK: the responder fails MM5 with auth-failed, sends AUTHENTICATION-FAILED, the prior state is intact', (t) => {
  const p = newPair(gmConfig(), ksConfig([lab], { pskFor: () => ascii('not-the-key') }))
  const [mm1] = start(p)
  const [mm2] = toResponder(p, mm1 ?? new Uint8Array())
  const [mm3] = toInitiator(p, mm2 ?? new Uint8Array())
  const [mm4] = toResponder(p, mm3 ?? new Uint8Array())
  const [mm5] = toInitiator(p, mm4 ?? new Uint8Array())
  const before = p.r
  const snapshot = JSON.stringify(before, (_k, v: unknown) => (v instanceof Uint8Array ? hex(v) : v))
  const [notify] = toResponder(p, mm5 ?? new Uint8Array())
  t.equal(p.r.s, 'failed')
  t.equal(p.r.s === 'failed' && p.r.reason, 'auth-failed')
  t.ok(p.rActions.some((a) => a.type === 'cancel' && a.timer === 'expire'))
  t.equal(JSON.stringify(before, (_k, v: unknown) => (v instanceof Uint8Array ? hex(v) : v)), snapshot, 'the awaitMm5 state value is unchanged')
  // HDR, N(AUTHENTICATION-FAILED) <--  (unencrypted, exchange 5, M-ID 0)
  const info = openPlainInformational(notify ?? new Uint8Array())
  t.ok(info.ok)
  if (info.ok) {
    t.equal(info.header.exchange, ExchangeType.INFORMATIONAL)
    t.equal(info.header.messageId, 0)
    t.equal(info.header.flags, 0)
    const n = info.payloads[0]
    t.equal(n !== undefined && 'notifyType' in n ? n.notifyType : -1, NotifyType.AUTHENTICATION_FAILED)
  }
  // the initiator gives up on the notify
  toInitiator(p, notify ?? new Uint8Array())
  t.equal(p.i.s, 'failed')
  t.equal(p.i.s === 'failed' && p.i.reason, 'peer-notify')
  t.equal(p.i.s === 'failed' && p.i.peerNotifyType, NotifyType.AUTHENTICATION_FAILED)
  t.end()
})

t.test('a spoofed MM5 fails, but the caller may keep the previous state: the genuine MM5 still completes', (t) => {
  const p = newPair(gmConfig(), ksConfig([lab], { notifyOnFailure: false }))
  const [mm1] = start(p)
  const [mm2] = toResponder(p, mm1 ?? new Uint8Array())
  const [mm3] = toInitiator(p, mm2 ?? new Uint8Array())
  const [mm4] = toResponder(p, mm3 ?? new Uint8Array())
  const [mm5] = toInitiator(p, mm4 ?? new Uint8Array())
  const spoof = (mm5 ?? new Uint8Array()).slice()
  spoof[40] = (spoof[40] ?? 0) ^ 0xff
  const [failedSt, actions] = stepResponder(p.r, { type: 'datagram', bytes: spoof }, p.rx)
  t.equal(failedSt.s, 'failed')
  t.equal(failedSt.s === 'failed' && failedSt.reason, 'auth-failed')
  t.same(actions, [{ type: 'cancel', timer: 'expire' }], 'notifyOnFailure: false → nothing sent')
  run(p, [mm5 ?? new Uint8Array()])
  const sas = doneSas(t, p)
  if (sas) assertSameKeys(t, ...sas)
  t.end()
})

t.test('bad HASH_I → bad-hash + INVALID-HASH-INFORMATION; bad HASH_R → initiator bad-hash', (t) => {
  const p = newPair(gmConfig(), ksConfig())
  const [mm1] = start(p)
  const [mm2] = toResponder(p, mm1 ?? new Uint8Array())
  const [mm3] = toInitiator(p, mm2 ?? new Uint8Array())
  const [mm4] = toResponder(p, mm3 ?? new Uint8Array())
  const [mm5] = toInitiator(p, mm4 ?? new Uint8Array())
  if (p.i.s !== 'awaitMm6' || p.r.s !== 'awaitMm5') return t.fail('setup')
  const keys = p.i.keys
  // MM5 HDR*, IDii, HASH(wrong) -->   (correctly encrypted, so only the HASH is wrong)
  const wrongHash = new Uint8Array(20).fill(0x5a)
  const badMm5 = sealMessage(keys, ExchangeType.IDENTITY_PROTECTION, 0, keys.iv, [idIpv4(GM_ADDRESS), { type: PayloadType.HASH, data: wrongHash }])
  const [st, actions] = stepResponder(p.r, { type: 'datagram', bytes: badMm5.bytes }, p.rx)
  t.equal(st.s === 'failed' && st.reason, 'bad-hash')
  const n = openPlainInformational(actions.find((a) => a.type === 'send')?.type === 'send' ? (actions[0] as { bytes: Uint8Array }).bytes : new Uint8Array())
  t.ok(n.ok && n.payloads[0] !== undefined && 'notifyType' in n.payloads[0] && n.payloads[0].notifyType === NotifyType.INVALID_HASH_INFORMATION)
  // missing HASH altogether → malformed (rules: HASH or SIG required)
  const noHash = sealMessage(keys, ExchangeType.IDENTITY_PROTECTION, 0, keys.iv, [idIpv4(GM_ADDRESS)])
  const [st2] = stepResponder(p.r, { type: 'datagram', bytes: noHash.bytes }, p.rx)
  t.equal(st2.s === 'failed' && st2.reason, 'malformed')

  // the genuine MM5, then a forged MM6 with a wrong HASH_R, encrypted under the right key and IV
  const [mm6] = toResponder(p, mm5 ?? new Uint8Array())
  t.ok(mm6)
  const ivMm6 = p.i.ivMm6
  const badMm6 = sealMessage(keys, ExchangeType.IDENTITY_PROTECTION, 0, ivMm6, [idIpv4('10.0.0.1'), { type: PayloadType.HASH, data: wrongHash }])
  const [ist] = stepInitiator(p.i, { type: 'datagram', bytes: badMm6.bytes }, p.ix)
  t.equal(ist.s === 'failed' && ist.reason, 'bad-hash')
  t.end()
})

t.test('no acceptable proposal: NO-PROPOSAL-CHOSEN from the responder ends the initiator', (t) => {
  const p = newPair(gmConfig([{ ...lab, encryption: '3des', group: 2 }]), ksConfig([{ ...lab, group: 14 }]))
  const [mm1] = start(p)
  const [notify] = toResponder(p, mm1 ?? new Uint8Array())
  t.equal(p.r.s === 'failed' && p.r.reason, 'no-proposal')
  const h = decodeHeader(notify ?? new Uint8Array())
  t.equal(h.exchange, ExchangeType.INFORMATIONAL)
  t.equal(hex(h.rcookie), '0000000000000000', 'no responder state: zero CKY-R')
  toInitiator(p, notify ?? new Uint8Array())
  t.equal(p.i.s === 'failed' && p.i.reason, 'peer-notify')
  t.equal(p.i.s === 'failed' && p.i.peerNotifyType, NotifyType.NO_PROPOSAL_CHOSEN)
  t.ok(p.iActions.some((a) => a.type === 'cancel' && a.timer === 'retransmit'))

  // no PSK for this peer: psk transforms are not acceptable
  const q = newPair(gmConfig(), ksConfig([lab], { pskFor: (a) => (a === '203.0.113.9' ? PSK : undefined) }))
  toResponder(q, start(q)[0] ?? new Uint8Array())
  t.equal(q.r.s === 'failed' && q.r.reason, 'no-proposal')

  // an MM2 that picks a transform we never offered
  const r = newPair(gmConfig([lab]), ksConfig())
  const [m1] = start(r)
  const icookie = decodeHeader(m1 ?? new Uint8Array()).icookie
  const other = buildPhase1OfferSa([{ ...lab, encryption: '3des' }], 2)
  const forged = encodeMessage(
    { icookie, rcookie: new Uint8Array(8).fill(1), version: 0x10, exchange: ExchangeType.IDENTITY_PROTECTION, flags: 0, messageId: 0 },
    [other],
  )
  toInitiator(r, forged)
  t.equal(r.i.s === 'failed' && r.i.reason, 'no-proposal')
  t.end()
})

t.test('malformed and foreign datagrams', (t) => {
  const p = newPair(gmConfig(), ksConfig())
  const [mm1] = start(p)
  const [mm2] = toResponder(p, mm1 ?? new Uint8Array())
  const i = p.i
  t.same(toInitiator(p, new Uint8Array([1, 2, 3])), [], 'not ISAKMP: ignored')
  t.equal(p.i, i)
  const otherCookie = (mm2 ?? new Uint8Array()).slice()
  otherCookie[0] = (otherCookie[0] ?? 0) ^ 1
  t.same(toInitiator(p, otherCookie), [], 'someone else’s exchange: ignored')
  t.equal(p.i, i)
  // MM2 cut short: header length adjusted, chain truncated → malformed
  const cut = (mm2 ?? new Uint8Array()).slice(0, 40)
  new DataView(cut.buffer).setUint32(24, 40)
  toInitiator(p, cut)
  t.equal(p.i.s === 'failed' && p.i.reason, 'malformed')

  // a responder fed something that is not an MM1
  const r0 = createResponder(ksConfig(), GM_ADDRESS)
  const [rs] = stepResponder(r0, { type: 'datagram', bytes: mm2 ?? new Uint8Array() }, p.rx)
  t.equal(rs.s === 'failed' && rs.reason, 'malformed')
  const [rs2] = stepResponder(r0, { type: 'datagram', bytes: new Uint8Array(5) }, p.rx)
  t.equal(rs2.s === 'failed' && rs2.reason, 'malformed')
  t.end()
})

t.test('bad DH public value → bad-dh + INVALID-KEY-INFORMATION', (t) => {
  const p = newPair(gmConfig(), ksConfig())
  const [mm1] = start(p)
  const [mm2] = toResponder(p, mm1 ?? new Uint8Array())
  const [mm3] = toInitiator(p, mm2 ?? new Uint8Array())
  const m = decodeMessage(mm3 ?? new Uint8Array())
  const h = m.header
  const forged = encodeMessage(h, [
    { type: PayloadType.KE, data: new Uint8Array(192) }, // y = 0
    ...(m.chain?.payloads.slice(1) ?? []),
  ])
  const [notify] = toResponder(p, forged)
  t.equal(p.r.s === 'failed' && p.r.reason, 'bad-dh')
  const info = openPlainInformational(notify ?? new Uint8Array())
  t.ok(info.ok && info.payloads[0] !== undefined && 'notifyType' in info.payloads[0] && info.payloads[0].notifyType === 17)
  t.end()
})

t.test('timeout: maxTries retransmissions, then failed; the expire timer ends either side', (t) => {
  const policy = { intervalMs: 1000, maxTries: 3 }
  let st: MainModeInitiator = createInitiator(gmConfig([lab], { retransmit: policy, exchangeMaxMs: 60_000 }))
  const p = newPair(gmConfig(), ksConfig())
  let actions
  ;[st, actions] = stepInitiator(st, { type: 'start' }, p.ix)
  t.same(actions.filter((a) => a.type === 'arm'), [
    { type: 'arm', timer: 'retransmit', ms: 1000 },
    { type: 'arm', timer: 'expire', ms: 60_000 },
  ])
  const mm1 = actions.find((a) => a.type === 'send')
  for (let k = 1; k <= 3; k++) {
    ;[st, actions] = stepInitiator(st, { type: 'timer', timer: 'retransmit' }, p.ix)
    t.same(actions, [mm1, { type: 'arm', timer: 'retransmit', ms: 1000 }], `retransmission ${k}`)
  }
  ;[st, actions] = stepInitiator(st, { type: 'timer', timer: 'retransmit' }, p.ix)
  t.equal(st.s === 'failed' && st.reason, 'timeout')
  t.same(actions, [{ type: 'cancel', timer: 'retransmit' }, { type: 'cancel', timer: 'expire' }])
  // timers after the end are ignored
  const [st2, a2] = stepInitiator(st, { type: 'timer', timer: 'retransmit' }, p.ix)
  t.equal(st2, st)
  t.same(a2, [])

  // expire in the middle of the exchange
  const q = newPair(gmConfig(), ksConfig())
  const [m1] = start(q)
  toInitiator(q, toResponder(q, m1 ?? new Uint8Array())[0] ?? new Uint8Array())
  t.same(q.rActions.filter((a) => a.type === 'arm'), [{ type: 'arm', timer: 'expire', ms: 120_000 }], 'responder arms expire at MM1')
  const [ie] = stepInitiator(q.i, { type: 'timer', timer: 'expire' }, q.ix)
  t.equal(ie.s === 'failed' && ie.reason, 'timeout')
  const [re] = stepResponder(q.r, { type: 'timer', timer: 'expire' }, q.rx)
  t.equal(re.s === 'failed' && re.reason, 'timeout')
  const [rr, ra] = stepResponder(q.r, { type: 'timer', timer: 'retransmit' }, q.rx)
  t.equal(rr, q.r, 'the responder never retransmits on its own')
  t.same(ra, [])
  t.end()
})

t.test('configuration errors throw at creation', (t) => {
  t.throws(() => createInitiator({ proposals: [lab], localId: idIpv4(GM_ADDRESS) }), TypeError)
  t.throws(() => createInitiator({ proposals: [], psk: PSK, localId: idIpv4(GM_ADDRESS) }), TypeError)
  t.throws(() => createInitiator(gmConfig([{ ...lab, auth: 'rsa' }])), TypeError)
  t.throws(() => createInitiator(gmConfig([lab], { nonceBytes: 4 })), TypeError)
  t.throws(() => createResponder({ proposals: [lab], localId: idIpv4('10.0.0.1') }, GM_ADDRESS), TypeError)
  t.throws(() => createResponder(ksConfig([{ ...lab, auth: 'rsa' }]), GM_ADDRESS), TypeError)
  const st: MainModeResponder = createResponder(ksConfig(), GM_ADDRESS)
  t.same(stepResponder(st, { type: 'start' }, newPair(gmConfig(), ksConfig()).rx), [st, []])
  t.end()
})
