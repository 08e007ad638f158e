// The ESP socket against the real kernel, in a namespace of its own whose only interfaces are two TUN
// devices this test holds (what the kernel routes into them is read back here: nothing leaves).
// Skipped, with the reason, without root, iproute2 or the addon.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { EspSocket, EspSocketError } from '../../src/dataplane/esp-socket.js'
import { buildIpv4, IpProto } from '../../src/dataplane/ipv4.js'
import { openTun, type KernelTunDevice } from '../../src/dataplane/tun.js'
import { toHex } from './helpers.js'
import { kernelSkipReason, testNetns, type Netns } from './kernel-netns.js'

const skip = kernelSkipReason()
const MARK = 0x67640077

/** Packets the kernel sent through `dev` (TX counter). */
function txPackets(ns: Netns, dev: string): number {
  const j = JSON.parse(execFileSync('ip', ['-n', ns.name, '-s', '-j', 'link', 'show', dev], { encoding: 'utf8' })) as { stats64: { tx: { packets: number } } }[]
  return j[0]?.stats64.tx.packets ?? -1
}

/** The next packet the kernel routed into `tun`, within `ms`. */
async function readPacket(tun: KernelTunDevice, ms = 2000): Promise<Uint8Array> {
  const buf = new Uint8Array(2048)
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<number>((_, rej) => { timer = setTimeout(() => rej(new Error(`${tun.name}: nothing within ${ms} ms`)), ms) })
  try {
    const n = await Promise.race([tun.read(buf, 0), timeout])
    return buf.slice(0, n)
  } finally {
    clearTimeout(timer)
  }
}

/** A slab holding `dsts.length` ESP-like packets (protocol 50, address-preserving source) and their places. */
function batch(dsts: readonly string[]): { slab: Uint8Array; offsets: Int32Array; sizes: Int32Array } {
  const pkts = dsts.map((dst, i) => buildIpv4({ src: '10.1.1.2', dst, protocol: IpProto.ESP, ident: i + 1, payload: new Uint8Array(100).fill(i) }))
  const slab = new Uint8Array(pkts.reduce((n, p) => n + p.length + 16, 0))
  const offsets = new Int32Array(pkts.length)
  const sizes = new Int32Array(pkts.length)
  let at = 8
  pkts.forEach((p, i) => { slab.set(p, at); offsets[i] = at; sizes[i] = p.length; at += p.length + 16 })
  return { slab, offsets, sizes }
}

t.test('sealed packets leave by the routes their mark selects; unroutable ones are refused and counted', { skip }, async (t) => {
  const ns = testNetns(t, 'esp')
  const wan = openTun({ name: 'wan', netns: ns.name })
  const other = openTun({ name: 'other', netns: ns.name })
  t.teardown(async () => { await wan.close(); await other.close() })
  for (const d of ['wan', 'other']) ns.ip('link', 'set', d, 'up')
  ns.ip('addr', 'add', '10.0.1.2/24', 'dev', 'wan')
  // the main table sends the sites' addresses to `other`; only marked packets may use table 100 → wan
  ns.ip('route', 'add', '10.1.0.0/16', 'dev', 'other')
  ns.ip('route', 'add', '10.1.0.0/16', 'dev', 'wan', 'table', '100')
  ns.ip('rule', 'add', 'pref', '100', 'fwmark', `0x${MARK.toString(16)}`, 'lookup', '100')

  const sock = EspSocket.open({ mark: MARK, netns: ns.name })
  t.teardown(() => sock.close())
  const wan0 = txPackets(ns, 'wan')
  const other0 = txPackets(ns, 'other')
  const b = batch(['10.1.2.2', '10.1.3.2', '10.1.2.2'])
  t.equal(sock.send(b.slab, b.offsets, b.sizes, 3), 3, 'one sendmmsg took the batch')
  for (let i = 0; i < 3; i++) {
    const got = await readPacket(wan)
    const off = b.offsets[i] as number
    t.equal(toHex(got), toHex(b.slab.subarray(off, off + (b.sizes[i] as number))), `packet ${i} took the route of its mark (wan) as built: our header (source 10.1.1.2, protocol 50) and payload`)
  }
  t.equal(txPackets(ns, 'wan') - wan0, 3, 'the kernel counts the three on wan') // a TUN counts when its reader takes them
  await t.rejects(readPacket(other, 300), /nothing within/, 'none took the main table\'s route (other)')
  t.equal(txPackets(ns, 'other') - other0, 0)
  t.same(sock.stats, { packetsSent: 3, sendErrors: 0, lastErrno: 0 })

  const bad = batch(['10.1.2.2', '192.0.2.1', '10.1.3.2'])
  t.equal(sock.send(bad.slab, bad.offsets, bad.sizes, 3), 1, 'the batch stops at the unroutable packet: the caller writes the rest elsewhere')
  t.match(sock.stats, { packetsSent: 4, sendErrors: 1 })
  const none = batch(['192.0.2.1'])
  t.equal(sock.send(none.slab, none.offsets, none.sizes, 1), 0, 'nothing sent')
  t.equal(sock.stats.lastErrno, 101, 'ENETUNREACH, counted')
  sock.close()
  t.equal(sock.send(b.slab, b.offsets, b.sizes, 3), 0, 'a closed socket sends nothing')
})

t.test('typed errors: no such namespace; slots outside the slab', { skip }, async (t) => {
  t.throws(() => EspSocket.open({ mark: MARK, netns: '/nonexistent/netns' }), EspSocketError)
  try {
    EspSocket.open({ mark: MARK, netns: '/nonexistent/netns' })
  } catch (e) {
    t.match(e, { code: 'ERR_ESP_SOCKET', errno: 2 }, 'ENOENT, with the code')
  }
  const ns = testNetns(t, 'esp')
  const sock = EspSocket.open({ mark: MARK, netns: ns.name })
  t.teardown(() => sock.close())
  const b = batch(['10.1.2.2'])
  t.equal(sock.send(b.slab, Int32Array.of(b.slab.length - 4), b.sizes, 1), 0, 'a packet past the end of the slab is refused, not read')
  t.equal(sock.stats.lastErrno, 22, 'EINVAL')
})
