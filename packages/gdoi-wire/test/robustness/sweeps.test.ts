// Truncation and single-octet mutation sweeps over every vector (STYLE "Tests"): decoding either
// succeeds or throws DecodeError — never RangeError/TypeError/EncodeError — and whatever decodes
// re-encodes to the same octets.
import t from 'tap'
import { DecodeError } from '../../src/errors.js'
import { corpus } from '../helpers/corpus.js'

function outcome(decode: () => readonly [Uint8Array, Uint8Array]): 'ok' | 'decode-error' | string {
  try {
    const [again, want] = decode()
    return Buffer.compare(again, want) === 0 ? 'ok' : 'accepted but re-encodes differently'
  } catch (e) {
    return e instanceof DecodeError ? 'decode-error' : `${(e as Error).name}: ${(e as Error).message}`
  }
}

t.test('every vector decodes and re-encodes', (t) => {
  for (const c of corpus) t.equal(outcome(() => c.decode(c.bytes)), 'ok', c.name)
  t.end()
})

t.test('every proper prefix throws DecodeError', (t) => {
  const bad: string[] = []
  let n = 0
  for (const c of corpus) {
    for (let k = 0; k < c.needed; k++) {
      n++
      const r = outcome(() => c.decode(c.bytes.slice(0, k)))
      if (r !== 'decode-error') bad.push(`${c.name} prefix ${k}: ${r}`)
    }
  }
  t.same(bad, [], `${n} prefixes`)
  t.end()
})

t.test('single-octet mutations: decode succeeds (and re-encodes identically) or throws DecodeError', (t) => {
  const bad: string[] = []
  let n = 0
  let accepted = 0
  for (const c of corpus) {
    // Mutating ciphertext tells nothing: only the header of an encrypted datagram is parsed.
    const limit = c.needed
    for (let i = 0; i < limit; i++) {
      for (const m of [0x01, 0x04, 0x10, 0x80, 0xff]) {
        const buf = c.bytes.slice()
        buf[i]! ^= m
        n++
        const r = outcome(() => c.decode(buf))
        if (r === 'ok') accepted++
        else if (r !== 'decode-error') bad.push(`${c.name} octet ${i} ^ ${m}: ${r}`)
      }
    }
  }
  t.same(bad.slice(0, 20), [], `${n} mutations, ${accepted} accepted`)
  t.end()
})
