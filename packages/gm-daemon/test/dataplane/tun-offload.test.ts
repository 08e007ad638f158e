// TUN segmentation offloads (native/offload.c) against the real kernel. Three namespaces and four TUNs;
// this process relays packets between them (read a batch from one TUN, writeBatch to the next):
//
//   nsA (client 10.9.0.1)      nsB (router)                        nsC (server 10.9.1.2)
//   offA ──relay A→B──────────▶ offB ─ ip_forward ─▶ plainC ──relay C→D──▶ offD
//   (offload)                   (offload)            (no offload)          (offload)
//
// So what a TCP or UDP flow carries goes through gsoReadBatch on offA (TSO super-packets cut into
// segments, partial checksums completed) and gsoWriteBatch twice: on offB, whose GSO packets the router
// forwards and the kernel segments in software into plainC (the GM's case: decrypted packets written to
// its TUN go on to the LAN), and on offD, whose GSO packets are delivered to a local socket (a GM host's
// own traffic). Endpoints are child processes inside the namespaces; bytes are compared end to end, and
// every packet each relay reads is checked in JS, independently of the addon (total length, MTU, IPv4
// and TCP/UDP checksums) — on plainC that checks what the kernel made of our coalesced packets' headers
// and partial checksums. Skipped, with the reason, without root, /dev/net/tun, iproute2 or the addon.
import t, { type Test } from 'tap'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { release } from 'node:os'
import { buildIcmpEcho, buildIpv4, ipChecksum, IpProto, parseIpv4Header } from '../../src/dataplane/ipv4.js'
import { openTun, type KernelTunDevice, type OffloadStats } from '../../src/dataplane/tun.js'
import { kernelSkipReason, testNetns, type Netns } from './kernel-netns.js'
import { toHex } from './helpers.js'

const skip = kernelSkipReason()


/** A fresh namespace for one test, deleted on teardown. */
const netns = (t: { teardown: (fn: () => void) => void }): Netns => testNetns(t, 'off')

const MTU = 1400
const CLIENT = '10.9.0.1'
const SERVER = '10.9.1.2'

interface Topology {
  nsA: Netns
  nsB: Netns
  nsC: Netns
  tunA: KernelTunDevice
  tunB: KernelTunDevice
  plainC: KernelTunDevice
  tunD: KernelTunDevice
}

/** The three namespaces and four TUNs of the picture above, addressed and routed (relays not started). */
function topology(t: { teardown: (fn: () => void | Promise<void>) => void }): Topology {
  const nsA = netns(t)
  const nsB = netns(t)
  const nsC = netns(t)
  const open = (ns: Netns, name: string, offload: boolean): KernelTunDevice => {
    const tun = openTun({ name, netns: ns.name, mtuBytes: MTU, offload })
    t.teardown(() => tun.close())
    ns.ip('link', 'set', name, 'up')
    return tun
  }
  const tunA = open(nsA, 'offA', true)
  const tunB = open(nsB, 'offB', true)
  const plainC = open(nsB, 'plainC', false)
  const tunD = open(nsC, 'offD', true)
  nsA.ip('addr', 'add', `${CLIENT}/24`, 'dev', 'offA')
  nsA.ip('route', 'add', '10.9.1.0/24', 'dev', 'offA')
  nsB.sysctl('net.ipv4.ip_forward=1')
  nsB.ip('route', 'add', '10.9.0.0/24', 'dev', 'offB')
  nsB.ip('route', 'add', '10.9.1.0/24', 'dev', 'plainC')
  nsC.ip('addr', 'add', `${SERVER}/24`, 'dev', 'offD')
  nsC.ip('route', 'add', '10.9.0.0/24', 'dev', 'offD')
  return { nsA, nsB, nsC, tunA, tunB, plainC, tunD }
}

// ---- independent checks of what the relay sees ------------------------------------------------------

/** RFC 1071 sum (not complemented) of b[off, off + len), big-endian words, odd octet padded. */
function sum16(b: Uint8Array, off: number, len: number, start = 0): number {
  let sum = start
  const end = off + (len & ~1)
  for (let i = off; i < end; i += 2) sum += (b[i]! << 8) | b[i + 1]!
  if (len & 1) sum += b[off + len - 1]! << 8
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return sum
}

/** Does the TCP/UDP checksum of this IPv4 packet verify (pseudo-header + segment sums to 0xffff)? */
function l4ChecksumOk(p: Uint8Array, ihl: number, total: number): boolean {
  const proto = p[9]!
  const l4len = total - ihl
  if (proto === IpProto.UDP && ((p[ihl + 6]! << 8) | p[ihl + 7]!) === 0) return false // we want them all checksummed
  let s = sum16(p, 12, 8) // source and destination addresses
  s += proto + l4len
  return sum16(p, ihl, l4len, s) === 0xffff
}

interface Audit { packets: number; tcp: number; udp: number; failures: string[] }
const newAudit = (): Audit => ({ packets: 0, tcp: 0, udp: 0, failures: [] })

/** Checks one packet as it leaves a TUN: IPv4 header checksum, total length = size ≤ MTU, L4 checksum. */
function audit(a: Audit, p: Uint8Array): void {
  a.packets++
  const fail = (why: string): void => { if (a.failures.length < 20) a.failures.push(`${why}: ${toHex(p.subarray(0, 40))}`) }
  if (p.length < 20 || p[0]! >> 4 !== 4) return fail('not IPv4')
  const ihl = (p[0]! & 0x0f) * 4
  const total = (p[2]! << 8) | p[3]!
  if (total !== p.length) return fail(`total length ${total} ≠ packet size ${p.length}`)
  if (p.length > MTU) return fail(`${p.length} octets > MTU ${MTU}`)
  if (ipChecksum(p, 0, ihl) !== 0) return fail('bad IPv4 header checksum')
  if (p[9] === IpProto.TCP) {
    a.tcp++
    if (!l4ChecksumOk(p, ihl, total)) fail('bad TCP checksum')
  } else if (p[9] === IpProto.UDP) {
    a.udp++
    if (((p[ihl + 4]! << 8) | p[ihl + 5]!) !== total - ihl) fail('UDP length ≠ IP payload')
    else if (!l4ChecksumOk(p, ihl, total)) fail('bad UDP checksum')
  }
}

const SLOTS = 64
const SLOT = 2048

interface Relay { audit: Audit; batches: number; packets: number; dropped: number; swapped: number; done: Promise<void> }

const isTcpData = (p: Uint8Array): boolean => p.length >= 40 && p[9] === IpProto.TCP && p.length > (p[0]! & 0x0f) * 4 + (p[32]! >> 4) * 4

/**
 * Relays from → to until `from` is closed, each packet audited before it is written. Batch i asks for
 * counts[i % counts.length] packets (short ones leave segments of a super-packet waiting in the addon).
 * `batches` counts reads, `packets` the packets they brought (to see whether batches filled).
 * perturbTcp: of every 300 TCP data packets, one is dropped and one swapped with the next, each only when
 * another packet follows it in the batch — so the coalescer must find the gap (or the step back) in the
 * sequence numbers and not write a run across it; TCP recovers (SACK, retransmission).
 */
function relay(from: KernelTunDevice, to: KernelTunDevice, opts: { counts?: readonly number[]; perturbTcp?: boolean } = {}): Relay {
  const counts = opts.counts ?? [SLOTS]
  const slab = new Uint8Array(SLOTS * SLOT)
  const offs = Int32Array.from({ length: SLOTS }, (_, i) => i * SLOT)
  const sizes = new Int32Array(SLOTS)
  const outOffs = new Int32Array(SLOTS)
  const outSizes = new Int32Array(SLOTS)
  let tcpData = 0
  const r: Relay = { audit: newAudit(), batches: 0, packets: 0, dropped: 0, swapped: 0, done: Promise.resolve() }
  r.done = (async () => {
    for (;;) {
      let n: number
      try {
        n = await from.readBatch(slab, offs, counts[r.batches % counts.length]!, SLOT, sizes)
      } catch (e) {
        if ((e as { code?: string }).code === 'ERR_TUN_CLOSED') return
        throw e
      }
      r.batches++
      r.packets += n
      let m = 0
      const keep = (i: number): void => { outOffs[m] = offs[i]!; outSizes[m++] = sizes[i]! }
      for (let i = 0; i < n; i++) {
        const p = slab.subarray(offs[i]!, offs[i]! + sizes[i]!)
        audit(r.audit, p)
        const k = opts.perturbTcp === true && i + 1 < n && isTcpData(p) ? ++tcpData % 300 : -1
        if (k === 100) {
          r.dropped++
        } else if (k === 200) {
          r.swapped++
          audit(r.audit, slab.subarray(offs[i + 1]!, offs[i + 1]! + sizes[i + 1]!))
          keep(i + 1)
          keep(i)
          i++
        } else {
          keep(i)
        }
      }
      await to.writeBatch(slab, outOffs, outSizes, m)
    }
  })()
  return r
}

/** All four relays; the one out of offA mixes short batches in; the two towards the server perturb TCP. */
function relayAll(tp: Topology): { ab: Relay; ba: Relay; cd: Relay; dc: Relay; stop: () => Promise<void>; describe: () => string } {
  const ab = relay(tp.tunA, tp.tunB, { counts: [SLOTS, SLOTS, 5, SLOTS, 1], perturbTcp: true })
  const ba = relay(tp.tunB, tp.tunA)
  const cd = relay(tp.plainC, tp.tunD, { perturbTcp: true })
  const dc = relay(tp.tunD, tp.plainC)
  const stop = async (): Promise<void> => {
    for (const tun of [tp.tunA, tp.tunB, tp.plainC, tp.tunD]) await tun.close()
    await Promise.all([ab.done, ba.done, cd.done, dc.done])
  }
  const describe = (): string => {
    // TCP may overrun plainC's queue (one GSO packet becomes up to 64 there): the drops, retransmitted, explain
    // why ab carries more packets than cd.
    const link = JSON.parse(execFileSync('ip', ['-n', tp.nsB.name, '-j', '-s', 'link', 'show', 'plainC'], { encoding: 'utf8' })) as [{ stats64?: { tx?: { dropped?: number } } }]
    return `${Object.entries({ ab, ba, cd, dc }).map(([k, r]) => `${k}: ${r.packets} packets in ${r.batches} reads (dropped ${r.dropped}, swapped ${r.swapped})`).join('; ')}; plainC tx dropped ${link[0].stats64?.tx?.dropped ?? '?'}`
  }
  return { ab, ba, cd, dc, stop, describe }
}

// ---- child processes inside the namespaces -----------------------------------------------------------

interface Child { proc: ChildProcess; ready: Promise<void>; result: Promise<string> }

/** Runs a CommonJS script with this node inside a namespace; `ready` when it prints READY, `result` = its last stdout line. */
function nodeIn(t: { teardown: (fn: () => void) => void }, ns: Netns, script: string, timeoutMs = 25_000): Child {
  const proc = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
  let out = ''
  let err = ''
  let readyCb: { resolve: () => void; reject: (e: Error) => void } | undefined
  const ready = new Promise<void>((resolve, reject) => { readyCb = { resolve, reject } })
  proc.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; if (out.includes('READY\n')) readyCb?.resolve() })
  proc.stderr.setEncoding('utf8').on('data', (d: string) => { err += d })
  const result = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL') }, timeoutMs)
    proc.on('close', (code, signal) => {
      clearTimeout(timer)
      const last = out.trim().split('\n').pop() ?? ''
      const failure = new Error(`child in ${ns.name} exited ${code ?? signal}: ${err.slice(-1000)} ${out.slice(-300)}`)
      readyCb?.reject(failure) // no effect once READY was seen
      if (code === 0) resolve(last)
      else reject(failure)
    })
  })
  result.catch(() => {}) // awaited later; a failure before then must not count as unhandled
  ready.catch(() => {})
  return { proc, ready, result }
}

const TCP_PORT = 5201
const TCP_BYTES = 12 * 1024 * 1024

// Server: hashes everything it receives on one connection, prints { bytes, sha256 }.
const tcpServer = `
const net = require('net'), crypto = require('crypto')
const srv = net.createServer((s) => {
  const h = crypto.createHash('sha256'); let n = 0
  s.on('data', (d) => { h.update(d); n += d.length })
  s.on('end', () => { console.log(JSON.stringify({ bytes: n, sha256: h.digest('hex') })); s.end(); srv.close() })
  s.on('error', (e) => { console.error(e); process.exit(2) })
})
srv.listen(${TCP_PORT}, '${SERVER}', () => console.log('READY'))`

// Client: sends TCP_BYTES of an AES-CTR keystream (deterministic from a seed) in writes of varied sizes.
const tcpClient = `
const net = require('net'), crypto = require('crypto')
const total = ${TCP_BYTES}, h = crypto.createHash('sha256')
const ks = crypto.createCipheriv('aes-128-ctr', crypto.createHash('sha256').update('gdoi-offload-seed').digest().subarray(0, 16), Buffer.alloc(16))
let sent = 0, k = 0
const s = net.connect(${TCP_PORT}, '${SERVER}', pump)
function pump() {
  while (sent < total) {
    const n = Math.min([65536, 1000, 200000, 4096, 1][k++ % 5] * 3, total - sent)
    const b = ks.update(Buffer.alloc(n)); h.update(b); sent += n
    if (!s.write(b)) { s.once('drain', pump); return }
  }
  s.end()
}
s.on('error', (e) => { console.error(e); process.exit(2) })
s.on('close', () => console.log(JSON.stringify({ bytes: sent, sha256: h.digest('hex') })))`

const stats = (tun: KernelTunDevice): OffloadStats => {
  const state = tun.offload()
  if (state === undefined) throw new Error(`${tun.name} has no offload state`)
  return state.stats
}

t.test('TCP through offload TUNs: super-packets cut, runs coalesced (forwarded and delivered), bytes and checksums intact', { skip }, async (t) => {
  const tp = topology(t)
  for (const tun of [tp.tunA, tp.tunB, tp.tunD]) t.equal(tun.offload()?.tso, true, `the kernel accepted TUNSETOFFLOAD(CSUM | TSO4) on ${tun.name}`)
  const relays = relayAll(tp)

  const server = nodeIn(t, tp.nsC, tcpServer)
  await server.ready
  const client = nodeIn(t, tp.nsA, tcpClient)
  // Both settle (a stalled transfer ends at the children's timeout) so that the audits below always report.
  const [sent, received] = await Promise.allSettled([client.result, server.result]).then((r) => r.map((x) => x.status === 'fulfilled' ? JSON.parse(x.value) as { bytes: number; sha256: string } : { bytes: -1, sha256: String(x.reason) }))
  t.equal(received!.bytes, TCP_BYTES, 'the server received every byte')
  t.equal(received!.sha256, sent!.sha256, 'and the same bytes the client sent')

  const [a, b, d] = [stats(tp.tunA), stats(tp.tunB), stats(tp.tunD)]
  t.comment(`offA ${JSON.stringify(a)}`)
  t.comment(`offB ${JSON.stringify(b)}`)
  t.comment(`offD ${JSON.stringify(d)}`)
  t.comment(relays.describe())
  t.ok(a.superPacketsRead > 0, 'the client\'s kernel handed offA TSO super-packets')
  t.ok(a.segmentsCut > a.superPacketsRead, 'each cut into several segments')
  t.equal(a.readDrops, 0, 'none dropped as uncuttable')
  t.ok(b.coalescedWrites > 0, 'runs of the flow went into offB as GSO packets (forwarded by the router)')
  t.ok(b.coalescedPackets > b.coalescedWrites, 'several segments per GSO write')
  t.ok(d.coalescedWrites > 0, 'runs of the flow went into offD as GSO packets (delivered to the server)')
  t.ok(d.coalescedPackets > d.coalescedWrites, 'several segments per GSO write')
  t.equal(b.coalesceRefused + d.coalesceRefused, 0, 'the kernel took every GSO write')
  t.ok(d.checksumsCompleted > 0, 'the server\'s packets (ACKs) left offD with partial checksums, completed')
  for (const tun of [tp.tunA, tp.tunB, tp.plainC, tp.tunD]) t.equal(tun.stats.writeErrors, 0, `no write refused by ${tun.name}`)
  t.ok(relays.ab.dropped > 0 && relays.ab.swapped > 0 && relays.cd.dropped > 0 && relays.cd.swapped > 0, 'the relays dropped and reordered segments inside batches')
  t.ok(relays.ab.audit.tcp > TCP_BYTES / MTU, `the relay audited ${relays.ab.audit.tcp} TCP packets from offA`)
  t.ok(relays.cd.audit.tcp > TCP_BYTES / MTU, `and ${relays.cd.audit.tcp} from plainC, segmented by the router's kernel`)
  t.ok(relays.dc.audit.tcp > 0, `and ${relays.dc.audit.tcp} from offD`)
  for (const [k, r] of Object.entries({ ab: relays.ab, ba: relays.ba, cd: relays.cd, dc: relays.dc })) {
    t.same(r.audit.failures, [], `every packet of ${k} (${r.audit.packets}): IPv4 checksum, length, ≤ MTU, TCP checksum`)
  }
  await relays.stop()
})

/** TUN writes take VIRTIO_NET_HDR_GSO_UDP_L4 since Linux 6.2 (before, offload.c falls back to single writes). */
const usoWrites = ((): boolean => {
  const [major = 0, minor = 0] = release().split(/[.-]/).map(Number)
  return major > 6 || (major === 6 && minor >= 2)
})()

const UDP_PORT = 5301
const UDP_COUNT = 2400
const UDP_WINDOW = 64

// Datagram seq's size and contents, shared by sender and receiver: mostly 1200 octets, a run of 600-octet
// ones, and every 50th of an odd size (shorter ends a GSO run; longer must not join one).
const udpShared = `
const dgram = require('dgram')
const N = ${UDP_COUNT}
const sizeOf = (seq) => seq % 50 === 49 ? 20 + ((seq * 37) % 1340) : seq >= 1000 && seq < 1200 ? 600 : 1200
const content = (seq) => {
  const b = Buffer.alloc(sizeOf(seq))
  b.writeUInt32BE(seq, 0)
  for (let i = 4; i < b.length; i++) b[i] = (seq * 131 + i * 17 + (i >> 8)) & 0xff
  return b
}`

// Receiver: checks each datagram against its seq's size and contents; acks the contiguous count every
// 16 (flow control: the sender keeps at most UDP_WINDOW in flight, so no socket buffer overflows and no
// loss is allowed). Prints { got, bad, dup, sizes } when all arrived, or after 3 s of silence (8 s before the first).
const udpReceiver = `${udpShared}
const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 })
const seen = new Uint8Array(N); let got = 0, bad = 0, dup = 0, contiguous = 0; const sizes = {}
let idle
const finish = () => { console.log(JSON.stringify({ got, bad, dup, sizes })); s.close() }
idle = setTimeout(finish, 8000)
s.on('message', (m, r) => {
  clearTimeout(idle); idle = setTimeout(finish, 3000)
  const seq = m.length >= 4 ? m.readUInt32BE(0) : N
  if (seq >= N || !m.equals(content(seq))) { bad++; return }
  if (seen[seq]) { dup++; return }
  seen[seq] = 1; got++; sizes[m.length] = (sizes[m.length] || 0) + 1
  while (contiguous < N && seen[contiguous]) contiguous++
  if (contiguous % 16 === 0 || contiguous === N) {
    const a = Buffer.alloc(4); a.writeUInt32BE(contiguous)
    s.send(a, r.port, r.address, () => { if (got === N) { clearTimeout(idle); finish() } }) // the last ack out first
  }
})
s.bind(${UDP_PORT}, '${SERVER}', () => console.log('READY'))`

// Sender: bursts up to UDP_WINDOW datagrams beyond the acknowledged count; gives up after 3 s without progress.
const udpSender = `${udpShared}
const s = dgram.createSocket('udp4')
let next = 0, acked = 0, stall
const done = (why) => { clearTimeout(stall); console.log(JSON.stringify({ sent: next, acked, why })); s.close() }
const pump = () => {
  clearTimeout(stall); stall = setTimeout(() => done('stalled'), 3000)
  while (next < N && next < acked + ${UDP_WINDOW}) s.send(content(next++), ${UDP_PORT}, '${SERVER}')
}
s.on('message', (m) => { const a = m.readUInt32BE(0); if (a > acked) { acked = a; if (acked === N) done('all acked'); else pump() } })
s.bind(0, '${CLIENT}', pump)`

t.test('UDP through offload TUNs: same-size datagrams coalesced (forwarded and delivered), every datagram whole', { skip }, async (t) => {
  const tp = topology(t)
  const relays = relayAll(tp)

  const receiver = nodeIn(t, tp.nsC, udpReceiver)
  await receiver.ready
  const sender = nodeIn(t, tp.nsA, udpSender)
  const [sent, rx] = await Promise.allSettled([sender.result, receiver.result]).then((r) => r.map((x) => x.status === 'fulfilled' ? JSON.parse(x.value) as Record<string, unknown> : { error: String(x.reason) }))
  const [b, d] = [stats(tp.tunB), stats(tp.tunD)]
  t.comment(`sender ${JSON.stringify(sent)}`)
  t.comment(`offA ${JSON.stringify(stats(tp.tunA))}`)
  t.comment(`offB ${JSON.stringify(b)}`)
  t.comment(`offD ${JSON.stringify(d)}`)
  t.comment(relays.describe())
  t.match(rx, { got: UDP_COUNT, bad: 0, dup: 0 }, 'every datagram arrived once, with its size and contents')
  const expected: Record<string, number> = {}
  for (let seq = 0; seq < UDP_COUNT; seq++) { // sizeOf in udpShared
    const size = seq % 50 === 49 ? 20 + ((seq * 37) % 1340) : seq >= 1000 && seq < 1200 ? 600 : 1200
    expected[size] = (expected[size] ?? 0) + 1
  }
  t.same(rx!.sizes, expected, 'datagram sizes as sent (no two merged, none split)')
  t.equal(relays.ab.audit.udp, UDP_COUNT, 'the relay saw each datagram once out of offA')
  t.equal(relays.cd.audit.udp, UDP_COUNT, 'and once out of plainC: the router\'s kernel cut our GSO packets at the datagram boundaries')
  for (const [k, r] of Object.entries({ ab: relays.ab, ba: relays.ba, cd: relays.cd, dc: relays.dc })) {
    t.same(r.audit.failures, [], `every packet of ${k} (${r.audit.packets}): IPv4 checksum, length, ≤ MTU, UDP checksum`)
  }
  t.ok(relays.ab.packets > relays.ab.batches && relays.cd.packets > relays.cd.batches, 'the relays read batches of several packets')
  if (usoWrites) {
    t.equal(b.coalesceRefused + d.coalesceRefused, 0, 'the kernel took every UDP GSO write')
    t.ok(b.coalescedWrites > 0 && b.coalescedPackets > b.coalescedWrites, 'runs of same-size datagrams went into offB as UDP GSO packets (forwarded)')
    t.ok(d.coalescedWrites > 0 && d.coalescedPackets > d.coalescedWrites, 'and into offD (delivered to the receiver\'s socket)')
  } else {
    t.comment(`Linux ${release()}: TUN writes take no UDP GSO before 6.2; checking the fallback`)
    t.ok(b.coalesceRefused === 1 && d.coalesceRefused === 1, 'the first UDP GSO write was refused, its datagrams written one by one')
    t.equal(b.coalescedWrites + d.coalescedWrites, 0, 'and no UDP coalescing tried again')
  }
  for (const tun of [tp.tunA, tp.tunB, tp.plainC, tp.tunD]) t.equal(tun.stats.writeErrors, 0, `no write refused by ${tun.name}`)
  await relays.stop()
})

async function readUntil(tun: KernelTunDevice, want: (p: Uint8Array) => boolean, bufBytes = 2048, timeoutMs = 3000): Promise<Uint8Array> {
  const buf = new Uint8Array(bufBytes)
  const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`nothing matching on ${tun.name} in ${timeoutMs} ms`)), timeoutMs).unref())
  for (;;) {
    const n = await Promise.race([tun.read(buf, 0), timer])
    const p = buf.slice(0, n)
    if (n >= 20 && p[0]! >> 4 === 4 && want(p)) return p
  }
}

/** Writes an echo request for `dst` with write() and reads the kernel's reply with read() into a bufBytes buffer. */
async function echo(t: Test, tun: KernelTunDevice, src: string, dst: string, bufBytes: number): Promise<void> {
  const req = buildIpv4({ src, dst, protocol: IpProto.ICMP, payload: buildIcmpEcho(8, 0x0ff1, bufBytes & 0xffff, new Uint8Array(1000).fill(0x5a)) })
  const replyRead = readUntil(tun, (p) => p[9] === IpProto.ICMP && p[20] === 0, bufBytes)
  await tun.write(req, 0, req.length)
  const rep = await replyRead
  t.match(parseIpv4Header(rep), { src: dst, dst: src, protocol: 1, checksumOk: true, totalBytes: req.length }, `${tun.name}: echo reply read into a ${bufBytes}-octet buffer`)
  t.equal(ipChecksum(rep, 20, rep.length - 20), 0, 'ICMP checksum')
  t.equal(toHex(rep.subarray(28)), toHex(req.subarray(28)), 'payload echoed')
}

t.test('single read()/write() on an offload device; a plain device beside it works and has no offload state', { skip }, async (t) => {
  const ns = netns(t)
  const plain = openTun({ name: 'plain0', netns: ns.name, mtuBytes: MTU })
  t.teardown(() => plain.close())
  t.equal(plain.offload(), undefined, 'opened without offload: no offload state')
  const tun = openTun({ name: 'off0', netns: ns.name, mtuBytes: MTU, offload: true })
  t.teardown(() => tun.close())
  t.equal(tun.mtu, MTU)
  const state = tun.offload()
  t.equal(state?.tso, true, 'opened with offload: offload state, TSO4 accepted')
  t.same(Object.values(state?.stats ?? {}), [0, 0, 0, 0, 0, 0, 0, 0], 'counters start at zero')
  ns.ip('addr', 'add', '10.98.0.1/24', 'dev', 'plain0')
  ns.ip('addr', 'add', '10.99.0.1/24', 'dev', 'off0')
  ns.ip('link', 'set', 'plain0', 'up')
  ns.ip('link', 'set', 'off0', 'up')

  // The echo request goes behind an all-zero virtio header; the reply comes back with the header stripped.
  await echo(t, plain, '10.98.0.2', '10.98.0.1', 2048)
  await echo(t, tun, '10.99.0.2', '10.99.0.1', 2048)
  // read() hands the whole rest of the buffer as the slot: larger than a packet can be, as a plain device allows.
  await echo(t, plain, '10.98.0.2', '10.98.0.1', 70_000)
  await echo(t, tun, '10.99.0.2', '10.99.0.1', 70_000)
  const after = tun.offload()?.stats
  t.equal(after?.singleWrites, 2, 'each echo went out as one plain write')
  t.equal(after?.coalescedWrites, 0)
  t.equal(tun.stats.writeErrors + plain.stats.writeErrors, 0)
})
