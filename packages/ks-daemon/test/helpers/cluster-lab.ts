// Several key servers in this process sharing one etcd (test/helpers/etcd.ts), each on its own loopback
// address over real UDP with the real clock, plus in-process test GMs. A key server can be stopped
// gracefully (lease revoked) or "crashed" (store abandoned: its lease stays until the TTL runs out).
import { randomBytes } from 'node:crypto'
import { createLogger, createLogSink, createRealClock, createUdpTransport, type LogSink, type UdpTransport } from '@gdoi/daemon-kit'
import { parseKsConfig, type KsConfig } from '../../src/config/index.js'
import { startKeyServer, type KeyServer } from '../../src/main.js'
import { openEtcdStore, type ClusterStore } from '../../src/store/etcd-store.js'
import { GROUP_NUMBER, PSK, ksYaml, type KsYamlOptions } from './ks-fixture.js'
import { TestGm } from './test-gm.js'

export interface ClusterKs {
  readonly name: string
  readonly address: string
  readonly sink: LogSink
  ks: KeyServer | undefined
  store: ClusterStore | undefined
  udp: UdpTransport | undefined
}

export interface ClusterLabOptions extends KsYamlOptions {
  /** First three octets of the loopback addresses, e.g. "127.0.6". */
  readonly net: string
  readonly endpoints: readonly string[]
  readonly leaseTtlSec?: number
  readonly prefix?: string
  readonly kek?: string
}

export class ClusterLab {
  readonly o: ClusterLabOptions
  readonly clock = createRealClock({ unref: false })
  readonly prefix: string
  readonly kekHex: string
  readonly servers = new Map<string, ClusterKs>()
  readonly gms: TestGm[] = []
  readonly #gmUdp: UdpTransport[] = []

  constructor(o: ClusterLabOptions) {
    this.o = o
    this.prefix = o.prefix ?? `/gdoi-test-${randomBytes(4).toString('hex')}/`
    this.kekHex = o.kek ?? randomBytes(32).toString('hex')
  }

  config(name: string, host: number, kekHex = this.kekHex): KsConfig {
    const yaml = `${ksYaml({ ...this.o, listen: `${this.o.net}.${host}`, port: 848 })}
store:
  kind: etcd
  endpoints: [${this.o.endpoints.join(', ')}]
  prefix: ${this.prefix}
  keyEncryptionKey: { env: GDOI_TEST_STORE_KEY }
  leaseTtlSec: ${this.o.leaseTtlSec ?? 2}
  instanceName: ${name}
  requestTimeoutSec: 1
`
    return parseKsConfig(yaml, { path: '/tmp/ks-cluster-test.yaml', env: { GDOI_TEST_STORE_KEY: kekHex } }).config
  }

  /** Starts key server `name` on <net>.<host>:848. */
  async start(name: string, host: number, kekHex?: string): Promise<ClusterKs> {
    const config = this.config(name, host, kekHex)
    const sink = this.servers.get(name)?.sink ?? createLogSink()
    const log = createLogger({ level: 'debug', format: 'json', destination: sink.stream, base: { daemon: 'gdoi-ks', ks: name } })
    if (config.store.kind !== 'etcd') throw new Error('etcd store expected')
    const store = await openEtcdStore({ config: config.store, listen: `${config.listen.address}:848`, log })
    const udp = await createUdpTransport({ address: config.listen.address, port: 848 })
    let ks: KeyServer
    try {
      ks = await startKeyServer({ config, transport: udp, clock: this.clock, log, store })
    } catch (err) {
      await udp.close()
      await store.close()
      throw err
    }
    const s: ClusterKs = { name, address: config.listen.address, sink, ks, store, udp }
    this.servers.set(name, s)
    return s
  }

  get(name: string): ClusterKs {
    const s = this.servers.get(name)
    if (s === undefined) throw new Error(`no key server ${name}`)
    return s
  }

  /** The key servers that are running and think they are primary. */
  primaries(): ClusterKs[] {
    return [...this.servers.values()].filter((s) => s.ks !== undefined && s.ks.status().cluster?.role === 'primary')
  }

  /** Graceful stop: final save, lease revoked (the next primary is elected at once). */
  async stop(name: string): Promise<void> {
    const s = this.get(name)
    await s.ks?.close().catch(() => {})
    await s.udp?.close()
    await s.store?.close()
    s.ks = undefined
    s.store = undefined
    s.udp = undefined
  }

  /** A crash: nothing more is written or sent, the lease is not revoked (it expires after the TTL). */
  async crash(name: string): Promise<void> {
    const s = this.get(name)
    await s.udp?.close()
    await s.store?.abandon()
    await s.ks?.close().catch(() => {})
    s.ks = undefined
    s.store = undefined
    s.udp = undefined
  }

  async addGm(host: number, ksHost: number): Promise<TestGm> {
    const address = `${this.o.net}.${host}`
    const udp = await createUdpTransport({ address, port: 848 })
    this.#gmUdp.push(udp)
    const gm = new TestGm({
      name: address,
      transport: udp,
      ks: { address: `${this.o.net}.${ksHost}`, port: 848 },
      clock: this.clock,
      psk: PSK,
      groupId: { kind: 'number', value: GROUP_NUMBER },
      retransmit: { intervalMs: 500, maxTries: 12 },
    })
    this.gms.push(gm)
    return gm
  }

  async close(): Promise<void> {
    for (const g of this.gms) g.close()
    for (const name of this.servers.keys()) await this.stop(name).catch(() => {})
    for (const u of this.#gmUdp) await u.close()
  }
}

/** Polls `cond` every 50 ms until it holds or `timeoutMs` passes; resolves with the time it took. */
export async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<number> {
  const start = Date.now()
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return Date.now() - start
}
