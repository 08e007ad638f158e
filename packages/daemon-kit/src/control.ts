// The local control socket behind `gdoi-ks status` / `gdoi-gm status` / `reload`.
//
// Protocol: JSON lines over a Unix domain socket. Each request is one line
//   {"id": 1, "cmd": "status"}            (id optional, echoed back)
// and gets one line back
//   {"id": 1, "ok": true, "result": {...}}   or   {"id": 1, "ok": false, "error": {"code": "...", "message": "..."}}
// A connection may carry several requests; they are answered in order.
//
// Who may talk to it: only root. Node has no API for SO_PEERCRED, so the check is done by the file
// system instead of by the daemon: the socket is created mode 0600 (umask 0177 around bind, then
// chmod), owned by the daemon's uid (root), inside a directory created mode 0700. On Linux connect(2)
// needs write permission on the socket file, so any other uid gets EACCES before the daemon sees a
// byte. If the configured directory already exists with wider permissions, `warnings` says so; the
// 0600 socket still protects it on Linux (not on every BSD, hence the 0700 directory).
import { createServer, createConnection, type Server, type Socket } from 'node:net'
import { promises as fsp } from 'node:fs'
import { dirname } from 'node:path'
import type { Logger } from 'pino'
import { isKeyMaterial, KEY_PLACEHOLDER } from './secret.js'
import { ensurePrivateDir } from './state-file.js'
import { publish, DiagChannel } from './diag.js'

export const DEFAULT_KS_CONTROL_SOCKET = '/run/gdoi/ks.sock'
export const DEFAULT_GM_CONTROL_SOCKET = '/run/gdoi/gm.sock'
export const CONTROL_MAX_LINE_BYTES = 64 * 1024

export interface ControlRequest {
  readonly cmd: string
  readonly id?: string | number
  readonly [arg: string]: unknown
}

export type ControlResponse =
  | { readonly id?: string | number; readonly ok: true; readonly result: unknown }
  | { readonly id?: string | number; readonly ok: false; readonly error: { readonly code: string; readonly message: string } }

export type ControlHandler = (req: ControlRequest) => unknown
/** `status` answers with the daemon's status object; `reload` re-reads the configuration. */
export type ControlHandlers = Readonly<Record<string, ControlHandler>>

export interface ControlServerOptions {
  readonly path: string
  readonly handlers: ControlHandlers
  readonly log?: Logger
  readonly maxLineBytes?: number
}

export interface ControlServer {
  readonly path: string
  /** Problems with the socket directory's permissions (logged by the caller). */
  readonly warnings: readonly string[]
  close(): Promise<void>
}

export class ControlError extends Error {
  override name = 'ControlError'
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/** JSON for the wire: bytes as hex, key material as "[key]", bigint as string, Map as object. */
export function controlJson(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, _k, v: unknown) {
    if (isKeyMaterial(v)) return KEY_PLACEHOLDER
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')
    if (typeof v === 'bigint') return v.toString()
    if (v instanceof Map) return Object.fromEntries(v)
    if (v instanceof Set) return [...v]
    return v
  })
}

/** Removes a stale socket file left by a crashed daemon; refuses when a daemon still answers on it or
 *  the path is not a socket. */
async function clearStaleSocket(path: string): Promise<void> {
  let st
  try {
    st = await fsp.lstat(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  if (!st.isSocket()) throw new ControlError('ERR_CONTROL_PATH', `${path} exists and is not a socket; refusing to replace it`)
  const alive = await new Promise<boolean>((resolve) => {
    const s = createConnection(path)
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
  if (alive) throw new ControlError('ERR_CONTROL_IN_USE', `another daemon is listening on ${path}`)
  await fsp.unlink(path)
}

export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const { path, handlers, log } = opts
  const maxLine = opts.maxLineBytes ?? CONTROL_MAX_LINE_BYTES
  const warnings: string[] = []
  const dirWarning = await ensurePrivateDir(dirname(path))
  if (dirWarning !== undefined) warnings.push(`control socket directory: ${dirWarning}`)
  await clearStaleSocket(path)

  const sockets = new Set<Socket>()
  const server: Server = createServer((sock) => {
    sockets.add(sock)
    sock.on('close', () => sockets.delete(sock))
    serveConnection(sock, handlers, maxLine, log)
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    // bind(2) happens synchronously inside listen(); the umask makes the socket 0600 from birth.
    const oldMask = process.umask(0o177)
    try {
      server.listen(path, () => {
        server.off('error', reject)
        resolve()
      })
    } finally {
      process.umask(oldMask)
    }
  })
  await fsp.chmod(path, 0o600)

  let closing: Promise<void> | undefined
  return {
    path,
    warnings,
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }).then(() => fsp.rm(path, { force: true }))
      return closing
    },
  }
}

function serveConnection(sock: Socket, handlers: ControlHandlers, maxLine: number, log: Logger | undefined): void {
  let buf = ''
  let chain = Promise.resolve()
  sock.setEncoding('utf8')
  sock.on('error', () => {})
  let refused = false
  const refuse = (): void => {
    refused = true
    buf = ''
    chain = chain.then(() => {
      reply(sock, { ok: false, error: { code: 'ERR_TOO_LONG', message: `request longer than ${maxLine} bytes` } })
      sock.end()
    })
  }
  sock.on('data', (chunk: string) => {
    if (refused) return
    buf += chunk
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      if (Buffer.byteLength(line) > maxLine) return refuse()
      if (line.trim() === '') continue
      chain = chain.then(() => answer(sock, line, handlers, log))
    }
    if (Buffer.byteLength(buf) > maxLine) refuse()
  })
}

function reply(sock: Socket, res: ControlResponse): void {
  if (!sock.destroyed && sock.writable) sock.write(`${controlJson(res)}\n`)
}

async function answer(sock: Socket, line: string, handlers: ControlHandlers, log: Logger | undefined): Promise<void> {
  let req: ControlRequest
  try {
    const parsed = JSON.parse(line) as unknown
    if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { cmd?: unknown }).cmd !== 'string') {
      throw new Error('not an object with a string "cmd"')
    }
    req = parsed as ControlRequest
  } catch (err) {
    reply(sock, { ok: false, error: { code: 'ERR_BAD_REQUEST', message: `bad request: ${(err as Error).message}` } })
    return
  }
  const id = typeof req.id === 'string' || typeof req.id === 'number' ? { id: req.id } : {}
  publish(DiagChannel.CONTROL_REQUEST, { cmd: req.cmd })
  const handler = Object.hasOwn(handlers, req.cmd) ? handlers[req.cmd] : undefined
  if (handler === undefined) {
    reply(sock, { ...id, ok: false, error: { code: 'ERR_UNKNOWN_COMMAND', message: `unknown command "${req.cmd}"; known: ${Object.keys(handlers).join(', ')}` } })
    return
  }
  log?.debug({ cmd: req.cmd }, 'control request')
  try {
    const result = await handler(req)
    reply(sock, { ...id, ok: true, result: result ?? null })
  } catch (err) {
    const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'ERR_COMMAND_FAILED'
    log?.warn({ cmd: req.cmd, err }, 'control command failed')
    reply(sock, { ...id, ok: false, error: { code, message: (err as Error).message ?? String(err) } })
  }
}

export interface ControlRequestOptions {
  readonly timeoutMs?: number
}

/** Sends one request to the daemon at `path` and returns its `result`; throws ControlError with the
 *  daemon's error code, or ERR_CONTROL_CONNECT / ERR_CONTROL_TIMEOUT. */
export function controlRequest(path: string, req: ControlRequest, opts: ControlRequestOptions = {}): Promise<unknown> {
  const timeoutMs = opts.timeoutMs ?? 5000
  return new Promise((resolve, reject) => {
    const sock = createConnection(path)
    let buf = ''
    let done = false
    const finish = (fn: () => void): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      sock.destroy()
      fn()
    }
    const timer = setTimeout(
      () => finish(() => reject(new ControlError('ERR_CONTROL_TIMEOUT', `no answer from ${path} within ${timeoutMs} ms`))),
      timeoutMs,
    )
    sock.setEncoding('utf8')
    sock.once('connect', () => sock.write(`${controlJson(req)}\n`))
    sock.on('error', (err: NodeJS.ErrnoException) => {
      const hint =
        err.code === 'EACCES' ? ' (the control socket is root-only: run as root)'
        : err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? ' (is the daemon running? check controlSocket in its config)'
        : ''
      finish(() => reject(new ControlError('ERR_CONTROL_CONNECT', `cannot connect to ${path}: ${err.code ?? err.message}${hint}`, { cause: err })))
    })
    sock.on('data', (chunk: string) => {
      buf += chunk
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      const line = buf.slice(0, nl)
      finish(() => {
        let res: ControlResponse
        try {
          res = JSON.parse(line) as ControlResponse
        } catch {
          reject(new ControlError('ERR_CONTROL_PROTOCOL', `malformed answer from ${path}`))
          return
        }
        if (res.ok) resolve(res.result)
        else reject(new ControlError(res.error.code, res.error.message))
      })
    })
    sock.on('end', () => finish(() => reject(new ControlError('ERR_CONTROL_PROTOCOL', `${path} closed the connection without an answer`))))
  })
}
