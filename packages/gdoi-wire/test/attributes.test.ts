import t from 'tap'
import { attrBytes, attributesLength, attrNumber, decodeAttributes, encodeAttributes, numAttr, tlv, tv, u32Attr } from '../src/attributes.js'
import { EncodeError } from '../src/errors.js'
import { Reader } from '../src/reader.js'
import { Writer } from '../src/writer.js'
import type { DataAttribute } from '../src/payloads/types.js'
import { assertDecodeError, hex, toHex } from './helpers/vectors.js'

const enc = (attrs: readonly DataAttribute[]) => {
  const w = Writer.alloc(attributesLength(attrs))
  encodeAttributes(attrs, w)
  t.equal(w.pos, w.buf.length)
  return toHex(w.buf)
}
const dec = (h: string) => decodeAttributes(new Reader(hex(h)))

t.test('TV and TLV decode as found and re-encode identically (spec §2.13 trace SAK attributes)', (t) => {
  const v = '80020002 80050002 80060001 00040004 00015180 7fff0000'
  const attrs = dec(v)
  t.same(attrs, [tv(2, 2), tv(5, 2), tv(6, 1), tlv(4, hex('00015180')), tlv(0x7fff, new Uint8Array(0))])
  t.equal(enc(attrs), toHex(hex(v)))
  t.end()
})

t.test('numbers: TV, TLV of 1..6 octets big-endian, leading zeros, too wide, empty', (t) => {
  const attrs = [tv(1, 0xbeef), tlv(2, hex('01')), tlv(3, hex('0102')), tlv(4, hex('010203')), tlv(5, hex('00000e10')), tlv(6, hex('010203040506')),
    tlv(7, hex('0000000000000e10')), tlv(8, hex('01020304050607')), tlv(9, new Uint8Array(0))]
  t.equal(attrNumber(attrs, 1), 0xbeef)
  t.equal(attrNumber(attrs, 2), 1)
  t.equal(attrNumber(attrs, 3), 0x0102)
  t.equal(attrNumber(attrs, 4), 0x010203)
  t.equal(attrNumber(attrs, 5), 3600)
  t.equal(attrNumber(attrs, 6), 0x010203040506)
  t.equal(attrNumber(attrs, 7), 3600, '8-octet value with leading zeros')
  t.equal(attrNumber(attrs, 8), undefined, '7 significant octets do not fit')
  t.equal(attrNumber(attrs, 9), undefined, 'empty value')
  t.equal(attrNumber(attrs, 10), undefined, 'absent')
  t.same(attrBytes(attrs, 5), hex('00000e10'))
  t.same(attrBytes(attrs, 1), hex('beef'), 'TV as two octets')
  t.equal(attrBytes(attrs, 10), undefined)
  t.end()
})

t.test('constructors', (t) => {
  t.same(numAttr(2, 3600), tv(2, 3600))
  t.same(numAttr(2, 86400), tlv(2, hex('00015180')))
  t.same(numAttr(2, 2 ** 40), tlv(2, hex('010000000000')))
  t.same(u32Attr(4, 300), tlv(4, hex('0000012c')))
  t.throws(() => u32Attr(4, 2 ** 32), EncodeError)
  t.throws(() => numAttr(4, -1), EncodeError)
  t.throws(() => numAttr(4, 2 ** 48), EncodeError)
  t.throws(() => numAttr(4, 1.5), EncodeError)
  t.end()
})

t.test('encode refuses out-of-range types, values and lengths', (t) => {
  t.throws(() => enc([tv(0x8000, 1)]), EncodeError)
  t.throws(() => enc([tv(1, 0x10000)]), EncodeError)
  t.throws(() => enc([tlv(1, new Uint8Array(0x10000))]), EncodeError)
  t.end()
})

t.test('decode errors carry the absolute offset', (t) => {
  assertDecodeError(t, () => decodeAttributes(new Reader(hex('ffff 8001'), 2)), 'ERR_TRUNCATED', 4)
  assertDecodeError(t, () => decodeAttributes(new Reader(hex('80010001 0002 0004 0102'))), 'ERR_TRUNCATED', 8)
  assertDecodeError(t, () => decodeAttributes(new Reader(hex('80010001 00'))), 'ERR_TRUNCATED', 4)
  t.end()
})
