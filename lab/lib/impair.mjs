// lab/lib/impair.mjs: a user-space "netem" for lab/faults.sh — loss, delay and reordering for the packets
// policy routing sends into a TUN device, written back into the same TUN (they then leave by the normal
// routes, since the diverting rules match only the other input interfaces). lab/faults.sh runs it in the
// Middle-Man namespace for the GDOI control plane (UDP 848). It exists because the kernels our labs and CI
// run on may lack sch_netem (a Firecracker guest kernel has neither netem nor act_gact), while the TUN the
// group members need is always there; it uses the group member's own TUN addon.
//
//   node lab/lib/impair.mjs --dev imp0 --loss 30 --delay-ms 10 --reorder 25 --stats FILE
//
// Like `netem loss 30% delay 10ms reorder 25%`: each packet is dropped with probability loss %; a survivor
// is written back at once with probability reorder % and otherwise after delay-ms, so an immediate packet
// overtakes the delayed ones still queued. Counters (JSON) go to FILE every second and on SIGTERM/SIGINT:
// packets read, dropped, delayed, immediate, and "reordered" (written after a packet that arrived later).
import { writeFileSync } from 'node:fs'
import { randomInt } from 'node:crypto'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../..')
const { values: a } = parseArgs({
  options: {
    dev: { type: 'string', default: 'imp0' },
    loss: { type: 'string', default: '0' },
    'delay-ms': { type: 'string', default: '0' },
    reorder: { type: 'string', default: '0' },
    stats: { type: 'string' },
  },
})
const pct = (name, v) => {
  const n = Number(v)
  if (!Number.isFinite(n) || n < 0 || n > 100) throw new Error(`--${name}: a percentage 0-100, got ${v}`)
  return n
}
const lossPct = pct('loss', a.loss)
const reorderPct = pct('reorder', a.reorder)
const delayMs = Number(a['delay-ms'])
if (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > 10_000) throw new Error(`--delay-ms: 0-10000, got ${a['delay-ms']}`)

const { openTun } = await import(pathToFileURL(join(REPO, 'packages/gm-daemon/dist/dataplane/tun.js')).href)
const tun = openTun({ name: a.dev })

// A draw in [0, 100) with 0.01 % resolution.
const chance = (p) => p > 0 && randomInt(10_000) < p * 100
const stats = { dev: tun.name, lossPct, delayMs, reorderPct, read: 0, dropped: 0, delayed: 0, immediate: 0, written: 0, reordered: 0, writeErrors: 0 }
let arrived = 0
let newestWritten = -1

function save() {
  if (a.stats !== undefined) writeFileSync(a.stats, JSON.stringify(stats) + '\n')
}

async function emit(index, pkt) {
  // A later arrival was written already: this packet leaves out of order.
  if (index < newestWritten) stats.reordered++
  newestWritten = Math.max(newestWritten, index)
  try {
    await tun.write(pkt, 0, pkt.length)
    stats.written++
  } catch {
    stats.writeErrors++
  }
}

let stopping = false
const stop = () => {
  stopping = true
  save()
  void tun.close().finally(() => process.exit(0))
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
setInterval(save, 1000).unref()
save()

const buf = new Uint8Array(65_536)
while (!stopping) {
  let n
  try {
    n = await tun.read(buf, 0)
  } catch (err) {
    if (stopping) break
    throw err
  }
  stats.read++
  const index = arrived++
  if (chance(lossPct)) {
    stats.dropped++
    continue
  }
  const pkt = buf.slice(0, n)
  if (delayMs === 0 || chance(reorderPct)) {
    stats.immediate++
    void emit(index, pkt)
  } else {
    stats.delayed++
    setTimeout(() => void emit(index, pkt), delayMs)
  }
}
