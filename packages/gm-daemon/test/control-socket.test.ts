// Which control socket the daemon opens and what it says about it. examples/gm1.yaml deliberately
// uses the default /run/gdoi/gm.sock (so that gm1.ios.cfg, which has no words for it, gives the same
// GmConfig — examples/README.md); gm2/gm3 name their own. The daemon must open exactly the configured
// socket and name it (and the directory a permission warning is about) in its log.
import t from 'tap'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogSink, LogEvent } from '@gdoi/daemon-kit'
import { runGroupMember } from '../src/daemon.js'
import { loadGmConfig } from '../src/config/load.js'

const EXAMPLES = join(import.meta.dirname, '../../../examples')

t.test('examples: gm1.yaml takes the default socket on purpose, gm2/gm3 their own', async (t) => {
  const paths = await Promise.all([1, 2, 3].map(async (i) => (await loadGmConfig(join(EXAMPLES, `gm${i}.yaml`))).config.controlSocket))
  t.same(paths, ['/run/gdoi/gm.sock', '/run/gdoi/gm2.sock', '/run/gdoi/gm3.sock'])
  t.equal((await loadGmConfig(join(EXAMPLES, 'gm1.ios.cfg'))).config.controlSocket, '/run/gdoi/gm.sock', 'gm1.ios.cfg: the same default')
})

t.test('the configured control socket (relative to the config file) is opened and named in the log', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gdoi-gm-sock-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'run'))
  chmodSync(join(dir, 'run'), 0o755) // like a /run/gdoi made by someone else: the daemon warns
  const configPath = join(dir, 'gm1.yaml')
  writeFileSync(configPath, `
group: { name: LAB-GRP, identity: { number: 1234 } }
keyServers: ["127.0.1.1:9"]
local: { address: 127.0.1.4, port: 0 }
ike:
  policies: [{ encryption: aes-256, hash: sha1, group: 2 }]
  preSharedKeys: [{ peer: 127.0.1.1, key: not-a-secret-test-key }]
controlSocket: run/gm1.sock
log: { level: info, format: json }
`)
  const sink = createLogSink()
  const d = await runGroupMember({ configPath, logDestination: sink.stream, dataPlane: null })
  t.teardown(() => d.close())
  const sock = join(dir, 'run', 'gm1.sock')
  t.equal(d.controlPath, sock)
  t.ok(statSync(sock).isSocket(), 'socket at the configured path')
  const ready = sink.lines().find((l) => l['msg'] === 'control socket ready')
  t.equal(ready?.['controlSocket'], sock, 'the log names the socket it opened')
  const warn = sink.lines().filter((l) => l['event'] === LogEvent.CONFIG_WARNING)
  t.equal(warn.length, 1, 'one warning, with the configuration-warning event')
  t.equal(warn[0]?.['controlSocket'], sock)
  t.equal(warn[0]?.['dir'], join(dir, 'run'), 'and the directory it is about')
  t.match(warn[0]?.['msg'], /mode 755/)
})
