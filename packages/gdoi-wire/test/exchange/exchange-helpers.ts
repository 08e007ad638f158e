// Shared pieces of the exchange tests: deterministic rng/clock, phase-1 SAs built from the trace keys or
// from a synthetic key set, and small accessors for the actions a step returns.
import { createHash } from 'node:crypto'
import { PayloadType } from '../../src/constants.js'
import type { IdPayload } from '../../src/payloads/types.js'
import type { ExchangeCtx, Phase1Sa } from '../../src/exchange/index.js'
import type { Phase1Trace } from '../crypto/fixtures.js'

export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

export function idIpv4(a: string): IdPayload {
  return { type: PayloadType.ID, idType: 1, protocol: 0, port: 0, data: Uint8Array.from(a.split('.').map(Number)) }
}

/** The phase-1 SA of a gdoid trace (3DES, SHA-1), as either side sees it. */
export function traceSa(tr: Phase1Trace, role: 'initiator' | 'responder', gm: string, ks: string): Phase1Sa {
  return {
    role,
    icookie: hex(tr.ckyI),
    rcookie: hex(tr.ckyR),
    hash: 'sha1',
    cipher: { name: 'des-ede3-cbc', keyBytes: 24, blockBytes: 8 },
    skeyid: hex(tr.skeyid),
    skeyidD: hex(tr.skeyidD),
    skeyidA: hex(tr.skeyidA),
    skeyidE: hex(tr.skeyidE),
    encKey: hex(tr.ka),
    lastBlock: hex(tr.lastPhase1Block),
    localId: idIpv4(role === 'initiator' ? gm : ks),
    peerId: idIpv4(role === 'initiator' ? ks : gm),
    lifetimeSec: 60,
    establishedAtMs: 0,
  }
}

/** A GM/KS pair of phase-1 SAs with identical keys (what Main Mode would leave behind): AES-256, SHA-256. */
export function syntheticPair(gm = '192.0.2.10', ks = '192.0.2.1', seed = 'pair'): { gm: Phase1Sa; ks: Phase1Sa } {
  const h = (label: string, n: number): Uint8Array => createHash('sha512').update(`${seed}/${label}`).digest().subarray(0, n)
  const common = {
    icookie: h('cky-i', 8),
    rcookie: h('cky-r', 8),
    hash: 'sha256' as const,
    cipher: { name: 'aes-256-cbc' as const, keyBytes: 32, blockBytes: 16 },
    skeyid: h('skeyid', 32),
    skeyidD: h('d', 32),
    skeyidA: h('a', 32),
    skeyidE: h('e', 32),
    encKey: h('ka', 32),
    lastBlock: h('last', 16),
    lifetimeSec: 86400,
    establishedAtMs: 0,
  }
  return {
    gm: { ...common, role: 'initiator', localId: idIpv4(gm), peerId: idIpv4(ks) },
    ks: { ...common, role: 'responder', localId: idIpv4(ks), peerId: idIpv4(gm) },
  }
}

/** Deterministic rng: scripted chunks first (each must be requested with its exact length), then SHA-256 counter bytes. */
export function testRng(scripted: readonly Uint8Array[] = [], seed = 'rng'): (n: number) => Uint8Array {
  const queue = [...scripted]
  let counter = 0
  return (n) => {
    const next = queue.shift()
    if (next !== undefined) {
      if (next.length !== n) throw new Error(`scripted rng: ${n} octets requested, next chunk has ${next.length}`)
      return next.slice()
    }
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i += 32) out.set(createHash('sha256').update(`${seed}/${counter++}`).digest().subarray(0, Math.min(32, n - i)), i)
    return out
  }
}

export interface TestClock {
  now: number
  advance(ms: number): void
}

export function testCtx(scripted: readonly Uint8Array[] = [], seed = 'rng', startMs = 1_000_000): ExchangeCtx & { clock: TestClock } {
  const clock: TestClock = {
    now: startMs,
    advance(ms) {
      this.now += ms
    },
  }
  return { rng: testRng(scripted, seed), nowMs: () => clock.now, clock }
}

type AnyAction = { readonly type: string }

/** Bytes of every 'send' action, in order. */
export function sent(actions: readonly AnyAction[]): Uint8Array[] {
  return actions.flatMap((a) => (a.type === 'send' && 'bytes' in a && a.bytes instanceof Uint8Array ? [a.bytes] : []))
}

/** The only 'send' of a step (throws unless exactly one). */
export function onlySent(actions: readonly AnyAction[]): Uint8Array {
  const s = sent(actions)
  if (s.length !== 1 || s[0] === undefined) throw new Error(`expected one send, got ${s.length}`)
  return s[0]
}

export function actionOf<A extends AnyAction, T extends A['type']>(actions: readonly A[], type: T): Extract<A, { type: T }> | undefined {
  return actions.find((a): a is Extract<A, { type: T }> => a.type === type)
}
