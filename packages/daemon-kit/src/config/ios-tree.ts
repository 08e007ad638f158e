// Cisco IOS running-config as a tree: each line is a node, indented lines are children of the line
// above them with less indentation (the layout `show running-config` prints). `!` lines are comments.
// Translators `take()` the nodes they understand; whatever is left becomes the "ignored" warning list.
import type { ConfigIssue, ConfigWarning } from './errors.js'

export interface IosNode {
  /** 1-based source line. */
  readonly line: number
  readonly indent: number
  readonly words: readonly string[]
  readonly children: IosNode[]
}

/** Lines that carry no configuration and are skipped silently. */
const NOISE = /^(version|end|exit|exit-address-family|hostname|boot-start-marker|boot-end-marker|building|current|last|ntp clock-period)\b/i

export function parseIosTree(text: string): IosNode[] {
  const roots: IosNode[] = []
  const stack: IosNode[] = []
  const lines = text.split(/\r?\n/)
  let bannerEnd: string | undefined
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] ?? '').replace(/\t/g, ' ')
    if (bannerEnd !== undefined) {
      if (raw.includes(bannerEnd)) bannerEnd = undefined
      continue
    }
    const trimmed = raw.trim()
    if (trimmed === '' || trimmed.startsWith('!')) continue
    const indent = raw.length - raw.trimStart().length
    const words = trimmed.split(/\s+/)
    // banner motd ^C … ^C: skip the free text up to the closing delimiter.
    if (words[0] === 'banner' && words.length >= 3) {
      const delim = (words[2] ?? '').slice(0, 2) === '^C' ? '^C' : (words[2] ?? '').slice(0, 1)
      const rest = trimmed.slice(trimmed.indexOf(words[2] ?? '') + delim.length)
      if (!rest.includes(delim)) bannerEnd = delim
      continue
    }
    const node: IosNode = { line: i + 1, indent, words, children: [] }
    while (stack.length > 0 && (stack[stack.length - 1]?.indent ?? 0) >= indent) stack.pop()
    const parent = stack[stack.length - 1]
    if (parent) parent.children.push(node)
    else roots.push(node)
    stack.push(node)
  }
  return roots
}

/** Words that precede a secret on IOS lines; an echo of an ignored line stops there. */
const SECRET_WORD = /^(key|password|secret|community|key-string|pre-shared-key|passphrase|authentication-key|message-digest-key|md5|psk)$/i

/** Up to three leading words of a line, cut before anything that may be a secret. */
export function safeEcho(words: readonly string[]): string {
  const out: string[] = []
  for (const w of words) {
    if (out.length === 3) {
      out.push('…')
      break
    }
    out.push(w)
    if (SECRET_WORD.test(w)) {
      if (words.length > out.length) out.push('…')
      break
    }
  }
  return out.join(' ')
}

function countDescendants(n: IosNode): number {
  return n.children.reduce((s, c) => s + 1 + countDescendants(c), 0)
}

/** Translation state shared by the KS and GM translators. */
export class IosDoc {
  readonly roots: readonly IosNode[]
  readonly issues: ConfigIssue[] = []
  readonly warnings: ConfigWarning[] = []
  /** Formatted config path (`groups[0].acl[1]`) → the IOS line it came from. */
  readonly lines = new Map<string, number>()
  readonly #taken = new Set<IosNode>()

  constructor(text: string) {
    this.roots = parseIosTree(text)
  }

  /** Marks nodes as understood. */
  take(...nodes: IosNode[]): void {
    for (const n of nodes) this.#taken.add(n)
  }

  /** Marks a node and everything under it as handled (blocks that are ignored on purpose, with
   *  their own warning). */
  takeTree(n: IosNode): void {
    this.#taken.add(n)
    for (const c of n.children) this.takeTree(c)
  }

  isTaken(n: IosNode): boolean {
    return this.#taken.has(n)
  }

  /** Top-level nodes whose first words equal `prefix` (case-insensitive). */
  find(prefix: readonly string[], nodes: readonly IosNode[] = this.roots): IosNode[] {
    return nodes.filter((n) => startsWith(n, prefix))
  }

  error(line: number, message: string, path = ''): void {
    this.issues.push({ path, message, line })
  }

  warn(line: number, message: string): void {
    this.warnings.push({ message, line })
  }

  /** Schema issues at or under these paths are consequences of a translator error already
   *  reported (e.g. no usable group → no key servers) and are dropped. */
  readonly suppressed = new Set<string>()
  suppress(path: string): void {
    this.suppressed.add(path)
  }
  isSuppressed(path: string): boolean {
    for (let p = path; p !== ''; p = parentPath(p)) if (this.suppressed.has(p)) return true
    return false
  }

  mapPath(path: string, line: number): void {
    if (!this.lines.has(path)) this.lines.set(path, line)
  }

  /** Warning for every line nobody took: one per ignored block (with its size), one per ignored
   *  line inside a block that was taken. */
  reportIgnored(): void {
    const visit = (nodes: readonly IosNode[]): void => {
      for (const n of nodes) {
        if (this.#taken.has(n)) {
          visit(n.children)
          continue
        }
        if (NOISE.test(n.words.join(' '))) continue
        const k = countDescendants(n)
        this.warn(n.line, `ignored: "${safeEcho(n.words)}"${k > 0 ? ` and the ${k} line${k === 1 ? '' : 's'} under it` : ''}`)
      }
    }
    visit(this.roots)
    this.warnings.sort((a, b) => (a.line ?? 0) - (b.line ?? 0))
  }

  /** Source line of the longest mapped prefix of `path`. */
  lineFor(path: string): number | undefined {
    for (let p = path; p !== ''; p = parentPath(p)) {
      const l = this.lines.get(p)
      if (l !== undefined) return l
    }
    return undefined
  }
}

function parentPath(p: string): string {
  const m = /(\.[^.[\]]+|\[\d+\])$/.exec(p)
  return m ? p.slice(0, m.index) : ''
}

export function startsWith(n: IosNode, prefix: readonly string[]): boolean {
  return prefix.every((w, i) => n.words[i]?.toLowerCase() === w.toLowerCase())
}

/** Does `text` look like an IOS configuration rather than YAML? */
export function looksLikeIos(text: string): boolean {
  const first = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l !== '' && !l.startsWith('#'))
  if (first === undefined) return false
  if (first.startsWith('!')) return true
  if (/^[\w-]+\s*:(\s|$)/.test(first) || first.startsWith('-') || first.startsWith('{') || first === '---') return false
  return /^\s*(crypto (isakmp|gdoi|ipsec|map|key)\b|ip access-list\b|access-list \d+\b|hostname\b|interface\b|version\b)/m.test(text)
}
