// gdoi-ks command line (yargs, strict), parsed without touching the process:
//   gdoi-ks [run] --config F [--log-level L] [--log-format json|pretty|auto] [--keylog F] [--state-dir D] [--control-socket P] [--metrics ADDR:PORT]
//   gdoi-ks status [--json] [--socket P | --config F]
//   gdoi-ks reload [--socket P | --config F]
//   gdoi-ks rekey --group NAME [--kek] [--socket P | --config F]
//   gdoi-ks export-key --config F [--group NAME] [--out F] [--public | --private]
import yargs from 'yargs'
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '@gdoi/daemon-kit'
import { parseMetricsListen, type MetricsListen } from '@gdoi/daemon-kit/metrics-listen'
import { parseCli } from '@gdoi/wire/cli/parse-cli'

export type CliCommand =
  | {
      readonly cmd: 'run'
      readonly config: string
      readonly logLevel?: LogLevel
      readonly logFormat?: LogFormat
      readonly keylog?: string
      readonly stateDir?: string
      readonly controlSocket?: string
      /** Prometheus endpoint (daemon-kit metrics-ks.ts); absent: none. */
      readonly metrics?: MetricsListen
    }
  | { readonly cmd: 'status'; readonly json: boolean; readonly socket?: string; readonly config?: string }
  | { readonly cmd: 'reload'; readonly socket?: string; readonly config?: string }
  | { readonly cmd: 'rekey'; readonly group: string; readonly kind: 'tek' | 'kek'; readonly socket?: string; readonly config?: string }
  | {
      readonly cmd: 'export-key'
      readonly config: string
      readonly group?: string
      readonly out?: string
      /** What to export; absent: the private key with the file store, the public key with etcd. */
      readonly part?: 'public' | 'private'
    }

export type ParsedArgs = { readonly kind: 'command'; readonly command: CliCommand } | { readonly kind: 'help'; readonly text: string } | { readonly kind: 'usage'; readonly message: string }

const NAME = 'gdoi-ks'

const DESCRIPTION = `The GDOI (RFC 6407) key server: IKEv1 Main Mode and GROUPKEY-PULL registration on UDP 848, TEK and
KEK rekeys by GROUPKEY-PUSH (unicast or multicast, RFC 8263 acknowledgements), persistent state, and a
root-only control socket for status. Signals: SIGTERM/SIGINT stop (state saved), SIGHUP reloads the config.`

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)

export async function parseArgs(argv: readonly string[]): Promise<ParsedArgs> {
  let failure: string | undefined
  let command: CliCommand | undefined
  const socketOpts = {
    socket: { type: 'string', requiresArg: true, describe: 'control socket (default: controlSocket of --config, else /run/gdoi/ks.sock)' },
    config: { alias: 'c', type: 'string', requiresArg: true, describe: 'configuration file (to find the control socket)' },
  } as const
  const parser = yargs()
    .scriptName(NAME)
    .usage(`$0 [run] --config FILE [options]\n\n${DESCRIPTION}`)
    .command(
      ['run', '$0'],
      'run the key server (the default command)',
      (y) =>
        y
          .option('config', { alias: 'c', type: 'string', requiresArg: true, demandOption: true, describe: 'YAML or Cisco IOS configuration file' })
          .option('log-level', { type: 'string', choices: LOG_LEVELS, requiresArg: true, describe: 'overrides log.level' })
          .option('log-format', { type: 'string', choices: LOG_FORMATS, requiresArg: true, describe: 'json | pretty | auto (pretty on a terminal)' })
          .option('keylog', { type: 'string', requiresArg: true, describe: 'write Wireshark/gdoi-pcap key tables here (KEY MATERIAL, mode 0600)' })
          .option('state-dir', { type: 'string', requiresArg: true, describe: 'overrides stateDir' })
          .option('control-socket', { type: 'string', requiresArg: true, describe: 'overrides controlSocket' })
          .option('metrics', { type: 'string', requiresArg: true, describe: 'serve Prometheus metrics at http://ADDR:PORT/metrics, e.g. 127.0.0.1:9848 (wins over metrics.listen of the configuration; a bare PORT binds 127.0.0.1)' }),
      (a) => {
        let metrics: MetricsListen | undefined
        try {
          metrics = str(a.metrics) !== undefined ? parseMetricsListen(String(a.metrics)) : undefined
        } catch (err) {
          failure = (err as Error).message
          return
        }
        command = {
          cmd: 'run',
          config: String(a.config),
          ...(str(a['log-level']) !== undefined ? { logLevel: a['log-level'] as LogLevel } : {}),
          ...(str(a['log-format']) !== undefined ? { logFormat: a['log-format'] as LogFormat } : {}),
          ...(str(a.keylog) !== undefined ? { keylog: String(a.keylog) } : {}),
          ...(str(a['state-dir']) !== undefined ? { stateDir: String(a['state-dir']) } : {}),
          ...(str(a['control-socket']) !== undefined ? { controlSocket: String(a['control-socket']) } : {}),
          ...(metrics !== undefined ? { metrics } : {}),
        }
      },
    )
    .command(
      'status',
      'show groups, members, KEK/TEKs, sequence numbers and ISAKMP SAs (like show crypto gdoi ks)',
      (y) => y.options(socketOpts).option('json', { type: 'boolean', default: false, describe: 'the status object as JSON' }),
      (a) => {
        command = { cmd: 'status', json: a.json === true, ...sock(a) }
      },
    )
    .command('reload', 're-read the configuration file (same as SIGHUP)', (y) => y.options(socketOpts), (a) => {
      command = { cmd: 'reload', ...sock(a) }
    })
    .command(
      'rekey',
      'send a TEK rekey (or with --kek a KEK rekey) now',
      (y) =>
        y
          .options(socketOpts)
          .option('group', { alias: 'g', type: 'string', requiresArg: true, demandOption: true, describe: 'group name' })
          .option('kek', { type: 'boolean', default: false, describe: 'replace the KEK instead of the TEK' }),
      (a) => {
        command = { cmd: 'rekey', group: String(a.group), kind: a.kek === true ? 'kek' : 'tek', ...sock(a) }
      },
    )
    .command(
      'export-key',
      "print a group's rekey signing key: the private key (PKCS#8 PEM) of a state-file key server, for a second one; with store: etcd the public key unless --private",
      (y) =>
        y
          .option('config', { alias: 'c', type: 'string', requiresArg: true, demandOption: true, describe: 'configuration file' })
          .option('group', { alias: 'g', type: 'string', requiresArg: true, describe: 'group name (default: the first group with rekeys)' })
          .option('out', { alias: 'o', type: 'string', requiresArg: true, describe: 'write to this file (mode 0600) instead of stdout' })
          .option('public', { type: 'boolean', describe: 'the public key (SubjectPublicKeyInfo PEM)' })
          .option('private', { type: 'boolean', describe: 'the private key (PKCS#8 PEM); with store: etcd only into a file (--out)' })
          .conflicts('public', 'private'),
      (a) => {
        command = {
          cmd: 'export-key',
          config: String(a.config),
          ...(str(a.group) !== undefined ? { group: String(a.group) } : {}),
          ...(str(a.out) !== undefined ? { out: String(a.out) } : {}),
          ...(a.public === true ? { part: 'public' as const } : a.private === true ? { part: 'private' as const } : {}),
        }
      },
    )
  const res = await parseCli(parser, argv)
  failure ??= res.failure
  if (failure !== undefined) return { kind: 'usage', message: failure }
  if (res.args.help === true) return { kind: 'help', text: res.output }
  if (command === undefined) return { kind: 'usage', message: 'no command' }
  return { kind: 'command', command }
}

function sock(a: Record<string, unknown>): { socket?: string; config?: string } {
  return { ...(str(a.socket) !== undefined ? { socket: String(a.socket) } : {}), ...(str(a.config) !== undefined ? { config: String(a.config) } : {}) }
}
