// Prometheus metrics for both daemons (prom-client): a registry per daemon, the HTTP endpoint that
// serves it, and the `--metrics ADDR:PORT` parser. Off unless the operator asks for it; loopback by
// default. The metric sets themselves are in metrics-ks.ts and metrics-gm.ts (re-exported here).
//
//   const registry = createMetricsRegistry()
//   const metrics = createKsMetrics(registry)            // subscribes to the diagnostics channels now
//   const server = await startMetricsServer({ port: 9848, registry })
//   metrics.setSource(() => ks.status())                 // gauges read the status object at each scrape
//
// Only GET/HEAD /metrics is served (text exposition format 0.0.4); everything else is 404/405. Labels
// carry our own names (group names from the configuration, SPIs, reason and error codes), never peer
// addresses or anything else an outsider could multiply.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { Registry, collectDefaultMetrics } from 'prom-client'
import type { Logger } from 'pino'
import { DEFAULT_METRICS_ADDRESS, type MetricsListen } from './metrics-listen.js'
import { createKsMetrics, type KsMetricsView } from './metrics-ks.js'
import { createGmMetrics, type GmMetricsView } from './metrics-gm.js'


export { createKsMetrics, type KsMetrics, type KsMetricsView } from './metrics-ks.js'
export { createGmMetrics, type GmMetrics, type GmMetricsView } from './metrics-gm.js'
export { Tally, derivedCounter, derivedGauge, type Labels, type Sample } from './metrics-util.js'
export { DEFAULT_METRICS_ADDRESS, MetricsListenError, parseMetricsListen, type MetricsListen } from './metrics-listen.js'

export const METRICS_PATH = '/metrics'

export interface MetricsRegistryOptions {
  /** process_* and nodejs_* metrics of prom-client (CPU, memory, event loop lag, GC). Default true. */
  readonly defaultMetrics?: boolean
}

/** A fresh registry for one daemon (never prom-client's global one, so tests and several daemons in
 *  one process do not collide). */
export function createMetricsRegistry(opts: MetricsRegistryOptions = {}): Registry {
  const registry = new Registry()
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry })
  return registry
}

export interface MetricsServerOptions {
  readonly registry: Registry
  /** Default 127.0.0.1. Anything but loopback exposes group names and SPIs: put it behind a firewall. */
  readonly address?: string
  readonly port: number
  readonly log?: Logger
}

export interface MetricsServer {
  readonly address: string
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number
  close(): Promise<void>
}

export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const { registry, log } = opts
  const sockets = new Set<Socket>()
  const server: Server = createServer((req, res) => {
    void serve(registry, req, res, log)
  })
  server.requestTimeout = 10_000
  server.headersTimeout = 5_000
  server.keepAliveTimeout = 5_000
  server.maxHeadersCount = 50
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: opts.address ?? DEFAULT_METRICS_ADDRESS, port: opts.port, exclusive: true }, () => {
      server.off('error', reject)
      resolve()
    })
  })
  server.on('error', (err) => log?.warn({ err }, 'metrics server error'))
  const bound = server.address()
  const address = typeof bound === 'object' && bound !== null ? bound.address : (opts.address ?? DEFAULT_METRICS_ADDRESS)
  const port = typeof bound === 'object' && bound !== null ? bound.port : opts.port
  log?.info({ listen: `${address.includes(':') ? `[${address}]` : address}:${port}`, path: METRICS_PATH }, 'metrics endpoint listening')
  let closing: Promise<void> | undefined
  return {
    address,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      })
      return closing
    },
  }
}

async function serve(registry: Registry, req: IncomingMessage, res: ServerResponse, log: Logger | undefined): Promise<void> {
  const path = (req.url ?? '').split('?', 1)[0]
  if (path !== METRICS_PATH) {
    reply(res, 404, 'not found: metrics are at /metrics\n')
    return
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD')
    reply(res, 405, 'method not allowed\n')
    return
  }
  let body: string
  try {
    body = await registry.metrics()
  } catch (err) {
    log?.warn({ err }, 'metrics collection failed')
    reply(res, 500, 'metrics collection failed\n')
    return
  }
  res.statusCode = 200
  res.setHeader('content-type', registry.contentType)
  res.setHeader('content-length', Buffer.byteLength(body))
  res.setHeader('cache-control', 'no-store')
  res.end(req.method === 'HEAD' ? undefined : body)
}

function reply(res: ServerResponse, status: number, text: string): void {
  res.statusCode = status
  res.setHeader('content-type', 'text/plain; charset=utf-8')
  res.end(text)
}

// ---- one call per daemon (what `--metrics ADDR:PORT` does) ---------------------------------------

export interface DaemonMetrics<V> {
  readonly address: string
  readonly port: number
  /** The daemon's status, read at each scrape (set once the daemon is up). */
  setSource(source: () => V): void
  close(): Promise<void>
}

export interface DaemonMetricsOptions extends MetricsListen {
  readonly log?: Logger
}

/** Registry + the key server's metric set + the endpoint. Call it before startKeyServer() so that the
 *  event counters see the first registrations, then `setSource(() => ks.status())`. */
export function startKsMetricsEndpoint(o: DaemonMetricsOptions): Promise<DaemonMetrics<KsMetricsView>> {
  const registry = createMetricsRegistry()
  return serveMetricSet(registry, createKsMetrics(registry), o)
}

/** The same for a group member; `member` (its local `address:port`) keeps other members' diagnostics
 *  events in the same process out. */
export function startGmMetricsEndpoint(o: DaemonMetricsOptions & { readonly member?: string }): Promise<DaemonMetrics<GmMetricsView>> {
  const registry = createMetricsRegistry()
  return serveMetricSet(registry, createGmMetrics(registry, o.member !== undefined ? { member: o.member } : {}), o)
}

async function serveMetricSet<V>(
  registry: Registry,
  set: { setSource(source: (() => V) | undefined): void; close(): void },
  o: DaemonMetricsOptions,
): Promise<DaemonMetrics<V>> {
  let server: MetricsServer
  try {
    server = await startMetricsServer({ registry, address: o.address, port: o.port, ...(o.log !== undefined ? { log: o.log } : {}) })
  } catch (err) {
    set.close()
    throw err
  }
  return {
    address: server.address,
    port: server.port,
    setSource: (source) => set.setSource(source),
    async close() {
      set.setSource(undefined)
      set.close()
      await server.close()
    },
  }
}
