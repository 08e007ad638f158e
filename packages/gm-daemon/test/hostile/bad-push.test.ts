// Hostile rekeys and datagrams against a running group member over real UDP on loopback (127.0.66.20x,
// OS-chosen ports, the real clock): a replayed push, an old SEQ, a bad signature, a push under the retired
// KEK, random / truncated / oversized (65 000 octets) datagrams from an unexpected address and port. Each
// is counted by reason (status().rekeys.rejected, status().decodeErrors) with its log event, changes no
// state (SAs, KEKs, SEQ), and the member still accepts the next legitimate rekey.
// Figures: RELIABILITY.md, "Hostile input on the wire".
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { createLogger, createLogSink, createRealClock, createUdpTransport, LogEvent } from '@gdoi/daemon-kit'
import { startGroupMember, type GroupMember } from '../../src/main.js'
import { gmConfig } from '../helpers/harness.js'
import { forgingKey, tekKeys, tekPolicy, TestKeyServer } from '../helpers/test-ks.js'

const KS_ADDR = '127.0.66.201'
const GM_ADDR = '127.0.66.202'

async function until(cond: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

function snapshot(gm: GroupMember): unknown {
  const s = gm.status()
  return {
    sas: s.ipsecSas.map((x) => [x.spi, x.direction ?? '']).sort(),
    keks: s.keks.map((k) => [k.spi, k.lastSeq]),
    received: s.rekeys.received,
    registration: s.registration.status,
  }
}

t.test('hostile pushes and datagrams over real UDP: counted by reason, no state change, next rekey accepted', async (t) => {
  const ksT = await createUdpTransport({ address: KS_ADDR, port: 0 })
  const gmT = await createUdpTransport({ address: GM_ADDR, port: 0 })
  const ks = new TestKeyServer(ksT, { address: KS_ADDR }, () => Date.now())
  const sink = createLogSink()
  const gm = await startGroupMember({
    config: gmConfig({ keyServers: [{ address: KS_ADDR, port: ksT.local.port }], local: { address: GM_ADDR, port: 0 } }),
    transport: gmT,
    clock: createRealClock(),
    log: createLogger({ level: 'debug', format: 'json', destination: sink.stream }),
  })
  const evil = createSocket('udp4')
  await new Promise<void>((r) => evil.bind(0, '127.0.66.203', () => r()))
  t.teardown(async () => {
    evil.close()
    await gm.close()
    await gmT.close()
    await ksT.close()
  })
  const GM = { address: GM_ADDR, port: gmT.local.port }
  const events = (reason: string): number => sink.lines().filter((l) => l['event'] === LogEvent.REKEY_REJECTED && l['reason'] === reason).length
  const rejected = (code: string): number => (gm.status().rekeys.rejected as Record<string, number>)[code] ?? 0
  await until(() => gm.status().registration.status === 'Registered', 'registration')

  const first = ks.tekRollover(0x1002)
  ks.sendTo(first, GM)
  await until(() => gm.status().rekeys.received === 1, 'the first push')
  await until(() => ks.acks.length === 1, 'its ACK')
  const base = snapshot(gm)

  // replayed push (byte for byte): a duplicate, re-acknowledged, nothing installed twice
  ks.sendTo(first, GM)
  await until(() => rejected('duplicate') === 1, 'rekeys.rejected.duplicate')
  t.equal(events('duplicate'), 1, 'event gdoi.rekey.rejected reason=duplicate')
  t.same(snapshot(gm), base, 'replayed push: state unchanged')

  // a fresh push with an old SEQ (1 again, new content)
  ks.sendTo(ks.buildPush({ seq: 1, policy: { teks: [tekPolicy(0x1003)] }, keys: { teks: [tekKeys(0x1003)] } }), GM)
  await until(() => rejected('replay') === 1, 'rekeys.rejected.replay')
  t.equal(events('replay'), 1, 'event gdoi.rekey.rejected reason=replay')
  t.same(snapshot(gm), base, 'old SEQ: state unchanged')

  // signed with another RSA key, SEQ 50
  ks.sendTo(ks.buildPush({ seq: 50, policy: { teks: [tekPolicy(0x1004)] }, keys: { teks: [tekKeys(0x1004)] }, signWith: forgingKey() }), GM)
  await until(() => rejected('bad-signature') === 1, 'rekeys.rejected.bad-signature')
  t.equal(events('bad-signature'), 1, 'event gdoi.rekey.rejected reason=bad-signature')
  t.same(snapshot(gm), base, 'bad signature: state unchanged, SEQ not advanced to 50')

  // KEK rollover, then a push under the retired KEK
  const kek0 = ks.kek!
  ks.sendTo(ks.kekRollover({ lifetimeSec: 7200 }), GM)
  await until(() => gm.status().rekeys.received === 2, 'the KEK rollover')
  ks.sendTo(ks.tekRollover(0x1005), GM)
  await until(() => gm.status().rekeys.received === 3 && gm.status().keks.length === 1, 'SEQ 1 under the new KEK, old KEK retired')
  const base2 = snapshot(gm)
  ks.sendTo(ks.buildPush({ under: kek0, seq: 9, policy: { teks: [tekPolicy(0x1006)] }, keys: { teks: [tekKeys(0x1006)] } }), GM)
  await until(() => rejected('unknown-kek') === 1, 'rekeys.rejected.unknown-kek')
  t.equal(events('unknown-kek'), 1, 'event gdoi.rekey.rejected reason=unknown-kek')
  t.same(snapshot(gm), base2, 'retired KEK: state unchanged')

  // random, truncated and oversized datagrams from an unexpected address and port
  const send = (b: Uint8Array): Promise<void> => new Promise((r) => evil.send(b, GM.port, GM.address, () => r()))
  const decodeErrors = (): number => Object.values(gm.status().decodeErrors as Record<string, number>).reduce((a, v) => a + v, 0)
  const d0 = decodeErrors()
  const rej0 = Object.values(gm.status().rekeys.rejected as Record<string, number>).reduce((a, v) => a + v, 0)
  const N = 200
  for (let i = 0; i < N; i++) await send(new Uint8Array(randomBytes(1 + (i % 300))))
  for (const cut of [1, 27, 28, 40, first.length - 1]) await send(first.subarray(0, cut))
  const sentBad = N + 5
  await sleep(400)
  const rej1 = Object.values(gm.status().rekeys.rejected as Record<string, number>).reduce((a, v) => a + v, 0)
  const dropped = decodeErrors() - d0 + (rej1 - rej0)
  t.comment(`garbage: ${sentBad} sent; decodeErrors ${JSON.stringify(gm.status().decodeErrors)}; rejected ${JSON.stringify(gm.status().rekeys.rejected)}`)
  t.equal(dropped, sentBad, `every garbage datagram counted by reason (${dropped} of ${sentBad})`)
  t.same(snapshot(gm), base2, 'garbage: state unchanged')

  // a 65 000-octet datagram under the current KEK's cookies (it reaches the push code)
  const latest = ks.tekRollover(0x1010) // built, not sent: only its header is used
  const big = new Uint8Array(65_000)
  big.set(latest.subarray(0, 28))
  new DataView(big.buffer).setUint32(24, 65_000)
  const before = JSON.stringify([gm.status().decodeErrors, gm.status().rekeys.rejected])
  await send(big)
  await until(() => JSON.stringify([gm.status().decodeErrors, gm.status().rekeys.rejected]) !== before, 'the oversized datagram counted', 3000).catch(() => undefined)
  t.comment(`oversized: ${before} -> ${JSON.stringify([gm.status().decodeErrors, gm.status().rekeys.rejected])}`)
  t.not(JSON.stringify([gm.status().decodeErrors, gm.status().rekeys.rejected]), before, 'oversized datagram counted by reason')
  t.same(snapshot(gm), base2, 'oversized: state unchanged')

  // still serving: the next legitimate rekey is accepted and acknowledged
  const acks = ks.acks.length
  ks.sendTo(ks.tekRollover(0x1007), GM)
  await until(() => gm.status().rekeys.received === 4, 'the next legitimate rekey')
  await until(() => ks.acks.length > acks, 'its ACK')
  t.ok(gm.sas.inbound(0x1007), 'TEK 0x1007 installed')
  t.equal(gm.status().registration.status, 'Registered')
})
