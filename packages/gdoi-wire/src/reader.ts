// The only code (with writer.ts) that indexes bytes. Every read checks bounds first and throws
// DecodeError with the absolute offset, so no decoder can raise RangeError/TypeError or allocate
// more than the input holds.
import { DecodeError } from './errors.js'

export class Reader {
  readonly buf: Uint8Array
  readonly end: number
  pos: number
  readonly #view: DataView

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf
    this.pos = start
    this.end = end
    // byteOffset matters: Buffers often come from a shared pool.
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  get remaining(): number {
    return this.end - this.pos
  }

  u8(field: string): number {
    this.#need(1, field)
    const v = this.#view.getUint8(this.pos)
    this.pos += 1
    return v
  }

  u16(field: string): number {
    this.#need(2, field)
    const v = this.#view.getUint16(this.pos)
    this.pos += 2
    return v
  }

  u32(field: string): number {
    this.#need(4, field)
    const v = this.#view.getUint32(this.pos)
    this.pos += 4
    return v
  }

  /** Peek without consuming; `at` is relative to the current position. */
  peekU8(at: number, field: string): number {
    if (at < 0 || this.end - this.pos < at + 1) throw this.truncated(at + 1, field)
    return this.#view.getUint8(this.pos + at)
  }

  peekU16(at: number, field: string): number {
    if (at < 0 || this.end - this.pos < at + 2) throw this.truncated(at + 2, field)
    return this.#view.getUint16(this.pos + at)
  }

  /** A view (no copy) of the next n bytes. Copy with .slice() anything that outlives the datagram. */
  bytes(n: number, field: string): Uint8Array {
    this.#need(n, field)
    const v = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return v
  }

  /** All bytes up to the end of this reader (a view). */
  rest(): Uint8Array {
    const v = this.buf.subarray(this.pos, this.end)
    this.pos = this.end
    return v
  }

  /** A reader bounded to the next n bytes; this reader moves past them. */
  sub(n: number, field: string): Reader {
    this.#need(n, field)
    const r = new Reader(this.buf, this.pos, this.pos + n)
    this.pos += n
    return r
  }

  zero(n: 1 | 2 | 4, field: string): void {
    const at = this.pos
    const v = n === 1 ? this.u8(field) : n === 2 ? this.u16(field) : this.u32(field)
    if (v !== 0) throw new DecodeError('ERR_RESERVED_NONZERO', at, `${field} must be zero, is ${v}`)
  }

  /** Throws ERR_TRAILING_BYTES unless the reader is exhausted. */
  done(what: string): void {
    if (this.pos !== this.end) throw new DecodeError('ERR_TRAILING_BYTES', this.pos, `${what}: ${this.end - this.pos} bytes left over`)
  }

  fail(code: ConstructorParameters<typeof DecodeError>[0], detail: string, at = this.pos): DecodeError {
    return new DecodeError(code, at, detail)
  }

  truncated(n: number, field: string): DecodeError {
    return new DecodeError('ERR_TRUNCATED', this.pos, `${field}: need ${n}, have ${Math.max(0, this.end - this.pos)}`)
  }

  #need(n: number, field: string): void {
    if (n < 0 || this.end - this.pos < n) throw this.truncated(n, field)
  }
}
