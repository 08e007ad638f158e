import t from 'tap'
import { Reader } from '../src/reader.js'
import { Writer } from '../src/writer.js'
import { DecodeError, EncodeError } from '../src/errors.js'

t.test('reader reads big-endian fields and reports the absolute offset of a truncation', (t) => {
  const buf = Uint8Array.from([0xaa, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06])
  const r = new Reader(buf, 1)
  t.equal(r.u16('a'), 0x0102)
  t.equal(r.u8('b'), 0x03)
  t.same([...r.bytes(2, 'c')], [4, 5])
  const err = t.throws(() => r.u32('d')) as unknown
  t.ok(err instanceof DecodeError)
  t.equal((err as DecodeError).code, 'ERR_TRUNCATED')
  t.equal((err as DecodeError).offset, 6)
  t.end()
})

t.test('writer refuses values out of range and writes at an offset', (t) => {
  const w = new Writer(new Uint8Array(6), 2)
  w.u16(0xbeef, 'x').u8(1, 'y')
  t.same([...w.buf], [0, 0, 0xbe, 0xef, 1, 0])
  t.throws(() => w.u16(0x10000, 'z'), EncodeError)
  t.throws(() => w.u32(1, 'z'), EncodeError)
  t.end()
})
