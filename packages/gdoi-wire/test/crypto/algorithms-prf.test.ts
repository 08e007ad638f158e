import t from 'tap'
import { CryptoError, cbcCipher, hash, hashLength, ikeCipher, ikeHashName, kekCipher, prf, sigHashName } from '../../src/crypto/index.js'
import { b, hex } from './util.js'

t.test('IKE hash and cipher attributes map to node:crypto names and sizes', (t) => {
  t.same([1, 2, 4, 5, 6].map(ikeHashName), ['md5', 'sha1', 'sha256', 'sha384', 'sha512'])
  t.same([1, 2, 3, 4, 5].map(sigHashName), ['md5', 'sha1', 'sha256', 'sha384', 'sha512'])
  t.same(ikeCipher(5), { name: 'des-ede3-cbc', keyBytes: 24, blockBytes: 8 })
  t.same(ikeCipher(1), { name: 'des-cbc', keyBytes: 8, blockBytes: 8 })
  t.same(ikeCipher(7, 256), { name: 'aes-256-cbc', keyBytes: 32, blockBytes: 16 })
  t.same(ikeCipher(7, 128), cbcCipher('aes-128-cbc'))
  t.same(kekCipher(2), { name: 'des-ede3-cbc', keyBytes: 24, blockBytes: 8 })
  t.same(kekCipher(2, 192), kekCipher(2), 'KEK_KEY_LENGTH is informational for 3DES')
  t.same(kekCipher(3, 192), { name: 'aes-192-cbc', keyBytes: 24, blockBytes: 16 })
  t.same(kekCipher(1), cbcCipher('des-cbc'))
  t.same(['md5', 'sha1', 'sha256', 'sha384', 'sha512'].map((h) => hashLength(h as 'md5')), [16, 20, 32, 48, 64])
  t.end()
})

t.test('unknown algorithms and missing AES key lengths are typed errors', (t) => {
  const code = (f: () => unknown): string | undefined => {
    try {
      f()
    } catch (e) {
      return e instanceof CryptoError ? e.code : 'not a CryptoError'
    }
    return undefined
  }
  t.equal(code(() => ikeHashName(3)), 'ERR_UNSUPPORTED_ALGORITHM', 'Tiger')
  t.equal(code(() => ikeCipher(6)), 'ERR_UNSUPPORTED_ALGORITHM', 'CAST')
  t.equal(code(() => ikeCipher(7)), 'ERR_BAD_KEY_LENGTH')
  t.equal(code(() => ikeCipher(7, 64)), 'ERR_BAD_KEY_LENGTH')
  t.equal(code(() => kekCipher(3)), 'ERR_BAD_KEY_LENGTH')
  t.equal(code(() => kekCipher(4, 128)), 'ERR_UNSUPPORTED_ALGORITHM')
  t.equal(code(() => sigHashName(0)), 'ERR_UNSUPPORTED_ALGORITHM')
  t.end()
})

t.test('prf is HMAC and hash the plain digest (RFC 2202 / RFC 4231 / FIPS 180 answers)', (t) => {
  const key = new Uint8Array(20).fill(0x0b)
  const hi = new TextEncoder().encode('Hi There')
  t.equal(hex(prf('sha1', key, hi)), 'b617318655057264e28bc0b6fb378c8ef146be00')
  t.equal(hex(prf('sha1', key, hi.subarray(0, 3), hi.subarray(3))), 'b617318655057264e28bc0b6fb378c8ef146be00', 'pieces = whole')
  t.equal(hex(prf('sha256', key, hi)), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7')
  t.equal(hex(prf('md5', new Uint8Array(16).fill(0x0b), hi)), '9294727a3638bb1c13f48ef8158bfc9d')
  t.equal(hex(hash('sha1', b('616263'))), 'a9993e364706816aba3e25717850c26c9cd0d89d')
  t.equal(hex(hash('sha1', b('61'), b('6263'))), 'a9993e364706816aba3e25717850c26c9cd0d89d')
  t.end()
})
