// IdleTrim: one full GC once a burst of datagrams is followed by quiet (memory-trim.ts).
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { createFakeClock, createLogger, createLogSink } from '@gdoi/daemon-kit'
import { IdleTrim, capYoungGeneration, fullGc } from '../src/memory-trim.js'

t.test('a burst followed by quiet trims once; traffic postpones it; at most one per interval', (t) => {
  const clock = createFakeClock(1_000_000)
  const sink = createLogSink()
  let calls = 0
  const trim = new IdleTrim({ clock, log: createLogger({ level: 'debug', format: 'json', destination: sink.stream }), quietMs: 2000, minDatagrams: 100, minIntervalMs: 60_000, gc: () => calls++ })
  const gcsOf = (): number => trim.trims
  for (let i = 0; i < 99; i++) trim.activity()
  clock.advance(10_000)
  t.equal(gcsOf(), 0, 'no burst yet (99 datagrams)')
  trim.activity() // the 100th
  clock.advance(1500)
  trim.activity() // still busy
  clock.advance(1500)
  t.equal(gcsOf(), 0, 'not quiet for 2 s yet')
  clock.advance(600)
  t.equal(gcsOf(), 1, 'quiet: trimmed')
  clock.advance(10_000)
  t.equal(gcsOf(), 1, 'nothing more without a new burst')
  for (let i = 0; i < 100; i++) trim.activity()
  clock.advance(5000)
  t.equal(gcsOf(), 1, 'a second burst within the interval waits')
  clock.advance(60_000)
  t.equal(gcsOf(), 2, 'then trims')
  trim.close()
  for (let i = 0; i < 100; i++) trim.activity()
  clock.advance(120_000)
  t.equal(gcsOf(), 2, 'closed: never again')
  t.equal(calls, 4, 'two full GCs per trim (the second releases what the first emptied)')
  t.match(sink.text(), /memory given back/)
  t.end()
})

t.test('V8 full GC is reachable without --expose-gc', (t) => {
  const gc = fullGc()
  t.type(gc, 'function')
  gc?.()
  t.end()
})

t.test('the young generation stays at its initial size once the growth factor is 1 (what capYoungGeneration relies on)', (t) => {
  const script = `
    const v8 = require('node:v8')
    if (process.argv[1] === 'cap') v8.setFlagsFromString('--semi-space-growth-factor=1')
    const keep = []
    for (let r = 0; r < 20; r++) { const a = []; for (let i = 0; i < 100000; i++) a.push({ i, s: 'x' + i }); keep.push(a.slice(0, 1000)) }
    const ns = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')
    process.stdout.write(String(ns.space_size))`
  const run = (arg: string): number => Number(spawnSync(process.execPath, ['-e', script, arg], { encoding: 'utf8', env: {} }).stdout)
  const capped = run('cap')
  const grown = run('free')
  t.ok(capped > 0 && capped <= 8 * 1024 * 1024, `capped: ${capped} bytes`)
  t.ok(grown > capped, `uncapped it grows (${grown} bytes)`)
  t.end()
})

t.test('capYoungGeneration leaves a semi-space size the operator chose alone', (t) => {
  const saved = process.env['NODE_OPTIONS']
  process.env['NODE_OPTIONS'] = '--max-semi-space-size=8'
  t.teardown(() => {
    if (saved === undefined) delete process.env['NODE_OPTIONS']
    else process.env['NODE_OPTIONS'] = saved
  })
  t.equal(capYoungGeneration(), false)
  t.end()
})
