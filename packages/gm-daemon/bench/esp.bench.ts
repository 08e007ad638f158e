// ESP seal/open per transform at 64, 512 and 1400-octet inner packets: packets per CPU second and Gbit/s
// for each candidate implementation, next to `openssl speed` (one core, same run, which also divides by
// its CPU time), medians of RUNS runs; packets per wall-clock second as well.
//   native        the addon: EVP contexts reused per SA, one N-API call per packet (what the data plane uses)
//   native-batch  the addon, 64 packets per N-API call (espSealBatch/espOpenBatch)
//   node          node:crypto, one Cipher + Hmac object per packet (the fallback engine)
//   reference     @gdoi/wire sealEsp/openEsp (allocating reference, for scale)
//   dataplane     DataPlane.process(): IPv4 checks + ACL + outer header + native seal (no TUN)
// Also counts V8 scavenges per million packets: 0 means the engine allocates nothing per packet.
// Run: bash packages/gm-daemon/bench/esp-seal.sh  [--runs N] [--ms M] [--json out.json]
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import os from 'node:os'
import { PerformanceObserver } from 'node:perf_hooks'
import { espPadBytes, espSuite, openEsp, sealEsp, type EspSaParams } from '@gdoi/wire/esp/index'
import { HEADROOM_BYTES, PacketSlab } from '../src/dataplane/buffers.js'
import { createDataPlane } from '../src/dataplane/dataplane.js'
import { createFastSa, type EspEngineName } from '../src/dataplane/esp-fast.js'
import { createMemoryTun } from '../src/dataplane/memory-tun.js'
import { loadNative } from '../src/dataplane/native.js'
import { createPolicy } from '../src/dataplane/policy.js'
import { SaTable } from '../src/dataplane/sa-table.js'
import { systemClock } from '../src/dataplane/clock.js'
import { buildIcmpEcho, buildIpv4 } from '../src/dataplane/ipv4.js'

const args = process.argv.slice(2)
const arg = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? (args[i + 1] ?? dflt) : dflt
}
const RUNS = Number(arg('runs', '5'))
const RUN_MS = Number(arg('ms', '250'))
const JSON_OUT = arg('json', '')
const SIZES = [64, 512, 1400]
const BATCH = 64
const LOAD_AT_START = os.loadavg()

interface Transform { name: string; params: EspSaParams; openssl: string; hmac?: string }
const TRANSFORMS: Transform[] = [
  { name: 'aes-256-cbc+sha1', params: { spi: 0x1001, transformId: 12, authAlgorithm: 2, keyLengthBits: 256, encKey: randomBytes(32), authKey: randomBytes(20) }, openssl: 'aes-256-cbc', hmac: 'sha1' },
  { name: 'aes-128-cbc+sha256', params: { spi: 0x1002, transformId: 12, authAlgorithm: 5, keyLengthBits: 128, encKey: randomBytes(16), authKey: randomBytes(32) }, openssl: 'aes-128-cbc', hmac: 'sha256' },
  { name: 'aes-256-cbc+sha256', params: { spi: 0x1003, transformId: 12, authAlgorithm: 5, keyLengthBits: 256, encKey: randomBytes(32), authKey: randomBytes(32) }, openssl: 'aes-256-cbc', hmac: 'sha256' },
  { name: 'aes-128-gcm-16', params: { spi: 0x1004, transformId: 20, keyLengthBits: 128, encKey: randomBytes(20) }, openssl: 'aes-128-gcm' },
  { name: 'aes-256-gcm-16', params: { spi: 0x1005, transformId: 20, keyLengthBits: 256, encKey: randomBytes(36) }, openssl: 'aes-256-gcm' },
  { name: '3des-cbc+md5', params: { spi: 0x1006, transformId: 3, authAlgorithm: 1, encKey: randomBytes(24), authKey: randomBytes(16) }, openssl: 'des-ede3-cbc', hmac: 'md5' },
]
const SENDER = { sid: 1, sidBits: 16 }

let scavenges = 0
new PerformanceObserver((l) => { for (const e of l.getEntries()) if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === 1) scavenges++ })
  .observe({ entryTypes: ['gc'] })
const flushObservers = (): Promise<void> => new Promise((r) => setTimeout(r, 5))

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? 0 }

/**
 * One timed run of fn (perCall packets per call) for RUN_MS: packets per CPU second (the divisor
 * `openssl speed` uses: its default is CPU time, `-elapsed` switches to wall clock), packets per
 * wall-clock second, and V8 scavenges per 1M packets. CPU time is this process's user + system time,
 * all threads (GC helpers included), so it can only flatter openssl; on a shared machine it is the
 * figure that does not depend on how long other processes held the core.
 */
async function runOnce(perCall: number, fn: () => void): Promise<{ pps: number; wallPps: number; scav: number }> {
  await flushObservers()
  const s0 = scavenges
  const c0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  const end = t0 + BigInt(RUN_MS) * 1_000_000n
  let n = 0
  let now = t0
  while (now < end) {
    for (let i = 0; i < 32; i++) fn()
    n += 32 * perCall
    now = process.hrtime.bigint()
  }
  const cpu = process.cpuUsage(c0)
  const cpuSec = (cpu.user + cpu.system) / 1e6
  const wallSec = Number(now - t0) / 1e9
  await flushObservers()
  return { pps: n / Math.max(cpuSec, 1e-6), wallPps: n / wallSec, scav: ((scavenges - s0) / n) * 1e6 }
}

interface Impl { readonly name: string; readonly perCall: number; readonly seal: () => void; readonly open: () => void; close(): void }

function engineImpl(tr: Transform, size: number, engine: EspEngineName): Impl {
  const sa = createFastSa(tr.params, { engine, sender: SENDER })
  const s = sa.suite
  const buf = new PacketSlab(1, 1500).buf
  const off = HEADROOM_BYTES - s.headerBytes
  buf.set(randomBytes(size), HEADROOM_BYTES)
  let seq = 0
  const espLen = sa.seal(buf, off, size, 4, ++seq)
  const sealed = buf.slice(off, off + espLen)
  const work = new Uint8Array(espLen + 64)
  return {
    name: engine, perCall: 1,
    seal: () => { sa.seal(buf, off, size, 4, ++seq) },
    // decryption is in place: restore the sealed packet before each open
    open: () => { work.set(sealed); if (sa.open(work, 0, espLen) < 0) throw new Error('open failed') },
    close: () => sa.destroy(),
  }
}

function nativeBatchImpl(tr: Transform, size: number): Impl {
  const n = loadNative()
  const s = espSuite(tr.params)
  const mode = { cbc: 0, gcm: 1, ctr: 2, gmac: 3, null: 4 }[s.mode]
  const hm = s.hmac === undefined ? 0 : { md5: 1, sha1: 2, sha256: 3, sha384: 4, sha512: 5 }[s.hmac]
  const h = n.espNew(mode, s.cipher ?? null, tr.params.encKey, s.saltBytes, s.ivBytes, s.blockBytes, s.icvBytes, hm, tr.params.authKey ?? new Uint8Array(0))
  const slab = new PacketSlab(BATCH, 1500)
  const offs = new Int32Array(BATCH)
  const lens = new Int32Array(BATCH)
  for (let i = 0; i < BATCH; i++) {
    offs[i] = slab.dataOffset(i) - s.headerBytes
    slab.buf.set(randomBytes(size), slab.dataOffset(i))
  }
  const ivRandom = s.mode === 'cbc' ? 1 : 0
  lens.fill(size)
  n.espSealBatch(h, slab.buf, offs, lens, BATCH, 4, ivRandom)
  const espLen = lens[0] ?? 0
  const sealed = slab.buf.slice((offs[0] ?? 0), (offs[0] ?? 0) + espLen)
  const work = slab.buf.slice()
  return {
    name: 'native-batch', perCall: BATCH,
    seal: () => { lens.fill(size); n.espSealBatch(h, slab.buf, offs, lens, BATCH, 4, ivRandom) },
    // decryption is in place: restore each sealed packet (same bytes in every slot) before opening
    open: () => {
      for (let i = 0; i < BATCH; i++) work.set(sealed, offs[i] ?? 0)
      lens.fill(espLen)
      n.espOpenBatch(h, work, offs, lens, BATCH)
      if ((lens[0] ?? -1) < 0) throw new Error('batch open failed')
    },
    close: () => { n.espFree(h) },
  }
}

function referenceImpl(tr: Transform, size: number): Impl {
  const s = espSuite(tr.params)
  const inner = randomBytes(size)
  const iv = randomBytes(s.ivBytes)
  let seq = 0
  const esp = sealEsp(tr.params, 1, iv, inner, 4)
  return {
    name: 'reference', perCall: 1,
    seal: () => { sealEsp(tr.params, ++seq, iv, inner, 4) },
    open: () => { if (!openEsp(tr.params, esp).ok) throw new Error('open failed') },
    close: () => undefined,
  }
}

function dataPlaneImpl(tr: Transform, size: number): Impl {
  const { tun } = createMemoryTun({ mtuBytes: 1500 })
  const sas = new SaTable({ clock: systemClock, engine: 'native', sender: SENDER })
  sas.install({ params: tr.params, lifetimeSec: 3600 })
  const policy = createPolicy([{ action: 'permit', src: '10.1.0.0/16', dst: '10.2.0.0/16' }])
  const dp = createDataPlane({ tun, sas, policy, autoStart: false, pathMtuBytes: 9000 })
  const pkt = buildIpv4({ src: '10.1.0.1', dst: '10.2.0.1', protocol: 1, payload: buildIcmpEcho(8, 1, 1, new Uint8Array(size - 28)), dontFragment: true })
  const buf = dp.slab.buf
  const at = dp.slab.dataOffset(0)
  buf.set(pkt, at)
  dp.process(buf, at, size)
  const esp = buf.slice(dp.outOffset, dp.outOffset + dp.outLength)
  return {
    name: 'dataplane', perCall: 1,
    seal: () => { buf.set(pkt, at); dp.process(buf, at, size) },
    open: () => { buf.set(esp, at); if (dp.process(buf, at, esp.length) !== 1) throw new Error('decrypt failed') },
    close: () => sas.close(),
  }
}

/** `openssl speed` (one process, one core) for one run of 1 s: bytes per second. */
function opensslOnce(args: string[], bytes: number): number {
  const txt = execFileSync('openssl', ['speed', '-mr', '-seconds', '1', '-bytes', String(bytes), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  const v = Number(txt.split('\n').find((l) => l.startsWith('+F:'))?.split(':')[3])
  return Number.isFinite(v) ? v : 0
}

interface Row {
  readonly transform: string; readonly bytes: number; readonly op: 'seal' | 'open'
  readonly pps: Record<string, number>; readonly wallPps: Record<string, number>; readonly scavPerM: Record<string, number>
  readonly opensslPps: number; readonly opensslCipherGbps: number; readonly opensslHmacGbps: number | undefined
}
const rows: Row[] = []
const only = arg('only', '')
const sizesArg = arg('sizes', '')
const sizes = sizesArg ? sizesArg.split(',').map(Number) : SIZES

for (const tr of TRANSFORMS) {
  if (only && !tr.name.includes(only)) continue
  for (const size of sizes) {
    const impls = [engineImpl(tr, size, 'native'), nativeBatchImpl(tr, size), engineImpl(tr, size, 'node'), referenceImpl(tr, size), dataPlaneImpl(tr, size)]
    for (const im of impls) for (let i = 0; i < 300; i++) { im.seal(); im.open() } // warm up: JIT, OpenSSL tables
    const s = espSuite(tr.params)
    const encBytes = size + espPadBytes(size, s.blockBytes) + 2
    const macBytes = s.headerBytes + encBytes
    const samples = new Map<string, { pps: number[]; wall: number[]; scav: number[] }>()
    const ssl = { enc: [] as number[], dec: [] as number[], hmac: [] as number[] }
    // Interleaved: every run measures every candidate and openssl back to back, so load from other
    // processes on this shared machine hits all of them alike; medians over RUNS.
    for (let r = 0; r < RUNS; r++) {
      for (const im of impls) {
        for (const op of ['seal', 'open'] as const) {
          const m = await runOnce(im.perCall, im[op])
          const k = `${op}:${im.name}`
          const e = samples.get(k) ?? { pps: [], wall: [], scav: [] }
          e.pps.push(m.pps)
          e.wall.push(m.wallPps)
          e.scav.push(m.scav)
          samples.set(k, e)
        }
      }
      ssl.enc.push(opensslOnce(['-evp', tr.openssl], encBytes))
      ssl.dec.push(opensslOnce(['-decrypt', '-evp', tr.openssl], encBytes))
      if (tr.hmac) ssl.hmac.push(opensslOnce(['-hmac', tr.hmac], macBytes))
    }
    for (const im of impls) im.close()
    const hmacBps = tr.hmac ? median(ssl.hmac) : undefined
    for (const op of ['seal', 'open'] as const) {
      const cipherBps = median(op === 'seal' ? ssl.enc : ssl.dec)
      // one core of raw OpenSSL per packet: the cipher over the encrypted part (+ HMAC over SPI..ciphertext)
      const secPerPkt = encBytes / cipherBps + (hmacBps ? macBytes / hmacBps : 0)
      const pps: Record<string, number> = {}
      const wallPps: Record<string, number> = {}
      const scavPerM: Record<string, number> = {}
      for (const im of impls) {
        const e = samples.get(`${op}:${im.name}`)
        pps[im.name] = Math.round(median(e?.pps ?? []))
        wallPps[im.name] = Math.round(median(e?.wall ?? []))
        scavPerM[im.name] = +median(e?.scav ?? []).toFixed(1)
      }
      rows.push({ transform: tr.name, bytes: size, op, pps, wallPps, scavPerM, opensslPps: Math.round(1 / secPerPkt),
        opensslCipherGbps: +((cipherBps * 8) / 1e9).toFixed(2), opensslHmacGbps: hmacBps ? +((hmacBps * 8) / 1e9).toFixed(2) : undefined })
    }
    process.stderr.write(`.${tr.name}@${size}`)
  }
}
process.stderr.write('\n')

// ---- report (markdown) ----
const cpu = os.cpus()[0]?.model ?? 'unknown'
const fmt = (n: number): string => n.toLocaleString('en-US')
const gbps = (pps: number, bytes: number): string => ((pps * bytes * 8) / 1e9).toFixed(2)
const load = (l: number[]): string => l.map((x) => x.toFixed(1)).join(' ')
console.log(`ESP seal/open — ${new Date().toISOString()} — node ${process.version} (OpenSSL ${process.versions.openssl}), openssl CLI ${execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim().split(' ')[1]} — ${cpu}, ${os.cpus().length} cores, load average ${load(LOAD_AT_START)} at start, ${load(os.loadavg())} at end — median of ${RUNS} interleaved runs of ${RUN_MS} ms (openssl: ${RUNS} × 1 s)`)
console.log('')
console.log('Packets per CPU second (process user + system time, as `openssl speed` divides by its CPU time); "wall" = per wall-clock second.')
console.log('')
console.log('| transform | op | inner B | native pkt/s | native Gbit/s | native-batch pkt/s | dataplane pkt/s | node pkt/s | reference pkt/s | openssl pkt/s | native ÷ openssl | batch ÷ openssl | native ÷ node | native wall pkt/s |')
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
for (const r of rows) {
  const p = r.pps
  const nat = p.native ?? 0
  const bat = p['native-batch'] ?? 0
  console.log(`| ${r.transform} | ${r.op} | ${r.bytes} | ${fmt(nat)} | ${gbps(nat, r.bytes)} | ${fmt(bat)} | ${fmt(p.dataplane ?? 0)} | ${fmt(p.node ?? 0)} | ${fmt(p.reference ?? 0)} | ${fmt(r.opensslPps)} | ${(nat / r.opensslPps).toFixed(2)} | ${(bat / r.opensslPps).toFixed(2)} | ${(nat / (p.node ?? 1)).toFixed(1)} | ${fmt(r.wallPps.native ?? 0)} |`)
}
console.log('')
console.log('openssl speed, same run (Gbit/s over the octets ESP encrypts / authenticates):')
console.log('')
console.log('| transform | inner B | cipher encrypt | cipher decrypt | HMAC |')
console.log('|---|---:|---:|---:|---:|')
for (const r of rows.filter((x) => x.op === 'seal')) {
  const dec = rows.find((x) => x.op === 'open' && x.transform === r.transform && x.bytes === r.bytes)
  console.log(`| ${r.transform} | ${r.bytes} | ${r.opensslCipherGbps} | ${dec?.opensslCipherGbps ?? '-'} | ${r.opensslHmacGbps ?? '-'} |`)
}
console.log('')
console.log('V8 scavenges (young-generation GCs) per million packets (0 = nothing allocated per packet):')
console.log('')
console.log('| transform | op | inner B | native | native-batch | node | reference | dataplane |')
console.log('|---|---|---:|---:|---:|---:|---:|---:|')
for (const r of rows) {
  const g = r.scavPerM
  console.log(`| ${r.transform} | ${r.op} | ${r.bytes} | ${g.native} | ${g['native-batch']} | ${g.node} | ${g.reference} | ${g.dataplane} |`)
}
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ date: new Date().toISOString(), node: process.version, openssl: process.versions.openssl, cpu, cores: os.cpus().length, loadavgStart: LOAD_AT_START, loadavg: os.loadavg(), runs: RUNS, runMs: RUN_MS, rows }, null, 1))
