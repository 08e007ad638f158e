import t from 'tap'
import { statSync, readFileSync, writeFileSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import { createVerify, createSign, generateKeyPairSync, createPublicKey } from 'node:crypto'
import { createLogger, createLogSink } from '@gdoi/daemon-kit'
import { loadOrCreateSigningKey, loadSigningKey, exportSigningKeyPem, signingKeyPath, signingKeyRef } from '../../src/store/rsa-key.js'

t.test('generated on first start into the state directory (0600 PEM), loaded afterwards', async (t) => {
  const dir = join(t.testdir(), 'state')
  const cfg = { source: 'generate', bits: 2048, label: 'REKEYRSA' } as const
  const [k1, k1b] = await Promise.all([loadOrCreateSigningKey(cfg, dir), loadOrCreateSigningKey(cfg, dir)])
  t.equal(k1, k1b, 'concurrent callers share one generation')
  t.ok(k1.created)
  t.equal(k1.bits, 2048)
  t.equal(k1.path, join(dir, 'rekey-REKEYRSA.pem'))
  t.equal(statSync(k1.path).mode & 0o777, 0o600)
  t.equal(statSync(dir).mode & 0o777, 0o700)
  t.match(readFileSync(k1.path, 'utf8'), /^-----BEGIN PRIVATE KEY-----/)
  t.equal(k1.publicKeySpkiDer.length, 294, 'DER SPKI of RSA-2048 (IOS "sig key length")')
  t.match(k1.spkiSha256, /^[0-9a-f]{64}$/)

  const k2 = await loadOrCreateSigningKey(cfg, dir)
  t.notOk(k2.created)
  t.equal(k2.spkiSha256, k1.spkiSha256, 'the same key after a restart')
  const sig = createSign('sha1').update('rekey').sign(k2.privateKey)
  t.ok(createVerify('sha1').update('rekey').verify(createPublicKey({ key: Buffer.from(k1.publicKeySpkiDer), format: 'der', type: 'spki' }), sig))

  await t.rejects(loadOrCreateSigningKey({ ...cfg, bits: 3072 }, dir), { code: 'ERR_SIGNING_KEY', message: /holds a 2048-bit key but the configuration asks for 3072 bits/ })
  t.same(signingKeyRef(k1), { label: 'REKEYRSA', path: k1.path, bits: 2048, spkiSha256: k1.spkiSha256 })
  t.throws(() => signingKeyPath(dir, '../evil'), { code: 'ERR_SIGNING_KEY' })
})

t.test('exported for a second key server, which loads it from a file', async (t) => {
  const dir = t.testdir()
  const k = await loadOrCreateSigningKey({ source: 'generate', bits: 2048, label: 'K' }, join(dir, 'ks1'))
  const pem = exportSigningKeyPem(k)
  const copy = join(dir, 'copied.pem')
  writeFileSync(copy, pem, { mode: 0o600 })
  const k2 = await loadOrCreateSigningKey({ source: 'file', path: copy, label: 'copied' }, join(dir, 'ks2'))
  t.equal(k2.spkiSha256, k.spkiSha256, 'both key servers sign with the same key')
  t.notOk(k2.created)
})

t.test('refuses world-readable, non-RSA, short and unreadable keys', async (t) => {
  const dir = t.testdir()
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' })
  const short = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs1' })
  writeFileSync(join(dir, 'ec.pem'), ec, { mode: 0o600 })
  writeFileSync(join(dir, 'short.pem'), short, { mode: 0o600 })
  writeFileSync(join(dir, 'open.pem'), short)
  chmodSync(join(dir, 'open.pem'), 0o644)
  writeFileSync(join(dir, 'junk.pem'), 'junk', { mode: 0o600 })
  await t.rejects(loadSigningKey(join(dir, 'ec.pem'), 'x'), { message: /not an RSA key \(ec\)/ })
  await t.rejects(loadSigningKey(join(dir, 'short.pem'), 'x'), { message: /1024-bit RSA is too weak/ })
  await t.rejects(loadSigningKey(join(dir, 'open.pem'), 'x'), { message: /readable by other users \(mode 0644\); chmod 600 it/ })
  await t.rejects(loadSigningKey(join(dir, 'junk.pem'), 'x'), { message: /not a readable private key/ })
  await t.rejects(loadSigningKey(join(dir, 'missing.pem'), 'x'), { message: /cannot read .*ENOENT/ })
})

t.test('a SigningKey in a log line shows its reference only', async (t) => {
  const k = await loadOrCreateSigningKey({ source: 'generate', bits: 2048, label: 'L' }, t.testdir())
  const sink = createLogSink()
  createLogger({ destination: sink.stream, format: 'json' }).info({ signing: k, k }, 'key')
  const text = sink.text()
  t.notMatch(text, /PRIVATE KEY|MII/)
  t.match(text, new RegExp(k.spkiSha256))
  t.equal(JSON.stringify(k), JSON.stringify(signingKeyRef(k)))
})
