// A key server on the daemon-kit memory network with a fake clock, a memory store and a log sink,
// plus helpers to attach test GMs. One RSA signing key per process (generating 2048-bit keys is slow).
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { createFakeClock, createLogger, createLogSink, createMemoryNetwork, type FakeClock, type LogSink, type MemoryNetwork, type MemoryNetworkOptions } from '@gdoi/daemon-kit'
import { parseKsConfig, type KsConfig } from '../../src/config/index.js'
import { createMemoryStore, type KsStore, type MemoryStore, type SigningKey } from '../../src/store/index.js'
import { startKeyServer, type KeyServer, type StartKeyServerOptions } from '../../src/main.js'
import { TestGm, type TestGmOptions } from './test-gm.js'

export const PSK = 'GETVPN-LAB-TEST-KEY'
export const KS_ADDRESS = '127.0.1.1'
export const GROUP_NUMBER = 1234

let sharedKey: KeyObject | undefined

/** A SigningKey for tests (the same 2048-bit key for every group in this process). */
export function testSigningKey(label = 'REKEYRSA'): SigningKey {
  sharedKey ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  const spki = new Uint8Array(createPublicKey(sharedKey).export({ format: 'der', type: 'spki' }))
  return {
    label,
    privateKey: sharedKey,
    publicKeySpkiDer: spki,
    bits: 2048,
    path: `(test key ${label})`,
    spkiSha256: createHash('sha256').update(spki).digest('hex'),
    created: false,
  }
}

export interface KsYamlOptions {
  readonly transport?: 'unicast' | 'multicast'
  readonly multicastAddress?: string
  readonly ack?: 'rfc8263' | 'none'
  readonly tekLifetimeSec?: number
  readonly kekLifetimeSec?: number
  readonly retransmitPeriodSec?: number
  readonly retransmitCount?: number
  readonly authorization?: readonly string[]
  readonly transform?: string
  readonly listen?: string
  readonly port?: number
  readonly stateDir?: string
  readonly controlSocket?: string
  readonly rekey?: boolean
  readonly extraGroups?: string
}

export function ksYaml(o: KsYamlOptions = {}): string {
  const rekey =
    o.rekey === false ? '    rekey: none'
    : [
        '    rekey:',
        `      transport: ${o.transport ?? 'unicast'}`,
        ...(o.transport === 'multicast' ? [`      multicastAddress: ${o.multicastAddress ?? '239.192.1.1'}`] : []),
        `      retransmitPeriodSec: ${o.retransmitPeriodSec ?? 10}`,
        `      retransmitCount: ${o.retransmitCount ?? 2}`,
        '      signingKey: { generate: { bits: 2048, label: REKEYRSA } }',
        `      ack: ${o.ack ?? 'rfc8263'}`,
      ].join('\n')
  return `
listen: { address: ${o.listen ?? KS_ADDRESS}, port: ${o.port ?? 848} }
stateDir: ${o.stateDir ?? '/tmp/gdoi-ks-test-unused'}
controlSocket: ${o.controlSocket ?? '/tmp/gdoi-ks-test-unused/ks.sock'}
log: { level: debug, format: json }
ike:
  policies:
    - { priority: 10, encryption: aes-256, hash: sha1, group: 5, authentication: pre-share }
  preSharedKeys:
    - { peer: any, key: ${PSK} }
groups:
  - name: GETVPN-GRP
    identity: { number: ${GROUP_NUMBER} }
    acl:
      - { action: deny, protocol: udp, source: any, sourcePort: 848, destination: any, destinationPort: 848 }
      - { action: permit, protocol: ip, source: 10.1.0.0/16, destination: 10.1.0.0/16 }
    transform: ${o.transform ?? 'esp-aes 256 esp-sha-hmac'}
    tekLifetimeSec: ${o.tekLifetimeSec ?? 3600}
    kek: { algorithm: aes-256-cbc, lifetimeSec: ${o.kekLifetimeSec ?? 86400} }
${o.authorization !== undefined ? `    authorization: [${o.authorization.join(', ')}]\n` : ''}${rekey}
${o.extraGroups ?? ''}`
}

export function ksConfig(o: KsYamlOptions = {}): KsConfig {
  return parseKsConfig(ksYaml(o), { path: '/tmp/ks-test.yaml' }).config
}

export interface MemoryLab {
  readonly clock: FakeClock
  readonly net: MemoryNetwork
  readonly sink: LogSink
  readonly store: MemoryStore
  ks: KeyServer
  readonly gms: TestGm[]
  config: KsConfig
  /** Restarts the key server on the same store (a crash-free restart after close()). */
  restart(): Promise<void>
  addGm(address: string, extra?: Partial<TestGmOptions>): TestGm
  /** Lets the network and promise jobs settle; advances fake time by `ms` (timers fire in order). */
  run(ms?: number): Promise<void>
  close(): Promise<void>
}

export async function memoryLab(
  o: KsYamlOptions & { readonly net?: Partial<MemoryNetworkOptions>; readonly store?: KsStore; readonly start?: Partial<StartKeyServerOptions> } = {},
): Promise<MemoryLab> {
  const clock = createFakeClock(Date.UTC(2025, 0, 1))
  const net = createMemoryNetwork({ seed: 7, trace: true, ...(o.net ?? {}) })
  const sink = createLogSink()
  const store = (o.store as MemoryStore | undefined) ?? createMemoryStore()
  const log = createLogger({ level: 'debug', format: 'json', destination: sink.stream })
  const config = ksConfig(o)
  let transport: ReturnType<MemoryNetwork['attach']> | undefined
  const start = async (): Promise<KeyServer> => {
    transport = net.attach(KS_ADDRESS)
    return startKeyServer({ config: lab.config, transport, clock, log, store, loadSigningKey: async (c) => testSigningKey(c.source === 'generate' ? c.label : 'file'), ...(o.start ?? {}) })
  }
  const lab: MemoryLab = {
    clock,
    net,
    sink,
    store,
    ks: undefined as unknown as KeyServer,
    gms: [],
    config,
    async restart() {
      await lab.ks.close()
      await transport?.close()
      lab.ks = await start()
    },
    addGm(address, extra = {}) {
      const gm = new TestGm({
        name: address,
        transport: net.attach(address),
        ks: { address: KS_ADDRESS, port: 848 },
        clock,
        psk: PSK,
        groupId: { kind: 'number', value: GROUP_NUMBER },
        ...extra,
      })
      lab.gms.push(gm)
      return gm
    },
    async run(ms = 0) {
      await net.flush()
      const step = 100
      for (let t = 0; t < ms; t += step) {
        await clock.advanceAsync(Math.min(step, ms - t))
        await net.flush()
      }
      await net.flush()
    },
    async close() {
      for (const g of lab.gms) g.close()
      await lab.ks.close()
      await transport?.close()
    },
  }
  lab.ks = await start()
  return lab
}

/** Registers `gm`, driving the network and fake time until it is done. */
export async function register(lab: MemoryLab, gm: TestGm, maxMs = 200_000): Promise<Awaited<ReturnType<TestGm['register']>>> {
  const p = gm.register()
  let settled = false
  p.then(
    () => (settled = true),
    () => (settled = true),
  )
  for (let t = 0; t < maxMs && !settled; t += 500) await lab.run(500)
  return p
}
