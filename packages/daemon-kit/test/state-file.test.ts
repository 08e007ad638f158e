import t from 'tap'
import { readdirSync, readFileSync, statSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { writeJsonAtomic, writeFileAtomic, readJsonFile, removeStaleTemps, ensurePrivateDir, StateFileError } from '../src/state-file.js'

t.test('atomic JSON write, mode 0600, read back', async (t) => {
  const dir = t.testdir()
  const path = join(dir, 'state.json')
  t.equal(await readJsonFile(path), undefined, 'missing file → undefined')
  await writeJsonAtomic(path, { a: 1 })
  t.same(await readJsonFile(path), { a: 1 })
  t.equal(statSync(path).mode & 0o777, 0o600)
  await writeJsonAtomic(path, { a: 2 })
  t.same(await readJsonFile(path), { a: 2 })
  t.same(readdirSync(dir), ['state.json'], 'no temp files left')
  await writeFileAtomic(join(dir, 'pub'), 'x', { mode: 0o644 })
  t.equal(statSync(join(dir, 'pub')).mode & 0o777, 0o644)
})

t.test('a crash between writing the temp file and renaming leaves the old state intact', async (t) => {
  const dir = t.testdir()
  const path = join(dir, 'state.json')
  await writeJsonAtomic(path, { generation: 1 })
  let tmpSeen = ''
  await t.rejects(
    writeJsonAtomic(path, { generation: 2 }, {
      afterTempWrite: (tmp) => {
        tmpSeen = tmp
        throw new Error('simulated crash')
      },
    }),
    /simulated crash/,
  )
  const names = readdirSync(dir).sort()
  t.equal(names.length, 2, 'the temp file was left behind, as after a real crash')
  t.ok(names.some((n) => n.startsWith('state.json.tmp-')))
  t.same(JSON.parse(readFileSync(tmpSeen, 'utf8')), { generation: 2 }, 'the temp holds the unfinished write')
  t.equal(statSync(tmpSeen).mode & 0o777, 0o600, 'even the temp file is private')
  t.same(await readJsonFile(path), { generation: 1 }, 'readers still see the old state')

  t.same(await removeStaleTemps(path), [names.find((n) => n !== 'state.json')])
  t.same(readdirSync(dir), ['state.json'])

  // And the next successful write also sweeps leftovers.
  writeFileSync(join(dir, 'state.json.tmp-1-deadbeef'), '{')
  await writeJsonAtomic(path, { generation: 3 })
  t.same(readdirSync(dir), ['state.json'])
  t.same(await readJsonFile(path), { generation: 3 })
})

t.test('a corrupt file is reported, not replaced', async (t) => {
  const dir = t.testdir({ 'state.json': '{"groups": {' })
  const path = join(dir, 'state.json')
  const err = await readJsonFile(path).catch((e: unknown) => e)
  t.ok(err instanceof StateFileError)
  t.match(err, { code: 'ERR_STATE_CORRUPT', path, message: /not valid JSON/ })
  t.equal(readFileSync(path, 'utf8'), '{"groups": {', 'file untouched')
  const dirErr = await readJsonFile(dir).catch((e: unknown) => e)
  t.match(dirErr, { code: 'ERR_STATE_IO' })
})

t.test('ensurePrivateDir creates 0700 and warns about open directories', async (t) => {
  const dir = t.testdir()
  const p = join(dir, 'a', 'b')
  t.equal(await ensurePrivateDir(p), undefined)
  t.equal(statSync(p).mode & 0o777, 0o700)
  mkdirSync(join(dir, 'open'))
  chmodSync(join(dir, 'open'), 0o755)
  t.match(await ensurePrivateDir(join(dir, 'open')), /mode 755/)
  writeFileSync(join(dir, 'file'), '')
  await t.rejects(ensurePrivateDir(join(dir, 'file')))
})
