// `gdoi-gm run` with real I/O: configuration file, pino logger, UDP socket on the configured local
// address/port, real clock, key log, the root-only control socket (`status`, `reload`) and, when the
// configuration enables TUN, the data plane. cli.ts adds signals on top of this.
import { dirname } from 'node:path'
import type { DestinationStream, Logger } from 'pino'
import {
  createLogger,
  createRealClock,
  createUdpTransport,
  formatIssue,
  LogEvent,
  openKeyLog,
  startControlServer,
  type ControlServer,
  type KeyLog,
  type LogFormat,
  type LogLevel,
  type UdpTransport,
} from '@gdoi/daemon-kit'
import type { MetricsListen } from '@gdoi/daemon-kit/metrics-listen'
import { effectiveMetricsListen } from '@gdoi/daemon-kit/metrics-config'
import { loadGmConfig, type GmConfigOverrides } from './config/load.js'
import type { GmConfig } from './config/types.js'
import { tunEnabled, type DataPlaneFactory } from './data-plane-seam.js'
import { routeSourceAddress } from './local-address.js'
import { startGroupMember, type GroupMember, type ReloadResult } from './main.js'
import { tunDataPlane } from './tun-data-plane.js'

export interface RunOptions {
  readonly configPath: string
  readonly logLevel?: LogLevel
  readonly logFormat?: LogFormat
  readonly keylog?: string
  /** Serve Prometheus metrics here (`--metrics`; daemon-kit metrics-gm.ts); wins over the configuration's
   *  `metrics.listen`. Neither: no endpoint. */
  readonly metrics?: MetricsListen
  /** Where log lines go (default stdout). */
  readonly logDestination?: DestinationStream
  /** Tests: the data plane to use instead of the configuration's choice; null = control plane only. */
  readonly dataPlane?: DataPlaneFactory | null
  readonly env?: Readonly<Record<string, string | undefined>>
}

export interface RunningDaemon {
  readonly gm: GroupMember
  readonly config: GmConfig
  readonly log: Logger
  readonly transport: UdpTransport
  readonly controlPath: string
  /** The metrics endpoint's port (with `metrics`; the real one when port 0 was asked for). */
  readonly metricsPort?: number
  /** Re-reads the configuration file and re-registers. */
  reload(): Promise<ReloadResult>
  close(): Promise<void>
}

function overridesOf(o: RunOptions): GmConfigOverrides {
  return {
    ...(o.logLevel !== undefined || o.logFormat !== undefined
      ? { log: { ...(o.logLevel !== undefined ? { level: o.logLevel } : {}), ...(o.logFormat !== undefined ? { format: o.logFormat } : {}) } }
      : {}),
    ...(o.keylog !== undefined ? { keylog: o.keylog } : {}),
  }
}

export async function runGroupMember(o: RunOptions): Promise<RunningDaemon> {
  const overrides = overridesOf(o)
  const loadOpts = { overrides, ...(o.env !== undefined ? { env: o.env } : {}) }
  const { config, warnings } = await loadGmConfig(o.configPath, loadOpts)
  const log = createLogger({
    level: config.log.level,
    format: config.log.format,
    base: { daemon: 'gdoi-gm' },
    ...(o.logDestination !== undefined ? { destination: o.logDestination } : {}),
  })
  for (const w of warnings) log.warn({ event: LogEvent.CONFIG_WARNING, line: w.line ?? null }, w.message)
  log.info({ event: LogEvent.CONFIG_LOADED, file: o.configPath, group: config.group.name }, 'configuration loaded')

  const cleanups: (() => Promise<void>)[] = []
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined)
  }
  try {
    let keylog: KeyLog | undefined
    if (config.keylog !== null) {
      keylog = await openKeyLog(config.keylog)
      const kl = keylog
      cleanups.push(() => kl.close())
      log.warn({ file: config.keylog }, 'key log enabled: the file holds secret keys')
    }
    const transport = await createUdpTransport({ address: config.local.address, port: config.local.port })
    cleanups.push(() => transport.close())
    const wildcard = config.local.address === '0.0.0.0'
    const firstKs = config.keyServers[0]
    const localAddress = wildcard && firstKs !== undefined ? await routeSourceAddress(firstKs.address, firstKs.port) : config.local.address
    const dataPlane = o.dataPlane !== undefined ? (o.dataPlane ?? undefined) : tunEnabled(config) ? tunDataPlane : undefined
    // Metrics (--metrics, else the configuration's metrics.listen) before the member starts, so its
    // first registration is counted; prom-client is loaded only when asked for.
    const metricsListen = effectiveMetricsListen(o.metrics, config.metrics)
    const metrics =
      metricsListen === undefined
        ? undefined
        : await (await import('@gdoi/daemon-kit/metrics')).startGmMetricsEndpoint({ ...metricsListen, log, member: `${localAddress}:${transport.local.port}` })
    if (metrics !== undefined) cleanups.push(() => metrics.close())
    const gm = await startGroupMember({
      config,
      transport,
      clock: createRealClock(),
      log,
      localAddress,
      ...(keylog !== undefined ? { keylog } : {}),
      ...(dataPlane !== undefined ? { dataPlane } : {}),
      // A socket bound to a unicast address does not see multicast (daemon-kit udp.ts): open one bound
      // to the group. Bound to 0.0.0.0, the main socket receives the group once it joined.
      ...(wildcard
        ? {}
        : {
            openMulticast: (group: string, port: number) =>
              createUdpTransport({ address: group, port, reuseAddr: true, multicast: { groups: [group], interface: config.local.address } }),
          }),
    })
    cleanups.push(() => gm.close())
    metrics?.setSource(() => gm.status())
    const reload = async (): Promise<ReloadResult> => {
      try {
        const next = await loadGmConfig(o.configPath, loadOpts)
        return await gm.reload(next.config)
      } catch (err) {
        const issues = (err as { issues?: readonly { path: string; message: string; line?: number }[] }).issues
        log.error(
          { event: LogEvent.CONFIG_RELOAD_FAILED, problems: issues?.map(formatIssue) ?? [(err as Error).message] },
          'configuration reload failed; keeping the running configuration',
        )
        throw err
      }
    }
    const control: ControlServer = await startControlServer({
      path: config.controlSocket,
      log,
      handlers: {
        status: () => gm.status(),
        reload: async () => reload(),
      },
    })
    cleanups.push(() => control.close())
    // The socket named by the configuration (`controlSocket`, default /run/gdoi/gm.sock — which is
    // what examples/gm1.yaml uses on purpose, to equal gm1.ios.cfg): say which one, as the KS does.
    for (const w of control.warnings) log.warn({ event: LogEvent.CONFIG_WARNING, controlSocket: control.path, dir: dirname(control.path) }, w)
    log.info({ controlSocket: control.path, pid: process.pid }, 'control socket ready')
    let closing: Promise<void> | undefined
    return {
      gm,
      config,
      log,
      transport,
      controlPath: control.path,
      ...(metrics !== undefined ? { metricsPort: metrics.port } : {}),
      reload,
      close: () => (closing ??= cleanup()),
    }
  } catch (err) {
    await cleanup()
    throw err
  }
}
