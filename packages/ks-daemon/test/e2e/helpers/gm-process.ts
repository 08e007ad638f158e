// A test group member as a process (for the network-namespace test, where each GM lives in its own
// namespace): binds 0.0.0.0:848, joins the multicast group on its interface, registers with the key
// server and prints one JSON line per event on stdout. Stops on SIGTERM.
//   node … gm-process.ts --ks 10.77.0.1 --address 10.77.0.11 --group 239.192.1.1 --psk K --number 1234
import { parseArgs } from 'node:util'
import { createRealClock, createUdpTransport } from '@gdoi/daemon-kit'
import { TestGm } from '../../helpers/test-gm.js'

const { values } = parseArgs({
  options: {
    ks: { type: 'string' },
    address: { type: 'string' },
    group: { type: 'string' },
    psk: { type: 'string' },
    number: { type: 'string' },
  },
})
// Not started by a test (e.g. `tap packages/ks-daemon/test` picks every .ts file up): do nothing.
if (values.ks === undefined) process.exit(0)
const out = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(o)}\n`)
const address = values.address ?? ''
const transport = await createUdpTransport({
  address: '0.0.0.0',
  port: 848,
  ...(values.group !== undefined ? { multicast: { interface: address, groups: [values.group] } } : {}),
})
const gm = new TestGm({
  name: address,
  transport,
  address,
  ks: { address: values.ks ?? '', port: 848 },
  clock: createRealClock({ unref: false }),
  psk: values.psk ?? '',
  groupId: { kind: 'number', value: Number(values.number ?? '0') },
  retransmit: { intervalMs: 500, maxTries: 10 },
})
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const snapshot = (): Record<string, unknown> => ({ teks: gm.tekSpis, keys: [...gm.teks.values()].map((t) => hex(t.keys.encKey)).sort(), keks: gm.kekSpis })
const accepted = gm.accepted.push.bind(gm.accepted)
gm.accepted.push = (...items) => {
  const n = accepted(...items)
  for (const a of items) queueMicrotask(() => out({ event: 'push', seq: a.seq, ...snapshot() }))
  return n
}
try {
  const r = await gm.register()
  out({ event: 'registered', seq: r.seq ?? null, sakDst: r.policy.kek?.transport.dst.address ?? null, ...snapshot() })
} catch (err) {
  out({ event: 'failed', error: String(err) })
  gm.close()
  await transport.close()
  process.exit(1)
}
process.once('SIGTERM', () => {
  gm.close()
  void transport.close().then(() => process.exit(0))
})
