// routing.ts without a kernel: the plan (ACL → tables, rules, route MTU) as pure functions, and
// KernelRouting's `ip` calls against a fake `ip` that keeps rules and tables in memory. The real kernel
// side runs in the netns lab (test/lab/netns-lab.test.ts).
import t from 'tap'
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import type { AclEntry } from '../src/dataplane/policy.js'
import {
  FAIL_CLOSE_METRIC,
  FAIL_CLOSE_POLICY_ID,
  defaultNumbers,
  failCloseAcl,
  innerMtuBytes,
  localPrefixes,
  parsePrefix,
  formatPrefix,
  planTables,
  protectedPrefixes,
  resolveWan,
  ruleArgs,
  espMarkFor,
  startRouting,
} from '../src/routing.js'
import { fakeIp } from './helpers/fake-ip.js'

const log = pino({ level: 'silent' })
const SITE_ACL: AclEntry[] = [{ action: 'permit', src: '10.1.0.0/16', dst: '10.1.0.0/16', policyId: 'ip 10.1.0.0/16 10.1.0.0/16', mirrored: true }]

/** The rules a member with TUN gdoi0 and transit interface wan installs at the default preference 8480
 *  (`priority text`, sorted). */
const RULES_GDOI0_WAN = [
  '8480 ipproto udp dport 848 goto 8489',
  '8481 ipproto udp sport 848 goto 8489',
  '8482 iif gdoi0 goto 8489',
  '8483 iif wan ipproto esp lookup 8481',
  '8484 iif wan goto 8489',
  '8485 lookup 8480',
  '8489 nop',
]

t.test('prefixes: parse, normalise, format', async (t) => {
  t.same(parsePrefix('10.1.2.3/16'), { addr: 0x0a010000, len: 16 }, 'host bits cleared')
  t.same(parsePrefix('10.1.2.3'), { addr: 0x0a010203, len: 32 })
  t.same(parsePrefix('any'), { addr: 0, len: 0 })
  t.same(parsePrefix('default'), { addr: 0, len: 0 })
  t.equal(parsePrefix('fe80::/64'), undefined)
  t.equal(parsePrefix('10.1.2.256/24'), undefined)
  t.equal(parsePrefix('10.1.2.0/33'), undefined)
  t.equal(formatPrefix({ addr: 0xc0a80100, len: 24 }), '192.168.1.0/24')
})

t.test('protected destinations: permit entries, both ends when mirrored', async (t) => {
  t.same(protectedPrefixes(SITE_ACL), ['10.1.0.0/16'])
  t.same(
    protectedPrefixes([
      { action: 'deny', src: '10.9.0.0/16', dst: '10.9.0.0/16' },
      { action: 'permit', src: '10.1.0.0/16', dst: '10.2.0.0/16' },
      { action: 'permit', protocol: 17, src: '10.3.0.5', dst: '10.4.0.0/24', mirrored: false },
    ]),
    ['10.1.0.0/16', '10.2.0.0/16', '10.4.0.0/24'],
    'deny entries ignored; an unmirrored entry protects its destination only',
  )
  t.same(protectedPrefixes([{ action: 'permit' }]), ['0.0.0.0/0'], 'permit ip any any')
  t.same(protectedPrefixes([]), [])
})

t.test('local destinations: main-table routes not through the WAN, the TUN or lo', async (t) => {
  const main = [
    { dst: 'default', gateway: '10.0.1.1', dev: 'wan' },
    { dst: '10.0.1.0/24', dev: 'wan' },
    { dst: '10.1.1.0/24', dev: 'lan' },
    { dst: '10.2.1.0/24', dev: 'lan' },
    { dst: '10.1.50.0/24', gateway: '10.1.1.254', dev: 'lan' },
    { dst: '10.1.7.7', dev: 'lan2' },
    { dst: '10.1.2.0/24', dev: 'gdoi0' },
    { type: 'blackhole', dst: '10.1.99.0/24' },
    { dst: '10.1.60.0/24', nexthops: [{ dev: 'lan' }, { dev: 'lan2' }] },
    { dst: '10.1.61.0/24', nexthops: [{ dev: 'lan' }, { dev: 'wan' }] },
    { dst: '127.5.0.0/16', dev: 'lo' },
  ]
  t.same(localPrefixes(main, 'wan', 'gdoi0'), ['10.1.1.0/24', '10.1.7.7/32', '10.1.50.0/24', '10.1.60.0/24', '10.2.1.0/24'])
  t.same(localPrefixes(main, null, 'gdoi0').includes('0.0.0.0/0'), true, 'no WAN known: every route counts')
})

t.test('tables: plaintext for protected destinations into the TUN, the own side thrown, ESP only for the own side', async (t) => {
  t.same(planTables(['10.1.0.0/16'], ['10.1.1.0/24', '10.2.1.0/24'], 1342), {
    out: [
      { type: 'unicast', dst: '10.1.0.0/16', mtu: 1342 },
      { type: 'throw', dst: '10.1.1.0/24' },
    ],
    in: [{ type: 'unicast', dst: '10.1.1.0/24' }],
  }, 'the lab GM-1')
  t.same(planTables(['10.1.2.0/24'], ['10.1.0.0/16']), { out: [], in: [{ type: 'unicast', dst: '10.1.2.0/24' }] },
    'a protected prefix inside the own side is never diverted, but ESP for it is decrypted here')
  t.same(planTables(['10.1.1.0/24'], ['10.1.1.0/24']).out, [], 'protected = own LAN exactly: nothing to divert, no throw needed')
  t.same(planTables(['0.0.0.0/0'], ['10.1.1.0/24']), {
    out: [{ type: 'unicast', dst: '0.0.0.0/0' }, { type: 'throw', dst: '10.1.1.0/24' }],
    in: [{ type: 'unicast', dst: '10.1.1.0/24' }],
  }, 'permit any any')
  t.same(planTables([], ['10.1.1.0/24']), { out: [], in: [] }, 'no ACL yet: nothing diverted')
})

t.test('rules: control ports exempt, TUN output back to the normal rules, ESP from the WAN, the rest', async (t) => {
  const rules = ruleArgs({ tun: 'gdoi0', wan: 'wan', tableOut: 8480, tableIn: 8481, preference: 8480, controlPorts: [848] }).map((r) => r.join(' '))
  t.same(rules, [
    'pref 8489 nop',
    'pref 8480 ipproto udp dport 848 goto 8489',
    'pref 8481 ipproto udp sport 848 goto 8489',
    'pref 8482 iif gdoi0 goto 8489',
    'pref 8483 iif wan ipproto esp lookup 8481',
    'pref 8484 iif wan goto 8489',
    'pref 8485 lookup 8480',
  ])
  const marked = ruleArgs({ tun: 'gdoi0', wan: 'wan', tableOut: 8480, tableIn: 8481, preference: 8480, controlPorts: [848], espMark: 0x67642120 }).map((r) => r.join(' '))
  const markAt = marked.indexOf('pref 8482 fwmark 0x67642120 goto 8489')
  t.ok(markAt > 0, 'the ESP socket\'s marked packets take the normal routes')
  t.ok(markAt < marked.indexOf('pref 8485 lookup 8480'), '… decided before the rule that diverts into the TUN')
  t.same(marked.filter((r) => !r.includes('fwmark')), rules, 'and nothing else changes')
  const noWan = ruleArgs({ tun: 'gdoi3', wan: null, tableOut: 8486, tableIn: 8487, preference: 8510, controlPorts: [848, 8848] }).map((r) => r.join(' '))
  t.notOk(noWan.some((r) => r.includes('esp')), 'no WAN: ESP is not diverted')
  t.ok(noWan.includes('pref 8511 ipproto udp sport 8848 goto 8519'), 'every GDOI port')
  t.same(defaultNumbers('gdoi0'), { tableOut: 8480, preference: 8480 })
  t.same(defaultNumbers('gdoi3'), { tableOut: 8486, preference: 8510 }, 'several members on one host do not collide')
  t.same(defaultNumbers('tun-x'), { tableOut: 8480, preference: 8480 })
})

t.test('route MTU: the largest inner packet whose ESP fits the TUN MTU (same sum as the data plane)', async (t) => {
  t.equal(innerMtuBytes(1400, [{ headerBytes: 24, icvBytes: 12, blockBytes: 16 }]), 1342, 'AES-CBC + HMAC-SHA1-96')
  t.equal(innerMtuBytes(1400, [{ headerBytes: 16, icvBytes: 16, blockBytes: 4 }]), 1346, 'AES-GCM-16')
  t.equal(innerMtuBytes(1400, [{ headerBytes: 24, icvBytes: 12, blockBytes: 16 }, { headerBytes: 16, icvBytes: 16, blockBytes: 4 }]), 1342, 'the smallest of the installed SAs')
  t.equal(innerMtuBytes(1400, []), 1310, 'no SA: the worst transform we support')
  t.equal(innerMtuBytes(100, []), 68, 'never below the IPv4 minimum')
})

function procSys(): { root: string; read(p: string): string; done(): void } {
  const root = mkdtempSync(join(tmpdir(), 'gdoi-routing-'))
  for (const [p, v] of [['net/ipv4/conf/gdoi0/rp_filter', '1'], ['net/ipv4/conf/wan/rp_filter', '1'], ['net/ipv4/conf/all/rp_filter', '0'], ['net/ipv6/conf/gdoi0/disable_ipv6', '0'], ['net/ipv4/ip_forward', '1']] as const) {
    mkdirSync(join(root, p, '..'), { recursive: true })
    writeFileSync(join(root, p), `${v}\n`)
  }
  return { root, read: (p) => readFileSync(join(root, p), 'utf8').trim(), done: () => rmSync(root, { recursive: true, force: true }) }
}

t.test('KernelRouting: install, follow the ACL, remove everything on close', async (t) => {
  const f = fakeIp()
  const sys = procSys()
  t.teardown(sys.done)
  // a rule and a route left by a member that was killed
  f.rules.push({ priority: 8485, text: 'lookup 8480' })
  const mtu = { v: 1342 }
  const r = await startRouting({ tun: 'gdoi0', interface: 'wan', keyServers: [{ address: '10.0.0.2', port: 848 }], localPort: 848, log, ip: f.ip, refreshMs: 0, procSys: sys.root, innerMtuBytes: () => mtu.v }, [])
  t.equal(r.wan, 'wan')
  t.same(f.rules.filter((x) => x.priority >= 8480 && x.priority <= 8489).map((x) => `${x.priority} ${x.text}`).sort(), RULES_GDOI0_WAN, 'the stale rule was replaced, not doubled')
  t.ok(f.calls.indexOf('link set dev gdoi0 up') > f.calls.findIndex((c) => c.startsWith('-j -4 rule show')), 'cleanup before setup')
  t.equal(sys.read('net/ipv4/conf/gdoi0/rp_filter'), '2', 'loose rp_filter on the TUN')
  t.equal(sys.read('net/ipv6/conf/gdoi0/disable_ipv6'), '1', 'no IPv6 into the TUN')
  t.equal(sys.read('net/ipv4/conf/wan/rp_filter'), '2', 'strict rp_filter on the WAN loosened')
  t.same(r.status().plan, { out: [], in: [] }, 'no ACL yet')

  await r.update(SITE_ACL)
  t.same([...(f.tables.get('8480')?.keys() ?? [])].sort(), ['10.1.0.0/16', '10.1.1.0/24'])
  t.same(f.tables.get('8480')?.get('10.1.0.0/16'), { dev: 'gdoi0', dst: '10.1.0.0/16', flags: [], metrics: [{ mtu: 1342 }] })
  t.same(f.tables.get('8480')?.get('10.1.1.0/24')?.['type'], 'throw')
  t.same([...(f.tables.get('8481')?.keys() ?? [])], ['10.1.1.0/24'])
  t.equal(r.status().updates, 1)

  const before = f.calls.length
  await r.refresh()
  t.notOk(f.calls.slice(before).some((c) => c.includes('replace') || c.includes(' del ')), 'nothing changed: no route touched')

  mtu.v = 1346
  await r.refresh()
  t.same(f.tables.get('8480')?.get('10.1.0.0/16')?.['metrics'], [{ mtu: 1346 }], 'a transform change updates the route MTU')

  const i = f.calls.length
  await r.update([{ action: 'permit', src: '10.1.0.0/16', dst: '10.3.0.0/16', policyId: 'x' }])
  const cmds = f.calls.slice(i)
  t.same([...(f.tables.get('8480')?.keys() ?? [])].sort(), ['10.1.0.0/16', '10.1.1.0/24', '10.3.0.0/16'])
  await r.update([{ action: 'permit', src: '10.3.0.0/16', dst: '10.3.0.0/16', policyId: 'y' }])
  t.same([...(f.tables.get('8480')?.keys() ?? [])], ['10.3.0.0/16'], 'the old prefix and its throw removed')
  t.same(f.tables.get('8481')?.size, 0)
  t.ok(cmds.findIndex((c) => c.includes('replace')) < Math.max(0, cmds.findIndex((c) => c.includes(' del '))) || !cmds.some((c) => c.includes(' del ')), 'replace before delete')

  f.failOn(/route replace/)
  await r.update(SITE_ACL)
  t.equal(r.status().errors, 1, 'a failed update is counted, not thrown')
  t.match(r.status().lastError, /Operation not permitted/)
  f.failOn(undefined)

  await r.close()
  t.same(f.rules.filter((x) => x.priority >= 8480 && x.priority <= 8489), [], 'rules removed')
  t.notOk(f.tables.has('8480') || f.tables.has('8481'), 'tables flushed')
  t.equal(sys.read('net/ipv4/conf/wan/rp_filter'), '1', 'the WAN rp_filter restored')
  await r.close()
})

t.test('startRouting: a failing `ip` cleans up and throws RoutingError', async (t) => {
  const f = fakeIp()
  const sys = procSys()
  t.teardown(sys.done)
  f.failOn(/lookup 8480/)
  await t.rejects(
    startRouting({ tun: 'gdoi0', interface: 'wan', keyServers: [], localPort: 848, log, ip: f.ip, refreshMs: 0, procSys: sys.root }, SITE_ACL),
    { name: 'RoutingError', code: 'ERR_ROUTING_IP' },
  )
  t.same(f.rules.filter((x) => x.priority >= 8480 && x.priority <= 8489), [], 'nothing left behind')
})

t.test('resolveWan: configured interface, else the route to the key server', async (t) => {
  const f = fakeIp()
  t.equal(await resolveWan({ interface: 'wan', keyServers: [], tun: 'gdoi0', log, ip: f.ip }), 'wan')
  t.equal(await resolveWan({ interface: 'GigabitEthernet0/1', keyServers: [{ address: '10.0.0.2', port: 848 }], tun: 'gdoi0', log, ip: f.ip }), 'wan', 'an IOS name falls back to the route')
  t.equal(await resolveWan({ interface: null, keyServers: [], tun: 'gdoi0', log, ip: f.ip }), null)
})

t.test('fail-close plan: a blackhole under every route into the TUN, never over the own side', async (t) => {
  t.same(planTables(['10.1.0.0/16'], ['10.1.1.0/24', '10.2.1.0/24'], 1342, true).out, [
    { type: 'blackhole', dst: '10.1.0.0/16' },
    { type: 'unicast', dst: '10.1.0.0/16', mtu: 1342 },
    { type: 'throw', dst: '10.1.1.0/24' },
  ], 'the own LAN inside the protected prefix stays thrown (more specific than the blackhole)')
  t.same(planTables(['10.1.2.0/24'], ['10.1.0.0/16'], undefined, true).out, [], 'a protected prefix inside the own side: no route, no blackhole')
  t.notOk(planTables(['10.1.0.0/16'], ['10.1.1.0/24'], 1342).out.some((r) => r.type === 'blackhole'), 'fail-open: none')
  t.same(failCloseAcl(['10.3.0.0/16', 'bogus', '10.3.0.9/16']), [{ action: 'permit', src: 'any', dst: '10.3.0.0/16', mirrored: false, policyId: FAIL_CLOSE_POLICY_ID }], 'stand-in ACL: one way, no SA slot, deduplicated')
})

const FC_OPTS = { tun: 'gdoi0', interface: 'wan', keyServers: [{ address: '10.0.0.2', port: 848 }], localPort: 848, log, refreshMs: 0 } as const
const blackholes = (f: ReturnType<typeof fakeIp>): string[] => [...(f.tables.get('8480')?.values() ?? [])].filter((r) => r['type'] === 'blackhole').map((r) => `${String(r['dst'])} metric ${String(r['metric'])}`).sort()

t.test('KernelRouting fail-close: blackholes follow the ACL, survive a crash, start-up keeps them, clean stop removes them', async (t) => {
  const f = fakeIp()
  const sys = procSys()
  t.teardown(sys.done)
  const open = await startRouting({ ...FC_OPTS, ip: f.ip, procSys: sys.root }, [])
  await open.update(SITE_ACL)
  t.same(blackholes(f), [], 'fail-open: no blackhole')
  await open.close()

  const r = await startRouting({ ...FC_OPTS, ip: f.ip, procSys: sys.root, failClose: true, innerMtuBytes: () => 1342 }, [])
  t.same(r.status().failClose, true)
  t.same(r.acl(), [], 'nothing configured, nothing left over: nothing to block before registration')
  await r.update([{ action: 'permit', src: '10.1.0.0/16', dst: '10.1.0.0/16', policyId: 'a' }, { action: 'permit', src: '10.1.1.0/24', dst: '10.9.0.0/16', mirrored: false, policyId: 'b' }])
  t.same(blackholes(f), [`10.1.0.0/16 metric ${FAIL_CLOSE_METRIC}`, `10.9.0.0/16 metric ${FAIL_CLOSE_METRIC}`], 'one per route into the TUN, at the worst metric')
  t.same(f.tables.get('8480')?.get('10.1.0.0/16'), { dev: 'gdoi0', dst: '10.1.0.0/16', flags: [], metrics: [{ mtu: 1342 }] }, 'the TUN route beside it, metric 0')
  t.same(f.tables.get('8480')?.get('10.1.1.0/24')?.['type'], 'throw', 'the own LAN still thrown')
  t.match(r.status().plan.out, [{ type: 'blackhole' }, { type: 'unicast' }], 'status shows them')

  await r.update(SITE_ACL)
  t.same(blackholes(f), [`10.1.0.0/16 metric ${FAIL_CLOSE_METRIC}`], 'a prefix leaving the ACL takes its blackhole along')
  t.ok(f.calls.includes(`-4 route del blackhole 10.9.0.0/16 metric ${FAIL_CLOSE_METRIC} table 8480`))
  t.ok(f.calls.includes('-4 route del unicast 10.9.0.0/16 table 8480'), 'the TUN route deleted by type: never the blackhole by mistake')

  // SIGKILL: nothing of ours runs; the kernel drops the TUN and its routes, the rest stays
  r.abandon()
  f.crash()
  t.same(blackholes(f), [`10.1.0.0/16 metric ${FAIL_CLOSE_METRIC}`], 'after the crash the blackhole is what 10.1.0.0/16 hits')
  t.equal(f.rules.filter((x) => x.priority === 8485).length, 1, 'the divert rule stays')

  const mark = f.calls.length
  const again = await startRouting({ ...FC_OPTS, ip: f.ip, procSys: sys.root, failClose: true, blockBeforeRegistration: ['10.7.0.0/16'] }, [])
  const restart = f.calls.slice(mark)
  t.notOk(restart.some((c) => c.includes('flush') || / rule del /.test(c) || c.includes('route del')), 'nothing removed on the way up: no window without the blackhole or the divert rule')
  t.same(again.acl().map((e) => e.dst), ['10.1.0.0/16', '10.7.0.0/16'], 'blocked until registration: the left-over blackhole and the configured prefix')
  t.same(again.status().blockedBeforeRegistration, ['10.1.0.0/16', '10.7.0.0/16'])
  t.ok(again.acl().every((e) => e.policyId === FAIL_CLOSE_POLICY_ID))
  t.equal(f.tables.get('8480')?.get('10.1.0.0/16')?.['dev'], 'gdoi0', 'the route into the new TUN is back (the data plane counts the drops)')
  t.same(blackholes(f), [`10.1.0.0/16 metric ${FAIL_CLOSE_METRIC}`, `10.7.0.0/16 metric ${FAIL_CLOSE_METRIC}`])
  t.same(f.rules.filter((x) => x.priority >= 8480 && x.priority <= 8489).map((x) => x.priority).sort(), [8480, 8481, 8482, 8483, 8484, 8485, 8489], 'the rules completed, none doubled')

  await again.update([{ action: 'permit', src: '10.3.0.0/16', dst: '10.3.0.0/16', policyId: 'c' }])
  t.same(again.status().blockedBeforeRegistration, [], 'registered: the ACL decides')
  t.same(blackholes(f), [`10.3.0.0/16 metric ${FAIL_CLOSE_METRIC}`])

  await again.close()
  t.notOk(f.tables.has('8480'), 'a clean stop removes the blackholes too (the operator meant it)')
  t.same(f.rules.filter((x) => x.priority >= 8480 && x.priority <= 8489), [])
})

t.test('KernelRouting fail-close: a crashed run with another layout has its stale rules replaced', async (t) => {
  const f = fakeIp()
  const sys = procSys()
  t.teardown(sys.done)
  f.rules.push({ priority: 8480, text: 'ipproto udp dport 9848 goto 8489' }, { priority: 8485, text: 'lookup 8480' }, { priority: 8487, text: 'lookup 1234' })
  const r = await startRouting({ ...FC_OPTS, ip: f.ip, procSys: sys.root, failClose: true }, SITE_ACL)
  t.same(f.rules.filter((x) => x.priority >= 8480 && x.priority <= 8489).map((x) => `${x.priority} ${x.text}`).sort(), RULES_GDOI0_WAN)
  t.same(r.acl(), SITE_ACL, 'an ACL at start: no stand-in')
  await r.close()
})

t.test('startRouting fail-close: a failing `ip` leaves what blocks in place', async (t) => {
  const f = fakeIp()
  const sys = procSys()
  t.teardown(sys.done)
  f.failOn(/route replace 10.1.0.0\/16 dev/)
  await t.rejects(startRouting({ ...FC_OPTS, ip: f.ip, procSys: sys.root, failClose: true }, SITE_ACL), { name: 'RoutingError' })
  t.same(blackholes(f), [`10.1.0.0/16 metric ${FAIL_CLOSE_METRIC}`], 'the blackhole (added first) stays: the member is not running, nothing may leak')
  t.equal(f.rules.filter((x) => x.priority === 8485).length, 1)
})

t.test('KernelRouting: the ESP socket\'s mark and its rule, by default from the rule preference', async (t) => {
  const sys = procSys()
  t.teardown(sys.done)
  const base = { tun: 'gdoi0', interface: 'wan', keyServers: [{ address: '10.0.0.2', port: 848 }], localPort: 848, log, refreshMs: 0, procSys: sys.root }
  const marked = (r: { status(): { rules: readonly string[] } }): string[] => r.status().rules.filter((l) => l.includes('fwmark'))

  const none = await startRouting({ ...base, ip: fakeIp().ip }, [])
  t.equal(none.espMark, undefined, 'without the socket: no mark')
  t.same(marked(none), [], '… and no fwmark rule')
  await none.close()

  const dflt = await startRouting({ ...base, ip: fakeIp().ip, espSocket: true }, [])
  t.equal(dflt.espMark, espMarkFor(8480), 'default: "gd" and the preference base')
  t.equal(dflt.espMark, 0x67642120)
  t.same(marked(dflt), ['pref 8482 fwmark 0x67642120 goto 8489'])
  await dflt.close()

  const other = await startRouting({ ...base, ip: fakeIp().ip, espSocket: true, preference: 8510, espMark: 0x1234 }, [])
  t.equal(other.espMark, 0x1234, 'the configured mark wins')
  t.same(marked(other), ['pref 8512 fwmark 0x1234 goto 8519'])
  await other.close()

  const moved = await startRouting({ ...base, ip: fakeIp().ip, espSocket: true, preference: 8510 }, [])
  t.equal(moved.espMark, espMarkFor(8510), 'another preference, another default mark (two members on one host)')
  await moved.close()
})
