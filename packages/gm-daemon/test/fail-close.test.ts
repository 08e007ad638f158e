// Fail-close (config `dataPlane.failClose`, README "Fail-close"): the configuration key with its
// validation, and a member on a memory TUN with the real routing code over a fake `ip`: before it has
// registered it drops (and counts, "no sa") what its configuration tells it to block, passes the rest;
// once registered it encrypts; `status` says fail-close is active and shows the blackhole routes. The
// kernel side (SIGKILL with pings crossing, nothing in clear) runs in test/lab/fail-close-netns.test.ts.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ConfigIssue } from '@gdoi/daemon-kit'
import { configIssues, minimalGmYaml, parseMinimalGm } from './config/helpers.js'
import { createMemoryTun } from '../src/dataplane/memory-tun.js'
import { buildIcmpEcho, buildIpv4 } from '../src/dataplane/ipv4.js'
import { FAIL_CLOSE_METRIC } from '../src/routing.js'
import { renderStatus } from '../src/status.js'
import { dataPlaneOver, withKernelRouting } from '../src/tun-data-plane.js'
import { fakeIp } from './helpers/fake-ip.js'
import { setup } from './helpers/harness.js'

const parse = parseMinimalGm
const issues = (extra: string): readonly ConfigIssue[] => configIssues(minimalGmYaml(extra))

t.test('dataPlane.failClose in the GM configuration: default fail-open, validation with path and reason', async (t) => {
  t.equal(parse('').dataPlane, undefined, 'absent: fail-open (Cisco\'s default)')
  t.same(parse('dataPlane: { failClose: true }').dataPlane, { failClose: true })
  t.same(parse('dataPlane: {}').dataPlane, { failClose: false })
  t.same(parse('dataPlane: { failClose: true, blockBeforeRegistration: [10.2.0.0/16, " 10.3.0.1 ", any] }').dataPlane, { failClose: true, blockBeforeRegistration: ['10.2.0.0/16', '10.3.0.1', 'any'] })
  t.match(issues('dataPlane: { failClose: yes please }'), [{ path: 'dataPlane.failClose' }])
  t.match(issues('dataPlane: { failClose: true, blockBeforeRegistration: [10.2.0.0/33] }'), [{ path: 'dataPlane.blockBeforeRegistration[0]', message: /IPv4 prefix/ }])
  t.match(issues('dataPlane: { blockBeforeRegistration: [10.2.0.0/16] }'), [{ path: 'dataPlane.blockBeforeRegistration', message: /only with failClose: true/ }])
  t.match(issues('dataPlane: { failClose: true, failOpen: false }'), [{ path: 'dataPlane' }], 'unknown keys refused')
})

const echo = (src: string, dst: string, seq: number): Uint8Array => buildIpv4({ src, dst, protocol: 1, payload: buildIcmpEcho(8, 7, seq, new Uint8Array(16)) })

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

t.test('a fail-close member blocks from start-up until it registers, then encrypts; status says so', async (t) => {
  const procSys = mkdtempSync(join(tmpdir(), 'gdoi-fail-close-')) // no sysctl of this host is touched
  t.teardown(() => rmSync(procSys, { recursive: true, force: true }))
  const f = fakeIp()
  const tun = createMemoryTun({ name: 'gdoi0' })
  const s = await setup({
    config: { dataPlane: { failClose: true, blockBeforeRegistration: ['10.2.0.0/16'] } },
    gm: { dataPlane: withKernelRouting(dataPlaneOver(() => tun.tun), { ip: f.ip, refreshMs: 0, procSys }), espEngine: 'node' },
    settleMs: 0, // the fake clock has not moved: the registration has not happened yet
  })
  t.teardown(() => s.close())
  t.equal(s.gm.status().registration.status === 'Registered', false, 'not registered yet')
  t.equal(s.gm.status().failClose, true)
  const dp = () => s.gm.status().dataPlane!.counters
  const bh = (dst: string): Record<string, unknown> | undefined => f.tables.get('8480')?.get(`${dst} metric ${FAIL_CLOSE_METRIC}`)
  t.equal(bh('10.2.0.0/16')?.['type'], 'blackhole', 'the configured prefix is blackholed under its TUN route')
  t.equal(f.tables.get('8480')?.get('10.2.0.0/16')?.['dev'], 'gdoi0', 'and routed into the TUN, where the data plane drops it')

  tun.kernel.send(echo('10.1.1.5', '10.2.0.9', 1))
  await until(() => dp().dropNoSa === 1, 'the drop')
  tun.kernel.send(echo('10.1.1.5', '10.3.0.9', 2))
  const clear = await tun.kernel.receive(5000)
  t.equal(clear[9], 1, 'a destination not blocked passes in clear (no ACL yet)')
  t.equal(dp().dropNoSa, 1, 'the blocked echo was dropped and counted, not written back')
  t.equal(dp().noSaClearPackets, 0)
  const before = renderStatus(s.gm.status())
  t.match(before, /^ {4}fail-close: active \(protected traffic without an SA is dropped, 1 so far;/m)
  t.match(before, /^ {4}fail-close, not registered yet: blocking 10\.2\.0\.0\/16$/m)
  t.match(before, new RegExp(`blackhole 10\\.2\\.0\\.0/16 metric ${FAIL_CLOSE_METRIC}`))

  s.clock.advance(1000)
  await until(() => s.gm.status().registration.status === 'Registered', 'registration')
  // the test key server's ACL: permit 10.1.0.0/16 <-> 10.2.0.0/16; the ACL reaches the routing through its queue
  await until(() => bh('10.1.0.0/16') !== undefined, 'the routes of the downloaded ACL')
  t.ok(bh('10.2.0.0/16'), 'both ends of the mirrored entry blackholed')
  const r = s.gm.status().routing
  t.same(r.state === 'on' ? r.blockedBeforeRegistration : null, [], 'registered: the ACL decides')
  tun.kernel.send(echo('10.1.1.5', '10.2.0.9', 3))
  const esp = await tun.kernel.receive(5000)
  t.equal(esp[9], 50, 'registered: the same flow leaves as ESP')
  t.equal(dp().encryptedPackets, 1)
  t.equal(dp().dropNoSa, 1)
})

t.test('fail-open (default): status says so', async (t) => {
  const tun = createMemoryTun({ name: 'gdoi0' })
  const s = await setup({ gm: { dataPlane: dataPlaneOver(() => tun.tun), espEngine: 'node' } })
  t.teardown(() => s.close())
  t.equal(s.gm.status().failClose, false)
  t.match(renderStatus(s.gm.status()), /^ {4}fail-close: off \(fail-open: protected traffic without an SA passes in clear, 0 so far\)$/m)
})
