// Real-UDP loopback lab for the end-to-end tests: one key server started in-process on a loopback
// address (node:dgram, real clock, file store in a temp dir, key log) and in-process test GMs on their
// own loopback addresses. Addresses come from GDOI_E2E_NET (default per test file) so parallel test
// files never bind the same address.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger, createLogSink, createRealClock, createUdpTransport, openKeyLog, type KeyLog, type LogSink, type Transport, type UdpTransport } from '@gdoi/daemon-kit'
import type { Phase1Sa } from '@gdoi/wire/exchange/index'
import { gdoiKeylogLines, keylogLines } from '@gdoi/wire/exchange/index'
import { openFileStore, type FileStore } from '../../../src/store/index.js'
import { startKeyServer, type KeyServer, type KsCompat } from '../../../src/main.js'
import { ksConfig, type KsYamlOptions, PSK, GROUP_NUMBER } from '../../helpers/ks-fixture.js'
import { TestGm } from '../../helpers/test-gm.js'
import { shim, type Recorder } from './shims.js'
import type { KsConfig } from '../../../src/config/index.js'

export interface UdpLabOptions extends KsYamlOptions {
  /** First three octets, e.g. "127.0.1". */
  readonly net: string
  readonly recorder?: Recorder
  readonly drop?: number
  readonly compat?: KsCompat
  readonly gmDoi?: 1 | 2
}

export class UdpLab {
  readonly o: UdpLabOptions
  readonly dir: string
  readonly config: KsConfig
  readonly sink: LogSink = createLogSink()
  readonly clock = createRealClock({ unref: false })
  readonly gms: TestGm[] = []
  /** Phase-1 SAs of the GMs, as key-log lines (the GM side of the capture's keys). */
  readonly gmKeylog: string[] = []
  ks: KeyServer | undefined
  #store: FileStore | undefined
  #udp: UdpTransport | undefined
  #keylog: KeyLog | undefined
  readonly #gmUdp: Transport[] = []
  #seed = 100

  constructor(o: UdpLabOptions) {
    this.o = o
    this.dir = mkdtempSync(join(tmpdir(), 'gdoi-ks-e2e-'))
    this.config = ksConfig({ ...o, listen: `${o.net}.1`, port: 848, stateDir: join(this.dir, 'state'), controlSocket: join(this.dir, 'ks.sock') })
  }

  get ksAddress(): string {
    return `${this.o.net}.1`
  }

  get keylogPath(): string {
    return join(this.dir, 'ks.keylog')
  }

  async startKs(): Promise<KeyServer> {
    this.#store = await openFileStore({ dir: this.config.stateDir })
    this.#keylog ??= await openKeyLog(this.keylogPath)
    this.#udp = await createUdpTransport({ address: this.ksAddress, port: 848 })
    const transport = shim(this.#udp, { ...(this.o.recorder !== undefined ? { recorder: this.o.recorder } : {}), ...(this.o.drop !== undefined ? { drop: this.o.drop } : {}), seed: this.#seed++ })
    const log = createLogger({ level: 'debug', format: 'json', destination: this.sink.stream, base: { daemon: 'gdoi-ks' } })
    this.ks = await startKeyServer({ config: this.config, transport, clock: this.clock, log, store: this.#store, keylog: this.#keylog, ...(this.o.compat !== undefined ? { compat: this.o.compat } : {}) })
    return this.ks
  }

  async stopKs(): Promise<void> {
    await this.ks?.close()
    await this.#udp?.close()
    await this.#store?.close()
    this.ks = undefined
  }

  async addGm(host: number): Promise<TestGm> {
    const address = `${this.o.net}.${host}`
    const udp = await createUdpTransport({ address, port: 848 })
    this.#gmUdp.push(udp)
    const transport = shim(udp, { ...(this.o.recorder !== undefined ? { recorder: this.o.recorder } : {}), ...(this.o.drop !== undefined ? { drop: this.o.drop } : {}), seed: this.#seed++ })
    const gm = new TestGm({
      name: address,
      transport,
      ks: { address: this.ksAddress, port: 848 },
      clock: this.clock,
      psk: PSK,
      groupId: { kind: 'number', value: GROUP_NUMBER },
      retransmit: { intervalMs: 500, maxTries: 12 },
      ...(this.o.gmDoi !== undefined ? { doi: this.o.gmDoi } : {}),
      onPhase1: (sa: Phase1Sa) => this.gmKeylog.push(...keylogLines(sa), ...gdoiKeylogLines(sa)),
    })
    this.gms.push(gm)
    return gm
  }

  async close(): Promise<void> {
    for (const g of this.gms) g.close()
    await this.stopKs()
    await this.#keylog?.close()
    for (const u of this.#gmUdp) await u.close()
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Polls `cond` every 50 ms until it holds or `timeoutMs` passes. */
export async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
