// Codec throughput on real messages (spec §7.3 trace B): decode+encode of the GROUPKEY-PULL message 2
// and 4 plaintexts and of the GROUPKEY-PUSH plaintext. Run (from /work/main):
//   node --conditions=@gdoi/source --import=./node_modules/.pnpm/node_modules/@tapjs/typescript/dist/esm/import.mjs \
//     packages/gdoi-wire/bench/wire.bench.ts
// Figures go to bench/README.md with date and machine (median ops/s).
import { Bench } from 'tinybench'
import { decodeChain, encodeChain, saKindFor } from '../src/message.js'
import { traceBPlaintexts, traceBPush, hex, type PlaintextVector } from '../test/fixtures/gdoid-vectors.js'

const cases: Record<string, PlaintextVector> = {
  'PULL2 (SA: SAK + 2 SATs)': traceBPlaintexts.PULL2,
  'PULL4 (SEQ + KD: KEK + 2 TEKs)': traceBPlaintexts.PULL4,
  'PUSH (SEQ, SA, KD, SIG)': traceBPush.plaintext,
}

const bench = new Bench({ time: 1000, warmupTime: 200 })
let sink = 0
for (const [name, v] of Object.entries(cases)) {
  const buf = hex(v.hex)
  const kind = saKindFor(v.exchange)
  const { payloads } = decodeChain(buf, 0, buf.length, v.first, kind)
  bench.add(`decode ${name}`, () => {
    sink += decodeChain(buf, 0, buf.length, v.first, kind).end
  })
  bench.add(`encode ${name}`, () => {
    sink += encodeChain(payloads).length
  })
  bench.add(`decode+encode ${name}`, () => {
    sink += encodeChain(decodeChain(buf, 0, buf.length, v.first, kind).payloads).length
  })
}

await bench.run()
const rows = bench.tasks.map((t) => {
  const r = t.result
  return r.state === 'completed'
    ? { task: t.name, 'median ops/s': Math.round(r.throughput.p50), 'median µs': +(r.latency.p50 * 1000).toFixed(2), samples: r.latency.samplesCount }
    : { task: t.name, state: r.state }
})
console.table(rows)
if (sink === 0) console.log('unreachable')
