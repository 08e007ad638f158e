// The yargs set-up all three gdoi CLIs share: strict, --help without exiting, no --version, usage
// errors collected instead of printed, and the parse awaited as a promise.
import type { Argv } from 'yargs'

export interface CliParse {
  /** The first usage error yargs reported (unknown option, missing argument, …), if any. */
  readonly failure?: string
  readonly args: Record<string, unknown>
  /** What yargs would have printed (the help text after --help). */
  readonly output: string
}

export async function parseCli(parser: Argv, argv: readonly string[]): Promise<CliParse> {
  let failure: string | undefined
  parser
    .strict()
    .help()
    .version(false)
    .exitProcess(false)
    .wrap(null)
    .fail((msg, err) => {
      failure = msg || err.message
    })
  const res = await new Promise<{ args: Record<string, unknown>; output: string }>((resolve) => {
    void parser.parse([...argv], {}, (_err, args, output) => resolve({ args: args as Record<string, unknown>, output }))
  })
  return failure === undefined ? res : { ...res, failure }
}
