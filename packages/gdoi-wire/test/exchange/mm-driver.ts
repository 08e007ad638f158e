// Runs a Main Mode initiator against a responder in one process (strongSwan exchange_test_helper style):
// every datagram one side sends is handed to the other, until neither has anything to send.
import {
  createInitiator,
  createResponder,
  stepInitiator,
  stepResponder,
  type Action,
  type ExchangeCtx,
  type InitiatorConfig,
  type MainModeInitiator,
  type MainModeResponder,
  type ResponderConfig,
} from '../../src/exchange/index.js'
import { ctx, fixedClock, seededRng, sent } from './mm-helpers.js'

export const GM_ADDRESS = '192.0.2.10'

export interface Pair {
  i: MainModeInitiator
  r: MainModeResponder
  readonly ix: ExchangeCtx
  readonly rx: ExchangeCtx
  /** Every datagram in order, with its direction. */
  readonly transcript: { readonly dir: '-->' | '<--'; readonly bytes: Uint8Array }[]
  readonly iActions: Action[]
  readonly rActions: Action[]
}

export function newPair(icfg: InitiatorConfig, rcfg: ResponderConfig, seed = 'seed'): Pair {
  const clock = fixedClock()
  return {
    i: createInitiator(icfg),
    r: createResponder(rcfg, GM_ADDRESS),
    ix: ctx(seededRng(`i:${seed}`), clock.nowMs),
    rx: ctx(seededRng(`r:${seed}`), clock.nowMs),
    transcript: [],
    iActions: [],
    rActions: [],
  }
}

/** initiator ← datagram; returns what it sent. */
export function toInitiator(p: Pair, bytes: Uint8Array): Uint8Array[] {
  p.transcript.push({ dir: '<--', bytes })
  const [st, actions] = stepInitiator(p.i, { type: 'datagram', bytes }, p.ix)
  p.i = st
  p.iActions.push(...actions)
  return sent(actions)
}

/** responder ← datagram; returns what it sent. */
export function toResponder(p: Pair, bytes: Uint8Array): Uint8Array[] {
  p.transcript.push({ dir: '-->', bytes })
  const [st, actions] = stepResponder(p.r, { type: 'datagram', bytes }, p.rx)
  p.r = st
  p.rActions.push(...actions)
  return sent(actions)
}

export function start(p: Pair): Uint8Array[] {
  const [st, actions] = stepInitiator(p.i, { type: 'start' }, p.ix)
  p.i = st
  p.iActions.push(...actions)
  return sent(actions)
}

/** Ping-pong from the given initiator datagrams until both sides are quiet. */
export function run(p: Pair, fromInitiator: Uint8Array[]): void {
  let toR = fromInitiator
  for (let round = 0; round < 20 && toR.length > 0; round++) {
    const toI = toR.flatMap((b) => toResponder(p, b))
    toR = toI.flatMap((b) => toInitiator(p, b))
  }
}

export function handshake(icfg: InitiatorConfig, rcfg: ResponderConfig, seed = 'seed'): Pair {
  const p = newPair(icfg, rcfg, seed)
  run(p, start(p))
  return p
}
