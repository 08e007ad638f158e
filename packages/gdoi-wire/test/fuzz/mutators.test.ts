// The fuzzers' own machinery: the structure scan finds the fields of a real message, structure-aware
// mutations keep a message parseable where they promise to (so the fuzzers reach deep code), mutate()
// never throws, and the Jazzer-style entry point only throws for bugs.
import fc from 'fast-check'
import t from 'tap'
import { PayloadType } from '../../src/constants.js'
import { decodeChain, decodeMessage } from '../../src/message.js'
import type { GdoiSaPayload } from '../../src/payloads/types.js'
import { fuzz } from '../../fuzz/decode-message.fuzz.js'
import { chainInput, datagramSeeds, sessionMessage } from '../../fuzz/corpus.js'
import { donorPool } from '../../fuzz/inputs.js'
import { mutate, mutationsArb, prng, randomMutations, type Mutation } from '../../fuzz/mutators.js'
import { chainEnd, scan, type Layout } from '../../fuzz/structure.js'

const DATAGRAM: Layout = { kind: 'datagram', headerAt: 0 }
const CHAIN: Layout = { kind: 'chain', start: 2, firstAt: 0, saKind: 'gdoi' }
const pull2 = sessionMessage('PULL2').plaintext!
const pull2Input = chainInput(PayloadType.HASH, 1, pull2)

t.test('scan maps a PULL2 plaintext: HASH, Nr, SA → SAK, SATs, attributes', (t) => {
  const s = scan(pull2Input, CHAIN)
  t.same(s.spans.filter((x) => x.level === 'top').map((x) => x.type), [PayloadType.HASH, PayloadType.NONCE, PayloadType.SA])
  t.same(s.spans.filter((x) => x.level === 'nested').map((x) => x.type), [PayloadType.SA_KEK, PayloadType.SA_TEK, PayloadType.SA_TEK])
  t.ok(s.spans.filter((x) => x.level === 'attribute').length > 10, 'attributes of the SAK and SATs')
  const lengths = s.fields.filter((f) => f.kind === 'length')
  t.ok(lengths.length >= 10, `${lengths.length} length fields`)
  // every top-level length field the scan reports holds the real length
  for (const sp of s.spans.filter((x) => x.level === 'top')) t.equal(((pull2Input[sp.start + 2] ?? 0) << 8) | (pull2Input[sp.start + 3] ?? 0), sp.end - sp.start)
  t.same(chainEnd(pull2, 0, pull2.length, PayloadType.HASH)?.end, decodeChain(pull2, 0, pull2.length, PayloadType.HASH, 'gdoi').end)
  t.end()
})

t.test('splice, repeat, remove and nest keep the chain decodable', (t) => {
  const pool = donorPool()
  const decodes = (b: Uint8Array): boolean => {
    try {
      decodeChain(b, 2, b.length, b[0] ?? 0, 'gdoi')
      return true
    } catch {
      return false
    }
  }
  const ops: Mutation[] = [
    { op: 'repeat', pick: 1, times: 40 }, // 41 more nonces
    { op: 'remove', pick: 1 },
    { op: 'nest', pick: 1, depth: 3 },
  ]
  for (const op of ops) t.ok(decodes(mutate(pull2Input, CHAIN, [op], pool)), op.op)
  // a spliced payload from another message: the chain continues after it (its body may still be invalid here)
  let spliced = 0
  for (let donor = 0; donor < 40; donor++) if (decodes(mutate(pull2Input, CHAIN, [{ op: 'splice', pick: 1, donor, insert: donor % 2 === 0 }], pool))) spliced++
  t.ok(spliced >= 20, `${spliced}/40 splices decode`)
  const whole = (b: Uint8Array) => decodeChain(b, 2, b.length, b[0] ?? 0, 'gdoi')
  const wide = whole(mutate(pull2Input, CHAIN, [{ op: 'repeat', pick: 1, times: 40 }], pool))
  t.equal(wide.payloads.filter((p) => p.type === PayloadType.NONCE).length, 42, 'the nonce and 41 copies')
  // a nested SAT repeated inside the GDOI SA: the SA length is patched, the SA decodes with more SATs
  const satAt = scan(pull2Input, CHAIN).spans.findIndex((x) => x.level === 'nested' && x.type === PayloadType.SA_TEK)
  const moreSats = whole(mutate(pull2Input, CHAIN, [{ op: 'repeat', pick: satAt, times: 9 }], pool))
  const sa = moreSats.payloads.find((p) => p.type === PayloadType.SA) as GdoiSaPayload
  t.equal(sa.attributePayloads.length, 13, 'SAK, the SAT and 10 copies, the other SAT')
  // field mutations land on the length fields with boundary values
  const mm1 = sessionMessage('MM1').bytes
  let bad = 0
  for (let choice = 0; choice < 12; choice++) {
    try {
      decodeMessage(mutate(mm1, DATAGRAM, [{ op: 'field', pick: 3, choice }], pool))
    } catch {
      bad++
    }
  }
  t.ok(bad > 6, `${bad}/12 boundary values of the ISAKMP Length are rejected`)
  t.end()
})

t.test('mutate never throws and stays within the largest UDP payload', (t) => {
  const seeds = datagramSeeds()
  const pool = donorPool()
  fc.assert(
    fc.property(fc.nat(seeds.length - 1), mutationsArb, fc.constantFrom(DATAGRAM, CHAIN, { kind: 'opaque' } as const), (i, ops, layout) => {
      const out = mutate(seeds[i] ?? new Uint8Array(0), layout, ops, pool)
      return out.length <= 65_507
    }),
    { numRuns: 400, interruptAfterTimeLimit: 1500, markInterruptAsFailure: false },
  )
  const rng = prng(3)
  for (let i = 0; i < 500; i++) mutate(seeds[i % seeds.length] ?? new Uint8Array(0), DATAGRAM, randomMutations(rng, DATAGRAM), pool)
  t.pass('no exception')
  t.end()
})

t.test('the Jazzer-style entry point swallows DecodeError only', (t) => {
  t.doesNotThrow(() => fuzz(new Uint8Array(3)), 'a truncated header is a rejected input, not a bug')
  t.doesNotThrow(() => fuzz(sessionMessage('MM1').bytes))
  t.end()
})
