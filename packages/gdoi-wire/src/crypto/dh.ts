// MODP Diffie-Hellman, generator 2 (spec §3.6): IKE groups 2 (1024 bit), 5 (1536), 14 (2048). The
// primes are Node's built-in RFC 2409/3526 groups (the tests compare them with the spec). Private
// exponents are inputs, so nothing here draws randomness. Node may return public values and
// secrets with leading zero octets stripped; everything returned here is left-padded to the prime.
import { createDiffieHellman, getDiffieHellman } from 'node:crypto'
import { toHex } from './bytes.js'
import { DhError } from './errors.js'

export interface ModpGroup {
  readonly id: number
  readonly prime: Uint8Array
  readonly bytes: number
}

interface GroupState extends ModpGroup {
  readonly p: bigint
}

const NODE_NAMES: Readonly<Record<number, string>> = { 2: 'modp2', 5: 'modp5', 14: 'modp14' }
const cache = new Map<number, GroupState>()

function group(id: number): GroupState {
  const hit = cache.get(id)
  if (hit !== undefined) return hit
  const name = NODE_NAMES[id]
  if (name === undefined) throw new DhError('ERR_DH_UNKNOWN_GROUP', `DH group ${id} (supported: 2, 5, 14)`)
  const prime = new Uint8Array(getDiffieHellman(name).getPrime())
  const g: GroupState = { id, prime, bytes: prime.length, p: toBigInt(prime) }
  cache.set(id, g)
  return g
}

function toBigInt(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt('0x' + toHex(b))
}

function leftPad(b: Uint8Array, n: number): Uint8Array {
  if (b.length === n) return new Uint8Array(b)
  const out = new Uint8Array(n)
  out.set(b, n - b.length)
  return out
}

/** Throws DhError('ERR_DH_UNKNOWN_GROUP') for anything but 2, 5, 14. */
export function modpGroup(id: number): ModpGroup {
  const g = group(id)
  return { id: g.id, prime: new Uint8Array(g.prime), bytes: g.bytes } // a copy: the cached prime stays intact
}

/**
 * How many random octets to pass as a private key: one less than the prime, so every value is below
 * p without rejection sampling (the modulus starts with 64 one-bits) and the exponent still has
 * ≥ 1016 bits. A caller may redraw in the ~2^-1000 case of a value below 2 (dhPublicKey rejects it).
 */
export function dhPrivateKeyBytes(groupId: number): number {
  return group(groupId).bytes - 1
}

function checkPrivate(g: GroupState, x: Uint8Array): void {
  if (x.length === 0 || x.length > g.bytes) throw new DhError('ERR_DH_BAD_PRIVATE', `private key of ${x.length} octets for a ${g.bytes}-octet group`)
  const v = toBigInt(x)
  if (v < 1n || v > g.p - 2n) throw new DhError('ERR_DH_BAD_PRIVATE', 'private key outside 1..p-2')
}

/** Peer value checks (spec §3.6): at most prime-length octets and 1 < y < p-1 (rejects 0, 1, p-1, ≥ p). */
function checkPublic(g: GroupState, y: Uint8Array): void {
  if (y.length === 0 || y.length > g.bytes) throw new DhError('ERR_DH_BAD_PUBLIC', `public value of ${y.length} octets for a ${g.bytes}-octet group`)
  const v = toBigInt(y)
  if (v <= 1n || v >= g.p - 1n) throw new DhError('ERR_DH_BAD_PUBLIC', 'public value outside 1 < y < p-1')
}

function engine(g: GroupState, privateKey: Uint8Array) {
  // createDiffieHellman (not getDiffieHellman): only the former lets us set our own private key.
  const dh = createDiffieHellman(g.prime, 2)
  dh.setPrivateKey(privateKey)
  return dh
}

/** g^x mod p, left-padded to the prime length (the KE payload body). */
export function dhPublicKey(groupId: number, privateKey: Uint8Array): Uint8Array {
  const g = group(groupId)
  checkPrivate(g, privateKey)
  return leftPad(engine(g, privateKey).generateKeys(), g.bytes)
}

/** (peer)^x mod p, left-padded to the prime length (g^xy for SKEYID). Bad peer values throw DhError. */
export function dhSharedSecret(groupId: number, privateKey: Uint8Array, peerPublic: Uint8Array): Uint8Array {
  const g = group(groupId)
  checkPrivate(g, privateKey)
  checkPublic(g, peerPublic)
  return leftPad(engine(g, privateKey).computeSecret(peerPublic), g.bytes)
}
