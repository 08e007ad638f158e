// gdoi-gm, minus the process: parse arguments (yargs, strict), then
//   run     start the daemon (daemon.ts) and stay up until SIGTERM/SIGINT; SIGHUP re-reads the config
//   status  ask the running daemon over its control socket; text like `show crypto gdoi`, or --json
//   reload  ask the running daemon to re-read its configuration and re-register
//   simulate  N simulated group members against a key server (load test, simulate.ts; no TUN)
// Exit status: 0 fine, 1 runtime failure (configuration, socket, daemon), 2 usage.
import yargs from 'yargs'
import { ControlError, controlRequest, DEFAULT_GM_CONTROL_SOCKET, LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '@gdoi/daemon-kit'
import { loadGmConfig } from './config/load.js'
import { parseMetricsListen, type MetricsListen } from '@gdoi/daemon-kit/metrics-listen'
import { runGroupMember, type RunningDaemon } from './daemon.js'
import { renderStatus, type GmStatus } from './status.js'
import { renderSimulateResult, simulate, simulateOptionsFrom, SIMULATE_OPTIONS, type SimulateArgs, type SimulateOptions } from './simulate.js'
import { parseCli } from '@gdoi/wire/cli/parse-cli'

export const ExitCode = { OK: 0, FAILURE: 1, USAGE: 2 } as const

export interface CliIo {
  stdout(text: string): void
  stderr(text: string): void
  /** Registers signal handlers for `run` (the real process; tests drive the returned daemon directly). */
  onSignal?(signal: 'SIGTERM' | 'SIGINT' | 'SIGHUP', fn: () => void): void
  /** Called once the daemon is up (tests). */
  started?(d: RunningDaemon): void
}

type Parsed =
  | { kind: 'run'; config: string; logLevel?: LogLevel; logFormat?: LogFormat; keylog?: string; metrics?: MetricsListen }
  | { kind: 'status'; socket: SocketRef; json: boolean }
  | { kind: 'reload'; socket: SocketRef }
  | { kind: 'simulate'; options: SimulateOptions; json: boolean }
  | { kind: 'help'; text: string }
  | { kind: 'usage'; message: string }

const NAME = 'gdoi-gm'

/** The control socket: given, or taken from the daemon's configuration file. */
type SocketRef = { readonly path: string } | { readonly config: string }

async function socketPath(ref: SocketRef): Promise<string> {
  if ('path' in ref) return ref.path
  return (await loadGmConfig(ref.config)).config.controlSocket
}

async function parse(argv: readonly string[]): Promise<Parsed> {
  let failure: string | undefined
  let picked: Parsed | undefined
  const socketOpt = { type: 'string', requiresArg: true, describe: `control socket of the running daemon (default: controlSocket of --config, else ${DEFAULT_GM_CONTROL_SOCKET})` } as const
  const configOpt = { alias: 'c', type: 'string', requiresArg: true, describe: 'the daemon\'s configuration file (to find its control socket)' } as const
  const sockOf = (a: { socket?: unknown; config?: unknown }): SocketRef =>
    typeof a.socket === 'string' ? { path: a.socket } : typeof a.config === 'string' ? { config: a.config } : { path: DEFAULT_GM_CONTROL_SOCKET }
  const parser = yargs()
    .scriptName(NAME)
    .usage('$0 [run] --config FILE | status [--json] [--socket P] | reload [--socket P]\n\nGDOI group member (RFC 6407, Cisco GET VPN compatible).')
    .command(
      ['run', '$0'],
      'run the group member (default command)',
      (y) =>
        y
          .option('config', { alias: 'c', type: 'string', requiresArg: true, describe: 'configuration file (YAML or pasted IOS)' })
          .option('log-level', { type: 'string', choices: LOG_LEVELS, requiresArg: true, describe: 'override log.level' })
          .option('log-format', { type: 'string', choices: LOG_FORMATS, requiresArg: true, describe: 'override log.format (json, pretty, auto)' })
          .option('keylog', { type: 'string', requiresArg: true, describe: 'append Wireshark/gdoi key lines to FILE (0600; contains secrets)' })
          .option('metrics', { type: 'string', requiresArg: true, describe: 'serve Prometheus metrics at http://ADDR:PORT/metrics, e.g. 127.0.0.1:9849 (wins over metrics.listen of the configuration; a bare PORT binds 127.0.0.1)' }),
      (a) => {
        if (typeof a.config !== 'string' || a.config === '') {
          failure = 'run needs --config FILE'
          return
        }
        let metrics: MetricsListen | undefined
        try {
          metrics = typeof a.metrics === 'string' ? parseMetricsListen(a.metrics) : undefined
        } catch (err) {
          failure = (err as Error).message
          return
        }
        picked = {
          kind: 'run',
          config: a.config,
          ...(typeof a.logLevel === 'string' ? { logLevel: a.logLevel as LogLevel } : {}),
          ...(typeof a.logFormat === 'string' ? { logFormat: a.logFormat as LogFormat } : {}),
          ...(typeof a.keylog === 'string' ? { keylog: a.keylog } : {}),
          ...(metrics !== undefined ? { metrics } : {}),
        }
      },
    )
    .command(
      'status',
      'show the running member like `show crypto gdoi` (needs root: the control socket is 0600)',
      (y) => y.option('json', { type: 'boolean', default: false, describe: 'the status object as JSON' }).option('socket', socketOpt).option('config', configOpt),
      (a) => {
        picked = { kind: 'status', socket: sockOf(a), json: a.json === true }
      },
    )
    .command(
      'reload',
      're-read the configuration and re-register (same as SIGHUP)',
      (y) => y.option('socket', socketOpt).option('config', configOpt),
      (a) => {
        picked = { kind: 'reload', socket: sockOf(a) }
      },
    )
    .command(
      'simulate',
      'run N simulated group members (Main Mode + GROUPKEY-PULL + pushes and ACKs, no TUN) against a key server',
      (y) => y.options(SIMULATE_OPTIONS),
      (a) => {
        const o = simulateOptionsFrom(a as unknown as SimulateArgs, process.env)
        if (typeof o === 'string') failure = o
        else picked = { kind: 'simulate', options: o, json: a.json === true }
      },
    )
  const res = await parseCli(parser, argv)
  failure ??= res.failure
  if (failure !== undefined) return { kind: 'usage', message: failure }
  if (res.args.help === true) return { kind: 'help', text: res.output }
  return picked ?? { kind: 'usage', message: 'no command' }
}

function problem(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

export async function cliMain(argv: readonly string[], io: CliIo): Promise<number> {
  const p = await parse(argv)
  switch (p.kind) {
    case 'help':
      io.stdout(`${p.text}\n`)
      return ExitCode.OK
    case 'usage':
      io.stderr(`${NAME}: ${p.message} (see ${NAME} --help)\n`)
      return ExitCode.USAGE
    case 'status':
      try {
        const result = await controlRequest(await socketPath(p.socket), { cmd: 'status' })
        io.stdout(p.json ? `${JSON.stringify(result, null, 2)}\n` : renderStatus(result as GmStatus))
        return ExitCode.OK
      } catch (err) {
        io.stderr(`${NAME}: ${err instanceof ControlError ? err.message : problem(err)}\n`)
        return ExitCode.FAILURE
      }
    case 'reload':
      try {
        const result = (await controlRequest(await socketPath(p.socket), { cmd: 'reload' }, { timeoutMs: 15_000 })) as { restartNeeded?: string[] } | null
        const later = result?.restartNeeded ?? []
        io.stdout(`reloaded; re-registering${later.length > 0 ? ` (needs a restart to apply: ${later.join(', ')})` : ''}\n`)
        return ExitCode.OK
      } catch (err) {
        io.stderr(`${NAME}: ${problem(err)}\n`)
        return ExitCode.FAILURE
      }
    case 'run':
      return run(p, io)
    case 'simulate':
      try {
        const r = await simulate({ ...p.options, progress: (line) => io.stderr(`${line}\n`) })
        io.stdout(p.json ? `${JSON.stringify(r)}\n` : renderSimulateResult(r))
        return r.registration.failed === 0 && r.pushes.every((x) => x.complete) ? ExitCode.OK : ExitCode.FAILURE
      } catch (err) {
        io.stderr(`${NAME}: ${problem(err)}\n`)
        return ExitCode.FAILURE
      }
  }
}

async function run(p: Extract<Parsed, { kind: 'run' }>, io: CliIo): Promise<number> {
  let d: RunningDaemon
  try {
    d = await runGroupMember({
      configPath: p.config,
      ...(p.logLevel !== undefined ? { logLevel: p.logLevel } : {}),
      ...(p.logFormat !== undefined ? { logFormat: p.logFormat } : {}),
      ...(p.keylog !== undefined ? { keylog: p.keylog } : {}),
      ...(p.metrics !== undefined ? { metrics: p.metrics } : {}),
    })
  } catch (err) {
    io.stderr(`${NAME}: ${problem(err)}\n`)
    return ExitCode.FAILURE
  }
  io.started?.(d)
  return new Promise<number>((resolve) => {
    let stopping = false
    const stop = (signal: string): void => {
      if (stopping) return
      stopping = true
      d.log.info({ signal }, 'shutting down')
      d.close().then(
        () => resolve(ExitCode.OK),
        (err: unknown) => {
          io.stderr(`${NAME}: shutdown: ${problem(err)}\n`)
          resolve(ExitCode.FAILURE)
        },
      )
    }
    io.onSignal?.('SIGTERM', () => stop('SIGTERM'))
    io.onSignal?.('SIGINT', () => stop('SIGINT'))
    io.onSignal?.('SIGHUP', () => {
      d.reload().catch(() => undefined) // logged by the daemon
    })
  })
}
