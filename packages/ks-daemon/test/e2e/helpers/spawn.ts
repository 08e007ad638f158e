// Spawning the CLIs from their TypeScript sources (no build needed): node with the @gdoi/source
// export condition and the same TypeScript loader tap runs the tests with.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { dirname, join, resolve } from 'node:path'

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../..')
export const KS_CLI = join(REPO, 'packages/ks-daemon/src/cli.ts')

/** The loader tap gave this process, or the one in node_modules/.pnpm. */
function tsLoader(): string {
  const fromTap = process.execArgv.find((a) => a.includes('@tapjs/typescript') && a.startsWith('--import='))
  if (fromTap !== undefined) return fromTap
  const pnpm = join(REPO, 'node_modules/.pnpm')
  const dir = readdirSync(pnpm).find((d) => d.startsWith('@tapjs+typescript@'))
  if (dir === undefined) throw new Error('no TypeScript loader found (@tapjs/typescript)')
  return `--import=${pathToFileURL(join(pnpm, dir, 'node_modules/@tapjs/typescript/dist/esm/import.mjs')).href}`
}

export function nodeTsArgs(script: string, args: readonly string[]): string[] {
  return ['--conditions=@gdoi/source', tsLoader(), '--enable-source-maps', script, ...args]
}

const env = (): NodeJS.ProcessEnv => ({ ...process.env, TS_NODE_TRANSPILE_ONLY: '1', NODE_OPTIONS: '' })

/** Runs a CLI to completion. */
export function runCli(script: string, args: readonly string[], prefix: readonly string[] = []): { status: number | null; stdout: string; stderr: string } {
  const cmd = prefix.length > 0 ? (prefix[0] as string) : process.execPath
  const full = prefix.length > 0 ? [...prefix.slice(1), process.execPath, ...nodeTsArgs(script, args)] : nodeTsArgs(script, args)
  const r = spawnSync(cmd, full, { encoding: 'utf8', env: env(), cwd: REPO, timeout: 60_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

export interface Daemon {
  readonly child: ChildProcess
  readonly lines: Record<string, unknown>[]
  readonly stderr: string[]
  /** Resolves with the first log line matching; rejects after timeoutMs or when the process exits. */
  waitForLine(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>
  readonly exited: Promise<number | null>
}

/** Starts a long-running CLI whose stdout is JSON log lines. `prefix` e.g. ['ip', 'netns', 'exec', 'ns']. */
export function startDaemon(script: string, args: readonly string[], prefix: readonly string[] = []): Daemon {
  const cmd = prefix.length > 0 ? (prefix[0] as string) : process.execPath
  const full = prefix.length > 0 ? [...prefix.slice(1), process.execPath, ...nodeTsArgs(script, args)] : nodeTsArgs(script, args)
  const child = spawn(cmd, full, { env: env(), cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: Record<string, unknown>[] = []
  const stderr: string[] = []
  const waiters = new Set<() => void>()
  let buf = ''
  child.stdout?.setEncoding('utf8')
  child.stdout?.on('data', (chunk: string) => {
    buf += chunk
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>)
      } catch {
        lines.push({ text: line })
      }
      for (const w of [...waiters]) w()
    }
  })
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (c: string) => stderr.push(c))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  let done = false
  void exited.then(() => {
    done = true
    for (const w of [...waiters]) w()
  })
  return {
    child,
    lines,
    stderr,
    exited,
    waitForLine(pred, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        let from = 0
        const check = (): void => {
          for (; from < lines.length; from++) {
            const l = lines[from] as Record<string, unknown>
            if (pred(l)) {
              cleanup()
              resolve(l)
              return
            }
          }
          if (done) {
            cleanup()
            reject(new Error(`process exited before the expected log line; stderr: ${stderr.join('')}`))
          }
        }
        const timer = setTimeout(() => {
          cleanup()
          reject(new Error(`timeout waiting for a log line; stderr: ${stderr.join('')}`))
        }, timeoutMs)
        const cleanup = (): void => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })
    },
  }
}
