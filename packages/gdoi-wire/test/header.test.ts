import t from 'tap'
import { ExchangeType, Flags } from '../src/constants.js'
import { EncodeError } from '../src/errors.js'
import { decodeHeader, encodeHeader } from '../src/header.js'
import { Writer } from '../src/writer.js'
import { assertDecodeError, hex, toHex } from './helpers/vectors.js'

// Spec §7.3 trace A PULL1 header (E flag, M-ID 483c11c0, length 84).
const PULL1 = 'a91b9d5035d8fc4f272325e695db688b 08 10 20 01 483c11c0 00000054'

t.test('decodes the trace A PULL1 header and re-encodes it', (t) => {
  const buf = new Uint8Array(84)
  buf.set(hex(PULL1))
  const h = decodeHeader(buf)
  t.same(h, {
    icookie: hex('a91b9d5035d8fc4f'), rcookie: hex('272325e695db688b'), nextPayload: 8, version: 0x10,
    exchange: ExchangeType.GROUPKEY_PULL, flags: Flags.ENCRYPTION, messageId: 0x483c11c0, length: 84,
  })
  const w = Writer.alloc(28)
  encodeHeader(h, w)
  t.equal(toHex(w.buf), toHex(hex(PULL1)))
  t.end()
})

t.test('decodes at an offset; minor version is free', (t) => {
  const buf = new Uint8Array(5 + 28)
  buf.set(hex(PULL1.replace(' 10 20', ' 11 20').replace('00000054', '0000001c')), 5)
  const h = decodeHeader(buf, 5)
  t.equal(h.version, 0x11)
  t.equal(h.length, 28)
  t.end()
})

t.test('errors', (t) => {
  assertDecodeError(t, () => decodeHeader(hex('a91b9d50')), 'ERR_TRUNCATED', 0)
  assertDecodeError(t, () => decodeHeader(hex(PULL1.replace(' 10 20', ' 20 20'))), 'ERR_BAD_VERSION', 17)
  assertDecodeError(t, () => decodeHeader(hex(PULL1.replace('00000054', '0000001b'))), 'ERR_BAD_LENGTH', 24)
  assertDecodeError(t, () => decodeHeader(hex(PULL1)), 'ERR_BAD_LENGTH', 24, 'length past the datagram')
  assertDecodeError(t, () => decodeHeader(hex(PULL1).subarray(0, 27)), 'ERR_TRUNCATED', 24)
  const h = decodeHeader(hex(PULL1.replace('00000054', '0000001c')))
  t.throws(() => encodeHeader({ ...h, icookie: new Uint8Array(7) }, Writer.alloc(28)), EncodeError)
  t.throws(() => encodeHeader(h, Writer.alloc(27)), EncodeError)
  t.end()
})
