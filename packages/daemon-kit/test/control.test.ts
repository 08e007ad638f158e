import t from 'tap'
import { mkdtempSync, statSync, chmodSync, writeFileSync, rmSync, existsSync } from 'node:fs'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { startControlServer, controlRequest, controlJson, ControlError } from '../src/control.js'
import { asKey } from '../src/secret.js'
import { createLogger, createLogSink } from '../src/log.js'

// Unix socket paths are limited to ~108 bytes: use a short temp dir, not tap's fixture dir.
function tmp(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'gdoi-ctl-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const status = { group: 'GETVPN-GRP', members: 3, kekSpi: Uint8Array.from([0xab, 0xcd]), kekKey: asKey(Uint8Array.from([1, 2, 3])), seq: 7n }

t.test('status round trip; socket 0600 in a 0700 directory', async (t) => {
  const dir = join(tmp(t), 'run', 'gdoi')
  const path = join(dir, 'ks.sock')
  let reloads = 0
  const srv = await startControlServer({
    path,
    handlers: {
      status: () => status,
      reload: async () => {
        reloads++
        return { reloaded: true }
      },
    },
  })
  t.teardown(() => srv.close())
  t.same(srv.warnings, [])
  t.equal(statSync(path).mode & 0o777, 0o600, 'socket mode 0600')
  t.equal(statSync(dir).mode & 0o777, 0o700, 'directory mode 0700')
  t.ok(statSync(path).isSocket())

  const r = await controlRequest(path, { cmd: 'status' })
  t.same(r, { group: 'GETVPN-GRP', members: 3, kekSpi: 'abcd', kekKey: '[key]', seq: '7' }, 'bytes as hex, keys hidden, bigint as text')
  t.same(await controlRequest(path, { cmd: 'reload' }), { reloaded: true })
  t.equal(reloads, 1)
})

t.test('errors: unknown command, failing handler, bad JSON, several requests on one connection', async (t) => {
  const path = join(tmp(t), 'gm.sock')
  const srv = await startControlServer({
    path,
    handlers: {
      status: () => ({ ok: 1 }),
      reload: () => {
        throw Object.assign(new Error('groups[0].acl: needs at least 1 entry'), { code: 'ERR_CONFIG' })
      },
    },
    log: createLogger({ destination: createLogSink().stream, format: 'json' }),
  })
  t.teardown(() => srv.close())
  await t.rejects(controlRequest(path, { cmd: 'nope' }), { code: 'ERR_UNKNOWN_COMMAND', message: /known: status, reload/ })
  await t.rejects(controlRequest(path, { cmd: 'reload' }), { code: 'ERR_CONFIG', message: /needs at least 1 entry/ })
  await t.rejects(controlRequest(path, { cmd: 'toString' }), { code: 'ERR_UNKNOWN_COMMAND' }, 'no prototype lookups')

  const raw = await new Promise<string[]>((resolve, reject) => {
    const s = createConnection(path)
    let buf = ''
    s.setEncoding('utf8')
    s.on('error', reject)
    s.on('data', (d: string) => {
      buf += d
      const lines = buf.split('\n').filter((l) => l !== '')
      if (lines.length === 3) {
        s.destroy()
        resolve(lines)
      }
    })
    s.write('not json\n{"id":1,"cmd":"status"}\n{"id":"b","cmd":"status"}\n')
  })
  const res = raw.map((l) => JSON.parse(l) as Record<string, unknown>)
  t.match(res[0], { ok: false, error: { code: 'ERR_BAD_REQUEST' } })
  t.same(res[1], { id: 1, ok: true, result: { ok: 1 } })
  t.same(res[2], { id: 'b', ok: true, result: { ok: 1 } })
})

t.test('an over-long request is refused', async (t) => {
  const path = join(tmp(t), 'x.sock')
  const srv = await startControlServer({ path, handlers: { status: () => 1 }, maxLineBytes: 100 })
  t.teardown(() => srv.close())
  await t.rejects(controlRequest(path, { cmd: 'status', pad: 'x'.repeat(200) }), { code: 'ERR_TOO_LONG' })
})

t.test('stale socket from a crashed daemon is replaced; a live one is not; a non-socket is refused', async (t) => {
  const dir = tmp(t)
  const path = join(dir, 'ks.sock')
  const first = await startControlServer({ path, handlers: { status: () => 'first' } })
  await t.rejects(startControlServer({ path, handlers: {} }), { code: 'ERR_CONTROL_IN_USE' })
  await first.close()
  // Simulate a crash: a process binds the socket and dies without cleaning up.
  spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`])
  t.ok(existsSync(path), 'a dead socket file is there')
  const second = await startControlServer({ path, handlers: { status: () => 'second' } })
  t.equal(await controlRequest(path, { cmd: 'status' }), 'second')
  await second.close()
  t.notOk(existsSync(path), 'close removes the socket')

  writeFileSync(path, 'not a socket')
  await t.rejects(startControlServer({ path, handlers: {} }), { code: 'ERR_CONTROL_PATH' })
})

t.test('an existing group/world-accessible directory gives a warning', async (t) => {
  const dir = tmp(t)
  chmodSync(dir, 0o755)
  const srv = await startControlServer({ path: join(dir, 'ks.sock'), handlers: {} })
  t.teardown(() => srv.close())
  t.match(srv.warnings, [/mode 755/])
})

t.test('client errors: no daemon, timeout', async (t) => {
  const dir = tmp(t)
  await t.rejects(controlRequest(join(dir, 'none.sock'), { cmd: 'status' }), { code: 'ERR_CONTROL_CONNECT', message: /is the daemon running/ })
  const path = join(dir, 'slow.sock')
  const srv = await startControlServer({ path, handlers: { status: () => new Promise(() => {}) } })
  t.teardown(() => srv.close())
  await t.rejects(controlRequest(path, { cmd: 'status' }, { timeoutMs: 50 }), { code: 'ERR_CONTROL_TIMEOUT' })
})

const notRoot = process.getuid?.() !== 0 ? 'needs root to run a client as another uid' : false
t.test('a non-root user cannot connect, even when the directory is open (socket mode 0600)', { skip: notRoot }, async (t) => {
  const dir = tmp(t)
  chmodSync(dir, 0o755) // let uid 65534 reach the socket file itself
  const path = join(dir, 'ks.sock')
  const srv = await startControlServer({ path, handlers: { status: () => 'secret status' } })
  t.teardown(() => srv.close())
  const client = `const s=require('net').createConnection(${JSON.stringify(path)});s.on('connect',()=>{console.log('CONNECTED');process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(0)})`
  const asNobody = spawnSync(process.execPath, ['-e', client], { uid: 65534, gid: 65534, encoding: 'utf8' })
  t.equal(asNobody.stdout.trim(), 'EACCES', 'uid 65534 is refused by the kernel')
  const asRoot = spawnSync(process.execPath, ['-e', client], { encoding: 'utf8' })
  t.equal(asRoot.stdout.trim(), 'CONNECTED', 'root connects')
})

t.test('controlJson', (t) => {
  t.equal(controlJson({ a: new Map([['x', 1]]), s: new Set([1]), k: asKey(new Uint8Array(2)) }), '{"a":{"x":1},"s":[1],"k":"[key]"}')
  t.ok(new ControlError('E', 'm') instanceof Error)
  t.end()
})
