// Hostile input against a running gdoi-ks over real UDP on loopback (127.0.66.x, OS-chosen ports, the real
// clock): each bad input must produce its specific log event and counter, change no state (members,
// phase-1 SAs, registrations, SEQ), and leave the key server serving a legitimate GM, which registers
// afterwards and receives the next rekey. Figures: RELIABILITY.md, "Hostile input on the wire".
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { createLogger, createLogSink, createRealClock, createUdpTransport, LogEvent, type Transport } from '@gdoi/daemon-kit'
import { startKeyServer, type KeyServer } from '../../src/main.js'
import { createMemoryStore } from '../../src/store/index.js'
import { ksConfig, testSigningKey, PSK, GROUP_NUMBER } from '../helpers/ks-fixture.js'
import { TestGm } from '../helpers/test-gm.js'
import { initPullMember, stepPullMember, type Phase1Sa } from '@gdoi/wire/exchange/index'

const KS_ADDR = '127.0.66.1'
const GROUP = 'GETVPN-GRP'
const FAST = { intervalMs: 150, maxTries: 3 }

async function until(cond: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** A GM transport that records what it sent (to replay it later). */
function recording(tr: Transport, sent: Uint8Array[]): Transport {
  return {
    get local() {
      return tr.local
    },
    send: (b, to) => {
      sent.push(Uint8Array.from(b))
      tr.send(b, to)
    },
    onDatagram: (h) => tr.onDatagram(h),
    close: () => tr.close(),
  }
}

interface Lab {
  ks: KeyServer
  ksT: Transport
  sink: ReturnType<typeof createLogSink>
  clock: ReturnType<typeof createRealClock>
  transports: Transport[]
  gm(address: string, extra?: Partial<ConstructorParameters<typeof TestGm>[0]>, sent?: Uint8Array[]): Promise<TestGm>
  events(name: string): number
  close(): Promise<void>
}

async function lab(authorization?: readonly string[]): Promise<Lab> {
  const sink = createLogSink()
  const log = createLogger({ level: 'debug', format: 'json', destination: sink.stream })
  const clock = createRealClock()
  const ksT = await createUdpTransport({ address: KS_ADDR, port: 0 })
  const base = ksConfig({ listen: KS_ADDR, ...(authorization !== undefined ? { authorization } : {}) })
  // no receive-size cap: the 65 000-octet datagrams below must reach the decoder (receive-cap.test.ts tests the cap)
  const config = { ...base, limits: { ...base.limits, maxDatagramBytes: 65_535 } }
  const ks = await startKeyServer({ config, transport: ksT, clock, log, store: createMemoryStore(), loadSigningKey: async () => testSigningKey() })
  const gms: TestGm[] = []
  const transports: Transport[] = []
  return {
    ks,
    ksT,
    sink,
    clock,
    transports,
    async gm(address, extra = {}, sent) {
      const raw = await createUdpTransport({ address, port: 0 })
      transports.push(raw)
      const g = new TestGm({
        name: address,
        transport: sent !== undefined ? recording(raw, sent) : raw,
        ks: { address: KS_ADDR, port: ksT.local.port },
        clock,
        psk: PSK,
        groupId: { kind: 'number', value: GROUP_NUMBER },
        retransmit: FAST,
        ...extra,
      })
      gms.push(g)
      return g
    },
    events: (name) => sink.lines().filter((l) => l['event'] === name).length,
    async close() {
      for (const g of gms) g.close()
      await ks.close()
      await ksT.close()
      for (const tr of transports) await tr.close()
    },
  }
}

/** What must not change: members, phase-1 SAs, registrations, SEQ, KEK and TEK SPIs. */
function snapshot(ks: KeyServer): unknown {
  const st = ks.status()
  const g = st.groups[0]
  return {
    members: g?.members.map((m) => m.address),
    ikeSas: st.ikeSas.length,
    registrations: st.counters['registrations'] ?? 0,
    seq: g?.seq,
    kek: g?.kek?.spi,
    teks: g?.teks.map((x) => x.spi),
  }
}

/** After every case: a legitimate GM registers and receives the next rekey. */
async function legitimateStillServed(t: { ok(v: unknown, m: string): void; pass(m: string): void }, l: Lab, address: string): Promise<void> {
  const gm = await l.gm(address)
  await gm.register()
  t.ok(l.ks.status().groups[0]?.members.some((m) => m.address === address), `legitimate GM ${address} registered`)
  const before = gm.accepted.length
  await l.ks.rekey(GROUP, 'tek')
  await until(() => gm.accepted.length > before, 'the legitimate GM accepting the next rekey')
  t.pass('legitimate GM accepted the next rekey')
}

t.test('hostile registrations over real UDP: wrong PSK, unknown group, unauthorized GM', async (t) => {
  const l = await lab(['127.0.66.0/24'])
  t.teardown(() => l.close())
  // authorization list: 127.0.66.0/24 — a GM outside it is refused (127.0.67.13)
  const base = snapshot(l.ks)

  const wrongPsk = await l.gm('127.0.66.11', { psk: 'not-the-key' })
  void wrongPsk.register().catch(() => undefined)
  await until(() => (l.ks.status().counters['ike.failed.auth-failed'] ?? 0) >= 1, 'ike.failed.auth-failed')
  t.equal(l.ks.status().counters['ike.failed.auth-failed'], 1, 'counter ike.failed.auth-failed')
  t.ok(l.events(LogEvent.IKE_FAILED) >= 1, 'event gdoi.ike.failed')
  await sleep(100)
  t.same(snapshot(l.ks), base, 'state unchanged (no member, no phase-1 SA)')

  const unknown = await l.gm('127.0.66.12', { groupId: { kind: 'number', value: 999 } })
  const e1 = await unknown.register().catch((e: unknown) => e as Error)
  t.match(String(e1), /"notifyType":18/, 'N(INVALID-ID-INFORMATION)')
  t.equal(l.ks.status().counters['registrations.refused.unknown-group'], 1, 'counter registrations.refused.unknown-group')
  t.equal(l.events(LogEvent.MEMBER_REFUSED), 1, 'event gdoi.member.refused')
  const afterUnknown = snapshot(l.ks) as { ikeSas: number }
  t.same({ ...afterUnknown, ikeSas: 0 }, base, 'no member, no registration, same keys (its phase-1 SA may stay)')

  const unauth = await l.gm('127.0.67.13')
  const e2 = await unauth.register().catch((e: unknown) => e as Error)
  t.match(String(e2), /"notifyType":18/)
  t.equal(l.ks.status().counters['registrations.refused.unauthorized'], 1, 'counter registrations.refused.unauthorized')
  t.equal(l.events(LogEvent.MEMBER_REFUSED), 2, 'event gdoi.member.refused')
  t.same(l.ks.status().groups[0]?.members.length, 0)

  await legitimateStillServed(t, l, '127.0.66.20')
})

t.test('hostile datagrams over real UDP: random, truncated, oversized, replays, unexpected source port', async (t) => {
  const l = await lab()
  t.teardown(() => l.close())
  // a legitimate registration whose datagrams we capture for the replays
  const sent: Uint8Array[] = []
  let phase1: Phase1Sa | undefined
  const first = await l.gm('127.0.66.30', { onPhase1: (sa) => (phase1 = sa) }, sent)
  await first.register()
  const base = snapshot(l.ks)
  const dropLogged = (reason: string): boolean => l.sink.lines().some((x) => x['event'] === LogEvent.DATAGRAM_DROPPED && x['reason'] === reason)
  const decodeDrops = (): number => Object.entries(l.ks.status().counters).filter(([k]) => k.startsWith('drop.decode.')).reduce((a, [, v]) => a + v, 0)

  const evil = createSocket('udp4')
  await new Promise<void>((r) => evil.bind(0, '127.0.66.66', () => r()))
  t.teardown(() => evil.close())
  let answers = 0
  evil.on('message', () => answers++)
  const send = (b: Uint8Array, from = evil): Promise<void> => new Promise((r) => from.send(b, l.ksT.local.port, KS_ADDR, () => r()))

  // random datagrams (≥ 28 octets but not a valid header), truncated headers, a 65 000-octet datagram
  const N = 200
  for (let i = 0; i < N; i++) await send(new Uint8Array(randomBytes(1 + (i % 300))))
  for (const d of sent.slice(0, 3)) for (const cut of [1, 27, 28, d.length - 1]) await send(d.subarray(0, Math.max(1, Math.min(cut, d.length - 1))))
  const total = N + 12
  await until(() => (l.ks.status().counters['datagrams.in'] ?? 0) >= total, 'the KS receiving every datagram')
  await sleep(200)
  const st = l.ks.status()
  const drops = decodeDrops()
  const other = Object.entries(st.counters).filter(([k]) => k.startsWith('drop.') && !k.startsWith('drop.decode.'))
  t.comment(`drop counters: ${JSON.stringify(Object.fromEntries(Object.entries(st.counters).filter(([k]) => k.startsWith('drop') || k.startsWith('ike.failed'))))}`)
  t.ok(drops + other.reduce((a, [, v]) => a + v, 0) + (st.counters['ike.failed.malformed'] ?? 0) >= 1, 'garbage counted by reason')
  t.ok(l.events(LogEvent.DECODE_ERROR) >= 1, 'event gdoi.decode.error')
  t.equal(st.counters['internal-error'], undefined, 'no internal error')
  t.equal(drops, total, `every garbage datagram counted by reason (${drops} of ${total})`)
  t.same(snapshot(l.ks), base, 'state unchanged')

  // a 65 000-octet datagram: a Main Mode header (fresh cookie) and zeros
  const big = new Uint8Array(65_000)
  big.set(sent[0]!.subarray(0, 28))
  big.set(randomBytes(8), 0)
  new DataView(big.buffer).setUint32(24, 65_000)
  const c0 = JSON.stringify(l.ks.status().counters)
  await send(big)
  await until(() => (l.ks.status().counters['datagrams.in'] ?? 0) >= total + 1, 'the oversized datagram')
  await sleep(100)
  const c1 = l.ks.status().counters
  t.comment(`oversized: ${c0} -> ${JSON.stringify(c1)}`)
  t.equal(c1['ike.failed.malformed'], 1, 'oversized: counter ike.failed.malformed')
  t.same(snapshot(l.ks), base, 'oversized: state unchanged')
  // the same under the established SA's cookies, from another address
  const big2 = new Uint8Array(65_000)
  big2.set(sent[0]!.subarray(0, 28))
  new DataView(big2.buffer).setUint32(24, 65_000)
  const c2 = JSON.stringify(l.ks.status().counters)
  await send(big2)
  await until(() => (l.ks.status().counters['datagrams.in'] ?? 0) >= total + 2, 'the second oversized datagram')
  await sleep(100)
  t.equal(l.ks.status().counters['drop.cookie-from-other-peer'], 1, 'oversized under known cookies: counter drop.cookie-from-other-peer')
  t.comment(`oversized under known cookies: ${c2} -> ${JSON.stringify(l.ks.status().counters)}`)
  t.same(snapshot(l.ks), base, 'oversized under known cookies: state unchanged')

  // replays of the captured Main Mode and PULL datagrams (from their original source: a spoofer's view,
  // and from an unexpected port)
  const answersBefore = answers
  const retransBefore = (st.counters['ike.retransmit-answered'] ?? 0) + (st.counters['pull.retransmit-answered'] ?? 0)
  for (const d of sent) await send(d)
  await sleep(300)
  const st2 = l.ks.status()
  t.comment(`after replays: ${JSON.stringify(Object.fromEntries(Object.entries(st2.counters).filter(([k]) => /drop|failed|retransmit|refused/.test(k))))}`)
  t.same(snapshot(l.ks), base, 'replayed Main Mode and PULL: no new SA, member or registration')
  t.equal(st2.counters['registrations'], 1, 'registered once')
  t.ok((st2.counters['drop.cookie-from-other-peer'] ?? 0) >= 1, 'counter drop.cookie-from-other-peer (replayed MM3/MM5/PULL from another address/port)')
  t.ok((st2.counters['drop.sa-from-other-peer'] ?? 0) >= 1, 'counter drop.sa-from-other-peer')
  t.ok(dropLogged('cookie-from-other-peer') && dropLogged('sa-from-other-peer'), 'event gdoi.datagram.dropped with both reasons')
  t.equal(answers, 0, 'nothing from 127.0.66.66 was ever answered')
  t.comment(`replays from 127.0.66.66: ${sent.length} sent, ${answers - answersBefore} answered (a replayed MM1 gets a fresh MM2, which leads nowhere without the PSK)`)

  // the same replays from the GM's own address and port: answered from the cache at most, never processed again
  for (const d of sent) l.transports[0]!.send(d, { address: KS_ADDR, port: l.ksT.local.port })
  await sleep(300)
  const st3 = l.ks.status()
  t.comment(`after same-source replays: ${JSON.stringify(Object.fromEntries(Object.entries(st3.counters).filter(([k]) => /drop|failed|retransmit|refused/.test(k))))}`)
  t.same(snapshot(l.ks), base, 'same-source replays: no new SA, member or registration')
  t.equal(st3.counters['pull.retransmit-answered'], 1, 'the replayed PULL1 answered from the cache, not processed')
  void retransBefore

  // GROUPKEY-PULL with a wrong HASH, sealed under the real phase-1 SA (right encryption keys, wrong SKEYID_a),
  // from the SA's own address and port
  const gmEnd = { address: KS_ADDR, port: l.ksT.local.port }
  const pull1 = (sa: Phase1Sa): Uint8Array => {
    const [, actions] = stepPullMember(initPullMember({ sa, groupId: { kind: 'number', value: GROUP_NUMBER }, retransmit: FAST }), { type: 'start' }, first.ctx)
    const a = actions.find((x) => x.type === 'send')
    if (a === undefined || a.type !== 'send') throw new Error('no PULL1')
    return a.bytes
  }
  t.ok(phase1, 'our phase-1 SA')
  const badHash = pull1({ ...phase1!, skeyidA: new Uint8Array(randomBytes(phase1!.skeyidA.length)) })
  const p0 = JSON.stringify(l.ks.status().counters)
  l.transports[0]!.send(badHash, gmEnd)
  await until(() => JSON.stringify(l.ks.status().counters) !== p0 && (l.ks.status().counters['datagrams.in'] ?? 0) > JSON.parse(p0)['datagrams.in'], 'the bad-HASH PULL1')
  await sleep(100)
  const p1 = l.ks.status().counters
  t.comment(`wrong HASH: ${p0} -> ${JSON.stringify(p1)}`)
  t.equal(p1['pull.failed.bad-hash'], 1, 'counter pull.failed.bad-hash')
  t.ok(l.sink.lines().some((x) => x['event'] === LogEvent.REGISTRATION_FAILED && x['reason'] === 'bad-hash'), 'event gdoi.registration.failed reason=bad-hash')
  t.same(snapshot(l.ks), base, 'wrong HASH: state unchanged')

  // GROUPKEY-PULL without phase 1: a correctly built PULL1 under cookies the KS never negotiated
  const orphan = pull1(phase1!)
  orphan.set(randomBytes(16), 0)
  const q0 = JSON.stringify(l.ks.status().counters)
  l.transports[0]!.send(orphan, gmEnd)
  await until(() => (l.ks.status().counters['datagrams.in'] ?? 0) > JSON.parse(q0)['datagrams.in'], 'the orphan PULL1')
  await sleep(100)
  const q1 = l.ks.status().counters
  t.comment(`PULL without phase 1: ${q0} -> ${JSON.stringify(q1)}`)
  t.equal(q1['drop.unknown-sa'], 1, 'counter drop.unknown-sa')
  t.ok(dropLogged('unknown-sa'), 'event gdoi.datagram.dropped reason=unknown-sa')
  t.same(snapshot(l.ks), base, 'PULL without phase 1: state unchanged')

  await legitimateStillServed(t, l, '127.0.66.31')
  t.ok(first.accepted.length >= 1, 'the first GM also received the rekey')
})
