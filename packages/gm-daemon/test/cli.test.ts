// gdoi-gm argument handling (yargs strict) and its failure messages/exit codes. The `run` path with
// real I/O is covered by udp.test.ts through runGroupMember (a real `run` would open a TUN device).
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cliMain, ExitCode } from '../src/cli-main.js'

function io(): { out: string[]; err: string[]; stdout(s: string): void; stderr(s: string): void } {
  const out: string[] = []
  const err: string[] = []
  return { out, err, stdout: (s) => out.push(s), stderr: (s) => err.push(s) }
}

t.test('help and usage errors', async (t) => {
  let x = io()
  t.equal(await cliMain(['--help'], x), ExitCode.OK)
  t.match(x.out.join(''), /status/)
  t.match(x.out.join(''), /reload/)

  x = io()
  t.equal(await cliMain([], x), ExitCode.USAGE, 'run without --config')
  t.match(x.err.join(''), /--config/)

  x = io()
  t.equal(await cliMain(['status', '--bogus'], x), ExitCode.USAGE, 'strict: unknown option')
  t.match(x.err.join(''), /bogus/)

  x = io()
  t.equal(await cliMain(['frobnicate', '--config', 'x'], x), ExitCode.USAGE, 'unknown command')

  x = io()
  t.equal(await cliMain(['run', '--config', 'gm.yaml', '--log-level', 'loud'], x), ExitCode.USAGE, 'bad log level')
})

t.test('runtime failures exit 1 with a message', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gdoi-gm-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  let x = io()
  t.equal(await cliMain(['status', '--socket', join(dir, 'nope.sock')], x), ExitCode.FAILURE)
  t.match(x.err.join(''), /cannot connect/)

  x = io()
  t.equal(await cliMain(['run', '--config', join(dir, 'missing.yaml')], x), ExitCode.FAILURE)
  t.match(x.err.join(''), /cannot read the file/)

  const bad = join(dir, 'bad.yaml')
  writeFileSync(bad, 'group: { name: X }\nkeyServers: []\n')
  x = io()
  t.equal(await cliMain(['run', '--config', bad], x), ExitCode.FAILURE)
  t.match(x.err.join(''), /keyServers/)

  x = io()
  t.equal(await cliMain(['reload', '--config', bad], x), ExitCode.FAILURE, 'reload --config with a broken file')
})
