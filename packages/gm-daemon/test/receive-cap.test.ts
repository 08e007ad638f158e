// The receive-size cap (`limits.maxDatagramBytes`, daemon-kit size-cap.ts) on a group member over real UDP
// on loopback: a datagram over the cap never reaches the push code (counted as decodeErrors.oversized,
// logged at debug); one at the cap does (a push of zeros is rejected as before); the next legitimate
// rekey is accepted. The configuration key is validated with its path and reason.
import t from 'tap'
import { createSocket } from 'node:dgram'
import { createLogger, createLogSink, createRealClock, createUdpTransport, LogEvent, type ConfigIssue } from '@gdoi/daemon-kit'
import { startGroupMember } from '../src/main.js'
import { configIssues, minimalGmYaml, parseMinimalGm } from './config/helpers.js'
import { gmConfig } from './helpers/harness.js'
import { TestKeyServer } from './helpers/test-ks.js'

const KS_ADDR = '127.0.67.201'
const GM_ADDR = '127.0.67.202'

async function until(cond: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

t.test('GM over real UDP: datagrams over the cap are dropped before decoding, counted and logged', async (t) => {
  const ksT = await createUdpTransport({ address: KS_ADDR, port: 0 })
  const gmT = await createUdpTransport({ address: GM_ADDR, port: 0 })
  const ks = new TestKeyServer(ksT, { address: KS_ADDR }, () => Date.now())
  const sink = createLogSink()
  const gm = await startGroupMember({
    config: gmConfig({ keyServers: [{ address: KS_ADDR, port: ksT.local.port }], local: { address: GM_ADDR, port: 0 }, limits: { maxDatagramBytes: 4096 } }),
    transport: gmT,
    clock: createRealClock(),
    log: createLogger({ level: 'debug', format: 'json', destination: sink.stream }),
  })
  const evil = createSocket('udp4')
  await new Promise<void>((r) => evil.bind(0, '127.0.67.203', () => r()))
  t.teardown(async () => {
    evil.close()
    await gm.close()
    await gmT.close()
    await ksT.close()
  })
  const send = (b: Uint8Array): Promise<void> => new Promise((r) => evil.send(b, gmT.local.port, GM_ADDR, () => r()))
  await until(() => gm.status().registration.status === 'Registered', 'registration')
  const rejected = (): number => Object.values(gm.status().rekeys.rejected as Record<string, number>).reduce((a, v) => a + v, 0)
  const decodeErrors = (): Record<string, number> => gm.status().decodeErrors as Record<string, number>

  // a push header under the current KEK's cookies, then zeros: it would reach the push code
  const header = ks.tekRollover(0x1010).subarray(0, 28) // built, not sent
  const pushOf = (size: number): Uint8Array => {
    const b = new Uint8Array(size)
    b.set(header)
    new DataView(b.buffer).setUint32(24, size)
    return b
  }
  const r0 = rejected()
  await send(pushOf(4097))
  await until(() => decodeErrors()['oversized'] === 1, 'the oversized datagram counted')
  t.equal(rejected(), r0, 'over the cap: never reached the push code')
  t.match(sink.lines().find((l) => l['event'] === LogEvent.DATAGRAM_OVERSIZED), { level: 20, bytes: 4097, limit: 4096 }, 'logged at debug')

  await send(pushOf(4096))
  await until(() => rejected() === r0 + 1, 'the push at the cap rejected by the push code')
  t.equal(decodeErrors()['oversized'], 1, 'at the cap: not dropped as oversized')

  // still serving
  ks.sendTo(ks.tekRollover(0x1007), { address: GM_ADDR, port: gmT.local.port })
  await until(() => gm.sas.inbound(0x1007) !== undefined, 'the next legitimate rekey')
  t.pass('the next rekey is accepted')
})

t.test('limits.maxDatagramBytes in the GM configuration: default and validation with path and reason', async (t) => {
  t.equal(parseMinimalGm('').limits.maxDatagramBytes, 16_384, 'default 16 KiB')
  const issues = (extra: string): readonly ConfigIssue[] => configIssues(minimalGmYaml(extra))
  t.same(issues('limits: { maxDatagramBytes: 8192 }'), [])
  t.match(issues('limits: { maxDatagramBytes: 100 }'), [{ path: 'limits.maxDatagramBytes', message: 'must be ≥ 2048' }])
  t.match(issues('limits: { maxDatagramBytes: 99999 }'), [{ path: 'limits.maxDatagramBytes', message: 'must be ≤ 65535' }])
})
