// Real TUN devices, each test in a fresh network namespace it creates and deletes (nothing touches the
// host's interfaces). Skipped, with the reason, without root, /dev/net/tun, iproute2 or the addon.
import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createDataPlane, type DataPlane, type DataPlaneOptions } from '../../src/dataplane/dataplane.js'
import { buildIcmpEcho, buildIpv4, ipChecksum, IpProto, parseIpv4Header } from '../../src/dataplane/ipv4.js'
import { createPolicy } from '../../src/dataplane/policy.js'
import { SaTable } from '../../src/dataplane/sa-table.js'
import { openTun, TunError, type KernelTunDevice } from '../../src/dataplane/tun.js'
import { aesCbc, ManualClock, ping, toHex } from './helpers.js'
import { kernelSkipReason, testNetns, type Netns } from './kernel-netns.js'

const skip = kernelSkipReason()

/** A fresh namespace for one test, deleted on teardown. */
const netns = (t: { teardown: (fn: () => void) => void }): Netns => testNetns(t, 'dp')

/** Reads until an IPv4 packet satisfying `want` arrives (other traffic is skipped). */
/** The namespace forwards between these devices (up, no ICMP redirects: the members' TUNs share it). */
function forwarding(ns: ReturnType<typeof netns>, devices: readonly string[]): void {
  for (const d of devices) ns.ip('link', 'set', d, 'up')
  ns.sysctl('net.ipv4.ip_forward=1')
  for (const d of ['all', ...devices]) ns.sysctl(`net.ipv4.conf.${d}.send_redirects=0`)
}

/** Two members over two TUNs holding the same AES-256-CBC SA (one group SA): gm1 encrypts, gm2 decrypts. */
function twoMembers(t: { teardown: (fn: () => Promise<void>) => void }, tun1: KernelTunDevice, tun2: KernelTunDevice, spi: number, gm1Options: Pick<DataPlaneOptions, 'pathMtuBytes'> = {}): { gm1: DataPlane; gm2: DataPlane } {
  const params = aesCbc(256, 2, spi)
  const acl = createPolicy([{ action: 'permit', src: '10.0.0.0/8', dst: '10.0.0.0/8' }])
  const clock = new ManualClock()
  const sas1 = new SaTable({ clock })
  const sas2 = new SaTable({ clock })
  sas1.install({ params, lifetimeSec: 3600 })
  sas2.install({ params, lifetimeSec: 3600 })
  const gm1 = createDataPlane({ tun: tun1, sas: sas1, policy: acl, clock, ...gm1Options })
  const gm2 = createDataPlane({ tun: tun2, sas: sas2, policy: acl, clock })
  t.teardown(async () => { await gm1.close(); await gm2.close(); sas1.close(); sas2.close() })
  return { gm1, gm2 }
}

async function readUntil(tun: KernelTunDevice, want: (p: Uint8Array) => boolean, timeoutMs = 3000): Promise<Uint8Array> {
  const buf = new Uint8Array(2048)
  const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`nothing matching on ${tun.name} in ${timeoutMs} ms`)), timeoutMs).unref())
  for (;;) {
    const n = await Promise.race([tun.read(buf, 0), timer])
    const p = buf.slice(0, n)
    if (n >= 20 && p[0]! >> 4 === 4 && want(p)) return p
  }
}

t.test('openTun in a fresh namespace: name, MTU, an echo answered by the kernel, a packet routed back', { skip }, async (t) => {
  const ns = netns(t)
  const tun = openTun({ name: 'gdoitest0', netns: ns.name, mtuBytes: 1400 })
  t.teardown(() => tun.close())
  t.equal(tun.name, 'gdoitest0')
  t.equal(tun.mtu, 1400)
  t.ok(tun.fd >= 0)
  t.throws(() => execFileSync('ip', ['link', 'show', 'gdoitest0'], { stdio: 'ignore' }), 'the device is not in the host namespace')
  ns.ip('addr', 'add', '10.99.0.1/24', 'dev', 'gdoitest0')
  ns.ip('link', 'set', 'gdoitest0', 'up')
  ns.sysctl('net.ipv4.ip_forward=1')
  ns.sysctl('net.ipv4.conf.all.send_redirects=0')
  ns.sysctl('net.ipv4.conf.gdoitest0.send_redirects=0')
  ns.ip('route', 'add', '10.98.0.0/24', 'dev', 'gdoitest0')

  // 1. An echo request written to the TUN is answered by the namespace's kernel; the reply is routed back
  //    into the TUN. The read is pending first, so the reply arrives through the libuv poll wake-up.
  const req = buildIpv4({ src: '10.99.0.2', dst: '10.99.0.1', protocol: IpProto.ICMP, payload: buildIcmpEcho(8, 0x1234, 7, new Uint8Array(56).fill(0xab)) })
  const replyRead = readUntil(tun, (p) => p[9] === IpProto.ICMP && p[20] === 0)
  await new Promise((r) => setTimeout(r, 20))
  await tun.write(req, 0, req.length)
  const rep = await replyRead
  t.match(parseIpv4Header(rep), { src: '10.99.0.1', dst: '10.99.0.2', protocol: 1, checksumOk: true })
  t.equal((rep[24]! << 8) | rep[25]!, 0x1234, 'echo id')
  t.equal(ipChecksum(rep, 20, rep.length - 20), 0)
  t.equal(toHex(rep.subarray(28)), toHex(req.subarray(28)), 'payload echoed')

  // 2. Forwarding: a packet for 10.98.0.7 written to the TUN is routed by the kernel back out of it (TTL − 1).
  const fwd = ping('10.99.0.2', '10.98.0.7', 100, { ttl: 30 })
  await tun.write(fwd, 0, fwd.length)
  const back = await readUntil(tun, (p) => p[16] === 10 && p[17] === 98)
  t.equal(back[8], 29, 'TTL decremented by the kernel')
  t.equal(toHex(back.subarray(20)), toHex(fwd.subarray(20)))

  // 3. Batch I/O: 32 echo requests, 32 replies.
  const slab = new Uint8Array(32 * 256)
  const offs = Int32Array.from({ length: 32 }, (_, i) => i * 256)
  const sizes = new Int32Array(32)
  for (let i = 0; i < 32; i++) {
    const r = buildIpv4({ src: '10.99.0.2', dst: '10.99.0.1', protocol: IpProto.ICMP, payload: buildIcmpEcho(8, 0x1234, 100 + i, new Uint8Array(32)) })
    slab.set(r, offs[i]!)
    sizes[i] = r.length
  }
  await tun.writeBatch(slab, offs, sizes, 32)
  let replies = 0
  const rx = new Uint8Array(32 * 256)
  const rxSizes = new Int32Array(32)
  const deadline = Date.now() + 3000
  while (replies < 32 && Date.now() < deadline) {
    const n = await tun.readBatch(rx, offs, 32, 256, rxSizes)
    for (let i = 0; i < n; i++) if (rx[offs[i]! + 9] === 1 && rx[offs[i]! + 20] === 0) replies++
  }
  t.equal(replies, 32, 'batch of echo replies')
  t.equal(tun.stats.writeErrors, 0)

  await tun.close()
  await t.rejects(tun.read(new Uint8Array(100), 0), { code: 'ERR_TUN_CLOSED' })
  await t.rejects(tun.write(req, 0, req.length), { code: 'ERR_TUN_CLOSED' })
})

t.test('a pending read is rejected by close()', { skip }, async (t) => {
  const ns = netns(t)
  const tun = openTun({ name: 'gdoitest%d', netns: ns.name })
  t.match(tun.name, /^gdoitest\d+$/, 'the kernel fills in %d')
  const pending = tun.read(new Uint8Array(2000), 0)
  await t.rejects(tun.read(new Uint8Array(2000), 0), { code: 'ERR_TUN_BUSY' })
  setTimeout(() => void tun.close(), 20)
  await t.rejects(pending, { code: 'ERR_TUN_CLOSED' })
})

t.test('two data planes over real TUNs, the kernel routing between them (one namespace)', { skip }, async (t) => {
  // lan0 plays both LANs (inject / observe); gm1 and gm2 are the members' TUNs. Routing:
  //   10.2/16 (and 10.1/16) plaintext      → main table: via gm1 (GM1 encrypts)
  //   ESP arriving from gm1 (iif gm1)      → table 101: via gm2 (GM2 decrypts)
  //   anything arriving from gm2 (iif gm2) → table 102: via lan0 (the destination LAN)
  const ns = netns(t)
  const lan = openTun({ name: 'lan0', netns: ns.name })
  const tun1 = openTun({ name: 'gm1', netns: ns.name })
  const tun2 = openTun({ name: 'gm2', netns: ns.name, readsBeforeYield: 0 }) // always through the poll handle
  t.teardown(async () => { await lan.close() })
  forwarding(ns, ['lan0', 'gm1', 'gm2'])
  ns.ip('addr', 'add', '192.168.77.1/32', 'dev', 'lan0')
  ns.ip('route', 'add', '10.1.0.0/16', 'dev', 'lan0')
  ns.ip('route', 'add', '10.2.0.0/16', 'dev', 'gm1')
  ns.ip('route', 'add', '10.2.0.0/16', 'dev', 'gm2', 'table', '101')
  ns.ip('route', 'add', '10.2.0.0/16', 'dev', 'lan0', 'table', '102')
  ns.ip('rule', 'add', 'iif', 'gm1', 'ipproto', '50', 'lookup', '101')
  ns.ip('rule', 'add', 'iif', 'gm2', 'lookup', '102')

  const { gm1, gm2 } = twoMembers(t, tun1, tun2, 0x0badcafe)

  const sent: string[] = []
  for (let i = 0; i < 20; i++) {
    const p = ping('10.1.0.5', '10.2.0.9', 84 + 16 * i, { ttl: 64, seq: i })
    sent.push(toHex(p.subarray(20)))
    await lan.write(p, 0, p.length)
  }
  const got: string[] = []
  for (let i = 0; i < 20; i++) {
    const p = await readUntil(lan, (x) => x[9] === IpProto.ICMP && x[16] === 10 && x[17] === 2)
    t.equal(p[8], 62, 'TTL: 64 − 1 (lan0 → gm1) − 1 (gm2 → lan0); the ESP hop does not touch the inner TTL')
    got.push(toHex(p.subarray(20)))
  }
  t.same(got, sent, '20 pings crossed GM1 (encrypt) → kernel → GM2 (decrypt) → kernel → LAN')
  t.match(gm1.snapshot().counters, { encryptedPackets: 20, dropAuth: 0 })
  t.match(gm2.snapshot().counters, { decryptedPackets: 20, dropAuth: 0, dropUnknownSpi: 0 })
  t.equal(gm1.error, undefined)
})

t.test('fragments made before encryption are reassembled by the destination kernel, which answers the ping', { skip }, async (t) => {
  // A 1400-octet echo request without DF from lan0 → gm1: GM1's path MTU is 900, so it splits the inner
  // packet and seals each piece (no ESP packet above 900) → ESP routed into gm2 (MTU 900: an ESP packet
  // sealed whole would be fragmented by the kernel here, and GM2 drops ESP fragments) → GM2 decrypts each piece
  // → the namespace's own address 10.2.0.9 reassembles them and replies → the reply comes out on lan0.
  // The local table is moved after our rules so that 10.2.0.9 is reached through the members first.
  const ns = netns(t)
  const lan = openTun({ name: 'lan0', netns: ns.name })
  const tun1 = openTun({ name: 'gm1', netns: ns.name })
  const tun2 = openTun({ name: 'gm2', netns: ns.name, mtuBytes: 900 }) // the path: larger ESP would arrive in fragments
  t.teardown(async () => { await lan.close() })
  forwarding(ns, ['lan0', 'gm1', 'gm2'])
  ns.ip('addr', 'add', '10.2.0.9/32', 'dev', 'lo')
  ns.ip('route', 'add', '10.1.0.0/16', 'dev', 'lan0')
  ns.ip('route', 'add', '10.2.0.0/16', 'dev', 'gm1', 'table', '100')
  ns.ip('route', 'add', '10.2.0.0/16', 'dev', 'gm2', 'table', '101')
  ns.ip('rule', 'add', 'pref', '10', 'iif', 'lan0', 'lookup', '100')
  ns.ip('rule', 'add', 'pref', '20', 'iif', 'gm1', 'ipproto', '50', 'lookup', '101')
  ns.ip('rule', 'add', 'pref', '1000', 'lookup', 'local')
  ns.ip('rule', 'del', 'pref', '0', 'lookup', 'local')

  const { gm1, gm2 } = twoMembers(t, tun1, tun2, 0x0f4a6000, { pathMtuBytes: 900 })

  const req = ping('10.1.0.5', '10.2.0.9', 1400, { dontFragment: false, seq: 77 })
  const replyRead = readUntil(lan, (p) => p[9] === IpProto.ICMP && p[12] === 10 && p[13] === 2)
  await lan.write(req, 0, req.length)
  const rep = await replyRead
  const h = parseIpv4Header(rep)
  t.match(h, { src: '10.2.0.9', dst: '10.1.0.5', protocol: 1, checksumOk: true })
  t.equal(rep[20], 0, 'an echo reply')
  t.equal(toHex(rep.subarray(28, h.totalBytes)), toHex(req.subarray(28)), 'the whole 1372-octet payload came back')
  t.match(gm1.snapshot().counters, { preFragmented: 1, preFragments: 2, encryptedPackets: 2, icmpFragNeeded: 0 })
  t.match(gm2.snapshot().counters, { decryptedPackets: 2, dropFragment: 0, dropAuth: 0, dropPolicy: 0 })
})

t.test('typed errors: no /dev/net/tun, no CAP_NET_ADMIN, bad namespace', { skip }, async (t) => {
  t.throws(() => openTun({ netns: '/nonexistent/netns' }), { code: 'ERR_TUN_OPEN' })
  t.ok(new TunError('ERR_TUN_IO', 'x') instanceof Error)
  // Child processes with the device hidden (private mount namespace) or the capability dropped.
  const here = fileURLToPath(new URL('../../src/dataplane/tun.ts', import.meta.url))
  const script = `import { openTun } from ${JSON.stringify(here)}; try { openTun({ name: 'gdoinope0' }); console.log('OPENED') } catch (e) { console.log(e.code) }`
  const child = (wrap: string[]): string => {
    const r = spawnSync(wrap[0]!, [...wrap.slice(1), process.execPath, ...process.execArgv, '--input-type=module', '-e', script], { encoding: 'utf8', env: process.env, timeout: 60_000 })
    return `${r.stdout}${r.stderr}`.trim().split('\n').filter((l) => /^(ERR_|OPENED)/.test(l)).pop() ?? `exit ${r.status}: ${r.stderr.slice(0, 300)}`
  }
  if (spawnSync('unshare', ['-m', 'true']).status === 0) {
    t.equal(child(['unshare', '-m', 'sh', '-c', 'mount -t tmpfs none /dev/net && exec "$0" "$@"']), 'ERR_TUN_UNAVAILABLE', 'device hidden')
  } else t.comment('unshare -m unavailable: skipped the missing-device case')
  if (spawnSync('setpriv', ['--bounding-set', '-net_admin', '--inh-caps', '-net_admin', 'true']).status === 0) {
    t.equal(child(['setpriv', '--bounding-set', '-net_admin', '--inh-caps', '-net_admin', '--ambient-caps', '-net_admin', '--']), 'ERR_TUN_PERMISSION', 'CAP_NET_ADMIN dropped')
  } else t.comment('setpriv unavailable: skipped the missing-capability case')
})
