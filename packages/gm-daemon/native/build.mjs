// Builds the N-API addon against the headers of the Node.js that runs this script, so node-gyp never
// tries to download headers (this machine, CI and Docker builds have no access to nodejs.org).
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'

const nodeDir = path.resolve(process.execPath, '..', '..')
if (!existsSync(path.join(nodeDir, 'include', 'node', 'node_api.h'))) {
  console.error(`gm-daemon: Node.js headers not found under ${nodeDir}/include/node; install the Node.js headers (Debian: nodejs ships them)`)
  process.exit(1)
}
const gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js')
const r = spawnSync(process.execPath, [gyp, 'rebuild', '--silent', `--nodedir=${nodeDir}`], { stdio: 'inherit' })
process.exit(r.status ?? 1)
