// The key server's answers to finished GROUPKEY-PULLs, kept for a while so that a byte-identical repeat
// of PULL3 (PULL4 was lost) gets the same PULL4 again (spec §1.7: a repeat is answered, never processed
// twice). One entry per phase-1 SA that has any, as one latin1 string of records
// [M-ID u32][until f64][SHA-256 of the request, 16 bytes][length u16][response]: a registration storm
// leaves one such answer per member for the window, and as string it costs its bytes plus a Map entry —
// as a PullEntry with its two Uint8Arrays, a Map and a Promise it cost ≈ 1.3 KiB more (bench/README.md).
import { createHash } from 'node:crypto'

/** Answers kept per SA (older ones are dropped first). */
const MAX_PER_SA = 4
const HEAD = 4 + 8 + 16 + 2

function digest(b: Uint8Array): string {
  return createHash('sha256').update(b).digest().toString('latin1', 0, 16)
}

interface Record {
  readonly mid: number
  readonly untilMs: number
  readonly digest: string
  readonly response: string
}

function parse(s: string): Record[] {
  const out: Record[] = []
  const b = Buffer.from(s, 'latin1')
  let o = 0
  while (o + HEAD <= b.length) {
    const len = b.readUInt16BE(o + 28)
    out.push({ mid: b.readUInt32BE(o), untilMs: b.readDoubleBE(o + 4), digest: s.slice(o + 12, o + 28), response: s.slice(o + HEAD, o + HEAD + len) })
    o += HEAD + len
  }
  return out
}

function serialize(rs: readonly Record[]): string {
  let s = ''
  for (const r of rs) {
    const h = Buffer.alloc(HEAD)
    h.writeUInt32BE(r.mid >>> 0, 0)
    h.writeDoubleBE(r.untilMs, 4)
    h.write(r.digest, 12, 16, 'latin1')
    h.writeUInt16BE(r.response.length, 28)
    s += h.toString('latin1') + r.response
  }
  return s
}

export class AnswerCache {
  readonly #byKey = new Map<string, string>()

  get size(): number {
    return this.#byKey.size
  }

  has(key: string): boolean {
    return this.#byKey.has(key)
  }

  /** Keeps `response` as the answer to `request` (exchange `mid` of SA `key`) until `untilMs`. False when
   *  it does not fit a record (a response over 64 KiB: not a datagram the KS sends). */
  add(key: string, mid: number, request: Uint8Array, response: Uint8Array, untilMs: number): boolean {
    if (response.length > 0xffff) return false
    const old = this.#byKey.get(key)
    const rest = old === undefined ? [] : parse(old).filter((r) => r.mid !== mid)
    const rec: Record = { mid, untilMs, digest: digest(request), response: Buffer.from(response.buffer, response.byteOffset, response.byteLength).toString('latin1') }
    this.#byKey.set(key, serialize([...rest.slice(-(MAX_PER_SA - 1)), rec]))
    return true
  }

  /**
   * Exchange `mid` of SA `key` is a finished one: 'repeat' with the response when `request` is a
   * byte-identical repeat of its last request, 'other' when it is not (nothing else is read), undefined
   * when no answer of that exchange is kept.
   */
  lookup(key: string, mid: number, request: Uint8Array, nowMs: number): { kind: 'repeat'; response: Uint8Array } | { kind: 'other' } | undefined {
    const s = this.#byKey.get(key)
    if (s === undefined) return undefined
    const r = parse(s).find((x) => x.mid === mid && x.untilMs > nowMs)
    if (r === undefined) return undefined
    if (r.digest !== digest(request)) return { kind: 'other' }
    return { kind: 'repeat', response: new Uint8Array(Buffer.from(r.response, 'latin1')) }
  }

  /** Drops the answers of SA `key` that are due at `nowMs`. */
  expire(key: string, nowMs: number): void {
    const s = this.#byKey.get(key)
    if (s === undefined) return
    const rest = parse(s).filter((r) => r.untilMs > nowMs)
    if (rest.length === 0) this.#byKey.delete(key)
    else this.#byKey.set(key, serialize(rest))
  }

  delete(key: string): void {
    this.#byKey.delete(key)
  }

  clear(): void {
    this.#byKey.clear()
  }
}
