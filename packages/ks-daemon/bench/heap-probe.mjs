// Benchmark-only preload for a gdoi-ks process: `node --expose-gc --import <this file> gdoi-ks …`.
// On SIGUSR2 it runs a full garbage collection and writes the process's memory figures as one JSON line
// to $GDOI_HEAP_PROBE_OUT (the storm benchmark reads it: "heap used after a forced GC", the live state
// the key server holds, as opposed to RSS, which also holds V8's free space and malloc arenas). With
// GDOI_HEAP_PROBE_SNAPSHOT=DIR it also writes a heap snapshot there (for a diff in Chrome DevTools).
// Never loaded by the daemon itself.
import { appendFileSync } from 'node:fs'
import { writeHeapSnapshot, getHeapStatistics } from 'node:v8'

const out = process.env['GDOI_HEAP_PROBE_OUT']
const snapDir = process.env['GDOI_HEAP_PROBE_SNAPSHOT']
let seq = 0

process.on('SIGUSR2', () => {
  const rssBefore = process.memoryUsage.rss()
  if (typeof globalThis.gc === 'function') {
    globalThis.gc()
    globalThis.gc() // a second pass frees what the first only finalised (weak refs, external buffers)
  }
  const m = process.memoryUsage()
  const h = getHeapStatistics()
  const line = {
    seq: seq++,
    gc: typeof globalThis.gc === 'function',
    rssBeforeGc: rssBefore,
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    mallocedMemory: h.malloced_memory,
  }
  let snapshot
  if (snapDir !== undefined && snapDir !== '') snapshot = writeHeapSnapshot(`${snapDir}/ks-${process.pid}-${line.seq}.heapsnapshot`)
  if (out !== undefined && out !== '') appendFileSync(out, `${JSON.stringify({ ...line, ...(snapshot !== undefined ? { snapshot } : {}) })}\n`)
})
