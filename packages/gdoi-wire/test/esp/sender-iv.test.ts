import t from 'tap'
import { maxSenderCounter, senderIdOfIv, senderIv, writeSenderIv } from '../../src/esp/index.js'
import { EncodeError } from '../../src/errors.js'

const h = (b: Uint8Array): string => Buffer.from(b).toString('hex')

t.test('RFC 6054 §3: SID in the top n bits, counter below', (t) => {
  t.equal(h(senderIv(0xab, 8, 1)), 'ab00000000000001')
  t.equal(h(senderIv(0xabc, 12, 0x123456789)), 'abc0000123456789')
  t.equal(h(senderIv(0xbeef, 16, 2 ** 40 + 5)), 'beef010000000005')
  t.equal(h(senderIv(0xffff, 16, maxSenderCounter(16))), 'ffffffffffffffff')
  t.equal(h(senderIv(1, 32, 0xffffffff)), '00000001ffffffff')
  t.equal(maxSenderCounter(16), 2 ** 48 - 1)
  t.equal(maxSenderCounter(8), 2 ** 53 - 1) // JS-number limit below 2^56
  for (const [sid, bits] of [[0xab, 8], [0xabc, 12], [0xbeef, 16]] as const) {
    t.equal(senderIdOfIv(senderIv(sid, bits, 77), 0, bits), sid)
  }
  const out = new Uint8Array(12)
  writeSenderIv(out, 4, 0x12, 8, 0x99)
  t.equal(h(out), '000000001200000000000099')
  t.end()
})

t.test('out-of-range SID, counter, width and buffer throw EncodeError', (t) => {
  const bad: (() => unknown)[] = [
    () => senderIv(256, 8, 1),
    () => senderIv(-1, 8, 1),
    () => senderIv(1, 16, 2 ** 48),
    () => senderIv(1, 0, 1),
    () => senderIv(1, 33, 1),
    () => senderIv(1, 16, 1.5),
    () => writeSenderIv(new Uint8Array(7), 0, 1, 16, 1),
  ]
  for (const f of bad) t.ok((t.throws(f) as unknown) instanceof EncodeError)
  t.end()
})
