// gdoi-pcap, minus the process: parse arguments (yargs, strict), read the files through `io`, decode,
// print. Exit status: 0 every datagram decoded, 1 some had errors (listed), 2 usage or unreadable file.
import yargs from 'yargs'
import { KeylogError } from '../crypto/errors.js'
import { CaptureError } from '../pcap/capture-error.js'
import { decodeCapture } from '../pcap/decode-capture.js'
import { formatJsonLines } from '../pcap/format-json.js'
import { formatText } from '../pcap/format-text.js'
import { mergeKeys, parseKeyFile } from '../pcap/key-file.js'
import type { CaptureKeys } from '../pcap/key-chain.js'
import { readCapture } from '../pcap/read-capture.js'
import { parseCli } from './parse-cli.js'

export interface CliIo {
  /** Throws (e.g. ENOENT) when the file cannot be read. */
  readFile(path: string): Uint8Array
  stdout(text: string): void
  stderr(text: string): void
}

export const ExitCode = { OK: 0, DATAGRAM_ERRORS: 1, USAGE: 2 } as const

const NAME = 'gdoi-pcap'

const DESCRIPTION = `Decodes ISAKMP/GDOI (UDP 500, 848, 4500) and ESP in a pcap or pcapng capture. With phase-1 keys it
follows the key chain: Main Mode 5/6, each GROUPKEY-PULL, the KEK and TEKs it delivers, every later
GROUPKEY-PUSH (signature and SEQ checked), and the ESP packets under the TEKs.
Key files: Wireshark ikev1_decryption_table lines (icookie,key), Wireshark esp_sa lines, or gdoi keylog
records (IKEV1 / KEK / ESP). Exit status: 0 all decoded, 1 some datagrams had errors, 2 usage/unreadable file.`

interface Args {
  readonly file: string
  readonly keys: readonly string[]
  readonly json: boolean
}

type Parsed = { readonly kind: 'run'; readonly args: Args } | { readonly kind: 'help'; readonly text: string } | { readonly kind: 'usage'; readonly message: string }

async function parseArgs(argv: readonly string[]): Promise<Parsed> {
  const parser = yargs()
    .scriptName(NAME)
    .usage(`$0 FILE [--keys KEYFILE]... [--json]\n\n${DESCRIPTION}`)
    .command('$0 <file>', false, (y) => y.positional('file', { type: 'string', describe: 'pcap or pcapng capture' }))
    .option('keys', { alias: 'k', type: 'string', array: true, nargs: 1, requiresArg: true, describe: 'key file (repeatable)' })
    .option('json', { type: 'boolean', default: false, describe: 'one JSON object per line instead of text' })
  const res = await parseCli(parser, argv)
  if (res.failure !== undefined) return { kind: 'usage', message: res.failure }
  if (res.args.help === true) return { kind: 'help', text: res.output }
  const file = res.args.file
  if (typeof file !== 'string' || file === '') return { kind: 'usage', message: 'no capture file given' }
  const keys = Array.isArray(res.args.keys) ? res.args.keys.map(String) : []
  return { kind: 'run', args: { file, keys, json: res.args.json === true } }
}

function reason(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code
    return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? `${code} ${e.message.replace(/^[A-Z]+: /, '')}` : e.message
  }
  return String(e)
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = await parseArgs(argv)
  if (parsed.kind === 'help') {
    io.stdout(`${parsed.text}\n`)
    return ExitCode.OK
  }
  if (parsed.kind === 'usage') {
    io.stderr(`${NAME}: ${parsed.message} (see ${NAME} --help)\n`)
    return ExitCode.USAGE
  }
  const { file, keys: keyFiles, json } = parsed.args

  const keySets: CaptureKeys[] = []
  for (const path of keyFiles) {
    try {
      keySets.push(parseKeyFile(new TextDecoder('utf-8', { fatal: true }).decode(io.readFile(path))))
    } catch (e) {
      const why = e instanceof KeylogError ? e.message.replace(/^ERR_KEYLOG_SYNTAX: /, '') : e instanceof TypeError ? 'not UTF-8 text' : reason(e)
      io.stderr(`${NAME}: key file ${path}: ${why}\n`)
      return ExitCode.USAGE
    }
  }

  let packets
  try {
    packets = readCapture(io.readFile(file))
  } catch (e) {
    io.stderr(`${NAME}: ${file}: ${e instanceof CaptureError ? e.message : `cannot read: ${reason(e)}`}\n`)
    return ExitCode.USAGE
  }

  const records = decodeCapture(packets, mergeKeys(...keySets))
  io.stdout(json ? formatJsonLines(records) : formatText(records))
  const bad = records.filter((r) => r.errors.length > 0)
  if (bad.length === 0) return ExitCode.OK
  const frames = bad.map((r) => r.frame)
  const list = frames.length > 10 ? `${frames.slice(0, 10).join(', ')}, …` : frames.join(', ')
  io.stderr(`${NAME}: ${bad.length} datagram${bad.length === 1 ? '' : 's'} with errors (frame${bad.length === 1 ? '' : 's'} ${list})\n`)
  return ExitCode.DATAGRAM_ERRORS
}
