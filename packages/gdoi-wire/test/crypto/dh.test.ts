// MODP Diffie-Hellman: primes, public values and shared secrets against a BigInt reference model,
// left-padding, and rejection of degenerate or oversize peer values.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { CryptoError, DhError, dhPrivateKeyBytes, dhPublicKey, dhSharedSecret, modpGroup } from '../../src/crypto/index.js'
import { modpPrimes, strongswan } from './fixtures.js'
import { b, hex } from './util.js'

const big = (u: Uint8Array): bigint => BigInt('0x' + (hex(u) || '0'))
const bytesOf = (v: bigint, n: number): Uint8Array => b(v.toString(16).padStart(n * 2, '0'))
function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  let r = 1n
  let x = base % m
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) r = (r * x) % m
    x = (x * x) % m
  }
  return r
}

const GROUPS = [2, 5, 14] as const

t.test('modpGroup: Node built-in primes equal the spec/RFC values', (t) => {
  for (const id of GROUPS) {
    const g = modpGroup(id)
    t.equal(hex(g.prime), modpPrimes[id], `group ${id}`)
    t.equal(g.bytes, { 2: 128, 5: 192, 14: 256 }[id])
    t.equal(dhPrivateKeyBytes(id), g.bytes - 1)
  }
  for (const id of [1, 15, 19, 0]) {
    const err = t.throws(() => modpGroup(id)) as unknown
    t.ok(err instanceof DhError && err.code === 'ERR_DH_UNKNOWN_GROUP', `group ${id} unsupported`)
  }
  t.end()
})

t.test('public value of a known private key = 2^x mod p (BigInt reference), left-padded', (t) => {
  for (const id of GROUPS) {
    const g = modpGroup(id)
    const p = big(g.prime)
    // A fixed full-size exponent: the 0x5a…-pattern plus a tiny one whose result is mostly zero octets.
    const x1 = new Uint8Array(dhPrivateKeyBytes(id)).fill(0x5a)
    const y1 = dhPublicKey(id, x1)
    t.equal(y1.length, g.bytes)
    t.equal(hex(y1), hex(bytesOf(modPow(2n, big(x1), p), g.bytes)), `group ${id}: 2^x mod p`)
    const y2 = dhPublicKey(id, Uint8Array.of(5))
    t.equal(hex(y2), '00'.repeat(g.bytes - 1) + '20', `group ${id}: 2^5 left-padded to ${g.bytes} octets`)
  }
  t.end()
})

t.test('shared secrets agree between two random private keys and match the reference', (t) => {
  for (const id of GROUPS) {
    const g = modpGroup(id)
    const xa = randomBytes(dhPrivateKeyBytes(id))
    const xb = randomBytes(dhPrivateKeyBytes(id))
    const ya = dhPublicKey(id, xa)
    const yb = dhPublicKey(id, xb)
    const sa = dhSharedSecret(id, xa, yb)
    const sb = dhSharedSecret(id, xb, ya)
    t.equal(sa.length, g.bytes)
    t.equal(hex(sa), hex(sb), `group ${id}: g^(ab) both ways`)
    t.equal(hex(sa), hex(bytesOf(modPow(big(yb), big(xa), big(g.prime)), g.bytes)), `group ${id}: reference`)
  }
  // A secret with leading zero octets: peer y = 2, x = 9 → 2^9 = 0x0200.
  t.equal(hex(dhSharedSecret(2, Uint8Array.of(9), Uint8Array.of(2))), '00'.repeat(126) + '0200')
  t.end()
})

t.test('strongSwan group-5 KE values are accepted as peer values (its DH private keys are not published, so g^xy cannot be recomputed)', (t) => {
  const x = randomBytes(dhPrivateKeyBytes(5))
  t.equal(dhSharedSecret(5, x, b(strongswan.gxi)).length, 192)
  t.equal(dhSharedSecret(5, x, b(strongswan.gxr)).length, 192)
  t.equal(b(strongswan.gxi).length, 192, 'strongSwan sends KE padded to the prime (192 octets)')
  t.end()
})

t.test('peer public values 0, 1, p-1, p, p+1 and oversize are rejected with DhError', (t) => {
  for (const id of GROUPS) {
    const g = modpGroup(id)
    const p = big(g.prime)
    const x = new Uint8Array(dhPrivateKeyBytes(id)).fill(0x33)
    const bad: [string, Uint8Array][] = [
      ['0', new Uint8Array(g.bytes)],
      ['1', bytesOf(1n, g.bytes)],
      ['1 (short)', Uint8Array.of(1)],
      ['p-1', bytesOf(p - 1n, g.bytes)],
      ['p', g.prime],
      ['p+1', bytesOf(p + 1n, g.bytes)],
      ['2^bits-1', new Uint8Array(g.bytes).fill(0xff)],
      ['oversize (prime length + 1, leading zero)', bytesOf(2n, g.bytes + 1)],
      ['empty', new Uint8Array(0)],
    ]
    for (const [name, y] of bad) {
      const err = t.throws(() => dhSharedSecret(id, x, y)) as unknown
      t.ok(err instanceof DhError && err.code === 'ERR_DH_BAD_PUBLIC', `group ${id}: ${name}`)
    }
    t.equal(dhSharedSecret(id, x, bytesOf(p - 2n, g.bytes)).length, g.bytes, 'p-2 is acceptable')
  }
  t.end()
})

t.test('bad private keys are rejected', (t) => {
  const g = modpGroup(2)
  for (const [name, x] of [
    ['empty', new Uint8Array(0)],
    ['zero', new Uint8Array(16)],
    ['too long', new Uint8Array(g.bytes + 1).fill(1)],
    ['p-1', bytesOf(big(g.prime) - 1n, g.bytes)],
  ] as const) {
    const err = t.throws(() => dhPublicKey(2, x)) as unknown
    t.ok(err instanceof DhError && err.code === 'ERR_DH_BAD_PRIVATE', name)
    t.ok(err instanceof CryptoError, 'DhError is a CryptoError')
  }
  t.end()
})
