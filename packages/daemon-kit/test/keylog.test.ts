import t from 'tap'
import { readFileSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import { openKeyLog, KeyLogError } from '../src/keylog.js'

const LINE1 = 'IKEV1 a91b9d5035d8fc4f 272325e695db688b ENC=des-ede3-cbc KEY=80cd HASH=sha1'
const LINE2 = 'ESP 1122aabb TRANSFORM=3 ENCKEY=4142 AUTH=2 AUTHKEY=3132'

t.test('creates the file 0600 and appends whole lines', async (t) => {
  const dir = t.testdir()
  const path = join(dir, 'keylog')
  const k = await openKeyLog(path)
  k.write(LINE1)
  k.writeLines([LINE2, '# comment'])
  k.writeLines([])
  t.equal(k.linesWritten, 3)
  await k.close()
  await k.close()
  t.equal(statSync(path).mode & 0o777, 0o600)
  const again = await openKeyLog(path)
  again.write(LINE2)
  await again.close()
  t.equal(readFileSync(path, 'utf8'), `${LINE1}\n${LINE2}\n# comment\n${LINE2}\n`, 'append only')
})

t.test('an existing file with wider permissions is narrowed to 0600', async (t) => {
  const dir = t.testdir({ keylog: 'old line\n' })
  const path = join(dir, 'keylog')
  chmodSync(path, 0o644)
  const k = await openKeyLog(path)
  await k.close()
  t.equal(statSync(path).mode & 0o777, 0o600)
  t.equal(readFileSync(path, 'utf8'), 'old line\n')
})

t.test('refuses a symlink, a directory, line breaks, writes after close', async (t) => {
  const dir = t.testdir({ target: '', sub: {} })
  const link = join(dir, 'link')
  symlinkSync(join(dir, 'target'), link)
  await t.rejects(openKeyLog(link), { name: 'KeyLogError', message: /symbolic link/ })
  await t.rejects(openKeyLog(join(dir, 'sub')), KeyLogError)
  await t.rejects(openKeyLog(join(dir, 'missing-dir', 'keylog')), { message: /ENOENT/ })
  const k = await openKeyLog(join(dir, 'kl'))
  t.throws(() => k.write('a\nb'), KeyLogError)
  t.throws(() => k.write('a\rb'), KeyLogError)
  await k.close()
  t.throws(() => k.write('x'), /closed/)
  writeFileSync(join(dir, 'x'), '')
})
