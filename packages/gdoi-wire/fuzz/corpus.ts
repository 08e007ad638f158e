// Seed corpus of the fuzz targets: the gdoid vectors (test/fixtures/gdoid-vectors.ts), the strongSwan /
// Cisco / Openswan IKEv1 datagrams (test/fixtures/ikev1-vectors.ts), the datagrams and plaintexts of
// our own registration (session.ts), payload chains generated from the codec's fast-check arbitraries
// (test/helpers/arbitraries.ts), the repository captures and ESP packets sealed by our ESP code.
// Everything is built once, lazily, and deterministically.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import fc from 'fast-check'
import { PayloadType } from '../src/constants.js'
import { encodeChain } from '../src/message.js'
import { sealEsp } from '../src/esp/esp.js'
import type { EspSaParams } from '../src/esp/suite.js'
import { writePcapUdp } from '../src/pcap/write-pcap.js'
import { allGdoidDatagrams, allGdoidPlaintexts, hex } from '../test/fixtures/gdoid-vectors.js'
import { ciscoIkev1Datagrams, openswanNattDatagrams, strongswanDatagrams, strongswanPlaintexts } from '../test/fixtures/ikev1-vectors.js'
import { anyTopLevel } from '../test/helpers/arbitraries.js'
import { exchangeOf, GM_ADDRESS, KS_ADDRESS, session } from './session.js'
import { chainEnd } from './structure.js'

/** A decrypted (or unencrypted) payload chain with what decodeChain needs. */
export interface ChainVector {
  readonly name: string
  readonly exchange: number
  readonly first: number
  /** Chain octets, possibly followed by padding. */
  readonly bytes: Uint8Array
}

const GDOI_EXCHANGES = new Set([32, 33, 35])

/** Fuzz input of the chain layout: | first payload type | selector | chain… | (selector bit 0: SA kind gdoi). */
export function chainInput(first: number, selector: number, chain: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + chain.length)
  out[0] = first
  out[1] = selector
  out.set(chain, 2)
  return out
}

export function kindSelector(exchange: number): number {
  return GDOI_EXCHANGES.has(exchange) ? 1 : 0
}

/** A plaintext chain as an unencrypted datagram (header copied from `headerFrom` when given). */
export function cleartextDatagram(v: ChainVector, headerFrom?: Uint8Array): Uint8Array {
  const end = chainEnd(v.bytes, 0, v.bytes.length, v.first)?.end ?? v.bytes.length
  const out = new Uint8Array(28 + end)
  if (headerFrom !== undefined && headerFrom.length >= 28) out.set(headerFrom.subarray(0, 28), 0)
  else out.fill(0x11, 0, 16)
  out[16] = v.first
  out[17] = 0x10
  out[18] = v.exchange
  out[19] = 0
  new DataView(out.buffer).setUint32(24, out.length)
  out.set(v.bytes.subarray(0, end), 28)
  return out
}

let cache: ReturnType<typeof build> | undefined

function generatedChains(): ChainVector[] {
  // Same filter as test/property/payloads.test.ts: an SA decodes in the layout of the exchange.
  const samples = fc.sample(fc.tuple(fc.array(anyTopLevel, { minLength: 1, maxLength: 6 }), fc.constantFrom(2, 5, 32, 33)), { seed: 6407, numRuns: 400 })
  const out: ChainVector[] = []
  samples.forEach(([ps, exchange], i) => {
    const gdoi = GDOI_EXCHANGES.has(exchange)
    const chain = ps.filter((p) => p.type !== PayloadType.SA || 'unknown' in p || (p.kind === 'gdoi') === gdoi)
    if (chain.length === 0) return
    out.push({ name: `generated ${i}`, exchange, first: chain[0]?.type ?? 0, bytes: encodeChain(chain) })
  })
  return out
}

function build() {
  const s = session()
  const datagrams: { name: string; bytes: Uint8Array }[] = [
    ...allGdoidDatagrams.map((h, i) => ({ name: `gdoid ${i}`, bytes: hex(h) })),
    ...[...strongswanDatagrams, ...ciscoIkev1Datagrams, ...openswanNattDatagrams].map((d) => ({ name: `ikev1 frame ${d.frame}`, bytes: hex(d.hex) })),
    ...s.messages.map((m) => ({ name: `session ${m.name}`, bytes: m.bytes })),
  ]
  const vectors: ChainVector[] = [
    ...allGdoidPlaintexts.map((v, i) => ({ name: `gdoid plaintext ${i}`, exchange: v.exchange, first: v.first, bytes: hex(v.hex) })),
    ...Object.entries(strongswanPlaintexts).map(([n, v]) => ({ name: `strongSwan ${n}`, exchange: v.exchange, first: v.first, bytes: hex(v.hex) })),
    ...s.messages.flatMap((m) => (m.plaintext === undefined ? [] : [{ name: `session ${m.name}`, exchange: exchangeOf(m), first: m.bytes[16] ?? 0, bytes: m.plaintext }])),
    ...datagrams.filter((d) => d.bytes.length > 28 && ((d.bytes[19] ?? 0) & 1) === 0).map((d) => ({ name: `${d.name} chain`, exchange: d.bytes[18] ?? 0, first: d.bytes[16] ?? 0, bytes: d.bytes.subarray(28) })),
  ]
  const generated = generatedChains()
  const cleartext = [...vectors.filter((v) => !v.name.endsWith(' chain')), ...generated].map((v) => cleartextDatagram(v))
  return { datagrams, vectors, generated, cleartext }
}

function corpus(): ReturnType<typeof build> {
  cache ??= build()
  return cache
}

/** Every datagram we have, plus every plaintext (and generated chain) as an unencrypted datagram. */
export function datagramSeeds(): Uint8Array[] {
  const c = corpus()
  return [...c.datagrams.map((d) => d.bytes), ...c.cleartext]
}

/** Every chain we have (decrypted plaintexts, unencrypted datagrams' chains, generated) in the chain layout. */
export function chainSeeds(filter: (v: ChainVector) => boolean = () => true): Uint8Array[] {
  const c = corpus()
  return [...c.vectors, ...c.generated].filter(filter).map((v) => chainInput(v.first, kindSelector(v.exchange), v.bytes))
}

export function chainVectors(): readonly ChainVector[] {
  const c = corpus()
  return [...c.vectors, ...c.generated]
}

/** Session messages by name (MM1 … INFO-D). */
export function sessionMessage(name: string): { bytes: Uint8Array; plaintext?: Uint8Array } {
  const m = session().messages.find((x) => x.name === name)
  if (m === undefined) throw new Error(`no session message ${name}`)
  return m
}

/** The plaintext of a session message after its first (HASH) payload, in the chain layout with `selector`. */
export function afterHashInput(name: string, selector: number): Uint8Array {
  const p = sessionMessage(name).plaintext
  if (p === undefined) throw new Error(`${name} has no plaintext`)
  const hashLen = ((p[2] ?? 0) << 8) | (p[3] ?? 0)
  return chainInput(p[0] ?? 0, selector, p.subarray(hashLen))
}

/** The repository captures (small ones) and a capture of our own session written with writePcapUdp. */
export function captureSeeds(dir = '/work/shared/captures'): Uint8Array[] {
  const files: Uint8Array[] = []
  try {
    for (const f of readdirSync(dir)) {
      if (!/\.pcap(ng)?$/.test(f) || statSync(`${dir}/${f}`).size > 64 * 1024) continue
      files.push(new Uint8Array(readFileSync(`${dir}/${f}`)))
    }
  } catch {
    // captures are optional (a checkout without /work/shared still fuzzes the written one)
  }
  const s = session()
  files.push(
    writePcapUdp(
      s.messages.map((m, i) => {
        const fromGm = /^(MM[135]|PULL[13]|ACK|INFO-D)/.test(m.name)
        return { src: fromGm ? GM_ADDRESS : KS_ADDRESS, dst: fromGm ? KS_ADDRESS : GM_ADDRESS, sport: 848, dport: 848, payload: m.bytes, timeSec: i }
      }),
    ),
  )
  return files
}

/** ESP SAs of the esp target: one per mode family, all with SPI 0x1001 so every input reaches every suite. */
export const ESP_SAS: readonly EspSaParams[] = [
  { spi: 0x1001, transformId: 20, keyLengthBits: 256, encKey: new Uint8Array(36).fill(0x11) },
  { spi: 0x1001, transformId: 12, keyLengthBits: 128, authAlgorithm: 5, encKey: new Uint8Array(16).fill(0x22), authKey: new Uint8Array(32).fill(0x33) },
  { spi: 0x1001, transformId: 3, authAlgorithm: 1, encKey: new Uint8Array(24).fill(0x44), authKey: new Uint8Array(16).fill(0x55) },
  { spi: 0x1001, transformId: 13, keyLengthBits: 128, authAlgorithm: 2, encKey: new Uint8Array(20).fill(0x66), authKey: new Uint8Array(20).fill(0x77) },
]

export function espSeeds(): Uint8Array[] {
  const inner = Uint8Array.from({ length: 60 }, (_, i) => (i === 0 ? 0x45 : i))
  return ESP_SAS.flatMap((p, i) => {
    const ivBytes = p.transformId === 3 ? 8 : p.transformId === 12 ? 16 : 8
    return [1, 2].map((seq) => sealEsp(p, seq, new Uint8Array(ivBytes).fill(i + seq), inner.subarray(0, 20 * seq), 4))
  })
}
