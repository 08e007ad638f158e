// Writes into a caller-owned buffer at an offset (dns-packet style), so a whole message is encoded with
// one allocation and no intermediate copies. Values out of range throw EncodeError.
import { EncodeError } from './errors.js'

export class Writer {
  readonly buf: Uint8Array
  pos: number
  readonly #view: DataView

  constructor(buf: Uint8Array, offset = 0) {
    this.buf = buf
    this.pos = offset
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  /** A writer over a fresh zeroed buffer of exactly n bytes. */
  static alloc(n: number): Writer {
    return new Writer(new Uint8Array(n))
  }

  u8(v: number, field: string): this {
    this.#check(v, 0xff, field)
    this.#room(1, field)
    this.#view.setUint8(this.pos, v)
    this.pos += 1
    return this
  }

  u16(v: number, field: string): this {
    this.#check(v, 0xffff, field)
    this.#room(2, field)
    this.#view.setUint16(this.pos, v)
    this.pos += 2
    return this
  }

  u32(v: number, field: string): this {
    this.#check(v, 0xffffffff, field)
    this.#room(4, field)
    this.#view.setUint32(this.pos, v)
    this.pos += 4
    return this
  }

  bytes(b: Uint8Array, field: string): this {
    this.#room(b.length, field)
    this.buf.set(b, this.pos)
    this.pos += b.length
    return this
  }

  zeros(n: number, field: string): this {
    this.#room(n, field)
    this.buf.fill(0, this.pos, this.pos + n)
    this.pos += n
    return this
  }

  /** Patch a u16 written earlier (payload lengths known only after the body). */
  setU16(at: number, v: number, field: string): void {
    this.#check(v, 0xffff, field)
    this.#view.setUint16(at, v)
  }

  setU32(at: number, v: number, field: string): void {
    this.#check(v, 0xffffffff, field)
    this.#view.setUint32(at, v)
  }

  #check(v: number, max: number, field: string): void {
    if (!Number.isInteger(v) || v < 0 || v > max) throw new EncodeError('ERR_OUT_OF_RANGE', `${field}: ${v} is not an integer in 0..${max}`)
  }

  #room(n: number, field: string): void {
    if (this.pos + n > this.buf.length) throw new EncodeError('ERR_BUFFER_TOO_SMALL', `${field}: need ${n} bytes at ${this.pos}, buffer is ${this.buf.length}`)
  }
}
