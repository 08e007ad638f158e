// Bounds-checked reads of a capture file in either byte order (pcap and pcapng are written in the
// capturing host's order, unlike ISAKMP, so the big-endian Reader of the codec does not fit).
import { CaptureError } from './capture-error.js'

export class FileReader {
  readonly buf: Uint8Array
  pos: number
  littleEndian: boolean
  readonly #view: DataView

  constructor(buf: Uint8Array, littleEndian = true) {
    this.buf = buf
    this.pos = 0
    this.littleEndian = littleEndian
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  get remaining(): number {
    return this.buf.length - this.pos
  }

  need(n: number, what: string, at = this.pos): void {
    if (n < 0 || at + n > this.buf.length) {
      throw new CaptureError('ERR_CAPTURE_TRUNCATED', at, `${what}: need ${n} bytes, file has ${Math.max(0, this.buf.length - at)} left`)
    }
  }

  u16At(at: number, what: string): number {
    this.need(2, what, at)
    return this.#view.getUint16(at, this.littleEndian)
  }

  u32At(at: number, what: string): number {
    this.need(4, what, at)
    return this.#view.getUint32(at, this.littleEndian)
  }

  /** Big-endian u32 regardless of the file's order (magic numbers). */
  u32BeAt(at: number, what: string): number {
    this.need(4, what, at)
    return this.#view.getUint32(at, false)
  }

  u8At(at: number, what: string): number {
    this.need(1, what, at)
    return this.#view.getUint8(at)
  }

  u32(what: string): number {
    const v = this.u32At(this.pos, what)
    this.pos += 4
    return v
  }

  /** A view of n bytes at `at`. */
  bytesAt(at: number, n: number, what: string): Uint8Array {
    this.need(n, what, at)
    return this.buf.subarray(at, at + n)
  }
}

/** Big-endian u16 of a packet (network order); the caller has checked the length. */
export function be16(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0)
}

