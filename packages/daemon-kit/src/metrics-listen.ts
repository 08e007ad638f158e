// `--metrics ADDR:PORT` and the configuration's `metrics.listen` (metrics-config.ts): parsed without
// loading prom-client, so the daemons' argument parsers can validate the flag and load metrics.ts only
// when an endpoint is asked for.
import { isIP } from 'node:net'

export const DEFAULT_METRICS_ADDRESS = '127.0.0.1'

export interface MetricsListen {
  readonly address: string
  readonly port: number
}

export class MetricsListenError extends Error {
  override name = 'MetricsListenError'
  readonly code = 'ERR_METRICS_LISTEN'
  /** What is wrong, without the `metrics: ` the message starts with (a config issue has its own path). */
  readonly reason: string
  constructor(reason: string) {
    super(`metrics: ${reason}`)
    this.reason = reason
  }
}

/** `9848`, `127.0.0.1:9848`, `[::1]:9848` → address and port (a bare port binds 127.0.0.1). Port 0
 *  picks a free port (tests). */
export function parseMetricsListen(text: string): MetricsListen {
  const s = text.trim()
  let address = DEFAULT_METRICS_ADDRESS
  let portText = s
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(s)
  if (v6 !== null) {
    address = v6[1] as string
    portText = v6[2] as string
  } else if (s.includes(':')) {
    const i = s.lastIndexOf(':')
    address = s.slice(0, i)
    portText = s.slice(i + 1)
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw new MetricsListenError(`bad port in "${text}" (ADDRESS:PORT, e.g. 127.0.0.1:9848)`)
  if (isIP(address) === 0) throw new MetricsListenError(`bad address in "${text}" (an IPv4 or [IPv6] literal, e.g. 127.0.0.1:9848)`)
  return { address, port: Number(portText) }
}
