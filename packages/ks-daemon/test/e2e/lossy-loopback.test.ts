// End to end over real UDP on loopback with 20 % of all datagrams dropped at random (a seeded shim on
// every sender, key server and GMs): every GM still registers (Main Mode and PULL retransmissions,
// answered from the responders' caches) and receives every rekey (push retransmissions to the members
// whose ACK is missing).
import t from 'tap'
import { UdpLab, until } from './helpers/lab.js'

const NET = process.env['GDOI_E2E_NET_LOSSY'] ?? '127.0.2'
const GROUP = 'GETVPN-GRP'

t.test('20 % loss: three GMs register and receive every rekey', async (t) => {
  const lab = new UdpLab({ net: NET, drop: 0.2, tekLifetimeSec: 120, retransmitPeriodSec: 1, retransmitCount: 6, ack: 'rfc8263' })
  t.teardown(async () => {
    await lab.close()
    lab.cleanup()
  })
  const ks = await lab.startKs()
  const gms = [await lab.addGm(11), await lab.addGm(12), await lab.addGm(13)]
  await Promise.all(gms.map((g) => g.register()))
  t.pass('all three registered despite the loss')
  for (const seq of [1, 2]) {
    await ks.rekey(GROUP, 'tek')
    await until(`SEQ ${seq} at every GM`, () => gms.every((g) => g.seqs.includes(seq)), 12_000)
    t.pass(`every GM received SEQ ${seq}`)
  }
  await until('no push in progress', () => ks.status().pushesInProgress.length === 0, 15_000)
  const st = ks.status()
  t.equal(st.groups[0]?.members.length, 3, 'nobody ejected')
  for (const g of gms) t.same(g.seqs, [1, 2], `${g.address}: SEQ 1, 2 exactly once each`)
  t.equal(new Set(gms.map((g) => JSON.stringify(g.tekSpis))).size, 1, 'same TEKs everywhere')
  const c = st.counters
  t.ok((c['rekey.retransmits'] ?? 0) > 0, `pushes were retransmitted (${c['rekey.retransmits'] ?? 0})`)
  t.comment(`counters: ${JSON.stringify(c)}`)
})
