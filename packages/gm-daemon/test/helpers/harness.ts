// A group member against test key servers on a daemon-kit memory network whose delivery runs on the
// same fake clock as the member's timers: `clock.advance(ms)` plays every exchange, retransmission and
// rekey of that span synchronously (each hop takes 1 ms of fake time).
import { createHash } from 'node:crypto'
import type { Test } from 'tap'
import {
  createFakeClock,
  createLogger,
  createLogSink,
  createMemoryNetwork,
  Secret,
  type DiagMessage,
  type FakeClock,
  type LogSink,
  type MemoryNetwork,
} from '@gdoi/daemon-kit'
import type { GmConfig } from '../../src/config/types.js'
import { startGroupMember, type GroupMember, type GroupMemberOptions } from '../../src/main.js'
import { GmChannel, subscribeGm } from '../../src/diag.js'
import { PSK_TEXT, TestKeyServer, type TestKsOptions } from './test-ks.js'

export const T0 = Date.UTC(2026, 0, 1)
export const GM_ADDRESS = '10.0.1.1'
export const KS_ADDRESSES = ['10.0.0.1', '10.0.0.2', '10.0.0.3']

export function gmConfig(over: Partial<GmConfig> & { keyServerAddresses?: readonly string[] } = {}): GmConfig {
  const { keyServerAddresses, ...rest } = over
  return {
    group: { name: 'GETVPN-GRP', identity: { kind: 'number', number: 1234 } },
    keyServers: (keyServerAddresses ?? [KS_ADDRESSES[0] ?? '']).map((address) => ({ address, port: 848 })),
    local: { address: GM_ADDRESS, port: 848 },
    ike: {
      policies: [{ priority: 10, encryption: 'aes-256', hash: 'sha1', group: 2, lifetimeSec: 86400, authentication: 'pre-share' }],
      preSharedKeys: [{ peer: { address: '0.0.0.0', length: 0 }, key: Secret.fromString(PSK_TEXT) }],
      identity: null,
    },
    tun: { enabled: true, name: 'gdoi0', mtuBytes: 1400, offload: true },
    interface: null,
    controlSocket: '/run/gdoi/gm-test.sock',
    keylog: null,
    log: { level: 'debug', format: 'json' },
    reregister: { beforeExpirySec: 60, jitterSec: 10 },
    retransmit: { intervalSec: 7, count: 5 },
    rekeyAck: 'rfc8263',
    limits: { maxDatagramBytes: 16384 },
    ...rest,
  }
}

/** Deterministic rng for the member. */
export function seededRng(seed: string): (n: number) => Uint8Array {
  let c = 0
  return (n) => {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i += 32) out.set(createHash('sha256').update(`${seed}/${c++}`).digest().subarray(0, Math.min(32, n - i)), i)
    return out
  }
}

export interface Setup {
  readonly clock: FakeClock
  readonly net: MemoryNetwork
  readonly kss: TestKeyServer[]
  readonly gm: GroupMember
  readonly sink: LogSink
  readonly events: { channel: string; msg: DiagMessage }[]
  /** Events of this member on one channel. */
  on(channel: string): DiagMessage[]
  close(): Promise<void>
}

export interface SetupOptions {
  readonly keyServers?: number
  readonly ks?: Omit<TestKsOptions, 'address'>
  readonly config?: Partial<GmConfig> & { keyServerAddresses?: readonly string[] }
  readonly gm?: Partial<Omit<GroupMemberOptions, 'config' | 'transport' | 'clock' | 'log'>>
  /** Advance this long after starting (default 1000 ms: registration done). */
  readonly settleMs?: number
  readonly gmAddress?: string
  /** Fake clock start (default T0). */
  readonly startMs?: number
}

export async function setup(o: SetupOptions = {}): Promise<Setup> {
  const clock = createFakeClock(o.startMs ?? T0)
  const net = createMemoryNetwork({ seed: 7, clock, latencyMs: 1, trace: true })
  const addresses = KS_ADDRESSES.slice(0, o.keyServers ?? 1)
  const kss = addresses.map((address) => new TestKeyServer(net.attach(address), { ...o.ks, address }, () => clock.nowMs()))
  const sink = createLogSink()
  const log = createLogger({ level: 'debug', format: 'json', destination: sink.stream })
  const gmAddress = o.gmAddress ?? GM_ADDRESS
  const config = gmConfig({ keyServerAddresses: addresses, local: { address: gmAddress, port: 848 }, ...o.config })
  const events: { channel: string; msg: DiagMessage }[] = []
  const unsubs = Object.values(GmChannel).map((channel) =>
    subscribeGm(channel, (msg) => {
      if (msg['gm'] === `${gmAddress}:848`) events.push({ channel, msg })
    }),
  )
  const gm = await startGroupMember({ config, transport: net.attach(gmAddress), clock, log, rng: seededRng(`gm-${gmAddress}`), ...o.gm })
  clock.advance(o.settleMs ?? 1000)
  return {
    clock,
    net,
    kss,
    gm,
    sink,
    events,
    on: (channel) => events.filter((e) => e.channel === channel).map((e) => e.msg),
    async close() {
      await gm.close()
      for (const u of unsubs) u()
    },
  }
}

/** Log lines with a given `event` field. */
export function logEvents(sink: LogSink, event: string): Record<string, unknown>[] {
  return sink.lines().filter((l) => l['event'] === event)
}

/** Secrets that must never show up in a log line: the PSK and every key the test KS handed out. */
export function assertNoSecrets(t: Pick<Test, 'notOk'>, sink: LogSink, ks: TestKeyServer): void {
  const text = sink.text()
  t.notOk(text.includes(PSK_TEXT), 'PSK not logged')
  const hexes: string[] = []
  for (const k of ks.kekHistory) hexes.push(Buffer.from(k.keys.algorithmKey).toString('hex'))
  for (const tk of ks.keys.teks) {
    hexes.push(Buffer.from(tk.encKey).toString('hex'))
    if (tk.authKey !== undefined) hexes.push(Buffer.from(tk.authKey).toString('hex'))
  }
  for (const st of ks.mm.values()) {
    if (st.s !== 'done') continue
    for (const k of [st.sa.encKey, st.sa.skeyid, st.sa.skeyidA, st.sa.skeyidD, st.sa.skeyidE]) hexes.push(Buffer.from(k).toString('hex'))
  }
  for (const h of hexes) t.notOk(text.includes(h) || text.includes(h.slice(0, 24)), 'no key bytes in the log')
}
