// The gdoi-pcap executable (bin/gdoi-pcap.js imports the build of this file): wires main() to the
// real file system and streams. Everything else lives in gdoi-pcap-main.ts and src/pcap (pure).
import { readFileSync } from 'node:fs'
import { main } from './gdoi-pcap-main.js'

process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0) // output piped into head(1) and closed
  throw e
})

process.exitCode = await main(process.argv.slice(2), {
  readFile: (path) => readFileSync(path),
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
})
