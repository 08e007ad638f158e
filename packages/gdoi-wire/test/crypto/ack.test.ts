// RFC 8263 GROUPKEY-PUSH-ACK: the spec §5.6 self-computed example (trace B KEK, SEQ 1, 10.0.224.37).
import t from 'tap'
import { createHmac } from 'node:crypto'
import { CryptoError, ackHash, ackKey } from '../../src/crypto/index.js'
import { ack8263 as v } from './fixtures.js'
import { b, hex } from './util.js'

t.test('ack_key and HASH of the §5.6 example (KEK_SHA256, L = 512)', (t) => {
  const k = ackKey(v.ackRequested, b(v.baseKey), b(v.kekSpi))
  t.equal(hex(k), v.ackKey, 'default L for value 1 is 512')
  t.equal(hex(ackKey(v.ackRequested, b(v.baseKey), b(v.kekSpi), v.lBits)), v.ackKey)
  const h = ackHash(v.ackRequested, k, b(v.seqPayload), b(v.idPayload))
  t.equal(hex(h), v.hash)
  const datagram = Buffer.concat([b(v.datagramPrefix), h, b(v.seqPayload), b(v.idPayload)])
  t.equal(datagram.length, 84, 'HDR(28) + HASH(4+32) + SEQ(8) + ID(12)')
  t.equal(datagram.readUInt32BE(24), 84, 'header Length')
  t.end()
})

t.test('label, SPI and L layout; SHA-512 values; L is a parameter', (t) => {
  const label = Buffer.from('GROUPKEY-PUSH ACK\0')
  t.equal(label.length, 18)
  const ref = (alg: string, l: number): string =>
    createHmac(alg, b(v.baseKey)).update(label).update(b(v.kekSpi)).update(Uint8Array.of(l >> 8, l & 0xff)).digest('hex')
  t.equal(hex(ackKey(1, b(v.baseKey), b(v.kekSpi), 256)), ref('sha256', 256), 'literal "ack_key bits" reading')
  t.not(hex(ackKey(1, b(v.baseKey), b(v.kekSpi), 256)), v.ackKey)
  t.equal(hex(ackKey(3, b(v.baseKey), b(v.kekSpi))), ref('sha512', 1024), 'value 3: HMAC-SHA-512, L = 1024')
  t.equal(hex(ackKey(2, b(v.baseKey), b(v.kekSpi))), ref('sha256', 512), 'value 2 (LKH) uses the same prf as 1')
  t.equal(hex(ackKey(4, b(v.baseKey), b(v.kekSpi))), ref('sha512', 1024))
  t.equal(ackHash(3, new Uint8Array(64), b(v.seqPayload), b(v.idPayload)).length, 64)
  t.end()
})

t.test('unknown KEK_ACK_REQUESTED values and bad inputs', (t) => {
  for (const x of [0, 5, 129]) {
    const err = t.throws(() => ackKey(x, b(v.baseKey), b(v.kekSpi))) as unknown
    t.ok(err instanceof CryptoError && err.code === 'ERR_UNSUPPORTED_ALGORITHM', `value ${x}`)
  }
  t.throws(() => ackHash(9, new Uint8Array(32), b(v.seqPayload), b(v.idPayload)), CryptoError)
  t.throws(() => ackKey(1, b(v.baseKey), b(v.kekSpi).subarray(1)), RangeError)
  t.throws(() => ackKey(1, b(v.baseKey), b(v.kekSpi), 65536), RangeError)
  t.end()
})
