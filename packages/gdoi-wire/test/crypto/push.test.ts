// GROUPKEY-PUSH: trace B's push decrypts with the static KEK IV and its bare-hash signature verifies
// against the 162-octet SPKI; signPush/verifyPush round trips in both forms with a fresh RSA-2048 key.
import t from 'tap'
import { constants, createPublicKey, generateKeyPairSync, publicDecrypt, verify as cryptoVerify } from 'node:crypto'
import { inspect } from 'node:util'
import {
  CryptoError, cbcDecrypt, cbcEncrypt, hash, kekCipher, pushSignedBytes, rsaSignRaw, rsaVerifyRaw, signPush, splitKekKey,
  verifyPush, type HashName, type PushSigForm,
} from '../../src/crypto/index.js'
import { pushB } from './fixtures.js'
import { b, body, hex, walkChain } from './util.js'

const SIG = 9

/** Splits a decrypted push into P (payloads before SIG) and the SIG body. */
function splitPush(plain: Uint8Array): { p: Uint8Array; sig: Uint8Array; chainEnd: number } {
  const { payloads, end } = walkChain(plain, 18)
  const sig = payloads.find((x) => x.type === SIG)
  if (sig === undefined) throw new Error('no SIG payload')
  return { p: plain.subarray(0, sig.start), sig: sig.body, chainEnd: end }
}

t.test('trace B KEK: KEK_ALGORITHM_KEY splits IV first', (t) => {
  const { iv, key } = splitKekKey(kekCipher(2).name, b(pushB.kekAlgorithmKey))
  t.equal(hex(iv), pushB.kekIv)
  t.equal(hex(key), pushB.kekKey)
  t.equal(JSON.stringify(splitKekKey('des-ede3-cbc', b(pushB.kekAlgorithmKey))), '"[key]"')
  t.equal(inspect(splitKekKey('des-ede3-cbc', b(pushB.kekAlgorithmKey))), '[key]')
  const aes = splitKekKey('aes-128-cbc', new Uint8Array(32).map((_, i) => i))
  t.equal(hex(aes.iv), '000102030405060708090a0b0c0d0e0f', 'AES: one 16-octet block of IV')
  const err = t.throws(() => splitKekKey('des-ede3-cbc', b(pushB.kekAlgorithmKey).subarray(1))) as unknown
  t.ok(err instanceof CryptoError && err.code === 'ERR_BAD_KEY_LENGTH')
  t.end()
})

t.test('trace B push 1: decrypt with the static IV, signed bytes, bare-hash signature', (t) => {
  const wire = b(pushB.push1)
  t.equal(hex(wire.subarray(0, 28)), pushB.headerOnWire)
  const { iv, key } = splitKekKey('des-ede3-cbc', b(pushB.kekAlgorithmKey))
  const plain = cbcDecrypt('des-ede3-cbc', key, iv, body(wire))
  t.equal(hex(plain), pushB.push1Plain, 'plaintext byte-identical')
  t.equal(hex(cbcEncrypt('des-ede3-cbc', key, iv, plain)), hex(body(wire)), 're-encrypts')

  const { p, sig, chainEnd } = splitPush(plain)
  t.equal(sig.length, 128, 'RSA-1024 signature')
  t.equal(28 + chainEnd, 400, 'unpadded length 400 (on wire 404)')
  const signed = pushSignedBytes(b(pushB.kekSpi), p, sig.length)
  t.equal(hex(signed.subarray(0, 5)), hex(new TextEncoder().encode('rekey')))
  t.equal(hex(signed.subarray(5, 33)), pushB.headerHashed, 'hashed header carries Length 0x190')
  t.equal(hex(hash('sha1', signed)), pushB.signedSha1)

  const spki = b(pushB.spki)
  t.equal(spki.length, 162)
  t.ok(rsaVerifyRaw(spki, b(pushB.signedSha1), sig), 'rsaVerifyRaw with SPKI DER')
  t.ok(rsaVerifyRaw(createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }), b(pushB.signedSha1), sig), 'with a KeyObject')
  const block = publicDecrypt({ key: createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }), padding: constants.RSA_NO_PADDING }, sig)
  t.equal(hex(block), pushB.emsaBlock, 'raw RSA public operation = the published EMSA block')

  t.same(verifyPush('sha1', spki, b(pushB.kekSpi), p, sig, wire.length), { ok: true, form: 'bare', lengthVariant: 'unpadded' })
  t.end()
})

t.test('trace B push 2 (SEQ 2, same KEK, same static IV) also decrypts and verifies', (t) => {
  const wire = b(pushB.push2)
  const { iv, key } = splitKekKey('des-ede3-cbc', b(pushB.kekAlgorithmKey))
  const plain = cbcDecrypt('des-ede3-cbc', key, iv, body(wire))
  t.equal(hex(plain), pushB.push2Plain)
  t.equal(hex(plain.subarray(0, 8)), '0100000800000002', 'SEQ 2')
  const { p, sig } = splitPush(plain)
  t.same(verifyPush('sha1', b(pushB.spki), b(pushB.kekSpi), p, sig, wire.length), { ok: true, form: 'bare', lengthVariant: 'unpadded' })
  t.end()
})

t.test('trace B push: any flipped bit, wrong SPI, hash or key is rejected', (t) => {
  const wire = b(pushB.push1)
  const { iv, key } = splitKekKey('des-ede3-cbc', b(pushB.kekAlgorithmKey))
  const { p, sig } = splitPush(cbcDecrypt('des-ede3-cbc', key, iv, body(wire)))
  const spki = b(pushB.spki), spi = b(pushB.kekSpi)
  const flip = (u: Uint8Array, i: number): Uint8Array => {
    const c = u.slice()
    c[i] = (c[i] ?? 0) ^ 0x01
    return c
  }
  t.same(verifyPush('sha1', spki, spi, p, flip(sig, 64), 404), { ok: false }, 'signature bit')
  t.same(verifyPush('sha1', spki, spi, flip(p, 7), sig, 404), { ok: false }, 'SEQ bit')
  t.same(verifyPush('sha1', spki, flip(spi, 0), p, sig, 404), { ok: false }, 'SPI')
  t.same(verifyPush('sha256', spki, spi, p, sig, 404), { ok: false }, 'hash')
  t.same(verifyPush('sha1', spki.subarray(0, 100), spi, p, sig, 404), { ok: false }, 'truncated SPKI')
  t.same(verifyPush('sha1', spki, spi, p, sig.subarray(1), 404), { ok: false }, 'short signature')
  t.notOk(rsaVerifyRaw(new Uint8Array(10), b(pushB.signedSha1), sig), 'garbage key')
  t.end()
})

t.test('fresh RSA-2048: signPush/verifyPush in both forms, SHA-1 and SHA-256, both length variants', (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }))
  t.equal(spki.length, 294)
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  const spi = b(pushB.kekSpi)
  // P from trace B's push, so the payload bytes are realistic.
  const { p } = splitPush(b(pushB.push1Plain))
  const unpadded = 28 + p.length + 4 + 256
  const onWire = unpadded + 4 // as if 4 zero octets of padding followed on the wire
  for (const h of ['sha1', 'sha256'] as HashName[]) {
    for (const form of ['rfc', 'bare'] as PushSigForm[]) {
      const signed = pushSignedBytes(spi, p, 256)
      const sig = signPush(h, form === 'rfc' ? privateKey : pem, signed, form)
      t.equal(sig.length, 256)
      t.same(verifyPush(h, spki, spi, p, sig, onWire), { ok: true, form, lengthVariant: 'unpadded' }, `${h}/${form}`)
      t.equal(cryptoVerify(h, signed, publicKey, sig), form === 'rfc', `${h}/${form}: standard RSASSA-PKCS1-v1_5 verify only for rfc`)
      const bad = sig.slice()
      bad[255] = (bad[255] ?? 0) ^ 0x80
      t.same(verifyPush(h, spki, spi, p, bad, onWire), { ok: false }, `${h}/${form}: flipped bit rejected`)

      // A signer that hashed the on-wire (padded) Length instead: accepted, and reported as such.
      const view = new DataView(signed.buffer, signed.byteOffset)
      view.setUint32(5 + 24, onWire)
      const sigWire = signPush(h, privateKey, signed, form)
      t.same(verifyPush(h, spki, spi, p, sigWire, onWire), { ok: true, form, lengthVariant: 'on-wire' }, `${h}/${form}: on-wire variant`)
      t.same(verifyPush(h, spki, spi, p, sigWire, unpadded), { ok: false }, `${h}/${form}: no on-wire variant when nothing was padded`)
    }
  }
  t.ok(rsaVerifyRaw(publicKey, hash('sha256', b('00')), rsaSignRaw(privateKey, hash('sha256', b('00')))), 'raw sign/verify with KeyObjects')
  t.throws(() => pushSignedBytes(spi.subarray(1), p, 256), RangeError)
  t.throws(() => pushSignedBytes(spi, p, 0), RangeError)
  t.end()
})
