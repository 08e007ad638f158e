import t from 'tap'
import { ExchangeType, Flags, PayloadType } from '../src/constants.js'
import { EncodeError } from '../src/errors.js'
import { groupIdKeyId } from '../src/id.js'
import {
  chainLength, decodeChain, decodeMessage, decodePayload, encodeChain, encodeChainInto, encodeEncryptedMessage, encodeMessage, saKindFor,
} from '../src/message.js'
import { Writer } from '../src/writer.js'
import type { Payload } from '../src/payloads/types.js'
import { traceAPlaintexts, traceADatagrams } from './fixtures/gdoid-vectors.js'
import { assertDecodeError, hex, toHex } from './helpers/vectors.js'

const hdr = { icookie: hex('a91b9d5035d8fc4f'), rcookie: hex('272325e695db688b'), version: 0x10, exchange: ExchangeType.GROUPKEY_PULL, flags: 0, messageId: 0x483c11c0 }
// Trace A PULL1 chain: HASH(1), Ni, ID.
const pull1: Payload[] = [
  { type: PayloadType.HASH, data: hex('cbcd9b402b21b9a9837189139d6bb0f73b3272e3') },
  { type: PayloadType.NONCE, data: hex('69d181efe0b9580e4106b883719b382a') },
  groupIdKeyId(1234),
]

t.test('saKindFor', (t) => {
  t.same([32, 33, 35].map(saKindFor), ['gdoi', 'gdoi', 'gdoi'])
  t.same([2, 4, 5, 34, 0].map(saKindFor), ['ike', 'ike', 'ike', 'ike', 'ike'])
  t.end()
})

t.test('encodeChain links Next Payload fields and reproduces the trace A PULL1 plaintext', (t) => {
  const bytes = encodeChain(pull1)
  t.equal(bytes.length, chainLength(pull1))
  t.equal(toHex(bytes), traceAPlaintexts.PULL1.hex)
  t.same(encodeChain([]), new Uint8Array(0))
  t.end()
})

t.test('decodeChain: spans are absolute, padding after the chain is ignored', (t) => {
  const buf = new Uint8Array(100).fill(0xaa)
  const plain = hex(traceAPlaintexts.PULL1.hex)
  buf.set(plain, 10)
  const c = decodeChain(buf, 10, 10 + plain.length + 8, PayloadType.HASH, 'gdoi')
  t.same(c.spans, [{ start: 10, end: 34 }, { start: 34, end: 54 }, { start: 54, end: 66 }])
  t.equal(c.end, 66)
  t.same(c.payloads, pull1)
  // "everything after the HASH payload" for HASH(1):
  t.equal(toHex(buf.subarray(c.spans[0]!.end, c.end)), toHex(encodeChain(pull1.slice(1))))
  const empty = decodeChain(buf, 10, 20, 0, 'gdoi')
  t.same(empty, { payloads: [], spans: [], end: 10 })
  t.end()
})

t.test('decodeChain errors', (t) => {
  const plain = hex(traceAPlaintexts.PULL1.hex)
  assertDecodeError(t, () => decodeChain(plain, 0, 50, 8, 'gdoi'), 'ERR_BAD_LENGTH', 46, 'last payload runs past end')
  assertDecodeError(t, () => decodeChain(plain, 0, 44, 8, 'gdoi'), 'ERR_TRUNCATED', 44, 'chain names a payload that is not there')
  assertDecodeError(t, () => decodeChain(hex('00010008 00000000'), 0, 8, 18, 'gdoi'), 'ERR_RESERVED_NONZERO', 1)
  assertDecodeError(t, () => decodeChain(hex('00000003 00000000'), 0, 8, 18, 'gdoi'), 'ERR_BAD_LENGTH', 2)
  assertDecodeError(t, () => decodeChain(plain, 0, plain.length + 1, 8, 'gdoi'), 'ERR_BAD_LENGTH', 0, 'range outside the buffer')
  assertDecodeError(t, () => decodeChain(plain, 5, 4, 8, 'gdoi'), 'ERR_BAD_LENGTH', 5)
  assertDecodeError(t, () => decodePayload(plain, 0, 8, 'gdoi', plain.length + 1), 'ERR_BAD_LENGTH', 0)
  t.end()
})

t.test('encodeMessage computes Next Payload and Length; decodeMessage reverses it', (t) => {
  const msg = encodeMessage(hdr, pull1)
  t.equal(msg.length, 28 + 56)
  const m = decodeMessage(msg)
  t.equal(m.header.nextPayload, PayloadType.HASH)
  t.equal(m.header.length, 84)
  t.same(m.chain?.payloads, pull1)
  t.equal(m.chain?.spans[0]?.start, 28, 'spans are absolute in the datagram')
  const empty = encodeMessage(hdr, [])
  t.equal(decodeMessage(empty).header.nextPayload, 0)
  t.end()
})

t.test('encrypted messages: E flag forced, ciphertext is a view', (t) => {
  const ct = new Uint8Array(16).fill(7)
  const msg = encodeEncryptedMessage({ ...hdr, nextPayload: PayloadType.HASH }, ct)
  const m = decodeMessage(msg)
  t.equal(m.header.flags & Flags.ENCRYPTION, Flags.ENCRYPTION)
  t.equal(m.header.length, 44)
  t.equal(m.chain, undefined)
  t.same(m.ciphertext, ct)
  t.equal(m.ciphertext?.buffer, msg.buffer)
  const trace = hex(traceADatagrams.PULL1)
  t.equal(toHex(decodeMessage(trace).ciphertext!), toHex(trace.subarray(28)))
  t.end()
})

t.test('decodeMessage: bytes after the Length or after the chain are errors', (t) => {
  const msg = encodeMessage(hdr, pull1)
  const longer = new Uint8Array(msg.length + 2)
  longer.set(msg)
  assertDecodeError(t, () => decodeMessage(longer), 'ERR_TRAILING_BYTES', msg.length)
  const padded = encodeMessage(hdr, [...pull1, { type: 200, unknown: true, body: new Uint8Array(0) }])
  padded[28 + 44] = 0 // ID's Next Payload := 0: the last 4 octets become padding
  assertDecodeError(t, () => decodeMessage(padded), 'ERR_TRAILING_BYTES', 84)
  assertDecodeError(t, () => decodeMessage(new Uint8Array(10)), 'ERR_TRUNCATED', 8)
  t.end()
})

t.test('encode-side errors', (t) => {
  // SA KEK / SA TEK values are nested-only.
  t.throws(() => encodeChain([{ type: PayloadType.SA_KEK } as unknown as Payload]), EncodeError)
  t.throws(() => encodeChain([{ type: PayloadType.NONCE, data: new Uint8Array(65532) }]), EncodeError, 'payload length over 65535')
  t.throws(() => encodeChainInto(pull1, Writer.alloc(10)), EncodeError, 'buffer too small')
  t.end()
})
