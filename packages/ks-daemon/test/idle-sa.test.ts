// Established phase-1 SAs with nothing in progress are kept packed (packed-sa.ts) and woken by the next
// datagram under them; a finished PULL's PULL4 is kept compactly (answer-cache.ts) for a repeated PULL3.
// Driven over the memory network with @gdoi/wire's own initiator and PULL member, so the test can send
// a second PULL under the same SA and repeat a PULL3 byte for byte.
import t from 'tap'
import { idIpv4 } from '@gdoi/wire'
import { createInitiator, initPullMember, stepInitiator, stepPullMember, type ExchangeCtx, type Phase1Sa } from '@gdoi/wire/exchange/index'
import { memoryLab, PSK, GROUP_NUMBER, KS_ADDRESS } from './helpers/ks-fixture.js'
import { LAB_PROPOSAL } from './helpers/test-gm.js'
import { PULL_ANSWER_KEEP_MS } from '../src/sessions.js'
import { randomBytes } from 'node:crypto'

t.test('an idle SA answers a second PULL and a repeated PULL3; the answer goes after its window', async (t) => {
  const lab = await memoryLab()
  t.teardown(() => lab.close())
  const addr = '127.0.1.31'
  const io = lab.net.attach(addr)
  const inbox: Uint8Array[] = []
  io.onDatagram((b) => inbox.push(Uint8Array.from(b)))
  const ks = { address: KS_ADDRESS, port: 848 }
  const ctx: ExchangeCtx = { rng: (n) => new Uint8Array(randomBytes(n)), nowMs: () => lab.clock.nowMs() }
  const take = async (): Promise<Uint8Array[]> => {
    await lab.run(200)
    return inbox.splice(0)
  }

  // Main Mode
  let mm = createInitiator({ proposals: [LAB_PROPOSAL], localId: idIpv4(addr), psk: new TextEncoder().encode(PSK), retransmit: { intervalMs: 60_000, maxTries: 1 } })
  const mmStep = (ev: Parameters<typeof stepInitiator>[1]): void => {
    const [next, actions] = stepInitiator(mm, ev, ctx)
    mm = next
    for (const a of actions) if (a.type === 'send') io.send(a.bytes, ks)
  }
  mmStep({ type: 'start' })
  for (let i = 0; i < 10 && mm.s !== 'done'; i++) for (const b of await take()) mmStep({ type: 'datagram', bytes: b })
  if (mm.s !== 'done') throw new Error(`main mode: ${mm.s}`)
  const sa: Phase1Sa = mm.sa

  /** One PULL under `sa`; returns its last request (PULL3) and response (PULL4). */
  const pull = async (): Promise<{ pull3: Uint8Array; pull4: Uint8Array }> => {
    let st = initPullMember({ sa, groupId: { kind: 'number', value: GROUP_NUMBER }, retransmit: { intervalMs: 60_000, maxTries: 1 } })
    let last: Uint8Array | undefined
    let pull4: Uint8Array | undefined
    const step = (ev: Parameters<typeof stepPullMember>[1]): void => {
      const [next, actions] = stepPullMember(st, ev, ctx)
      st = next
      for (const a of actions) if (a.type === 'send') {
        last = a.bytes
        io.send(a.bytes, ks)
      }
    }
    step({ type: 'start' })
    for (let i = 0; i < 10 && st.s !== 'done'; i++) {
      for (const b of await take()) {
        if (st.s === 'awaitKd') pull4 = b
        step({ type: 'datagram', bytes: b })
      }
    }
    if (st.s !== 'done' || last === undefined || pull4 === undefined) throw new Error(`pull: ${st.s}`)
    return { pull3: last, pull4 }
  }

  const first = await pull()
  t.comment(`PULL3 ${first.pull3.length} bytes, PULL4 ${first.pull4.length} bytes (the answer kept for a repeat)`)
  t.equal(lab.ks.status().counters['registrations'], 1)
  await lab.run(1000) // the SA goes idle (packed) once PULL4 left

  const ike = lab.ks.status().ikeSas
  t.equal(ike.length, 1, 'the idle SA is listed')
  t.equal(ike[0]?.state, 'QM_IDLE')
  t.equal(ike[0]?.peer, `${addr}:${io.local.port}`)
  t.ok((ike[0]?.remainingSec ?? 0) > 86_000, 'with its lifetime')

  io.send(first.pull3, ks)
  const again = await take()
  t.equal(again.length, 1, 'a repeated PULL3 is answered')
  t.same(again[0], first.pull4, 'with the same PULL4')
  t.equal(lab.ks.status().counters['pull.retransmit-answered'], 1)

  const second = await pull()
  t.notSame(second.pull4, first.pull4)
  t.equal(lab.ks.status().counters['registrations'], 2, 'a second PULL under the same (woken) SA registers again')

  await lab.run(PULL_ANSWER_KEEP_MS + 1000)
  io.send(first.pull3, ks)
  t.same(await take(), [], 'after the window the old PULL3 is not answered')
  t.equal(lab.ks.status().counters['pull.retransmit-answered'], 1)
  t.equal(lab.ks.status().ikeSas.length, 1, 'the SA is still there')
})
