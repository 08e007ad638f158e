// The `metrics` part of both daemons' YAML configuration: where to serve Prometheus metrics. Off unless
// `listen` is given; the command line's `--metrics ADDR:PORT` wins over it (the daemons' run code).
//
//   metrics:
//     listen: 127.0.0.1:9848      # or a bare port (binds 127.0.0.1), or [::1]:9848
//
// The same words as the flag (parseMetricsListen), so a mistake reads `metrics.listen: bad port in …`.
import { z } from 'zod'
import { strict } from './config/schema-common.js'
import { MetricsListenError, parseMetricsListen, type MetricsListen } from './metrics-listen.js'

/** The validated `metrics` part; `listen: null` = no endpoint (the default). */
export interface MetricsConfig {
  readonly listen: MetricsListen | null
}

const listen = z.union([z.string(), z.int()], { error: 'expected ADDRESS:PORT (e.g. 127.0.0.1:9848) or a port number' }).transform((v, ctx): MetricsListen => {
  try {
    return parseMetricsListen(String(v))
  } catch (err) {
    ctx.issues.push({ code: 'custom', message: err instanceof MetricsListenError ? err.reason : (err as Error).message, input: v })
    return z.NEVER
  }
})

/** `metrics: { listen }`; absent or `metrics: {}` → `{ listen: null }`. */
export const metricsConfigSchema = strict({ listen: listen.optional() })
  .prefault({})
  .transform((v): MetricsConfig => ({ listen: v.listen ?? null }))

/** Where the endpoint goes: the flag when given, else the configuration, else nowhere. */
export function effectiveMetricsListen(flag: MetricsListen | undefined, config: MetricsConfig | undefined): MetricsListen | undefined {
  return flag ?? config?.listen ?? undefined
}
