// Reading a Prometheus endpoint the way a scraper does: one HTTP request (no keep-alive, so the server
// can close at once) and the values of series in the text exposition format. What the daemons' tests
// use against a running daemon; no prom-client needed.
import { request } from 'node:http'

export interface ScrapeTarget {
  readonly port: number
  /** Default 127.0.0.1 (where the endpoint listens by default). */
  readonly host?: string
  /** Default /metrics. */
  readonly path?: string
  /** Default GET. */
  readonly method?: string
}

export interface ScrapeReply {
  readonly status: number
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly body: string
}

/** One request; rejects with the socket error (ECONNREFUSED when nothing listens). */
export function fetchMetrics(target: ScrapeTarget): Promise<ScrapeReply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: target.host ?? '127.0.0.1', port: target.port, path: target.path ?? '/metrics', method: target.method ?? 'GET', agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** The body of GET /metrics. */
export async function scrapeMetrics(target: ScrapeTarget): Promise<string> {
  return (await fetchMetrics(target)).body
}

/** The value of one series, named with its labels as the endpoint prints them
 *  (`gdoi_gm_registered{group="G"}`); undefined when absent. */
export function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

/** The sample lines of one metric family (`name{…} value` and `name value`), sorted. */
export function metricLines(text: string, name: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .sort()
}
