// `gdoi-ks run`: the key server wired to the real world — validated configuration, pino logger, the
// state directory (file store + lock), node:dgram on the listen address, the root-only control socket,
// the optional key log, and the signals (SIGTERM/SIGINT: stop with the state saved; SIGHUP: reload).
import { createRealClock, createLogger, createUdpTransport, ConfigError, LogEvent, openKeyLog, startControlServer } from '@gdoi/daemon-kit'
import type { ControlServer, KeyLog, UdpTransport } from '@gdoi/daemon-kit'
import type { DaemonMetrics, KsMetricsView } from '@gdoi/daemon-kit/metrics'
import { effectiveMetricsListen } from '@gdoi/daemon-kit/metrics-config'
import { loadKsConfig, type KsConfig, type KsConfigOverrides } from './config/index.js'
import { openFileStore, type KsStore } from './store/index.js'
import { startKeyServer, type KeyServer } from './main.js'
import { renderStatus } from './status-text.js'
import { capYoungGeneration } from './memory-trim.js'
import type { CliCommand } from './cli-args.js'

export const ExitCode = { OK: 0, FAILURE: 1, USAGE: 2 } as const

/** TTL of multicast rekeys (crosses a few routers; IOS's value is not documented). */
export const MULTICAST_TTL = 8

/**
 * SO_RCVBUF asked for (Linux caps it at net.core.rmem_max, 4 MiB on a default Debian/Ubuntu host, and
 * doubles it for bookkeeping). A unicast rekey to 10,000 members brings 10,000 ACKs back within a few
 * seconds while the KS is still sending the push; the default 208 KiB holds ~200 of them, and every
 * ACK dropped there costs a retransmission one period later (bench/README.md, "fanout").
 */
export const RECV_BUFFER_BYTES = 4 * 1024 * 1024

type RunCommand = Extract<CliCommand, { cmd: 'run' }>

export function overridesOf(c: RunCommand): KsConfigOverrides {
  const log = { ...(c.logLevel !== undefined ? { level: c.logLevel } : {}), ...(c.logFormat !== undefined ? { format: c.logFormat } : {}) }
  return {
    ...(Object.keys(log).length > 0 ? { log } : {}),
    ...(c.keylog !== undefined ? { keylog: c.keylog } : {}),
    ...(c.stateDir !== undefined ? { stateDir: c.stateDir } : {}),
    ...(c.controlSocket !== undefined ? { controlSocket: c.controlSocket } : {}),
  }
}

/** Runs until SIGTERM/SIGINT; resolves with the exit code. */
export async function runDaemon(c: RunCommand, stderr: (s: string) => void): Promise<number> {
  capYoungGeneration() // a storm must not leave a 32 MiB young generation behind (memory-trim.ts)
  const overrides = overridesOf(c)
  let config: KsConfig
  let warnings: readonly { readonly message: string; readonly line?: number }[]
  try {
    const loaded = await loadKsConfig(c.config, { overrides })
    config = loaded.config
    warnings = loaded.warnings
  } catch (err) {
    stderr(`gdoi-ks: ${err instanceof ConfigError ? err.message : (err as Error).message}\n`)
    return ExitCode.USAGE
  }
  const log = createLogger({ level: config.log.level, format: config.log.format, base: { daemon: 'gdoi-ks' } })
  log.info({ event: LogEvent.CONFIG_LOADED, path: c.config, groups: config.groups.map((g) => g.name) }, 'configuration loaded')
  for (const w of warnings) log.warn({ event: LogEvent.CONFIG_WARNING, ...w }, 'configuration warning')

  const cleanup: Array<() => Promise<void>> = []
  const shutdownAll = async (): Promise<void> => {
    for (const f of cleanup.reverse()) await f().catch((err: unknown) => log.warn({ err }, 'cleanup step failed'))
    cleanup.length = 0
  }
  let ks: KeyServer
  let store: KsStore
  let transport: UdpTransport
  let keylog: KeyLog | undefined
  let control: ControlServer
  let metrics: DaemonMetrics<KsMetricsView> | undefined
  try {
    if (config.store.kind === 'etcd') {
      // Loaded only here: a key server on its state file never loads the etcd client.
      const { openEtcdStore } = await import('./store/etcd-store.js')
      store = await openEtcdStore({ config: config.store, listen: `${config.listen.address}:${config.listen.port}`, log })
      log.info({ endpoints: config.store.endpoints, prefix: config.store.prefix, instance: (store as { instanceId?: string }).instanceId }, 'state in etcd (cluster of key servers)')
    } else {
      const fileStore = await openFileStore({ dir: config.stateDir })
      store = fileStore
      for (const w of fileStore.warnings) log.warn({ event: LogEvent.CONFIG_WARNING }, w)
    }
    cleanup.push(() => store.close())
    if (config.keylog !== null) {
      keylog = await openKeyLog(config.keylog)
      const k = keylog
      cleanup.push(() => k.close())
      log.warn({ path: config.keylog }, 'key log enabled: the file holds keys that decrypt all group traffic')
    }
    // Multicast options always (a reload may add a multicast group): pushes leave from the listen address.
    transport = await createUdpTransport({
      address: config.listen.address,
      port: config.listen.port,
      recvBufferBytes: RECV_BUFFER_BYTES,
      multicast: { ...(config.listen.address !== '0.0.0.0' ? { interface: config.listen.address } : {}), ttl: MULTICAST_TTL, loopback: true },
    })
    cleanup.push(() => transport.close())
    transport.onError((err, to) => log.debug({ err, to }, 'udp send error'))
    // Prometheus endpoint (--metrics, else the configuration's metrics.listen) before the key server,
    // so that its first events are counted; prom-client is loaded only when asked for.
    const metricsListen = effectiveMetricsListen(c.metrics, config.metrics)
    if (metricsListen !== undefined) {
      const m = await (await import('@gdoi/daemon-kit/metrics')).startKsMetricsEndpoint({ ...metricsListen, log })
      metrics = m
      cleanup.push(() => m.close())
    }
    ks = await startKeyServer({ config, transport, clock: createRealClock(), log, store, ...(keylog !== undefined ? { keylog } : {}) })
    cleanup.push(() => ks.close())
    metrics?.setSource(() => ks.status())
  } catch (err) {
    log.fatal({ err }, 'key server failed to start')
    await shutdownAll()
    return ExitCode.FAILURE
  }

  const reload = async (): Promise<unknown> => {
    try {
      const next = await loadKsConfig(c.config, { overrides })
      for (const w of next.warnings) log.warn({ event: LogEvent.CONFIG_WARNING, ...w }, 'configuration warning')
      return await ks.reload(next.config)
    } catch (err) {
      log.error({ event: LogEvent.CONFIG_RELOAD_FAILED, err: err instanceof ConfigError ? err.message : err }, 'configuration reload failed; the old configuration stays')
      throw err
    }
  }
  try {
    control = await startControlServer({
      path: config.controlSocket,
      log,
      handlers: {
        status: () => ks.status(),
        'status-text': () => renderStatus(ks.status()),
        reload,
        rekey: async (req) => {
          const group = typeof req['group'] === 'string' ? req['group'] : ''
          await ks.rekey(group, req['kind'] === 'kek' ? 'kek' : 'tek')
          return { group, kind: req['kind'] === 'kek' ? 'kek' : 'tek' }
        },
      },
    })
    for (const w of control.warnings) log.warn({ event: LogEvent.CONFIG_WARNING }, w)
    log.info({ controlSocket: config.controlSocket, pid: process.pid }, 'control socket ready')
    cleanup.splice(cleanup.length - 1, 0, () => control.close())
  } catch (err) {
    log.fatal({ err, path: config.controlSocket }, 'cannot open the control socket')
    await shutdownAll()
    return ExitCode.FAILURE
  }

  return new Promise<number>((resolve) => {
    let stopping = false
    const stop = (signal: string): void => {
      if (stopping) return
      stopping = true
      log.info({ event: LogEvent.DAEMON_STOPPING, signal }, 'stopping')
      void shutdownAll().then(() => {
        log.info({ event: LogEvent.DAEMON_STOPPING, done: true }, 'stopped; state saved')
        process.off('SIGHUP', onHup)
        resolve(ExitCode.OK)
      })
    }
    const onHup = (): void => {
      log.info({ signal: 'SIGHUP' }, 'reloading the configuration')
      void reload().catch(() => {})
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
    process.on('SIGHUP', onHup)
  })
}
