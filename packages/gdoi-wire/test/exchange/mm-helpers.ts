// Test doubles for the Main Mode tests: deterministic rng and clock, a two-party driver, fake DH for
// trace replays, and a tiny DER writer for self-signed RSA certificates (node:crypto cannot make one).
import { createHash, generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto'
import type { Action, DhEngine, ExchangeCtx } from '../../src/exchange/index.js'
import type { IdPayload } from '../../src/payloads/types.js'
import { IdType, PayloadType } from '../../src/constants.js'

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
export const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'ascii'))

/** rng that hands out the given values in order and checks each requested length. */
export function queueRng(values: readonly Uint8Array[]): ExchangeCtx['rng'] & { left(): number } {
  const q = [...values]
  const rng = (n: number): Uint8Array => {
    const v = q.shift()
    if (v === undefined) throw new Error(`queueRng: no value left for rng(${n})`)
    if (v.length !== n) throw new Error(`queueRng: rng(${n}) but the next value has ${v.length} octets`)
    return v
  }
  return Object.assign(rng, { left: () => q.length })
}

/** Deterministic rng: SHA-256(seed ‖ counter) stream. */
export function seededRng(seed: string): ExchangeCtx['rng'] {
  let counter = 0
  return (n: number) => {
    const out = new Uint8Array(n)
    let off = 0
    while (off < n) {
      const block = createHash('sha256').update(`${seed}:${counter++}`).digest()
      out.set(block.subarray(0, Math.min(32, n - off)), off)
      off += 32
    }
    return out
  }
}

export function fixedClock(startMs = 1_700_000_000_000): { nowMs: () => number; advance(ms: number): void } {
  let t = startMs
  return { nowMs: () => t, advance: (ms) => void (t += ms) }
}

export function ctx(rng: ExchangeCtx['rng'], nowMs: () => number = () => 1000): ExchangeCtx {
  return { rng, nowMs }
}

export function sent(actions: readonly Action[]): Uint8Array[] {
  return actions.flatMap((a) => (a.type === 'send' ? [a.bytes] : []))
}

export function onlySend(actions: readonly Action[]): Uint8Array {
  const s = sent(actions)
  if (s.length !== 1 || s[0] === undefined) throw new Error(`expected exactly one send, got ${s.length}`)
  return s[0]
}

/** DH double for traces that print g^x and g^xy but not the private exponents. */
export function fakeDh(publicValue: Uint8Array, shared: Uint8Array): DhEngine {
  return {
    privateKeyBytes: () => 4,
    publicKey: () => publicValue,
    sharedSecret: () => shared,
  }
}

export function idIpv4(a: string): IdPayload {
  return { type: PayloadType.ID, idType: IdType.IPV4_ADDR, protocol: 0, port: 0, data: new Uint8Array(a.split('.').map(Number)) }
}

// ---- minimal DER for a self-signed X.509 v3 certificate ----------------------------------------------

function derLen(n: number): number[] {
  if (n < 0x80) return [n]
  const out: number[] = []
  for (let v = n; v > 0; v >>= 8) out.unshift(v & 0xff)
  return [0x80 | out.length, ...out]
}
function der(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(parts)
  return new Uint8Array(Buffer.concat([Buffer.from([tag, ...derLen(body.length)]), body]))
}
function oid(s: string): Uint8Array {
  const [a = 0, b = 0, ...rest] = s.split('.').map(Number)
  const out = [40 * a + b]
  for (const v of rest) {
    const bytes = [v & 0x7f]
    for (let x = v >> 7; x > 0; x >>= 7) bytes.unshift(0x80 | (x & 0x7f))
    out.push(...bytes)
  }
  return der(0x06, new Uint8Array(out))
}
const utf8 = (s: string) => der(0x0c, new Uint8Array(Buffer.from(s, 'utf8')))
const utcTime = (s: string) => der(0x17, new Uint8Array(Buffer.from(s, 'ascii')))
const int = (v: number) => der(0x02, new Uint8Array([v]))

/** Name = SEQUENCE { SET { SEQUENCE { id-at-commonName, UTF8String cn } } } (the DER an ID_DER_ASN1_DN carries). */
export function dnCn(cn: string): Uint8Array {
  return der(0x30, der(0x31, der(0x30, oid('2.5.4.3'), utf8(cn))))
}

export interface TestIdentity {
  readonly privateKey: KeyObject
  readonly spki: Uint8Array
  readonly certDer: Uint8Array
  readonly subjectDer: Uint8Array
  readonly id: IdPayload
}

/** A fresh RSA key and a self-signed sha256WithRSA certificate for CN=cn; ID = ID_DER_ASN1_DN of the subject. */
export function makeIdentity(cn: string, bits = 2048): TestIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits })
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }))
  const name = dnCn(cn)
  const sigAlg = der(0x30, oid('1.2.840.113549.1.1.11'), der(0x05))
  const tbs = der(
    0x30,
    der(0xa0, int(2)),
    int(1),
    sigAlg,
    name,
    der(0x30, utcTime('250101000000Z'), utcTime('350101000000Z')),
    name,
    spki,
  )
  const signature = new Uint8Array(sign('sha256', tbs, privateKey))
  const certDer = der(0x30, tbs, sigAlg, der(0x03, new Uint8Array([0]), signature))
  new X509Certificate(certDer) // throws if the DER is wrong
  return {
    privateKey,
    spki,
    certDer,
    subjectDer: name,
    id: { type: PayloadType.ID, idType: IdType.DER_ASN1_DN, protocol: 0, port: 0, data: name },
  }
}

/**
 * A verifyPeerCert for tests: trusts certificates that verify with one of the given (self-signed) keys
 * and whose subject DER equals the ID_DER_ASN1_DN data; returns the certificate's SPKI.
 */
export function trustStore(trusted: readonly TestIdentity[]) {
  return (certDer: Uint8Array, id: IdPayload): Uint8Array | undefined => {
    let cert: X509Certificate
    try {
      cert = new X509Certificate(certDer)
    } catch {
      return undefined
    }
    const anchor = trusted.find((t) => Buffer.from(t.certDer).equals(Buffer.from(certDer)))
    if (anchor === undefined || !cert.verify(cert.publicKey)) return undefined
    if (id.idType === IdType.DER_ASN1_DN && !Buffer.from(id.data).equals(Buffer.from(anchor.subjectDer))) return undefined
    return new Uint8Array(cert.publicKey.export({ type: 'spki', format: 'der' }))
  }
}
