import t, { type Test } from 'tap'
import { PayloadType as T } from '../src/constants.js'
import type { DecodedChain } from '../src/message.js'
import type { Payload } from '../src/payloads/types.js'
import { checkRules, Rules, type MessageRule } from '../src/rules.js'
import { assertDecodeError } from './helpers/vectors.js'

// A chain of payload types with made-up spans of 4 octets each (only types and offsets matter here).
function chain(...types: number[]): DecodedChain {
  const payloads = types.map((type) => ({ type, unknown: true, body: new Uint8Array(0) }) as Payload)
  return { payloads, spans: types.map((_, i) => ({ start: 28 + 4 * i, end: 32 + 4 * i })), end: 28 + 4 * types.length }
}
const ok = (t: Test, rule: MessageRule, ...types: number[]) => t.doesNotThrow(() => checkRules(rule, chain(...types)), `${rule.name} accepts ${types.join(',')}`)
const bad = (t: Test, rule: MessageRule, offset: number, ...types: number[]) =>
  assertDecodeError(t, () => checkRules(rule, chain(...types)), 'ERR_UNEXPECTED_PAYLOAD', offset, `${rule.name} rejects ${types.join(',')}`)

t.test('phase 1', (t) => {
  ok(t, Rules.MM1, T.SA, T.VENDOR_ID, T.VENDOR_ID)
  bad(t, Rules.MM1, 32, T.SA, T.SA)
  ok(t, Rules.MM2, T.VENDOR_ID, T.SA) // VIDs are skipped wherever they are
  bad(t, Rules.MM2, 28, T.KE, T.SA)
  ok(t, Rules.MM3, T.KE, T.NONCE, T.NAT_D, T.NAT_D, 130)
  ok(t, Rules.MM4, T.KE, T.NONCE, T.VENDOR_ID, T.SA_KEK)
  bad(t, Rules.MM3, 32, T.KE)
  ok(t, Rules.MM5, T.ID, T.HASH, T.NOTIFICATION)
  ok(t, Rules.MM6, T.ID, T.CERT, T.SIG)
  bad(t, Rules.MM5, 40, T.ID, T.HASH, T.SIG)
  bad(t, Rules.MM5, 36, T.ID, T.CERT)
  bad(t, Rules.MM6, 28, T.HASH, T.ID)
  t.end()
})

t.test('GROUPKEY-PULL', (t) => {
  ok(t, Rules.PULL1, T.HASH, T.NONCE, T.ID)
  bad(t, Rules.PULL1, 36, T.HASH, T.ID, T.NONCE)
  bad(t, Rules.PULL1, 32, T.NONCE, T.HASH, T.ID)
  ok(t, Rules.PULL2, T.HASH, T.NONCE, T.SA)
  bad(t, Rules.PULL2, 40, T.HASH, T.NONCE, T.SA, T.KE)
  ok(t, Rules.PULL3, T.HASH)
  ok(t, Rules.PULL3, T.HASH, T.GAP)
  bad(t, Rules.PULL3, 36, T.HASH, T.GAP, T.GAP)
  ok(t, Rules.PULL4, T.HASH, T.KEY_DOWNLOAD)
  ok(t, Rules.PULL4, T.HASH, T.SEQ, T.KEY_DOWNLOAD)
  bad(t, Rules.PULL4, 36, T.HASH, T.KEY_DOWNLOAD, T.SEQ)
  bad(t, Rules.PULL4, 32, T.HASH)
  t.end()
})

t.test('GROUPKEY-PUSH and ACK', (t) => {
  ok(t, Rules.PUSH, T.SEQ, T.SA, T.KEY_DOWNLOAD, T.SIG)
  ok(t, Rules.PUSH, T.SEQ, T.DELETE, T.DELETE, T.SIG)
  ok(t, Rules.PUSH, T.SEQ, T.DELETE, T.SA, T.KEY_DOWNLOAD, T.CERT, T.SIG)
  bad(t, Rules.PUSH, 36, T.SEQ, T.SA, T.DELETE, T.KEY_DOWNLOAD, T.SIG)
  bad(t, Rules.PUSH, 44, T.SEQ, T.SA, T.KEY_DOWNLOAD, T.SIG, T.VENDOR_ID)
  bad(t, Rules.PUSH, 36, T.SEQ, T.SIG, T.SA)
  bad(t, Rules.PUSH, 32, T.SA, T.SEQ, T.SIG)
  ok(t, Rules.ACK, T.HASH, T.SEQ, T.ID)
  bad(t, Rules.ACK, 36, T.HASH, T.ID, T.SEQ)
  bad(t, Rules.ACK, 36, T.HASH, T.SEQ)
  t.end()
})

t.test('Informational', (t) => {
  ok(t, Rules.INFORMATIONAL, T.HASH, T.NOTIFICATION)
  ok(t, Rules.INFORMATIONAL, T.HASH, T.DELETE, T.DELETE)
  ok(t, Rules.INFORMATIONAL, T.NOTIFICATION)
  bad(t, Rules.INFORMATIONAL, 32, T.HASH)
  bad(t, Rules.INFORMATIONAL, 28, T.NOTIFICATION, T.HASH)
  t.end()
})
