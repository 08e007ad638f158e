// IV chain and CBC: every encrypted datagram of traces A and B and the strongSwan capture decrypts to
// the published plaintext with IVs we derive ourselves, and re-encrypts to the original bytes.
import t, { type Test } from 'tap'
import { createCipheriv } from 'node:crypto'
import { DecodeError } from '../../src/errors.js'
import { cbcDecrypt, cbcEncrypt, exchangeIv, lastBlock, phase1Iv, type CbcCipherName } from '../../src/crypto/index.js'
import { strongswan, synthetic71, traceA, traceB, type Phase1Trace } from './fixtures.js'
import { b, body, hex, messageIdOf, u32, walkChain } from './util.js'

function checkTrace(t: Test, name: string, tr: Phase1Trace): void {
  t.test(`${name}: IVs, decryption and re-encryption of MM5…PULL4`, (t) => {
    const key = b(tr.ka)
    const iv1 = phase1Iv('sha1', b(tr.gxi), b(tr.gxr), 8)
    t.equal(hex(iv1), tr.phase1Iv, 'phase-1 IV = SHA1(g^xi ‖ g^xr)[0:8]')
    const frames = new Map(tr.frames.map((f) => [f.name, f]))
    const ct = (n: string): Uint8Array => body(b(frames.get(n)?.wire ?? ''))
    const lastP1 = lastBlock(ct('MM6'), 8)
    t.equal(hex(lastP1), tr.lastPhase1Block)
    const mid = messageIdOf(b(frames.get('PULL1')?.wire ?? ''))
    t.equal(mid, u32(tr.pullMid))
    const pullIv = exchangeIv('sha1', lastP1, mid, 8)
    t.equal(hex(pullIv), tr.pullIv, 'PULL IV = SHA1(last phase-1 block ‖ M-ID)[0:8]')
    const expectIv: Record<string, Uint8Array> = {
      MM5: iv1,
      MM6: lastBlock(ct('MM5'), 8), // chained from MM5
      PULL1: pullIv,
      PULL2: lastBlock(ct('PULL1'), 8),
      PULL3: lastBlock(ct('PULL2'), 8),
      PULL4: lastBlock(ct('PULL3'), 8),
    }
    let n = 0
    for (const f of tr.frames) {
      if (f.iv === undefined || f.plain === undefined) continue
      n++
      const iv = expectIv[f.name]
      if (iv === undefined) throw new Error(`no IV rule for ${f.name}`)
      t.equal(hex(iv), f.iv, `${f.name} IV`)
      const plain = cbcDecrypt('des-ede3-cbc', key, iv, ct(f.name))
      t.equal(hex(plain), f.plain, `${f.name} decrypts byte-identically`)
      t.equal(hex(cbcEncrypt('des-ede3-cbc', key, iv, plain)), hex(ct(f.name)), `${f.name} re-encrypts`)
      // The sender's zero padding is what cbcEncrypt adds to the bare chain.
      const { end } = walkChain(plain, b(f.wire)[16] ?? 0)
      t.equal(hex(cbcEncrypt('des-ede3-cbc', key, iv, plain.subarray(0, end))), hex(ct(f.name)), `${f.name} from the bare chain`)
    }
    t.equal(n, 6, 'six encrypted datagrams')
    t.end()
  })
}
checkTrace(t, 'trace A', traceA)
checkTrace(t, 'trace B', traceB)

t.test('strongSwan AES-256: MM5/MM6, Quick Mode pair and two Informationals', (t) => {
  const s = strongswan
  const key = b(s.ka)
  const iv1 = phase1Iv('sha1', b(s.gxi), b(s.gxr), 16)
  t.equal(hex(iv1), s.phase1Iv)
  const mm5 = b(s.mm5), mm6 = b(s.mm6), qm1 = b(s.qm1), qm2 = b(s.qm2), info1 = b(s.info1), info2 = b(s.info2)
  const lastP1 = lastBlock(body(mm6), 16)
  t.equal(hex(lastP1), s.lastPhase1Block)
  t.equal(messageIdOf(qm1), u32(s.qmMid))
  const cases: [string, Uint8Array, Uint8Array][] = [
    ['MM5', mm5, iv1],
    ['MM6', mm6, lastBlock(body(mm5), 16)],
    ['QM1', qm1, exchangeIv('sha1', lastP1, u32(s.qmMid), 16)],
    ['QM2', qm2, lastBlock(body(qm1), 16)],
    // Informationals start from the phase-1 block again, never from the Quick Mode chain.
    ['INFO1', info1, exchangeIv('sha1', lastP1, u32(s.info1Mid), 16)],
    ['INFO2', info2, exchangeIv('sha1', lastP1, u32(s.info2Mid), 16)],
  ]
  cases.forEach(([name, wire, iv], i) => {
    const plain = cbcDecrypt('aes-256-cbc', key, iv, body(wire))
    const first = wire[16] ?? 0
    const { end } = walkChain(plain, first)
    t.equal(plain.length - end, s.paddingBytes[i], `${name}: chain parses; padding length as published`)
    t.ok(plain.subarray(end).every((x) => x === 0), `${name}: zero padding`)
    t.equal(hex(cbcEncrypt('aes-256-cbc', key, iv, plain.subarray(0, end))), hex(body(wire)), `${name} re-encrypts`)
  })
  const idii = walkChain(cbcDecrypt('aes-256-cbc', key, iv1, body(mm5)), 5).payloads[0]
  t.equal(hex(idii?.body ?? new Uint8Array()), s.idiiB, 'MM5 ID body is IDii_b')
  t.end()
})

t.test('§7.1 synthetic AES vectors: trace A plaintexts under AES-256/128 with SHA-1 and SHA-256', (t) => {
  const plain = (n: string): Uint8Array => {
    const f = traceA.frames.find((x) => x.name === n)
    const p = b(f?.plain ?? '')
    return p.subarray(0, walkChain(p, b(f?.wire ?? '')[16] ?? 0).end)
  }
  const mid = u32(traceA.pullMid)
  type Synthetic = { readonly ka: string; readonly iv1: string; readonly pullIv: string; readonly mm5: string; readonly mm6: string; readonly pull1: string }
  const variants: [string, 'sha1' | 'sha256', CbcCipherName, Synthetic][] = [
    ['SHA1/AES-256', 'sha1', 'aes-256-cbc', synthetic71.sha1Aes256],
    ['SHA1/AES-128', 'sha1', 'aes-128-cbc', synthetic71.sha1Aes128],
    ['SHA256/AES-256', 'sha256', 'aes-256-cbc', synthetic71.sha256Aes256],
  ]
  for (const [name, h, c, v] of variants) {
    const iv1 = phase1Iv(h, b(traceA.gxi), b(traceA.gxr), 16)
    t.equal(hex(iv1), v.iv1, `${name} MM5 IV`)
    const mm5 = cbcEncrypt(c, b(v.ka), iv1, plain('MM5'))
    t.equal(hex(mm5), v.mm5, `${name} MM5`)
    const mm6 = cbcEncrypt(c, b(v.ka), lastBlock(mm5, 16), plain('MM6'))
    t.equal(hex(mm6), v.mm6, `${name} MM6`)
    const pullIv = exchangeIv(h, lastBlock(mm6, 16), mid, 16)
    t.equal(hex(pullIv), v.pullIv, `${name} PULL IV`)
    const pull1 = cbcEncrypt(c, b(v.ka), pullIv, plain('PULL1'))
    t.equal(hex(pull1), v.pull1, `${name} PULL1 (56 octets zero-padded to 64)`)
    t.equal(hex(cbcDecrypt(c, b(v.ka), pullIv, pull1).subarray(0, 56)), hex(plain('PULL1')))
  }
  t.end()
})

t.test('single DES via EDE3 (K,K,K): FIPS 81 CBC example and agreement with 3DES', (t) => {
  const key = b('0123456789abcdef'), iv = b('1234567890abcdef')
  const pt = new TextEncoder().encode('Now is the time for all ')
  t.equal(hex(cbcEncrypt('des-cbc', key, iv, pt)), 'e5c7cdde872bf27c43e934008c389c0f683788499a7c05f6')
  t.equal(new TextDecoder().decode(cbcDecrypt('des-cbc', key, iv, b('e5c7cdde872bf27c43e934008c389c0f683788499a7c05f6'))), 'Now is the time for all ')
  t.end()
})

t.test('wrong-size ciphertext is DecodeError ERR_BAD_BLOCK; wrong key/IV sizes are RangeErrors', (t) => {
  const key = b(traceA.ka), iv = b(traceA.phase1Iv)
  for (const n of [0, 1, 7, 9, 15]) {
    const err = t.throws(() => cbcDecrypt('des-ede3-cbc', key, iv, new Uint8Array(n))) as unknown
    t.ok(err instanceof DecodeError && err.code === 'ERR_BAD_BLOCK', `${n} octets`)
    if (err instanceof DecodeError) t.equal(err.offset, n - (n % 8))
  }
  const e16 = t.throws(() => cbcDecrypt('aes-128-cbc', new Uint8Array(16), new Uint8Array(16), new Uint8Array(24))) as unknown
  t.ok(e16 instanceof DecodeError && e16.code === 'ERR_BAD_BLOCK', 'AES needs 16-octet blocks')
  t.throws(() => cbcDecrypt('des-ede3-cbc', key.subarray(1), iv, new Uint8Array(8)), RangeError)
  t.throws(() => cbcEncrypt('aes-256-cbc', new Uint8Array(32), new Uint8Array(8), new Uint8Array(16)), RangeError)
  t.throws(() => cbcEncrypt('aes-256-cbc', new Uint8Array(32), new Uint8Array(16), new Uint8Array(0)), RangeError)
  t.notMatch(String((() => { try { cbcEncrypt('des-ede3-cbc', key.subarray(1), iv, new Uint8Array(8)) } catch (e) { return e } })()), traceA.ka.slice(2, 12), 'error text has no key bytes')
  t.end()
})

t.test('cbcEncrypt pads with zeros only when needed; agrees with raw OpenSSL', (t) => {
  const key = new Uint8Array(16).fill(7), iv = new Uint8Array(16).fill(9)
  const pt = new Uint8Array(20).fill(1)
  const ct = cbcEncrypt('aes-128-cbc', key, iv, pt)
  t.equal(ct.length, 32)
  const ref = createCipheriv('aes-128-cbc', key, iv).setAutoPadding(false)
  const padded = new Uint8Array(32)
  padded.set(pt)
  t.equal(hex(ct), hex(Buffer.concat([ref.update(padded), ref.final()])))
  t.equal(cbcEncrypt('aes-128-cbc', key, iv, new Uint8Array(32)).length, 32, 'aligned: no extra block')
  t.end()
})

t.test('exchangeIv / phase1Iv / lastBlock argument checks', (t) => {
  t.throws(() => exchangeIv('sha1', new Uint8Array(8), -1, 8), RangeError)
  t.throws(() => exchangeIv('sha1', new Uint8Array(8), 2 ** 32, 8), RangeError)
  t.throws(() => phase1Iv('md5', new Uint8Array(1), new Uint8Array(1), 32), RangeError)
  t.throws(() => lastBlock(new Uint8Array(4), 8), RangeError)
  const src = b('00112233445566778899aabbccddeeff')
  const last = lastBlock(src, 8)
  last.fill(0)
  t.equal(hex(src), '00112233445566778899aabbccddeeff', 'lastBlock copies')
  t.end()
})
