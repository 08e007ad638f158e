// Hand-built worst cases for time and memory: the largest UDP payload (65,507 octets) packed with the
// most items a decoder has to materialise — 16 K empty payloads, 16 K TV attributes, 13 K key packets,
// 8 K proposals, 2.4 K SA TEKs, 16 K Delete SPIs — fed to the targets that parse them (RELIABILITY.md
// "Worst cases"). Random mutation rarely builds these, so they are measured on their own: the minimum of
// several warm runs (time without scheduling noise) and the bytes allocated by one run (needs --expose-gc).
import { ExchangeType, PayloadType as T } from '../src/constants.js'
import { chainInput } from './corpus.js'
import { MAX_INPUT_BYTES } from './mutators.js'
import { target } from './targets.js'

export interface WorstCase {
  readonly name: string
  readonly target: string
  readonly input: Uint8Array
}

const HEADER = 28
const MAX_CHAIN = MAX_INPUT_BYTES - HEADER

function u16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >> 8) & 0xff
  b[at + 1] = v & 0xff
}

function datagram(first: number, exchange: number, chain: Uint8Array): Uint8Array {
  const b = new Uint8Array(HEADER + chain.length)
  b.fill(0x11, 0, 16)
  b[16] = first
  b[17] = 0x10
  b[18] = exchange
  new DataView(b.buffer).setUint32(24, b.length)
  b.set(chain, HEADER)
  return b
}

/** One payload (generic header, Next Payload 0) around `body`; at most 65,535 octets. */
function payload(body: Uint8Array): Uint8Array {
  const b = new Uint8Array(4 + body.length)
  u16(b, 2, b.length)
  b.set(body, 4)
  return b
}

/** A chain of `n` empty payloads of `type` (each names the next one the same type). */
function emptyPayloads(type: number, n: number): Uint8Array {
  const b = new Uint8Array(4 * n)
  for (let i = 0; i < n; i++) {
    b[4 * i] = i + 1 < n ? type : 0
    u16(b, 4 * i + 2, 4)
  }
  return b
}

/** Largest body of one payload that still fits a datagram after `outer` other octets. */
const bodyMax = (outer: number): number => Math.min(0xffff - 4, MAX_CHAIN - outer - 4)

/** A chain of `n` Notification payloads with empty SPI and data (the smallest valid ones, 12 octets). */
function notifications(): Uint8Array {
  const n = Math.floor(MAX_CHAIN / 12)
  const b = new Uint8Array(12 * n)
  for (let i = 0; i < n; i++) b.set([i + 1 < n ? T.NOTIFICATION : 0, 0, 0, 12, 0, 0, 0, 1, 1, 0, 0, 24], 12 * i)
  return b
}

function gapAttributes(): Uint8Array {
  const n = Math.floor(bodyMax(0) / 4)
  const body = new Uint8Array(4 * n)
  for (let i = 0; i < n; i++) body.set([0x80, 1 + (i % 2), 0, 1], 4 * i) // ACTIVATION/DEACTIVATION_TIME_DELAY, TV
  return payload(body)
}

function keyPackets(): Uint8Array {
  const n = Math.floor((bodyMax(0) - 4) / 5)
  const body = new Uint8Array(4 + 5 * n)
  u16(body, 0, n)
  for (let i = 0; i < n; i++) body.set([1, 0, 0, 5, 0], 4 + 5 * i) // TEK packet, SPI size 0
  return payload(body)
}

/** KD with as many TEK key packets (distinct 4-octet SPIs, no attributes) as fit after `outer` octets. */
function tekPackets(outer = 0): Uint8Array {
  const n = Math.floor((bodyMax(outer) - 4) / 9)
  const body = new Uint8Array(4 + 9 * n)
  u16(body, 0, n)
  for (let i = 0; i < n; i++) body.set([1, 0, 0, 9, 4, 0, 0, (i >> 8) & 0xff, i & 0xff], 4 + 9 * i)
  return payload(body)
}

/** KD with as many SID key packets (16-bit SIDs, one SID_VALUE each) as fit. */
function sidPackets(): Uint8Array {
  const n = Math.floor((bodyMax(0) - 4) / 14)
  const body = new Uint8Array(4 + 14 * n)
  u16(body, 0, n)
  for (let i = 0; i < n; i++) body.set([4, 0, 0, 14, 0, 0x80, 1, 0, 16, 0, 2, 0, 1, i & 0xff], 4 + 14 * i)
  return payload(body)
}

function ikeProposals(): Uint8Array {
  const n = Math.floor((bodyMax(0) - 8) / 8)
  const body = new Uint8Array(8 + 8 * n)
  body.set([0, 0, 0, 1], 0) // DOI 1, situation 0
  for (let i = 0; i < n; i++) body.set([i + 1 < n ? 2 : 0, 0, 0, 8, i & 0xff, 1, 0, 0], 8 + 8 * i)
  return payload(body)
}

function gdoiNested(kind: 'empty' | 'sat', outer = 0): Uint8Array {
  // SAT: protocol-id 1 | protocol | SRC IPv4 (type 1, port, len 4, addr) | DST same | transform 12 | SPI
  const sat = [1, 0, 1, 0, 0, 4, 10, 0, 0, 0, 1, 0, 0, 4, 10, 0, 0, 0, 12, 0, 0, 0x10, 1]
  const item = kind === 'empty' ? 4 : 4 + sat.length
  const n = Math.floor((bodyMax(outer) - 12) / item)
  const body = new Uint8Array(12 + item * n)
  body.set([0, 0, 0, 2, 0, 0, 0, 0, 0, kind === 'empty' ? 200 : T.SA_TEK, 0, 0], 0)
  for (let i = 0; i < n; i++) {
    const at = 12 + item * i
    body[at] = i + 1 < n ? (kind === 'empty' ? 200 : T.SA_TEK) : 0
    u16(body, at + 2, item)
    if (kind === 'sat') body.set(sat, at + 4)
  }
  return payload(body)
}

function deleteSpis(): Uint8Array {
  const n = Math.floor((bodyMax(0) - 8) / 4)
  const body = new Uint8Array(8 + 4 * n)
  body.set([0, 0, 0, 1, 3, 4], 0)
  u16(body, 6, n)
  return payload(body)
}

/** Every worst case, for the targets that parse them. Built on call (a few hundred KiB). */
export function worstCases(): WorstCase[] {
  const chains: [string, number, number, Uint8Array][] = [
    ['16K empty payloads', 200, ExchangeType.GROUPKEY_PULL, emptyPayloads(200, Math.floor(MAX_CHAIN / 4))],
    ['5.4K Notification payloads', T.NOTIFICATION, ExchangeType.INFORMATIONAL, notifications()],
    ['GAP with 16K TV attributes', T.GAP, ExchangeType.GROUPKEY_PULL, gapAttributes()],
    ['KD with 13K key packets', T.KEY_DOWNLOAD, ExchangeType.GROUPKEY_PULL, keyPackets()],
    ['KD with 7.2K TEK packets (distinct SPIs)', T.KEY_DOWNLOAD, ExchangeType.GROUPKEY_PULL, tekPackets()],
    ['KD with 4.6K SID packets', T.KEY_DOWNLOAD, ExchangeType.GROUPKEY_PULL, sidPackets()],
    ['IKE SA with 8K proposals', T.SA, ExchangeType.IDENTITY_PROTECTION, ikeProposals()],
    ['GDOI SA with 16K nested payloads', T.SA, ExchangeType.GROUPKEY_PULL, gdoiNested('empty')],
    ['GDOI SA with 2.4K SA TEKs', T.SA, ExchangeType.GROUPKEY_PULL, gdoiNested('sat')],
    ['Delete with 16K SPIs', T.DELETE, ExchangeType.INFORMATIONAL, deleteSpis()],
  ]
  const out: WorstCase[] = []
  for (const [name, first, exchange, chain] of chains) {
    out.push({ name, target: 'datagram', input: datagram(first, exchange, chain) })
    const gdoi = exchange === ExchangeType.GROUPKEY_PULL ? 1 : 0
    out.push({ name, target: 'chain', input: chainInput(first, gdoi, chain) })
    if (gdoi === 1) out.push({ name, target: 'policy', input: chainInput(first, 1, chain) })
  }
  // A compromised KS: PULL2 (after HASH(2)) = Nr, SA with as much policy as fits, sealed with a valid HASH.
  const hashAndPad = 4 + 20 + 16
  const nonce = Uint8Array.of(T.SA, 0, 0, 20, ...new Uint8Array(16).fill(7))
  for (const [name, kind] of [['PULL2 with 16K nested payloads', 'empty'], ['PULL2 with 2.4K SA TEKs', 'sat']] as const) {
    const sa = gdoiNested(kind, hashAndPad + nonce.length)
    const rest = new Uint8Array(nonce.length + sa.length)
    rest.set(nonce, 0)
    rest.set(sa, nonce.length)
    out.push({ name, target: 'pull-member-sealed', input: chainInput(T.NONCE, 0, rest) })
  }
  // PULL4 (after HASH(4)) = SEQ, KD with 7.2K TEK packets
  const seq = Uint8Array.of(T.KEY_DOWNLOAD, 0, 0, 8, 0, 0, 0, 0)
  const kd = tekPackets(hashAndPad + seq.length)
  out.push({ name: 'PULL4 with 7.2K TEK packets', target: 'pull-member-sealed', input: chainInput(T.SEQ, 1, Uint8Array.from([...seq, ...kd])) })
  const push = datagram(T.SEQ, ExchangeType.GROUPKEY_PUSH, new Uint8Array(MAX_CHAIN - (MAX_CHAIN % 16)).fill(0xa5))
  push[19] = 1 // E flag
  out.push({ name: '64 KB ciphertext under the KEK', target: 'push-kek', input: push.subarray(16) }) // push-kek: input starts after the cookies
  return out
}

export interface WorstCaseResult {
  readonly name: string
  readonly target: string
  readonly bytes: number
  readonly outcome: string
  /** Minimum of `runs` warm runs. */
  readonly ms: number
  /** Heap + external growth over one run after a full GC; undefined without --expose-gc. */
  readonly allocBytes?: number
}

export function measureWorstCases(runs = 7): WorstCaseResult[] {
  return worstCases().map((w) => {
    const t = target(w.target)
    const once = (): string => {
      try {
        return t.run(w.input)
      } catch (e) {
        return e instanceof Error ? e.name : String(e)
      }
    }
    const outcome = once() // warm-up
    let ms = Infinity
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now()
      once()
      ms = Math.min(ms, performance.now() - t0)
    }
    let allocBytes: number | undefined
    if (typeof globalThis.gc === 'function') {
      globalThis.gc()
      const m0 = process.memoryUsage()
      once()
      const m1 = process.memoryUsage()
      allocBytes = Math.max(0, m1.heapUsed + m1.external - m0.heapUsed - m0.external)
    }
    return { name: w.name, target: w.target, bytes: w.input.length, outcome, ms, ...(allocBytes !== undefined ? { allocBytes } : {}) }
  })
}
