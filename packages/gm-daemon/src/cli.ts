// gdoi-gm entry point (bin/gdoi-gm.js imports the built dist/cli.js): the real process around cliMain.
import { cliMain } from './cli-main.js'

process.exitCode = await cliMain(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  onSignal: (signal, fn) => process.on(signal, fn),
})
