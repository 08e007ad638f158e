// SKEYID family and Ka against traces A/B (gdoid), strongSwan (AES-256/SHA-1/MODP-1536) and the §7.1
// SHA-256 variant.
import { inspect } from 'node:util'
import t from 'tap'
import { createHmac } from 'node:crypto'
import { deriveSkeyids, encryptionKey, prf, skeyidPsk, skeyidSig } from '../../src/crypto/index.js'
import { strongswan, synthetic71, traceA, traceB } from './fixtures.js'
import { b, hex } from './util.js'

for (const [name, tr] of [['trace A', traceA], ['trace B', traceB]] as const) {
  t.test(`${name}: SKEYID, SKEYID_d/_a/_e and the 3DES key (K1‖K2 expansion)`, (t) => {
    const skeyid = skeyidPsk('sha1', b(tr.psk), b(tr.niB), b(tr.nrB))
    t.equal(hex(skeyid), tr.skeyid)
    const k = deriveSkeyids('sha1', skeyid, b(tr.gxy), b(tr.ckyI), b(tr.ckyR))
    t.equal(hex(k.d), tr.skeyidD)
    t.equal(hex(k.a), tr.skeyidA)
    t.equal(hex(k.e), tr.skeyidE)
    t.equal(hex(prf('sha1', k.e, Uint8Array.of(0))), tr.k1, 'K1 = prf(SKEYID_e, 0x00)')
    t.equal(hex(prf('sha1', k.e, b(tr.k1))), tr.k2, 'K2 = prf(SKEYID_e, K1)')
    t.equal(hex(encryptionKey('sha1', k.e, 24)), tr.ka)
    t.end()
  })
}

t.test('strongSwan Main Mode (PSK, AES-256, SHA-1, MODP-1536): every SKEYID and Ka', (t) => {
  const s = strongswan
  const skeyid = skeyidPsk('sha1', b(s.psk), b(s.niB), b(s.nrB))
  t.equal(hex(skeyid), s.skeyid)
  const k = deriveSkeyids('sha1', skeyid, b(s.gxy), b(s.ckyI), b(s.ckyR))
  t.equal(hex(k.d), s.skeyidD)
  t.equal(hex(k.a), s.skeyidA)
  t.equal(hex(k.e), s.skeyidE)
  t.equal(hex(encryptionKey('sha1', k.e, 32)), s.ka, '32-octet Ka from a 20-octet SKEYID_e')
  t.equal(b(s.gxy).length, 192, 'g^xy is prime-length')
  t.end()
})

t.test('§7.1: SHA-256 SKEYIDs from trace A inputs; AES key lengths with and without expansion', (t) => {
  const v = synthetic71.sha256Aes256
  const skeyid = skeyidPsk('sha256', b(traceA.psk), b(traceA.niB), b(traceA.nrB))
  t.equal(hex(skeyid), v.skeyid)
  const k = deriveSkeyids('sha256', skeyid, b(traceA.gxy), b(traceA.ckyI), b(traceA.ckyR))
  t.equal(hex(k.d), v.skeyidD)
  t.equal(hex(k.a), v.skeyidA)
  t.equal(hex(k.e), v.skeyidE)
  t.equal(hex(encryptionKey('sha256', k.e, 32)), v.ka, 'no expansion when SKEYID_e is long enough')
  t.equal(hex(encryptionKey('sha1', b(traceA.skeyidE), 32)), synthetic71.sha1Aes256.ka)
  t.equal(hex(encryptionKey('sha1', b(traceA.skeyidE), 16)), synthetic71.sha1Aes128.ka, 'AES-128: SKEYID_e[0:16]')
  t.end()
})

t.test('encryptionKey returns a copy and expands past two blocks', (t) => {
  const e = b(traceA.skeyidE)
  const ka = encryptionKey('sha1', e, 16)
  ka.fill(0)
  t.equal(hex(e), traceA.skeyidE, 'zeroing Ka leaves SKEYID_e alone')
  const long = encryptionKey('md5', e, 40) // 16-octet prf: K1‖K2‖K3
  const k1 = prf('md5', e, Uint8Array.of(0))
  const k2 = prf('md5', e, k1)
  const k3 = prf('md5', e, k2)
  t.equal(hex(long), (hex(k1) + hex(k2) + hex(k3)).slice(0, 80))
  t.throws(() => encryptionKey('sha1', e, 0), RangeError)
  t.end()
})

t.test('signature-auth SKEYID = prf(Ni_b ‖ Nr_b, g^xy)', (t) => {
  const want = createHmac('sha1', Buffer.concat([b(traceA.niB), b(traceA.nrB)])).update(b(traceA.gxy)).digest('hex')
  t.equal(hex(skeyidSig('sha1', b(traceA.niB), b(traceA.nrB), b(traceA.gxy))), want)
  t.end()
})

t.test('SKEYID sets never print key bytes; wrong cookie sizes are caller bugs', (t) => {
  const k = deriveSkeyids('sha1', b(traceA.skeyid), b(traceA.gxy), b(traceA.ckyI), b(traceA.ckyR))
  t.equal(JSON.stringify(k), '"[key]"')
  t.equal(JSON.stringify({ keys: k }), '{"keys":"[key]"}')
  t.equal(inspect(k), '[key]')
  t.notMatch(`${inspect({ k })}`, traceA.skeyidA.slice(0, 8))
  t.same(Object.keys(k), ['skeyid', 'd', 'a', 'e'], 'redaction hooks are not enumerable')
  t.throws(() => deriveSkeyids('sha1', b(traceA.skeyid), b(traceA.gxy), b(traceA.ckyI).subarray(1), b(traceA.ckyR)), RangeError)
  t.end()
})
