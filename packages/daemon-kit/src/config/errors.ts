// Configuration errors: every mistake in a file, all at once, each as `field.path: what is wrong`
// (plus the line where we know it). The daemon prints them and refuses to start.
import type { z } from 'zod'

export interface ConfigIssue {
  /** Dotted path with [index] for list entries, e.g. `groups[0].rekey.transport`; '' for the whole file. */
  readonly path: string
  /** What is wrong, never the offending value when the field can hold a secret. */
  readonly message: string
  /** 1-based line in the source file, when known. */
  readonly line?: number
}

export interface ConfigWarning {
  readonly message: string
  readonly line?: number
}

export function formatIssue(i: ConfigIssue): string {
  const where = i.path === '' ? '' : `${i.path}: `
  return `${where}${i.message}${i.line !== undefined ? ` (line ${i.line})` : ''}`
}

export class ConfigError extends Error {
  override name = 'ConfigError'
  readonly code = 'ERR_CONFIG'
  readonly issues: readonly ConfigIssue[]
  readonly file: string | undefined
  constructor(issues: readonly ConfigIssue[], file?: string) {
    const head = `${file ?? 'configuration'}: ${issues.length} problem${issues.length === 1 ? '' : 's'}`
    super([head, ...issues.map((i) => `  ${formatIssue(i)}`)].join('\n'))
    this.issues = issues
    this.file = file
  }
}

/** `['groups', 0, 'acl', 1, 'source']` → `groups[0].acl[1].source`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else out += out === '' ? String(seg) : `.${String(seg)}`
  }
  return out
}

const UNKNOWN_SEP = '\u0000'

const EXPECTED: Readonly<Record<string, string>> = {
  int: 'an integer',
  number: 'a number',
  string: 'text',
  array: 'a list',
  object: 'a mapping',
  boolean: 'true or false',
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a mapping'
  if (typeof v === 'string') return 'text'
  return `a ${typeof v}`
}

function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many
}

/** Levenshtein distance, for "did you mean" on misspelt field names. */
function distance(a: string, b: string): number {
  const d: number[] = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0] ?? 0
    d[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j] ?? 0
      d[j] = Math.min((d[j] ?? 0) + 1, (d[j - 1] ?? 0) + 1, prev + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1))
      prev = tmp
    }
  }
  return d[b.length] ?? 0
}

export function suggest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestD = Infinity
  for (const k of known) {
    const dd = distance(word, k)
    if (dd < bestD) {
      bestD = dd
      best = k
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined
}

/** Error parameter for strict objects: one message per unknown key (split again by `zodIssues`). */
export function unknownKeysMessage(known: readonly string[]) {
  return (iss: { code?: string; keys?: readonly string[] }): string | undefined => {
    if (iss.code !== 'unrecognized_keys' || !iss.keys) return undefined
    return iss.keys
      .map((k) => {
        const s = suggest(k, known)
        return s !== undefined ? `unknown field (did you mean "${s}"?)` : `unknown field (known: ${known.join(', ')})`
      })
      .join(UNKNOWN_SEP)
  }
}

type RawIssue = z.core.$ZodRawIssue

/** Per-parse error map: short, value-free messages. */
export function configErrorMap(iss: RawIssue): string | undefined {
  const input = iss.input
  switch (iss.code) {
    case 'invalid_type':
      if (input === undefined) return 'required'
      return `expected ${EXPECTED[String(iss.expected)] ?? String(iss.expected)}, got ${describe(input)}`
    case 'invalid_value': {
      const values = (iss.values as readonly unknown[]).map((v) => JSON.stringify(v))
      return values.length === 1 ? `must be ${values[0] ?? ''}` : `must be one of ${values.join(', ')}`
    }
    case 'too_small': {
      const min = Number(iss.minimum)
      if (iss.origin === 'string') return min <= 1 ? 'must not be empty' : `must be at least ${min} characters`
      if (iss.origin === 'array' || iss.origin === 'set') return `needs at least ${min} ${plural(min, 'entry', 'entries')}`
      return iss.inclusive ? `must be ≥ ${min}` : `must be > ${min}`
    }
    case 'too_big': {
      const max = Number(iss.maximum)
      if (iss.origin === 'string') return `must be at most ${max} characters`
      if (iss.origin === 'array' || iss.origin === 'set') return `at most ${max} ${plural(max, 'entry', 'entries')}`
      return iss.inclusive ? `must be ≤ ${max}` : `must be < ${max}`
    }
    case 'not_multiple_of':
      return `must be a multiple of ${String(iss.divisor)}`
    case 'invalid_format':
      return 'invalid format'
    case 'invalid_union':
      return 'invalid value'
    // unknown fields get their message from unknownKeysMessage(); the rest keep zod's own wording
    case 'unrecognized_keys':
    case 'invalid_key':
    case 'invalid_element':
    case 'custom':
      return undefined
  }
}

/** Converts zod issues to ConfigIssues; `lineFor` maps a path to its source line when known. */
export function zodIssues(issues: readonly z.core.$ZodIssue[], lineFor?: (path: readonly PropertyKey[]) => number | undefined): ConfigIssue[] {
  const out: ConfigIssue[] = []
  const push = (path: readonly PropertyKey[], message: string): void => {
    const line = lineFor?.(path)
    out.push(line !== undefined ? { path: formatPath(path), message, line } : { path: formatPath(path), message })
  }
  for (const iss of issues) {
    if (iss.code === 'unrecognized_keys') {
      const messages = iss.message.split(UNKNOWN_SEP)
      iss.keys.forEach((k, i) => push([...iss.path, k], messages[i] ?? messages[0] ?? 'unknown field'))
    } else {
      push(iss.path, iss.message)
    }
  }
  return out
}
