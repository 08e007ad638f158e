import t from 'tap'
import { LazyQueue } from '../src/lazy-queue.js'

t.test('oldest live entry first; stale ones are skipped and discarded at the head', async (t) => {
  const live = new Set<number>()
  const q = new LazyQueue<number>((n) => live.has(n))
  for (let i = 1; i <= 5; i++) { live.add(i); q.push(i, live.size) }
  t.equal(q.peek(), 1)
  t.equal(q.peek(), 1, 'peek does not remove')
  live.delete(1)
  live.delete(2)
  t.equal(q.peek(), 3, 'entries that went away are skipped')
  t.equal(q.length, 3, '… and discarded')
  q.shift()
  t.equal(q.peek(), 4)
  live.clear()
  t.equal(q.peek(), undefined, 'nothing live: undefined')
  t.equal(q.length, 0)
  q.clear()
  q.shift()
  t.equal(q.length, 0, 'shift on an empty queue is harmless')
})

t.test('memory stays bounded: stale entries are compacted away without evictions', async (t) => {
  const live = new Set<number>()
  const q = new LazyQueue<number>((n) => live.has(n))
  // 100,000 SAs pass through the queue, at most 10 waiting at a time, and nothing is ever evicted
  let longest = 0
  for (let i = 0; i < 100_000; i++) {
    live.add(i)
    live.delete(i - 10)
    q.push(i, live.size)
    longest = Math.max(longest, q.length)
  }
  t.ok(longest <= 2 * 10 + 1024 + 1, `bounded by twice the live entries plus 1024 (longest ${longest})`)
  t.equal(q.peek(), 99_990, 'the oldest still waiting is at the head')
  // evictions under a flood: the head moves; the array is re-based once half of it is behind the head
  for (let i = 0; i < 5000; i++) q.shift()
  t.equal(q.peek(), undefined)
})
