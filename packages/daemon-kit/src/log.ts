// The root logger (pino, JSON lines) and the guarantees that keep secrets out of it.
//
// One root logger per daemon, created in main.ts with `createLogger`; components take
// `log.child({ c: 'pull', peer: '192.0.2.7:848' })` (binding keys are ours, packet fields only values).
//
// Secrets are kept out in three layers:
// 1. `sanitize()` runs on every merge object and every child binding (pino `formatters`): any field
//    whose name carries a secret is replaced by "[Redacted]" at any depth (isSecretField): psk*,
//    skeyid*, *secret*, *password*, *passphrase*, private*, gxy, and names whose last word is key/keys
//    (key, keys, encKey, authKey, algorithmKey, preSharedKeys, KEK_ALGORITHM_KEY) — but not the word
//    rekey (atNextRekey, lastRekey: times, not keys), and not a number or boolean under a key/keys
//    name (counts such as `tekKeys: 3`). `Secret`, `asKey()` bytes, KeyObjects and @gdoi/wire key
//    holders become "[key]" under any name; other byte arrays become "[N bytes]" (use `hex()` for a
//    trace dump; it refuses key material).
// 2. pino `redact` paths (REDACT_PATHS) as a second net for the documented shapes (same value rule).
// 3. `Secret#toString`/`toJSON` and `KeyBytes` in types, so a key can't be interpolated by accident.
// What this cannot catch: a secret pasted into the message *string* itself. Don't build messages from
// values; pass them as fields.
import { Writable } from 'node:stream'
import pino, { type DestinationStream, type Logger, type LoggerOptions as PinoOptions } from 'pino'
import pretty from 'pino-pretty'
import { KeyObject } from 'node:crypto'
import { isKeyMaterial, KEY_PLACEHOLDER } from './secret.js'

export type { Logger } from 'pino'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]
export const LOG_FORMATS = ['json', 'pretty', 'auto'] as const
/** `auto`: pretty when the destination is a TTY, JSON otherwise. */
export type LogFormat = (typeof LOG_FORMATS)[number]

export const REDACTED = '[Redacted]'

export const REDACT_PATHS: readonly string[] = [
  'psk',
  'key',
  'keys',
  'skeyid',
  'password',
  'secret',
  '*.psk',
  '*.key',
  '*.keys',
  '*.skeyid',
  '*.skeyidA',
  '*.skeyidD',
  '*.skeyidE',
  'config.psk',
  'config.ike.preSharedKeys[*].key',
]

/** "atNextRekey" → at next rekey, "KEK_ALGORITHM_KEY" → kek algorithm key, "tek-keys" → tek keys. */
function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '')
}

/**
 * Why a field name is secret-bearing: 'always' (psk, skeyid*, secret, password, passphrase, private*,
 * gxy, dhShared: never logged), 'key' (last word key/keys, or a run-together word ending so, like
 * "apikey" — the word rekey excepted), or undefined.
 */
function secretNameKind(name: string): 'always' | 'key' | undefined {
  const n = name.toLowerCase()
  if (
    n.includes('psk') ||
    n.includes('skeyid') ||
    n.includes('secret') ||
    n.includes('password') ||
    n.includes('passphrase') ||
    n.includes('private') ||
    n === 'gxy' ||
    n === 'dhshared'
  ) {
    return 'always'
  }
  const last = nameWords(name).at(-1) ?? ''
  return /keys?$/.test(last) && !/^rekeys?$/.test(last) ? 'key' : undefined
}

/** Field names whose values are never logged, at any depth (but see isSecretField for counts). */
export function isSecretFieldName(name: string): boolean {
  return secretNameKind(name) !== undefined
}

/**
 * Whether the value under this field name must be redacted: a secret-bearing name with a value, except
 * a number or boolean under a key/keys name (a count like `tekKeys: 3`, never key material).
 */
export function isSecretField(name: string, value: unknown): boolean {
  if (value === undefined || value === null) return false
  const kind = secretNameKind(name)
  if (kind === undefined) return false
  return !(kind === 'key' && (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint'))
}

const MAX_DEPTH = 8

/** A copy of `value` that is safe to log (see the file comment). Errors pass through unchanged so that
 *  pino's `err` serializer sees them. */
export function sanitize(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (value === null || typeof value !== 'object') {
    return typeof value === 'bigint' ? value.toString() : value
  }
  if (isKeyMaterial(value) || value instanceof KeyObject) return KEY_PLACEHOLDER
  if (value instanceof Error) return value
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`
  if (value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`
  if (depth >= MAX_DEPTH) return '[depth]'
  if (seen.has(value)) return '[circular]'
  seen.add(value)
  try {
    if (Array.isArray(value)) return value.map((v) => sanitize(v, depth + 1, seen))
    if (value instanceof Map) {
      const out: Record<string, unknown> = {}
      for (const [k, v] of value) out[String(k)] = isSecretField(String(k), v) ? REDACTED : sanitize(v, depth + 1, seen)
      return out
    }
    if (value instanceof Set) return [...value].map((v) => sanitize(v, depth + 1, seen))
    if (value instanceof Date) return value.toISOString()
    // Objects that know how to print themselves (Secret, @gdoi/wire keyHolder(): '[key]').
    const toJSON = (value as { toJSON?: unknown }).toJSON
    if (typeof toJSON === 'function') return sanitize((toJSON as () => unknown).call(value), depth + 1, seen)
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(value)) {
      const v = (value as Record<string, unknown>)[k]
      out[k] = isSecretField(k, v) ? REDACTED : sanitize(v, depth + 1, seen)
    }
    return out
  } finally {
    seen.delete(value)
  }
}

export interface LoggerOptions {
  readonly level?: LogLevel
  readonly format?: LogFormat
  /** Where lines go (default stdout). Tests pass `createLogSink().stream`. */
  readonly destination?: DestinationStream
  /** Whether the destination is a terminal, for `format: 'auto'` (default: process.stdout.isTTY). */
  readonly isTty?: boolean
  /** Bound into every line, e.g. `{ daemon: 'gdoi-ks' }`. */
  readonly base?: Readonly<Record<string, unknown>>
}

/** The root logger. Level `info` and format `auto` by default; pretty output goes through pino-pretty
 *  in the same thread (no worker), so lines are never lost on exit. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const format = opts.format ?? 'auto'
  const tty = opts.isTty ?? process.stdout.isTTY === true
  const usePretty = format === 'pretty' || (format === 'auto' && tty)
  const options: PinoOptions = {
    level: opts.level ?? 'info',
    base: { ...(opts.base ?? {}) },
    // The same rule as sanitize(): a count under `keys` (`{ keys: 3 }`) is not a key.
    redact: { paths: [...REDACT_PATHS], censor: (v: unknown, path: string[]) => (isSecretField(path.at(-1) ?? '', v) ? REDACTED : v) },
    formatters: {
      log: (obj) => sanitize(obj) as Record<string, unknown>,
      bindings: (b) => sanitize(b) as Record<string, unknown>,
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  }
  let dest: DestinationStream
  if (usePretty) {
    dest = pretty({
      destination: opts.destination ?? 1,
      colorize: tty,
      sync: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      singleLine: false,
    })
  } else {
    dest = opts.destination ?? pino.destination({ fd: 1, sync: true })
  }
  return pino(options, dest)
}

export interface LogSink {
  readonly stream: DestinationStream & Writable
  /** Every line parsed as JSON (lines that aren't JSON, e.g. pretty output, are skipped). */
  lines(): Record<string, unknown>[]
  /** Everything written, verbatim. */
  text(): string
}

/** Captures log output in memory (pino's `sink()` test helper). */
export function createLogSink(): LogSink {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(typeof chunk === 'string' ? chunk : chunk.toString('utf8'))
      cb()
    },
  })
  return {
    stream,
    text: () => chunks.join(''),
    lines() {
      const out: Record<string, unknown>[] = []
      for (const line of chunks.join('').split('\n')) {
        if (line.trim() === '') continue
        try {
          out.push(JSON.parse(line) as Record<string, unknown>)
        } catch {
          // not JSON
        }
      }
      return out
    },
  }
}
