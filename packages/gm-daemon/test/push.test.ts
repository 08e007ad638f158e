// GROUPKEY-PUSH on the member: TEK rollover with the GAP activation/deactivation delays as seen in the
// SA table, pushes that must be dropped (replayed, old SEQ, forged, under a retired KEK) with state
// unchanged, KEK rollover, RFC 8263 ACKs verified by the KS, multicast rekeys, Delete payloads.
import t from 'tap'
import { LogEvent } from '@gdoi/daemon-kit'
import { GmChannel } from '../src/diag.js'
import { GM_ADDRESS, logEvents, setup, type Setup } from './helpers/harness.js'
import { forgingKey, tekKeys, tekPolicy, toHex } from './helpers/test-ks.js'

const GM = { address: GM_ADDRESS, port: 848 }

/** Everything a rejected push must leave alone. */
function snapshot(s: Setup): unknown {
  return {
    sas: s.gm.sas.list().map((x) => [x.spi, x.state, x.expiresAtMs, x.retireAtMs ?? null, x.activateAtMs ?? null]),
    keks: s.gm.status().keks.map((k) => [k.spi, k.lastSeq, k.lifetimeSec]),
    received: s.gm.status().rekeys.received,
    acl: s.gm.status().acl.entries,
  }
}

t.test('TEK rollover: inbound at once, outbound after ATD, old TEK removed after DTD', async (t) => {
  const s = await setup({ ks: { gap: { activationDelaySec: 30, deactivationDelaySec: 120 } } })
  t.teardown(() => s.close())
  const ks = s.kss[0]!
  const t0 = s.clock.nowMs()
  ks.sendTo(ks.tekRollover(0x1002), GM)
  s.clock.advance(5)
  const old = s.gm.sas.inbound(0x1001)
  const neu = s.gm.sas.inbound(0x1002)
  t.equal(neu?.state, 'pending', 'new TEK installed inbound, not yet sending')
  t.equal(old?.state, 'current', 'old TEK still sending')
  t.equal(s.gm.sas.outbound('ip 10.1.0.0/16 10.2.0.0/16')?.spi, 0x1001)
  t.ok(neu?.activateAtMs !== undefined && Math.abs(neu.activateAtMs - (t0 + 30_000)) < 100, 'activation at receipt + ATD')
  t.ok(old?.retireAtMs !== undefined && Math.abs(old.retireAtMs - (t0 + 120_000)) < 100, 'old TEK retires at receipt + DTD')
  t.equal(s.on(GmChannel.PUSH_ACCEPTED).length, 1)
  t.equal(s.on(GmChannel.PUSH_ACCEPTED)[0]?.['seq'], 1)
  t.equal(s.gm.status().rekeys.received, 1)
  const rcv = logEvents(s.sink, LogEvent.REKEY_RECEIVED)
  t.equal(rcv.length, 1)
  t.equal(rcv[0]?.['seq'], 1, 'rekey received logged with its SEQ')
  const rows = s.gm.status().ipsecSas.map((r) => [r.spiHex, r.direction, r.state])
  t.same(rows, [
    ['0x00001001', 'inbound', 'retiring'],
    ['0x00001001', 'outbound', 'active'],
    ['0x00001002', 'inbound', 'active'],
    ['0x00001002', 'outbound', 'pending'],
  ])

  s.clock.advance(30_000)
  t.equal(s.gm.sas.outbound('ip 10.1.0.0/16 10.2.0.0/16')?.spi, 0x1002, 'after ATD the new TEK sends')
  t.equal(s.gm.sas.inbound(0x1001)?.state, 'previous', 'the old one only receives')
  t.same(s.on(GmChannel.TEK_ACTIVATED).map((m) => m['spi']), [0x1001, 0x1002])

  s.clock.advance(85_000)
  t.ok(s.gm.sas.inbound(0x1001), 'old TEK still receiving before DTD')
  s.clock.advance(6_000)
  t.equal(s.gm.sas.inbound(0x1001), undefined, 'old TEK gone after DTD')
  t.same(s.on(GmChannel.TEK_EXPIRED).map((m) => [m['spi'], m['reason']]), [[0x1001, 'deactivated']])
  t.equal(logEvents(s.sink, LogEvent.TEK_EXPIRED).length, 1)
  t.same(s.gm.status().ipsecSas.map((r) => [r.spiHex, r.direction]), [['0x00001002', 'inbound'], ['0x00001002', 'outbound']])
})

t.test('replayed, old, forged and retired-KEK pushes are dropped, counted, logged; state unchanged', async (t) => {
  const s = await setup()
  t.teardown(() => s.close())
  const ks = s.kss[0]!
  const first = ks.tekRollover(0x1002)
  ks.sendTo(first, GM)
  s.clock.advance(5)
  t.equal(s.gm.status().rekeys.received, 1)
  const before = snapshot(s)

  ks.sendTo(first, GM) // replay (also what a KS retransmission looks like)
  s.clock.advance(5)
  t.same(snapshot(s), before, 'replay: nothing changed')

  const old = ks.buildPush({ seq: 1, policy: { teks: [tekPolicy(0x1003)] }, keys: { teks: [tekKeys(0x1003)] } })
  ks.sendTo(old, GM)
  s.clock.advance(5)
  t.same(snapshot(s), before, 'old SEQ: nothing changed')
  t.equal(s.gm.sas.inbound(0x1003), undefined)

  const forged = ks.buildPush({ seq: 50, policy: { teks: [tekPolicy(0x1004)] }, keys: { teks: [tekKeys(0x1004)] }, signWith: forgingKey() })
  ks.sendTo(forged, GM)
  s.clock.advance(5)
  t.same(snapshot(s), before, 'forged: nothing changed')
  t.equal(s.gm.status().kek?.lastSeq, 1, 'lastSeq not advanced by the forged SEQ 50')

  const truncated = Uint8Array.from(first.subarray(0, 40))
  ks.sendTo(truncated, GM)
  s.clock.advance(5)
  t.same(snapshot(s), before, 'truncated datagram: nothing changed')
  t.equal(s.gm.status().decodeErrors['ERR_BAD_LENGTH'], 1, 'dropped at the receive boundary, counted by code')

  const garbage = new Uint8Array(28 + 32).fill(0x41)
  garbage.set(first.subarray(0, 28))
  new DataView(garbage.buffer).setUint32(24, garbage.length)
  ks.sendTo(garbage, GM)
  s.clock.advance(5)
  t.same(snapshot(s), before, 'undecryptable push under our KEK: nothing changed')

  const c = s.gm.status().rekeys.rejected
  t.same(c, { duplicate: 1, malformed: 1, 'unknown-kek': 0, replay: 1, 'bad-signature': 1, 'bad-policy': 0 })
  const reasons = logEvents(s.sink, LogEvent.REKEY_REJECTED).map((l) => l['reason'])
  t.same(reasons.sort(), ['bad-signature', 'duplicate', 'malformed', 'replay'])
  t.same(s.on(GmChannel.PUSH_REJECTED).map((m) => m['reason']).sort(), ['bad-signature', 'duplicate', 'malformed', 'replay'])
  const replay = logEvents(s.sink, LogEvent.REKEY_REJECTED).find((l) => l['reason'] === 'replay')
  t.equal(replay?.['seq'], 1)
  t.equal(replay?.['lastSeq'], 1)
  t.equal(s.gm.status().rekeys.acksSent, 2, 'only the accepted push was acknowledged (its byte-identical copy: the same ACK again)')
  t.equal(s.gm.status().rekeys.acksResent, 1, 'old SEQ, forged, truncated, undecryptable: no ACK')
  t.equal(ks.acks.filter((a) => a.verdict.ok).length, 1, 'one ACK accepted by the KS, the re-sent copy is its duplicate')
})

t.test('KEK rollover: new KEK from a push, old KEK retired by the first push under the new one', async (t) => {
  const s = await setup()
  t.teardown(() => s.close())
  const ks = s.kss[0]!
  const kek0 = ks.kek!
  ks.sendTo(ks.kekRollover({ lifetimeSec: 7200 }), GM)
  s.clock.advance(5)
  const kek1 = ks.kek!
  t.equal(s.gm.status().keks.length, 2, 'both KEKs held during the rollover')
  t.equal(s.on(GmChannel.KEK_INSTALLED).length, 2)
  t.equal(s.gm.status().kek?.spi, `0x${toHex(kek1.policy.spi).toUpperCase()}`, 'status shows the newest KEK')
  t.equal(s.gm.status().kek?.lastSeq, 0, 'the new KEK starts at SEQ 0')
  t.equal(s.gm.status().kek?.lifetimeSec, 7200)

  ks.sendTo(ks.tekRollover(0x1002), GM) // SEQ 1 under the new KEK
  s.clock.advance(5)
  t.equal(s.gm.status().rekeys.received, 2)
  t.same(s.gm.status().keks.map((k) => k.spi), [`0x${toHex(kek1.policy.spi).toUpperCase()}`], 'old KEK retired')
  t.same(s.on(GmChannel.KEK_RETIRED).map((m) => [m['spi'], m['reason']]), [[toHex(kek0.policy.spi), 'replaced']])
  t.ok(s.gm.sas.inbound(0x1002), 'TEK from the new KEK installed')

  const before = snapshot(s)
  ks.sendTo(ks.buildPush({ under: kek0, seq: 9, policy: { teks: [tekPolicy(0x1005)] }, keys: { teks: [tekKeys(0x1005)] } }), GM)
  s.clock.advance(5)
  t.same(snapshot(s), before, 'a push under the retired KEK changes nothing')
  t.equal(s.gm.status().rekeys.rejected['unknown-kek'], 1)
  t.ok(logEvents(s.sink, LogEvent.REKEY_REJECTED).some((l) => l['reason'] === 'unknown-kek'))
  t.equal(ks.acks.length, 2, 'both accepted pushes acknowledged')
  t.ok(ks.acks.every((a) => a.verdict.ok), 'ACKs verify under the KEK that protected each push')
})

t.test('RFC 8263 ACK: sent back to the push source with a HASH the KS verifies', async (t) => {
  const s = await setup()
  t.teardown(() => s.close())
  const ks = s.kss[0]!
  ks.sendTo(ks.tekRollover(0x1002), GM)
  s.clock.advance(5)
  t.equal(ks.acks.length, 1)
  const a = ks.acks[0]!
  t.ok(a.verdict.ok, 'verifyAck accepts the HASH')
  if (a.verdict.ok) {
    t.equal(a.verdict.seq, 1)
    t.equal(a.verdict.memberAddress, GM_ADDRESS, 'ID = the address we registered from')
    t.equal(toHex(a.verdict.kekSpi), toHex(ks.kek!.policy.spi))
  }
  t.same(a.from, GM, 'from our UDP 848 socket')
  t.equal(s.gm.status().rekeys.acksSent, 1)
  t.equal(s.on(GmChannel.ACK_SENT).length, 1)
  t.equal(logEvents(s.sink, LogEvent.REKEY_ACK)[0]?.['seq'], 1)
})

t.test('a retransmitted push is acknowledged again when the first ACK was lost (and only then)', async (t) => {
  const s = await setup()
  t.teardown(() => s.close())
  const ks = s.kss[0]!
  let dropAcks = 1
  s.net.setFilter((d) => {
    if (d.to.address !== ks.address || d.bytes[18] !== 35 || dropAcks === 0) return true
    dropAcks--
    return false // the first ACK is lost on the way
  })
  const push = ks.tekRollover(0x1002)
  ks.sendTo(push, GM)
  s.clock.advance(5)
  t.equal(s.gm.status().rekeys.received, 1)
  t.equal(s.gm.status().rekeys.acksSent, 1, 'ACK sent')
  t.equal(ks.acks.length, 0, 'but lost: the KS has not heard from us')
  const before = snapshot(s)

  ks.sendTo(push, GM) // KS retransmission: byte-identical, dropped as duplicate before any crypto
  s.clock.advance(5)
  t.same(snapshot(s), before, 'the duplicate changed nothing')
  t.equal(s.gm.status().rekeys.rejected.duplicate, 1)
  t.equal(ks.acks.length, 1, 'the same ACK again reached the KS')
  const v = ks.acks[0]!.verdict
  t.ok(v.ok, 'and verifies')
  if (v.ok) t.equal(v.seq, 1)
  t.same(ks.acks[0]!.from, GM)
  t.equal(s.gm.status().rekeys.acksResent, 1)
  t.equal(s.gm.status().rekeys.acksSent, 2)
  t.same(s.on(GmChannel.ACK_SENT).map((m) => [m['seq'], m['resent'] ?? false]), [[1, false], [1, true]])

  ks.sendTo(push, GM) // a third copy: re-ACKed too; the KS drops it as a duplicate ACK (RFC 8263 §5)
  s.clock.advance(5)
  t.equal(s.gm.status().rekeys.acksResent, 2)
  t.equal(ks.acks.length, 2)
  t.same(ks.acks[1]!.verdict, { ok: false, reason: 'duplicate' })
})

t.test('never an ACK for a push that was not accepted: forged, replayed-old, or with ACKs disabled', async (t) => {
  const s = await setup()
  t.teardown(() => s.close())
  const ks = s.kss[0]!
  const forged = ks.buildPush({ seq: 5, policy: { teks: [tekPolicy(0x1004)] }, keys: { teks: [tekKeys(0x1004)] }, signWith: forgingKey() })
  for (let i = 0; i < 3; i++) {
    ks.sendTo(forged, GM)
    s.clock.advance(5)
  }
  t.equal(s.gm.status().rekeys.rejected['bad-signature'], 3, 'a rejected push is never remembered, so never a duplicate')
  t.equal(s.gm.status().rekeys.acksSent, 0)
  t.equal(ks.acks.length, 0)

  const off = await setup({ config: { rekeyAck: 'none' }, gmAddress: '10.0.1.2' })
  t.teardown(() => off.close())
  const ks2 = off.kss[0]!
  const push = ks2.tekRollover(0x1002)
  const gm2 = { address: '10.0.1.2', port: 848 }
  ks2.sendTo(push, gm2)
  off.clock.advance(5)
  ks2.sendTo(push, gm2)
  off.clock.advance(5)
  t.equal(off.gm.status().rekeys.rejected.duplicate, 1)
  t.equal(off.gm.status().rekeys.acksSent, 0, 'rekeyAck none: no ACK, not even for a retransmission')
  t.equal(ks2.acks.length, 0)
})

t.test('no ACK when the SAK does not ask for one, or when ACKs are disabled', async (t) => {
  const s = await setup({ config: { rekeyAck: 'none' } })
  t.teardown(() => s.close())
  const ks = s.kss[0]!
  ks.sendTo(ks.tekRollover(0x1002), GM)
  s.clock.advance(5)
  t.equal(s.gm.status().rekeys.received, 1)
  t.equal(ks.acks.length, 0)
  t.equal(s.gm.status().rekeys.acksSent, 0)
})

t.test('multicast rekey: the member joins the SAK DST group and acknowledges to the source', async (t) => {
  const s = await setup({ ks: { kek: { dst: '239.192.1.1' } } })
  t.teardown(() => s.close())
  const ks = s.kss[0]!
  t.equal(s.gm.status().rekeyTransport, 'Multicast')
  ks.sendTo(ks.tekRollover(0x1002), { address: '239.192.1.1', port: 848 })
  s.clock.advance(5)
  const st = s.gm.status()
  t.equal(st.rekeys.received, 1)
  t.equal(st.rekeys.receivedMulticast, 1)
  t.ok(s.gm.sas.inbound(0x1002))
  s.clock.advance(1100) // ACK jitter for multicast pushes
  t.equal(ks.acks.length, 1)
  t.ok(ks.acks[0]?.verdict.ok)
  t.ok(st.isakmpSas.some((r) => r.kind === 'rekey' && r.dst === '239.192.1.1' && r.state === 'GDOI_REKEY'))
})

t.test('Delete payloads: a deleted TEK leaves the table; losing every key triggers re-registration', async (t) => {
  const s = await setup()
  t.teardown(() => s.close())
  const ks = s.kss[0]!
  ks.sendTo(ks.tekRollover(0x1002, { deleteOld: [0x1001] }), GM)
  s.clock.advance(5)
  t.equal(s.gm.sas.inbound(0x1001), undefined, 'TEK 0x1001 deleted')
  t.ok(s.gm.sas.inbound(0x1002))
  t.equal(logEvents(s.sink, LogEvent.DELETE_RECEIVED).length, 1)

  const kek = ks.kek!
  ks.sendTo(ks.buildPush({ deletes: [{ kind: 'tek', spis: [0] }, { kind: 'kek', spis: [kek.policy.spi] }] }), GM)
  s.clock.advance(1) // delivered; the re-registration it triggers is still in flight
  t.equal(s.gm.sas.list().length, 0, 'all TEKs deleted')
  t.equal(s.on(GmChannel.REREGISTER).at(-1)?.['reason'], 'no keys left')
  s.clock.advance(1000)
  t.equal(ks.registrations.length, 2, 'registered again')
  t.ok(s.gm.sas.inbound(0x1002), 'and got the current TEK back')
})

t.test('pushed SAT whose keys come later (RFC 6407 §5.6.1)', async (t) => {
  const s = await setup()
  t.teardown(() => s.close())
  const ks = s.kss[0]!
  // A SAT without its key packet, then a push carrying only the key packet for that SPI.
  ks.sendTo(ks.buildPush({ policy: { teks: [tekPolicy(0x2001)] }, keys: { teks: [] } }), GM)
  s.clock.advance(5)
  t.equal(s.gm.sas.inbound(0x2001), undefined, 'not installed without keys')
  t.same(s.gm.status().awaitingKeys, ['0x00002001'])
  ks.sendTo(ks.buildPush({ policy: { teks: [tekPolicy(0x1001)] }, keys: { teks: [tekKeys(0x1001), tekKeys(0x2001)] } }), GM)
  s.clock.advance(5)
  t.ok(s.gm.sas.inbound(0x2001), 'installed when the keys arrive')
  t.same(s.gm.status().awaitingKeys, [])
})

t.test('tolerant input: 2-octet ID lengths (Wireshark/DigiCert form) and bare-hash push signatures (gdoid)', async (t) => {
  const s = await setup({ ks: { idLengthWidth: 2, sigForm: 'bare' } })
  t.teardown(() => s.close())
  const ks = s.kss[0]!
  t.equal(s.gm.status().registration.status, 'Registered', 'PULL2 with 2-octet SAT/SAK ID lengths understood')
  ks.sendTo(ks.tekRollover(0x1002), GM)
  s.clock.advance(5)
  t.equal(s.gm.status().rekeys.received, 1, 'bare-hash signature accepted')
  t.equal(logEvents(s.sink, LogEvent.REKEY_RECEIVED)[0]?.['sigForm'], 'bare')
  t.ok(s.gm.sas.inbound(0x1002))
})
