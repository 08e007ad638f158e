// The sent-ACK cache behind re-acknowledging retransmitted pushes: keyed by (KEK SPI, SEQ), found by
// the digest of the push datagram, bounded in entries and in re-sends per entry.
import t from 'tap'
import { AckCache, pushDigest } from '../src/ack-cache.js'

const push = (n: number): Uint8Array => Uint8Array.of(n, n + 1, n + 2)
const ack = (n: number): Uint8Array => Uint8Array.of(0xac, n)

t.test('only a push that was acknowledged finds its ACK', (t) => {
  const c = new AckCache()
  t.equal(c.resendFor(push(1)), undefined, 'empty cache')
  c.remember('aa', 1, pushDigest(push(1)), ack(1))
  t.same(c.resendFor(push(1))?.bytes, ack(1))
  t.equal(c.resendFor(push(2)), undefined, 'another datagram (not byte-identical): nothing')
  c.clear()
  t.equal(c.resendFor(push(1)), undefined, 'cleared')
  t.end()
})

t.test('bounded: oldest entries evicted, (SPI, SEQ) replaced, re-sends capped', (t) => {
  const c = new AckCache(3, 2)
  for (let i = 1; i <= 4; i++) c.remember('aa', i, pushDigest(push(i)), ack(i))
  t.equal(c.size, 3)
  t.equal(c.resendFor(push(1)), undefined, 'SEQ 1 evicted')
  t.equal(c.resendFor(push(4))?.seq, 4)
  c.remember('aa', 4, pushDigest(push(9)), ack(9))
  t.equal(c.size, 3, 'same (SPI, SEQ): replaced, not added')
  t.equal(c.resendFor(push(4)), undefined)
  t.same(c.resendFor(push(9))?.bytes, ack(9))
  t.same(c.resendFor(push(9))?.resends, 2)
  t.equal(c.resendFor(push(9)), undefined, 'at most maxResends re-sends')
  c.remember('bb', 4, pushDigest(push(4)), ack(4))
  t.equal(c.resendFor(push(4))?.kekSpiHex, 'bb', 'another KEK SPI is another entry')
  t.end()
})
