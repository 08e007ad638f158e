// HASH_I/HASH_R and the per-exchange HASH payloads, recomputed over the decrypted plaintexts: the
// bytes after the HASH payload up to the end of the chain (padding excluded), spec §1.2–§1.4.
import t, { type Test } from 'tap'
import {
  cbcDecrypt, exchangeIv, hashI, hashR, informationalHash, lastBlock, macEqual, pullHash,
} from '../../src/crypto/index.js'
import { strongswan, traceA, traceB, type Phase1Trace } from './fixtures.js'
import { b, body, hex, messageIdOf, splitAfterHash, u32, walkChain } from './util.js'

function checkTrace(t: Test, name: string, tr: Phase1Trace): void {
  const plain = (n: string): Uint8Array => b(tr.frames.find((f) => f.name === n)?.plain ?? '')
  const firstBody = (p: Uint8Array, type: number): Uint8Array => walkChain(p, type).payloads[0]?.body ?? new Uint8Array()

  t.test(`${name}: HASH_I and HASH_R (PSK, SHA-1)`, (t) => {
    const mm5 = plain('MM5'), mm6 = plain('MM6')
    const idii = firstBody(mm5, 5), idir = firstBody(mm6, 5)
    const hi = hashI('sha1', b(tr.skeyid), b(tr.gxi), b(tr.gxr), b(tr.ckyI), b(tr.ckyR), b(tr.saiB), idii)
    const hr = hashR('sha1', b(tr.skeyid), b(tr.gxr), b(tr.gxi), b(tr.ckyR), b(tr.ckyI), b(tr.saiB), idir)
    t.equal(hex(hi), tr.hashI)
    t.equal(hex(hr), tr.hashR)
    // ...and they are what the peers actually sent (2nd payload of MM5/MM6).
    t.equal(hex(walkChain(mm5, 5).payloads[1]?.body ?? new Uint8Array()), tr.hashI)
    t.equal(hex(walkChain(mm6, 5).payloads[1]?.body ?? new Uint8Array()), tr.hashR)
    t.end()
  })

  t.test(`${name}: HASH(1)…HASH(4) over the GROUPKEY-PULL plaintexts`, (t) => {
    const a = b(tr.skeyidA)
    const mid = u32(tr.pullMid)
    const p1 = splitAfterHash(plain('PULL1'))
    const p2 = splitAfterHash(plain('PULL2'))
    const p3 = splitAfterHash(plain('PULL3'))
    const p4 = splitAfterHash(plain('PULL4'))
    // Ni_b / Nr_b are the nonce bodies carried right after HASH(1)/HASH(2).
    const niB = walkChain(p1.rest, 10).payloads[0]?.body ?? new Uint8Array()
    const nrB = walkChain(p2.rest, 10).payloads[0]?.body ?? new Uint8Array()
    const h1 = pullHash('sha1', a, mid, undefined, undefined, p1.rest)
    const h2 = pullHash('sha1', a, mid, niB, undefined, p2.rest)
    const h3 = pullHash('sha1', a, mid, niB, nrB, p3.rest)
    const h4 = pullHash('sha1', a, mid, niB, nrB, p4.rest)
    t.same([hex(h1), hex(h2), hex(h3), hex(h4)], [tr.hash1, tr.hash2, tr.hash3, tr.hash4])
    t.same([p1, p2, p3, p4].map((p) => hex(p.hash)), [tr.hash1, tr.hash2, tr.hash3, tr.hash4], 'equal to the HASH payloads on the wire')
    t.ok(macEqual(h4, p4.hash))
    t.equal(p3.rest.length, 0, 'HASH(3) covers only M-ID ‖ Ni_b ‖ Nr_b in gdoid (no GAP)')
    t.end()
  })
}
checkTrace(t, 'trace A', traceA)
checkTrace(t, 'trace B', traceB)

t.test('strongSwan: HASH_I/HASH_R, Quick Mode HASH(1)/HASH(2), Informational HASH(1)', (t) => {
  const s = strongswan
  const key = b(s.ka)
  t.equal(hex(hashI('sha1', b(s.skeyid), b(s.gxi), b(s.gxr), b(s.ckyI), b(s.ckyR), b(s.saiB), b(s.idiiB))), s.hashI)
  t.equal(hex(hashR('sha1', b(s.skeyid), b(s.gxr), b(s.gxi), b(s.ckyR), b(s.ckyI), b(s.saiB), b(s.idirB))), s.hashR)

  const lastP1 = lastBlock(body(b(s.mm6)), 16)
  const qm1 = b(s.qm1), qm2 = b(s.qm2)
  const qm1Plain = cbcDecrypt('aes-256-cbc', key, exchangeIv('sha1', lastP1, messageIdOf(qm1), 16), body(qm1))
  const qm2Plain = cbcDecrypt('aes-256-cbc', key, lastBlock(body(qm1), 16), body(qm2))
  const q1 = splitAfterHash(qm1Plain), q2 = splitAfterHash(qm2Plain)
  // IKEv1 Quick Mode uses the same shapes as HASH(1)/HASH(2) of the PULL.
  t.equal(hex(pullHash('sha1', b(s.skeyidA), u32(s.qmMid), undefined, undefined, q1.rest)), s.qmHash1)
  t.equal(hex(pullHash('sha1', b(s.skeyidA), u32(s.qmMid), b(s.qmNiB), undefined, q2.rest)), s.qmHash2)
  t.equal(hex(q1.hash), s.qmHash1)
  t.equal(hex(q2.hash), s.qmHash2)

  for (const [wireHex, mid, want] of [[s.info1, s.info1Mid, s.info1Hash], [s.info2, s.info2Mid, s.info2Hash]] as const) {
    const w = b(wireHex)
    const p = cbcDecrypt('aes-256-cbc', key, exchangeIv('sha1', lastP1, u32(mid), 16), body(w))
    const x = splitAfterHash(p)
    t.equal(hex(informationalHash('sha1', b(s.skeyidA), u32(mid), x.rest)), want, `Informational ${mid}`)
    t.equal(hex(x.hash), want)
  }
  t.end()
})

t.test('macEqual is a length-checked constant-time compare; pullHash rejects Nr without Ni', (t) => {
  t.ok(macEqual(b('0102'), b('0102')))
  t.notOk(macEqual(b('0102'), b('0103')))
  t.notOk(macEqual(b('0102'), b('010200')))
  t.throws(() => pullHash('sha1', b('00'), 1, undefined, b('00'), b('')), RangeError)
  t.end()
})
