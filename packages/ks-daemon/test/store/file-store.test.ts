import t from 'tap'
import { readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import { asKey, createLogger, createLogSink, isKeyMaterial } from '@gdoi/daemon-kit'
import { openFileStore, STATE_FILE_NAME, LOCK_FILE_NAME } from '../../src/store/file-store.js'
import { createMemoryStore } from '../../src/store/memory-store.js'
import { encodeState, decodeState } from '../../src/store/state-codec.js'
import { StoreError, type KsState } from '../../src/store/types.js'

const fill = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v)

function sampleState(seq = 7): KsState {
  return {
    version: 1,
    savedAtMs: 1_700_000_000_000,
    groups: {
      'GETVPN-GRP': {
        kek: {
          spi: fill(16, 0xab),
          algorithm: 'aes-256-cbc',
          algorithmKey: asKey(fill(48, 0x11)),
          createdMs: 1_700_000_000_000,
          expiresMs: 1_700_086_400_000,
          seq,
        },
        teks: [
          {
            spi: 0x1122aabb,
            transform: { cipher: 'aes-cbc', keyBits: 256, integrity: 'hmac-sha1' },
            encKey: asKey(fill(32, 0x22)),
            authKey: asKey(fill(20, 0x33)),
            createdMs: 1_700_000_000_000,
            expiresMs: 1_700_003_600_000,
          },
          {
            spi: 0x3344ccdd,
            transform: { cipher: 'aes-gcm', keyBits: 128, integrity: null },
            encKey: asKey(fill(20, 0x44)),
            authKey: null,
            createdMs: 1_700_003_000_000,
            expiresMs: 1_700_006_600_000,
          },
        ],
        members: [
          { address: '127.0.1.11', port: 848, identity: 'ipv4 127.0.1.11', registeredAtMs: 1_700_000_001_000, missedPushes: 0, lastAckSeq: 7, senderIds: [1] },
          { address: '127.0.1.12', port: 848, identity: 'ipv4 127.0.1.12', registeredAtMs: 1_700_000_002_000, missedPushes: 2, lastAckSeq: null, senderIds: [] },
        ],
        senderIdNext: 2,
        signingKey: { label: 'REKEYRSA', path: '/var/lib/gdoi/ks/rekey-REKEYRSA.pem', bits: 2048, spkiSha256: 'a'.repeat(64) },
      },
      'NO-REKEY': { kek: null, teks: [], members: [], senderIdNext: 0, signingKey: null },
    },
  }
}

const bytesOf = (s: KsState): unknown => JSON.parse(JSON.stringify(encodeState(s)))

t.test('save and load round trip; 0600 file in a 0700 directory; keys come back marked', async (t) => {
  const dir = join(t.testdir(), 'state')
  const store = await openFileStore({ dir })
  t.same(store.warnings, [])
  t.equal(await store.load(), undefined, 'first start: nothing saved')
  await store.save(sampleState())
  const loaded = await store.load()
  t.ok(loaded)
  t.same(bytesOf(loaded as KsState), bytesOf(sampleState()))
  const g = loaded?.groups['GETVPN-GRP']
  t.ok(g?.kek && isKeyMaterial(g.kek.algorithmKey), 'KEK key is KeyBytes')
  t.ok(g?.teks[0] && isKeyMaterial(g.teks[0].encKey))
  t.notOk(g?.kek && isKeyMaterial(g.kek.spi), 'SPIs are not keys')
  t.equal(statSync(dir).mode & 0o777, 0o700)
  t.equal(statSync(store.path).mode & 0o777, 0o600)
  const json = JSON.parse(readFileSync(store.path, 'utf8')) as { groups: Record<string, { kek: { spi: string; algorithmKey: string } }> }
  t.equal(json.groups['GETVPN-GRP']?.kek.spi, 'ab'.repeat(16), 'SPI as hex')
  t.equal(json.groups['GETVPN-GRP']?.kek.algorithmKey, Buffer.from(fill(48, 0x11)).toString('base64'), 'keys as base64')
  await store.close()
  await store.close()
  await t.rejects(store.save(sampleState()), { code: 'ERR_STATE_CLOSED' })
  const again = await openFileStore({ dir })
  t.same(bytesOf((await again.load()) as KsState), bytesOf(sampleState()), 'survives reopening')
  await again.close()
})

t.test('saves are applied in order', async (t) => {
  const store = await openFileStore({ dir: t.testdir() })
  t.teardown(() => store.close())
  await Promise.all([1, 2, 3, 4, 5].map((seq) => store.save(sampleState(seq))))
  t.equal((await store.load())?.groups['GETVPN-GRP']?.kek?.seq, 5)
  const s = sampleState(10)
  const p = store.save(s)
  ;(s.groups['GETVPN-GRP']?.kek as { seq: number }).seq = 999 // the caller changes its object after save()
  await p
  t.equal((await store.load())?.groups['GETVPN-GRP']?.kek?.seq, 10, 'encoded at call time')
})

t.test('a crash during a save leaves the previous state loadable', async (t) => {
  const dir = join(t.testdir(), 'state')
  const normal = await openFileStore({ dir })
  await normal.save(sampleState(41))
  await normal.close()
  const crash = await openFileStore({ dir, afterTempWrite: () => Promise.reject(new Error('power cut')) })
  await t.rejects(crash.save(sampleState(42)), { code: 'ERR_STATE_IO', message: /power cut/ })
  t.ok(readdirSync(dir).some((n) => n.startsWith(`${STATE_FILE_NAME}.tmp-`)), 'the half-done write is still there')
  t.equal((await crash.load())?.groups['GETVPN-GRP']?.kek?.seq, 41, 'the old state is intact')
  await crash.close()
  const after = await openFileStore({ dir })
  t.same(after.warnings, ['removed 1 unfinished state write(s) from an earlier crash'])
  t.notOk(readdirSync(dir).some((n) => n.includes('.tmp-')), 'leftovers removed on open')
  t.equal((await after.load())?.groups['GETVPN-GRP']?.kek?.seq, 41)
  await after.close()
})

t.test('a corrupt state file is a clear error and is never replaced', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['truncated JSON', '{"version":1,"groups":{', /not valid JSON/],
    ['wrong shape', JSON.stringify({ version: 1, savedAtMs: 0, groups: { G: { kek: null, teks: 'x', members: [], senderIdNext: 0, signingKey: null } } }), /groups\.G\.teks: /],
    ['short KEK SPI', JSON.stringify(JSON.parse(JSON.stringify(encodeState(sampleState())).replace('"spi":"abababababababababababababababab"', '"spi":"abab"'))), /groups\.GETVPN-GRP\.kek\.spi: expected 16 bytes of hex/],
    ['wrong key length', JSON.stringify(encodeState(sampleState())).replace(Buffer.from(fill(32, 0x22)).toString('base64'), Buffer.from(fill(16, 0x22)).toString('base64')), /teks\[0\]\.encKey: expected 32 bytes/],
    ['bad base64', JSON.stringify(encodeState(sampleState())).replace(Buffer.from(fill(20, 0x33)).toString('base64'), '!!!'), /teks\[0\]\.authKey: not base64/],
  ]
  for (const [name, content, why] of cases) {
    const dir = t.testdir({ [STATE_FILE_NAME]: content })
    const store = await openFileStore({ dir })
    const err = await store.load().catch((e: unknown) => e)
    t.ok(err instanceof StoreError, name)
    t.match(err, { code: 'ERR_STATE_CORRUPT', message: why }, name)
    t.match(err, { message: /move it aside to start with fresh keys/ }, name)
    t.notMatch(String((err as Error).message), /ERiIi|IiIi|MzMz/, `${name}: no key material in the message`)
    t.equal(readFileSync(join(dir, STATE_FILE_NAME), 'utf8'), content, `${name}: file untouched`)
    await store.close()
  }
  const dir = t.testdir({ [STATE_FILE_NAME]: JSON.stringify({ version: 2, groups: {} }) })
  const store = await openFileStore({ dir })
  await t.rejects(store.load(), { code: 'ERR_STATE_VERSION' })
  await store.close()
})

t.test('one key server per state directory; a dead owner’s lock is taken over', async (t) => {
  const dir = t.testdir()
  const a = await openFileStore({ dir })
  await t.rejects(openFileStore({ dir }), { code: 'ERR_STATE_LOCKED', message: /this process/ })
  await a.close()
  // A live other process holds it (our parent, the test runner):
  writeFileSync(join(dir, LOCK_FILE_NAME), `${process.ppid}\n`)
  await t.rejects(openFileStore({ dir }), { code: 'ERR_STATE_LOCKED', message: /in use by process/ })
  // A dead one:
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
  writeFileSync(join(dir, LOCK_FILE_NAME), `${dead.stdout}\n`)
  const b = await openFileStore({ dir })
  t.equal(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8').trim(), String(process.pid))
  await b.close()
  // A zombie (exited, its parent has not reaped it yet): it still answers kill(pid, 0), but holds
  // nothing. The parent is a Node process that starts `true` and then blocks its event loop, where libuv
  // would reap the child. (A shell that exec'd into sleep was racy: dash sometimes reaped the child
  // before the exec, and the pid was gone.)
  if (process.platform === 'linux') {
    const script = "const c = require('child_process').spawn('true'); process.stdout.write(c.pid + '\\n'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5000)"
    const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] })
    t.teardown(() => { parent.kill('SIGKILL') })
    const zombie = await new Promise<number>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))))
    for (let i = 0; i < 100 && !readFileSync(`/proc/${zombie}/stat`, 'utf8').includes(') Z '); i++) await new Promise((r) => setTimeout(r, 20))
    t.match(readFileSync(`/proc/${zombie}/stat`, 'utf8'), /\) Z /, `process ${zombie} is a zombie`)
    writeFileSync(join(dir, LOCK_FILE_NAME), `${zombie}\n`)
    const c = await openFileStore({ dir })
    t.equal(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8').trim(), String(process.pid), 'a zombie’s lock is taken over')
    await c.close()
  }
  mkdirSync(join(dir, 'file-not-dir-parent'))
  writeFileSync(join(dir, 'file-not-dir-parent', 'f'), '')
  await t.rejects(openFileStore({ dir: join(dir, 'file-not-dir-parent', 'f') }), { code: 'ERR_STATE_IO' })
})

t.test('state never reaches a log line', (t) => {
  const sink = createLogSink()
  const log = createLogger({ destination: sink.stream, format: 'json' })
  const s = sampleState()
  log.info({ state: s }, 'state')
  log.info({ kek: s.groups['GETVPN-GRP']?.kek }, 'kek')
  const text = sink.text()
  for (const b of [0x11, 0x22, 0x33, 0x44]) {
    const key = fill(16, b)
    t.notOk(text.includes(Buffer.from(key).toString('base64').slice(0, 12)), `no base64 of 0x${b.toString(16)}`)
    t.notOk(text.includes(Buffer.from(key).toString('hex')), `no hex of 0x${b.toString(16)}`)
    t.notOk(text.includes(`${b},${b},${b}`), `no byte list of ${b}`)
  }
  t.match(text, /GETVPN-GRP/)
  t.end()
})

t.test('memory store goes through the same codec', async (t) => {
  const m = createMemoryStore()
  t.equal(await m.load(), undefined)
  await m.save(sampleState(3))
  t.equal(m.saves, 1)
  const l = await m.load()
  t.same(bytesOf(l as KsState), bytesOf(sampleState(3)))
  const seeded = createMemoryStore(sampleState(9))
  t.equal((await seeded.load())?.groups['GETVPN-GRP']?.kek?.seq, 9)
  await m.close()
  await t.rejects(m.load(), { code: 'ERR_STATE_CLOSED' })
  await t.rejects(m.save(sampleState()), { code: 'ERR_STATE_CLOSED' })
  t.throws(() => decodeState({ version: 1 }, 'x'), { code: 'ERR_STATE_CORRUPT' })
})
