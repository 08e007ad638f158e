// The receive-size cap (`limits.maxDatagramBytes`, daemon-kit size-cap.ts) on a key server over real UDP
// on loopback: a datagram over the cap is counted as `drop.oversized` and logged (debug, at most a line a
// second) without reaching the decoder; one at the cap is decoded as before; the key server still
// registers a GM afterwards. The configuration key is validated with its path and reason.
import t from 'tap'
import { createSocket } from 'node:dgram'
import { createLogger, createLogSink, createRealClock, createUdpTransport, ConfigError, DEFAULT_MAX_DATAGRAM_BYTES, LogEvent, type ConfigIssue } from '@gdoi/daemon-kit'
import { parseKsConfig } from '../src/config/load.js'
import { startKeyServer } from '../src/main.js'
import { createMemoryStore } from '../src/store/index.js'
import { GROUP_NUMBER, PSK, ksConfig, ksYaml, testSigningKey } from './helpers/ks-fixture.js'
import { TestGm } from './helpers/test-gm.js'
import { buildMm1 } from '../bench/flood/mm1.js'

const KS_ADDR = '127.0.67.1'

async function until(cond: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** An MM1 header (fresh cookie, length = the whole datagram) followed by zeros: `size` octets. */
function mm1Of(size: number): Uint8Array {
  const b = new Uint8Array(size)
  const mm1 = buildMm1()
  b.set(mm1.subarray(0, 28))
  new DataView(b.buffer).setUint32(24, size)
  return b
}

t.test('KS over real UDP: datagrams over the cap are dropped before decoding, counted and logged', async (t) => {
  const sink = createLogSink()
  const log = createLogger({ level: 'debug', format: 'json', destination: sink.stream })
  const clock = createRealClock()
  const ksT = await createUdpTransport({ address: KS_ADDR, port: 0 })
  const base = ksConfig({ listen: KS_ADDR })
  const config = { ...base, limits: { ...base.limits, maxDatagramBytes: 4096 } }
  const ks = await startKeyServer({ config, transport: ksT, clock, log, store: createMemoryStore(), loadSigningKey: async () => testSigningKey() })
  const evil = createSocket('udp4')
  await new Promise<void>((r) => evil.bind(0, '127.0.67.66', () => r()))
  const gmT = await createUdpTransport({ address: '127.0.67.11', port: 0 })
  t.teardown(async () => {
    evil.close()
    await ks.close()
    await gmT.close()
    await ksT.close()
  })
  const send = (b: Uint8Array): Promise<void> => new Promise((r) => evil.send(b, ksT.local.port, KS_ADDR, () => r()))
  const counters = (): Record<string, number> => ks.status().counters as Record<string, number>

  // one over the cap: dropped as oversized, nothing decoded
  await send(mm1Of(4097))
  await until(() => (counters()['datagrams.in'] ?? 0) >= 1, 'the datagram')
  t.equal(counters()['drop.oversized'], 1, 'drop.oversized = 1')
  t.equal(counters()['ike.failed.malformed'], undefined, 'not decoded')
  t.equal(ks.status().ikeHalfOpen.count, 0, 'no half-open SA')
  const line = sink.lines().find((l) => l['event'] === LogEvent.DATAGRAM_OVERSIZED)
  t.match(line, { level: 20, bytes: 4097, limit: 4096, dropped: 1 }, 'logged at debug with size and limit')

  // one at the cap: decoded as before (an MM1 full of zeros is malformed)
  await send(mm1Of(4096))
  await until(() => (counters()['datagrams.in'] ?? 0) >= 2, 'the second datagram')
  await until(() => counters()['ike.failed.malformed'] === 1, 'its decode', 2000)
  t.equal(counters()['drop.oversized'], 1, 'at the cap: not dropped as oversized')

  // a burst: every datagram counted, the log line rate-limited
  const N = 200
  const started = Date.now()
  for (let i = 0; i < N; i++) {
    await send(mm1Of(20_000))
    // in steps the socket buffer holds (a full one would drop datagrams in the kernel, uncounted)
    if (i % 10 === 9) await until(() => (counters()['datagrams.in'] ?? 0) >= i + 3, 'the burst so far')
  }
  const seconds = (Date.now() - started) / 1000
  t.equal(counters()['drop.oversized'], N + 1, 'every oversized datagram counted')
  const lines = sink.lines().filter((l) => l['event'] === LogEvent.DATAGRAM_OVERSIZED).length
  t.ok(lines <= Math.ceil(seconds) + 2, `${lines} log lines for ${N + 1} drops in ${seconds.toFixed(1)} s`)
  t.equal(counters()['internal-error'], undefined)

  // still serving
  const gm = new TestGm({ name: 'gm', transport: gmT, ks: { address: KS_ADDR, port: ksT.local.port }, clock, psk: PSK, groupId: { kind: 'number', value: GROUP_NUMBER }, retransmit: { intervalMs: 500, maxTries: 6 } })
  t.teardown(() => gm.close())
  await gm.register()
  t.equal(counters()['registrations'], 1, 'a GM registers afterwards')
})

t.test('limits.maxDatagramBytes: default and validation with path and reason', async (t) => {
  t.equal(ksConfig().limits.maxDatagramBytes, DEFAULT_MAX_DATAGRAM_BYTES, 'default')
  t.equal(DEFAULT_MAX_DATAGRAM_BYTES, 16_384)
  const issues = (limits: string): readonly ConfigIssue[] => {
    try {
      parseKsConfig(`${ksYaml()}\nlimits: ${limits}\n`, { format: 'yaml', env: {}, baseDir: '/' })
    } catch (err) {
      if (err instanceof ConfigError) return err.issues
      throw err
    }
    return []
  }
  t.same(issues('{ maxDatagramBytes: 65535 }'), [])
  t.match(issues('{ maxDatagramBytes: 100 }'), [{ path: 'limits.maxDatagramBytes', message: 'must be ≥ 2048' }])
  t.match(issues('{ maxDatagramBytes: 70000 }'), [{ path: 'limits.maxDatagramBytes', message: 'must be ≤ 65535' }])
  t.match(issues('{ maxDatagramBytes: big }'), [{ path: 'limits.maxDatagramBytes' }])
})
