// YAML front end: syntax errors with line numbers, and a path → line map so schema errors can say
// where they are. Messages never quote source text (a broken line may hold a key).
import { LineCounter, parseDocument, isNode, type Document } from 'yaml'
import type { ConfigIssue, ConfigWarning } from './errors.js'

export interface YamlParse {
  readonly value: unknown
  readonly issues: readonly ConfigIssue[]
  readonly warnings: readonly ConfigWarning[]
  lineFor(path: readonly PropertyKey[]): number | undefined
}

/** First sentence of a yaml error message, without the quoted source excerpt. */
function shortMessage(m: string): string {
  const first = m.split('\n')[0] ?? m
  return first.replace(/ at line \d+, column \d+:?$/, '')
}

export function parseYaml(text: string): YamlParse {
  const lineCounter = new LineCounter()
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true })
  const lineOf = (offset: number | undefined): number | undefined => (offset === undefined ? undefined : lineCounter.linePos(offset).line)

  const issues: ConfigIssue[] = doc.errors.map((e) => {
    const line = e.linePos?.[0].line ?? lineOf(e.pos[0])
    return line !== undefined ? { path: '', message: `YAML: ${shortMessage(e.message)}`, line } : { path: '', message: `YAML: ${shortMessage(e.message)}` }
  })
  const warnings: ConfigWarning[] = doc.warnings.map((w) => {
    const line = w.linePos?.[0].line ?? lineOf(w.pos[0])
    return line !== undefined ? { message: `YAML: ${shortMessage(w.message)}`, line } : { message: `YAML: ${shortMessage(w.message)}` }
  })

  let value: unknown
  if (issues.length === 0) {
    try {
      value = doc.toJS({ maxAliasCount: 100 })
    } catch (err) {
      issues.push({ path: '', message: `YAML: ${shortMessage((err as Error).message)}` })
    }
    if (issues.length === 0 && (value === null || value === undefined)) issues.push({ path: '', message: 'the file is empty' })
  }

  return {
    value,
    issues,
    warnings,
    lineFor(path) {
      for (let n = path.length; n >= 1; n--) {
        const node: unknown = doc.getIn(path.slice(0, n), true)
        if (isNode(node) && node.range) return lineOf(node.range[0])
      }
      return undefined
    },
  }
}
