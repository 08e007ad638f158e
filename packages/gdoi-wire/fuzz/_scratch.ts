import { TARGETS } from './targets.js'
const dg = (chain: Uint8Array, first: number, exchange = 32) => { const b = new Uint8Array(28 + chain.length); b.fill(0x11, 0, 16); b[16] = first; b[17] = 0x10; b[18] = exchange; new DataView(b.buffer).setUint32(24, b.length); b.set(chain, 28); return b }
const N = 65507 - 28
// 1. chain of empty unknown payloads (type 200)
const empties = new Uint8Array(Math.floor(N / 4) * 4); for (let i = 0; i < empties.length; i += 4) { empties[i] = i + 4 < empties.length ? 200 : 0; empties[i + 3] = 4 }
// 2. GAP with 16K TV attributes
const gapN = N - 4 - ((N - 4) % 4); const gap = new Uint8Array(4 + gapN); gap[0] = 0; gap[2] = (4 + gapN) >> 8; gap[3] = (4 + gapN) & 0xff
// payload length max 0xffff: fine
for (let i = 4; i < gap.length; i += 4) { gap[i] = 0x80; gap[i + 1] = 1 }
// 3. KD with max packets of 5 bytes
const kdN = N - 8; const cnt = Math.floor(kdN / 5); const kd = new Uint8Array(8 + cnt * 5); kd[2] = kd.length >> 8; kd[3] = kd.length & 0xff; kd[4] = cnt >> 8; kd[5] = cnt & 0xff
for (let i = 0; i < cnt; i++) { const o = 8 + i * 5; kd[o] = 1; kd[o + 3] = 5 }
// 4. IKE SA with one proposal of 255 transforms... and deletes with many spis
const probes: [string, Uint8Array][] = [['empties', dg(empties, 200)], ['gap-attrs', dg(gap, 22)], ['kd-packets', dg(kd, 17)]]
const t = TARGETS.find((x) => x.name === 'datagram')!
for (const [name, b] of probes) {
  for (let rep = 0; rep < 5; rep++) {
    globalThis.gc?.(); const m0 = process.memoryUsage(); const t0 = performance.now()
    let r; try { r = t.run(b) } catch (e) { r = String(e).slice(0, 80) }
    const ms = performance.now() - t0; const m1 = process.memoryUsage()
    console.log(name, b.length, r, ms.toFixed(2), 'ms', ((m1.heapUsed + m1.external - m0.heapUsed - m0.external) / 1024).toFixed(0), 'KiB')
  }
}
