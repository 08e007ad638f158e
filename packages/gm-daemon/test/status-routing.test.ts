// `gdoi-gm status` (object and text) shows the kernel policy routing the member installed for its TUN —
// the `ip rule` lines and both tables' routes, following the downloaded ACL — or says why there is none.
// A memory TUN with the real routing code over a fake `ip` (the kernel side runs in the netns lab).
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createMemoryTun } from '../src/dataplane/memory-tun.js'
import { renderStatus } from '../src/status.js'
import { dataPlaneOver, withKernelRouting } from '../src/tun-data-plane.js'
import { fakeIp } from './helpers/fake-ip.js'
import { setup } from './helpers/harness.js'

t.test('with kernel routing: the rules and tables it installed, in the object and the text', async (t) => {
  const procSys = mkdtempSync(join(tmpdir(), 'gdoi-status-routing-')) // no sysctl of this host is touched
  t.teardown(() => rmSync(procSys, { recursive: true, force: true }))
  const f = fakeIp()
  const tun = createMemoryTun({ name: 'gdoi0' })
  const s = await setup({ gm: { dataPlane: withKernelRouting(dataPlaneOver(() => tun.tun), { ip: f.ip, refreshMs: 0, procSys }), espEngine: 'node' } })
  t.teardown(() => s.close())
  t.equal(s.gm.status().registration.status, 'Registered')
  // the ACL of the registration reaches the routing through its own queue: wait for that update
  const until = Date.now() + 10_000
  while (s.gm.status().routing.state === 'on' && (s.gm.status().routing as { updates: number }).updates === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5))

  const r = s.gm.status().routing
  if (r.state !== 'on') throw new Error(`routing is ${r.state}: ${r.reason}`)
  t.equal(r.tun, 'gdoi0')
  t.equal(r.wan, 'wan', 'the interface of the route to the key server')
  const prefs = r.rules.map((l) => Number(/^pref (\d+) /.exec(l)?.[1]))
  t.same(prefs, [...prefs].sort((a, b) => a - b), 'in preference order')
  t.equal(r.rules.length, 7, 'control ports (2), from the TUN, ESP from the WAN, from the WAN, divert, end')
  t.ok(r.rules.includes('pref 8483 iif wan ipproto esp lookup 8481'), 'ESP from the WAN into the TUN table')
  const installed = f.rules.filter((x) => x.priority >= 8480 && x.priority <= 8489).map((x) => `pref ${x.priority} ${x.text}`).sort()
  t.same([...r.rules].sort(), installed, 'what status shows is what the member installed')
  // the test key server's ACL: permit 10.1.0.0/16 -> 10.2.0.0/16 (mirrored); the LAN 10.1.1.0/24 is this member's side
  t.same(r.protected, ['10.1.0.0/16', '10.2.0.0/16'])
  t.same(r.local, ['10.1.1.0/24'])
  const table = (id: string): string[] =>
    [...(f.tables.get(id)?.values() ?? [])]
      .map((e) => (e['type'] === 'throw' ? `throw ${String(e['dst'])}` : `${String(e['dst'])} mtu ${(e['metrics'] as { mtu: number }[])[0]?.mtu}`))
      .sort()
  const mtu = /mtu (\d+)/.exec(table('8480')[0] ?? '')?.[1]
  t.ok(mtu !== undefined && Number(mtu) < tun.tun.mtu, `plaintext routes carry the ESP-sized route MTU (${mtu})`)
  t.equal(r.tableOut.id, 8480)
  t.same([...r.tableOut.routes].sort(), table('8480'), 'the plaintext table as installed')
  t.same(table('8480'), [`10.1.0.0/16 mtu ${mtu}`, `10.2.0.0/16 mtu ${mtu}`, 'throw 10.1.1.0/24'])
  t.same(r.tableIn, { id: 8481, routes: ['10.1.1.0/24'] })
  t.equal(r.errors, 0)

  const text = renderStatus(s.gm.status())
  t.match(text, /^Routing: policy routing into gdoi0 \(transit interface wan\)$/m)
  t.match(text, /^ {4}ip rule pref 8483 iif wan ipproto esp lookup 8481$/m)
  t.match(text, new RegExp(`^ {4}table 8480 \\(plaintext to the TUN\\): 10\\.1\\.0\\.0/16 mtu ${mtu}, 10\\.2\\.0\\.0/16 mtu ${mtu}, throw 10\\.1\\.1\\.0/24$`, 'm'))
  t.match(text, /^ {4}table 8481 \(ESP from wan to the TUN\): 10\.1\.1\.0\/24$/m)
  t.match(text, /^ {4}#updates: 1, #errors: 0$/m)
  t.same(JSON.parse(JSON.stringify(s.gm.status())).routing, r, 'the --json object carries it unchanged')
})

t.test('routing: none in the configuration, and no data plane: "Routing: off" with the reason', async (t) => {
  const tun = createMemoryTun({ name: 'gdoi0' })
  const none = await setup({ config: { routing: { enabled: false } }, gm: { dataPlane: withKernelRouting(dataPlaneOver(() => tun.tun), { ip: fakeIp().ip }), espEngine: 'node' } })
  t.teardown(() => none.close())
  t.same(none.gm.status().routing, { state: 'off', reason: 'routing: none in the configuration' })
  t.match(renderStatus(none.gm.status()), /^Routing: off \(routing: none in the configuration\)$/m)

  const plain = await setup({ gm: { dataPlane: dataPlaneOver(() => createMemoryTun({ name: 'gdoi1' }).tun), espEngine: 'node' } })
  t.teardown(() => plain.close())
  t.same(plain.gm.status().routing, { state: 'off', reason: 'the data plane installs none' })

  const control = await setup()
  t.teardown(() => control.close())
  t.same(control.gm.status().routing, { state: 'off', reason: 'no data plane' })
  t.match(renderStatus(control.gm.status()), /^Routing: off \(no data plane\)$/m)
})
