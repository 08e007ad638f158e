// The pipeline both daemons' loaders share: pick the format (YAML or a pasted IOS config), turn the
// text into the schema's input, validate it with the daemon's zod schema (all issues at once), run
// cross-field checks, and throw one ConfigError listing every problem with its path and line.
import { readFile } from 'node:fs/promises'
import { dirname, extname, resolve } from 'node:path'
import type { z } from 'zod'
import { ConfigError, configErrorMap, zodIssues, type ConfigIssue, type ConfigWarning } from './errors.js'
import { parseYaml } from './yaml.js'
import { IosDoc, looksLikeIos } from './ios-tree.js'
import type { ConfigContext } from './schema-common.js'

export type ConfigFormat = 'yaml' | 'ios'

/** `.ios`/`.cfg` → ios, `.yaml`/`.yml`/`.json` → yaml, anything else by content. */
export function detectFormat(path: string | undefined, text: string): ConfigFormat {
  const ext = path === undefined ? '' : extname(path).toLowerCase()
  if (ext === '.ios' || ext === '.cfg') return 'ios'
  if (ext === '.yaml' || ext === '.yml' || ext === '.json') return 'yaml'
  return looksLikeIos(text) ? 'ios' : 'yaml'
}

/** What an IOS translator produces: schema input plus its own findings. */
export interface IosTranslation {
  readonly input: unknown
  readonly doc: IosDoc
}

export interface ConfigPipeline<T> {
  /** Builds the daemon's schema for this file (relative paths, environment). */
  readonly schema: (ctx: ConfigContext) => z.ZodType<T>
  readonly fromIos: (doc: IosDoc) => unknown
  /** Checks across fields that need the complete, typed config. */
  readonly semantic?: (config: T) => ConfigIssue[]
}

export interface ParseOptions {
  /** File name for messages, format detection and relative paths. */
  readonly path?: string
  readonly format?: ConfigFormat
  /** Environment for `keyEnv` (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Directory relative paths are resolved against (default: the file's directory, else cwd). */
  readonly baseDir?: string
  /** Settings from the command line (`--listen`, `--state-dir`, `--log-level` …), in the schema's
   *  input shape, merged over the file's before validation (so they are checked and defaulted too).
   *  Relative paths in them resolve against the current directory. */
  readonly overrides?: Readonly<Record<string, unknown>>
}

export interface ParsedConfig<T> {
  readonly config: T
  readonly warnings: readonly ConfigWarning[]
  readonly format: ConfigFormat
}

/** Validates config text; throws ConfigError with every problem. */
export function parseConfigText<T>(pipeline: ConfigPipeline<T>, text: string, opts: ParseOptions = {}): ParsedConfig<T> {
  const format = opts.format ?? detectFormat(opts.path, text)
  const ctx: ConfigContext = {
    baseDir: opts.baseDir ?? (opts.path !== undefined ? dirname(resolve(opts.path)) : process.cwd()),
    env: opts.env ?? process.env,
  }
  let input: unknown
  let early: ConfigIssue[] = []
  let warnings: ConfigWarning[] = []
  let lineFor: (path: readonly PropertyKey[]) => number | undefined
  let suppressed = (_path: string): boolean => false

  if (format === 'ios') {
    const doc = new IosDoc(text)
    input = pipeline.fromIos(doc)
    doc.reportIgnored()
    early = [...doc.issues]
    warnings = [...doc.warnings]
    lineFor = (p) => doc.lineFor(pathString(p))
    suppressed = (p) => doc.isSuppressed(p)
  } else {
    const y = parseYaml(text)
    early = [...y.issues]
    warnings = [...y.warnings]
    input = y.value
    lineFor = (p) => y.lineFor(p)
    if (early.length > 0) throw new ConfigError(early, opts.path)
  }

  if (opts.overrides !== undefined) input = mergeOverrides(input, absolutePaths(opts.overrides))
  const schema = pipeline.schema(ctx)
  const r = schema.safeParse(input, { error: configErrorMap })
  const issues: ConfigIssue[] = [...early]
  if (!r.success) {
    // For IOS, a schema issue at a path the translator already complained about is a duplicate.
    const seen = new Set(early.filter((i) => i.path !== '').map((i) => i.path))
    for (const i of zodIssues(r.error.issues, lineFor)) if (!seen.has(i.path) && !suppressed(i.path)) issues.push(i)
  } else if (pipeline.semantic) {
    for (const i of pipeline.semantic(r.data)) {
      const line = i.line ?? lineFor(splitPath(i.path))
      issues.push(line !== undefined ? { ...i, line } : i)
    }
  }
  if (issues.length > 0 || !r.success) throw new ConfigError(issues, opts.path)
  return { config: r.data, warnings, format }
}

/** Reads and validates a config file. */
export async function loadConfigFile<T>(pipeline: ConfigPipeline<T>, path: string, opts: Omit<ParseOptions, 'path'> = {}): Promise<ParsedConfig<T>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})` }], path)
  }
  return parseConfigText(pipeline, text, { ...opts, path })
}

function pathString(p: readonly PropertyKey[]): string {
  let out = ''
  for (const seg of p) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? String(seg) : `.${String(seg)}`
  return out
}

/** `groups[0].acl[1]` → ['groups', 0, 'acl', 1]. */
export function splitPath(path: string): PropertyKey[] {
  const out: PropertyKey[] = []
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : (m[1] ?? ''))
  return out
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Deep merge of plain objects; arrays and scalars in `over` replace; undefined leaves the base. */
export function mergeOverrides(base: unknown, over: Readonly<Record<string, unknown>>): unknown {
  if (!isPlainObject(base)) return base
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? mergeOverrides(out[k], v) : v
  }
  return out
}

const PATH_FIELDS = new Set(['stateDir', 'controlSocket', 'keylog'])

function absolutePaths(over: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(over)) out[k] = PATH_FIELDS.has(k) && typeof v === 'string' ? resolve(v) : v
  return out
}
