// TUN I/O: how fast can packets get in and out of a real TUN device from Node without blocking the
// event loop? Workload: echo requests written to the TUN, answered by the kernel of a private network
// namespace, replies read back (each packet crosses the TUN twice). Candidates:
//   poll-batch   non-blocking fd, libuv poll wake-up, native read/write loops (TunDevice.readBatch/writeBatch)
//   poll-single  same device, one packet per read()/write() promise
//   fs-threadpool blocking fd, fs.read/fs.write (each call a libuv thread-pool round trip)
// Needs root; creates and deletes the namespace gdoi-bench-<pid>.
// Run: BENCH=tun-io.bench.ts bash packages/gm-daemon/bench/esp-seal.sh [--runs 5] [--ms 500] [--bytes 84]
import { execFileSync } from 'node:child_process'
import { read as fsRead, write as fsWrite } from 'node:fs'
import os from 'node:os'
import { buildIcmpEcho, buildIpv4 } from '../src/dataplane/ipv4.js'
import { loadNative } from '../src/dataplane/native.js'
import { openTun, type KernelTunDevice } from '../src/dataplane/tun.js'

const args = process.argv.slice(2)
const arg = (name: string, dflt: string): string => { const i = args.indexOf(`--${name}`); return i >= 0 ? (args[i + 1] ?? dflt) : dflt }
const RUNS = Number(arg('runs', '5'))
const RUN_MS = Number(arg('ms', '500'))
const BYTES = Number(arg('bytes', '84'))
const WINDOW = 64 // requests in flight

const ns = `gdoi-bench-${process.pid}`
const sh = (...a: string[]): void => { execFileSync(a[0] ?? 'true', a.slice(1)) }
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? 0 }

function setupDevice(name: string, addr: string): void {
  sh('ip', '-n', ns, 'addr', 'add', `${addr}/24`, 'dev', name)
  sh('ip', '-n', ns, 'link', 'set', name, 'up')
}

const request = (dst: string, seq: number): Uint8Array =>
  buildIpv4({ src: dst.replace(/\.1$/, '.2'), dst, protocol: 1, payload: buildIcmpEcho(8, 7, seq & 0xffff, new Uint8Array(BYTES - 28)) })

async function pollBatch(tun: KernelTunDevice, dst: string): Promise<number> {
  const slot = 2048
  const tx = new Uint8Array(WINDOW * slot)
  const rx = new Uint8Array(WINDOW * slot)
  const offs = Int32Array.from({ length: WINDOW }, (_, i) => i * slot)
  const txSizes = new Int32Array(WINDOW)
  const rxSizes = new Int32Array(WINDOW)
  for (let i = 0; i < WINDOW; i++) { const p = request(dst, i); tx.set(p, offs[i] ?? 0); txSizes[i] = p.length }
  const end = Date.now() + RUN_MS
  let replies = 0
  const t0 = process.hrtime.bigint()
  while (Date.now() < end) {
    await tun.writeBatch(tx, offs, txSizes, WINDOW)
    let got = 0
    while (got < WINDOW) got += await tun.readBatch(rx, offs, WINDOW, slot, rxSizes)
    replies += got
  }
  return replies / (Number(process.hrtime.bigint() - t0) / 1e9)
}

async function pollSingle(tun: KernelTunDevice, dst: string): Promise<number> {
  const pkts = Array.from({ length: WINDOW }, (_, i) => request(dst, i))
  const rx = new Uint8Array(2048)
  const end = Date.now() + RUN_MS
  let replies = 0
  const t0 = process.hrtime.bigint()
  while (Date.now() < end) {
    for (const p of pkts) await tun.write(p, 0, p.length)
    for (let i = 0; i < WINDOW; i++) await tun.read(rx, 0)
    replies += WINDOW
  }
  return replies / (Number(process.hrtime.bigint() - t0) / 1e9)
}

const fsReadP = (fd: number, buf: Uint8Array): Promise<number> =>
  new Promise((res, rej) => fsRead(fd, buf, 0, buf.length, null, (e, n) => (e ? rej(e) : res(n))))
const fsWriteP = (fd: number, buf: Uint8Array): Promise<number> =>
  new Promise((res, rej) => fsWrite(fd, buf, 0, buf.length, null, (e, n) => (e ? rej(e) : res(n))))

async function fsThreadpool(fd: number, dst: string): Promise<number> {
  const pkts = Array.from({ length: WINDOW }, (_, i) => request(dst, i))
  const rx = new Uint8Array(2048)
  const end = Date.now() + RUN_MS
  let replies = 0
  const t0 = process.hrtime.bigint()
  while (Date.now() < end) {
    for (const p of pkts) await fsWriteP(fd, p)
    for (let i = 0; i < WINDOW; i++) await fsReadP(fd, rx)
    replies += WINDOW
  }
  return replies / (Number(process.hrtime.bigint() - t0) / 1e9)
}

execFileSync('ip', ['netns', 'add', ns])
try {
  for (const kv of ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']) sh('ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', kv)
  const tun = openTun({ name: 'bpoll0', netns: ns })
  setupDevice('bpoll0', '10.91.0.1')
  const [fd] = loadNative().tunOpen('bfs0', false, `/var/run/netns/${ns}`, 0, false) // blocking fd for fs.read
  setupDevice('bfs0', '10.92.0.1')
  const res: Record<string, number[]> = { 'poll-batch': [], 'poll-single': [], 'fs-threadpool': [] }
  await pollBatch(tun, '10.91.0.1') // warm up
  for (let r = 0; r < RUNS; r++) {
    res['poll-batch']?.push(await pollBatch(tun, '10.91.0.1'))
    res['poll-single']?.push(await pollSingle(tun, '10.91.0.1'))
    res['fs-threadpool']?.push(await fsThreadpool(fd, '10.92.0.1'))
  }
  console.log(`TUN I/O — ${new Date().toISOString()} — ${os.cpus()[0]?.model ?? ''}, ${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} — ${BYTES}-octet echo requests, ${WINDOW} in flight, median of ${RUNS} × ${RUN_MS} ms; each reply = 1 write + 1 read on the TUN`)
  console.log('')
  console.log('| mode | replies/s | TUN packets/s (in + out) |')
  console.log('|---|---:|---:|')
  for (const [k, v] of Object.entries(res)) console.log(`| ${k} | ${Math.round(median(v)).toLocaleString('en-US')} | ${Math.round(2 * median(v)).toLocaleString('en-US')} |`)
  await tun.close()
} finally {
  // Deleting the namespace destroys both devices; that also ends a blocking read left in the thread pool.
  execFileSync('ip', ['netns', 'del', ns])
}
process.exit(0)
