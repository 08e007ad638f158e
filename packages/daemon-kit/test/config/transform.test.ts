import t from 'tap'
import { parseEspTransform, espTransformName, espTransformShowName, espTransformWire, kekAlgorithmWire, ikePolicyWire } from '../../src/config/transform.js'

const p = (s: string) => parseEspTransform(s.split(' '))

t.test('IOS transform words', (t) => {
  t.same(p('esp-aes 256 esp-sha-hmac'), { ok: true, transform: { cipher: 'aes-cbc', keyBits: 256, integrity: 'hmac-sha1' } })
  t.same(p('esp-aes esp-sha256-hmac'), { ok: true, transform: { cipher: 'aes-cbc', keyBits: 128, integrity: 'hmac-sha256' } })
  t.same(p('esp-sha-hmac esp-aes 128'), { ok: true, transform: { cipher: 'aes-cbc', keyBits: 128, integrity: 'hmac-sha1' } })
  t.same(p('esp-gcm 256'), { ok: true, transform: { cipher: 'aes-gcm', keyBits: 256, integrity: null } })
  t.same(p('esp-gcm'), { ok: true, transform: { cipher: 'aes-gcm', keyBits: 128, integrity: null } })
  t.same(p('esp-3des esp-sha-hmac'), { ok: true, transform: { cipher: '3des-cbc', keyBits: 192, integrity: 'hmac-sha1' } })
  t.same(p('esp-gcm 256 esp-sha-hmac'), { ok: false, reason: 'esp-gcm is authenticated encryption: remove the integrity transform' })
  t.same(p('esp-aes 256'), { ok: false, reason: 'esp-aes needs an integrity transform (esp-sha-hmac or esp-sha256-hmac)' })
  t.same(p('ah-sha-hmac esp-aes'), { ok: false, reason: 'ah-sha-hmac: AH is refused for group SAs (ESP only)' })
  t.match(p('esp-aes 512 esp-sha-hmac'), { ok: false, reason: /key size must be 128, 192, 256/ })
  t.match(p('esp-gcm 192'), { ok: false, reason: /128, 256/ })
  t.match(p('esp-md5-hmac esp-aes'), { ok: false, reason: /not supported/ })
  t.match(p('esp-aes esp-3des esp-sha-hmac'), { ok: false, reason: /more than one encryption/ })
  t.match(p('esp-aes esp-sha-hmac esp-sha256-hmac'), { ok: false, reason: /more than one integrity/ })
  t.match(p('esp-sha-hmac'), { ok: false, reason: /no encryption transform/ })
  t.match(p('comp-lzs'), { ok: false, reason: /IPComp/ })
  t.match(p('esp-foo'), { ok: false, reason: 'unknown transform "esp-foo"' })
  t.end()
})

t.test('names and SA TEK numbers', (t) => {
  const a = { cipher: 'aes-cbc', keyBits: 256, integrity: 'hmac-sha1' } as const
  t.equal(espTransformName(a), 'esp-aes 256 esp-sha-hmac')
  t.equal(espTransformShowName(a), 'esp-256-aes esp-sha-hmac')
  t.same(espTransformWire(a), { transformId: 12, authAlgorithm: 2, keyLengthBits: 256 })
  const g = { cipher: 'aes-gcm', keyBits: 128, integrity: null } as const
  t.equal(espTransformName(g), 'esp-gcm 128')
  t.same(espTransformWire(g), { transformId: 20, keyLengthBits: 128 })
  const d = { cipher: '3des-cbc', keyBits: 192, integrity: 'hmac-sha256' } as const
  t.equal(espTransformName(d), 'esp-3des esp-sha256-hmac')
  t.same(espTransformWire(d), { transformId: 3, authAlgorithm: 5 })
  t.same(kekAlgorithmWire('aes-256-cbc'), { kekAlgorithm: 3, keyLengthBits: 256 })
  t.same(kekAlgorithmWire('3des'), { kekAlgorithm: 2, keyLengthBits: 192 })
  t.same(ikePolicyWire({ encryption: 'aes-256', hash: 'sha1', authentication: 'pre-share' }), { encryption: 7, keyLengthBits: 256, hash: 2, authentication: 1 })
  t.same(ikePolicyWire({ encryption: '3des', hash: 'sha256', authentication: 'rsa-sig' }), { encryption: 5, hash: 4, authentication: 3 })
  for (const s of ['esp-aes 128 esp-sha256-hmac', 'esp-gcm 256', 'esp-3des esp-sha-hmac']) {
    const r = p(s)
    t.ok(r.ok && espTransformName(r.transform) === s, `round trip ${s}`)
  }
  t.end()
})
