// Building blocks of the metric sets (metrics-ks.ts, metrics-gm.ts): counters and gauges whose values
// are read from the daemon at scrape time, and tallies of diagnostics-channel events.
import { Counter, Gauge, type Registry } from 'prom-client'

export type Labels<L extends string> = Partial<Record<L, string>>
export type Sample<L extends string> = readonly [labels: Labels<L>, value: number]

/** A counter whose values are read from the daemon at each scrape (its own monotonic counters). */
export function derivedCounter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => Iterable<Sample<L>>,
): Counter<L> {
  return new Counter<L>(readAtScrape(registry, name, help, labelNames, read, (c: Counter<L>, labels, value) => value >= 0 && c.inc(labels, value)))
}

/** A gauge whose values are read from the daemon at each scrape; series that vanished are dropped. */
export function derivedGauge<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => Iterable<Sample<L>>,
): Gauge<L> {
  return new Gauge<L>(readAtScrape(registry, name, help, labelNames, read, (g: Gauge<L>, labels, value) => g.set(labels, value)))
}

/** The options of a metric that holds nothing between scrapes: each collect() empties it and puts back
 *  what `read` gives now (finite values only), so a series that vanished from the daemon vanishes here. */
function readAtScrape<L extends string, M extends { reset(): void }>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => Iterable<Sample<L>>,
  put: (metric: M, labels: Labels<L>, value: number) => unknown,
) {
  return {
    name,
    help,
    labelNames,
    registers: [registry],
    collect(this: M) {
      this.reset()
      for (const [labels, value] of read()) if (Number.isFinite(value)) put(this, labels, value)
    },
  }
}

/** Counts diagnostics-channel events by label set (the per-group counters the status object lacks). */
export class Tally<L extends string> {
  readonly #values = new Map<string, { labels: Labels<L>; value: number }>()

  add(labels: Labels<L>, by = 1): void {
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)))
    const cur = this.#values.get(key)
    if (cur !== undefined) cur.value += by
    else this.#values.set(key, { labels, value: by })
  }

  *samples(): Iterable<Sample<L>> {
    for (const { labels, value } of this.#values.values()) yield [labels, value]
  }
}

/** `{ 'drop.decode.ERR_TRUNCATED': 3, … }` with prefix `drop.decode.` → `[['ERR_TRUNCATED', 3], …]`. */
export function* suffixed(counters: Readonly<Record<string, number>>, prefix: string): Iterable<readonly [string, number]> {
  for (const [name, value] of Object.entries(counters)) {
    if (name.startsWith(prefix) && name.length > prefix.length) yield [name.slice(prefix.length), value]
  }
}

/** A label value from a diagnostics message field: strings as they are, numbers in decimal, else ''. */
export function labelOf(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : ''
}

/** The daemon's status object, taken once per scrape (every metric of a scrape reads the same copy). A
 *  source that throws (daemon closing) reads as absent. */
export function viewCache<V>(initial: (() => V) | undefined, ttlMs = 250): { get(): V | undefined; set(source: (() => V) | undefined): void } {
  let source = initial
  let cached: { readonly atMs: number; readonly view: V | undefined } | undefined
  return {
    get() {
      if (source === undefined) return undefined
      const now = performance.now()
      if (cached !== undefined && now - cached.atMs < ttlMs) return cached.view
      let view: V | undefined
      try {
        view = source()
      } catch {
        view = undefined
      }
      cached = { atMs: now, view }
      return view
    },
    set(next) {
      source = next
      cached = undefined
    },
  }
}
