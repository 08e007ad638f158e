// A tolerant structure scan of ISAKMP/GDOI octets for the structure-aware mutators: where the length,
// next-payload, count and size fields are, and where each payload (top-level, nested SAK/SAT/GAP,
// proposal, transform) and each data attribute starts and ends. Unlike the codec it never throws and
// never checks anything: it follows whatever the octets say, clamped to the buffer, so it also maps
// inputs that are already half broken. Bounded: at most MAX_ITEMS fields and spans per scan.
import { ExchangeType, Flags, PayloadType as T } from '../src/constants.js'

export type FieldKind = 'length' | 'next' | 'count' | 'size' | 'exchange' | 'flags'

export interface Field {
  readonly at: number
  readonly width: 1 | 2 | 4
  readonly kind: FieldKind
  /** The value a consistent message would hold (a length: the octets the item really spans). */
  readonly natural: number
}

export type SpanLevel = 'top' | 'nested' | 'proposal' | 'transform' | 'attribute'

export interface LengthRef {
  readonly at: number
  readonly width: 1 | 2 | 4
}

export interface Span {
  readonly start: number
  readonly end: number
  readonly level: SpanLevel
  /** Payload type (attributes: the attribute type). */
  readonly type: number
  /** The field that names this item's type (the previous Next Payload, the header, the SA attribute next, a selector). */
  readonly typeRef?: LengthRef
  /** Length fields of the items enclosing this one (innermost first), header Length included. */
  readonly enclosing: readonly LengthRef[]
}

export interface Structure {
  readonly fields: Field[]
  readonly spans: Span[]
}

/**
 * How the octets are laid out:
 * - datagram: an ISAKMP header at `headerAt` (negative when the input omits the cookies, push-kek), chain after it unless E is set;
 * - chain: a payload chain at `start` whose first type is the octet at `firstAt` (a selector octet of the fuzz input);
 * - opaque: no structure (pcap files, ESP packets): byte-level mutation only.
 */
export type Layout =
  | { readonly kind: 'datagram'; readonly headerAt: number }
  | { readonly kind: 'chain'; readonly start: number; readonly firstAt: number; readonly saKind: 'ike' | 'gdoi' }
  | { readonly kind: 'opaque' }

const MAX_ITEMS = 512
const GDOI_EXCHANGES = new Set<number>([ExchangeType.GROUPKEY_PULL, ExchangeType.GROUPKEY_PUSH, ExchangeType.GROUPKEY_PUSH_ACK])

function u16(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0)
}

function u32(b: Uint8Array, at: number): number {
  return (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0
}

class Scan {
  readonly out: Structure = { fields: [], spans: [] }
  readonly b: Uint8Array
  constructor(b: Uint8Array) {
    this.b = b
  }
  get full(): boolean {
    return this.out.fields.length + this.out.spans.length >= MAX_ITEMS
  }
  field(at: number, width: 1 | 2 | 4, kind: FieldKind, natural: number): void {
    if (at >= 0 && at + width <= this.b.length && !this.full) this.out.fields.push({ at, width, kind, natural })
  }

  /** A generic-header chain in [p, end) starting with `first`. */
  chain(p: number, end: number, first: number, typeRef: LengthRef | undefined, level: SpanLevel, saKind: 'ike' | 'gdoi', enclosing: readonly LengthRef[]): void {
    let type = first
    let ref = typeRef
    while (type !== 0 && p + 4 <= end && !this.full) {
      const len = u16(this.b, p + 2)
      this.field(p, 1, 'next', this.b[p] ?? 0)
      this.field(p + 2, 2, 'length', Math.max(4, end - p))
      if (len < 4 || p + len > end) return
      this.out.spans.push({ start: p, end: p + len, level, type, ...(ref !== undefined ? { typeRef: ref } : {}), enclosing })
      const inner = [{ at: p + 2, width: 2 as const }, ...enclosing]
      this.body(p + 4, p + len, type, level, saKind, inner)
      type = level === 'proposal' ? (this.b[p] === 0 ? 0 : T.PROPOSAL) : level === 'transform' ? (this.b[p] === 0 ? 0 : T.TRANSFORM) : (this.b[p] ?? 0)
      ref = { at: p, width: 1 }
      p += len
    }
  }

  body(p: number, end: number, type: number, level: SpanLevel, saKind: 'ike' | 'gdoi', enclosing: readonly LengthRef[]): void {
    if (level === 'proposal') {
      const spiSize = this.b[p + 2] ?? 0
      this.field(p + 2, 1, 'size', spiSize)
      this.field(p + 3, 1, 'count', this.b[p + 3] ?? 0)
      this.chain(p + 4 + spiSize, end, T.TRANSFORM, undefined, 'transform', saKind, enclosing)
      return
    }
    if (level === 'transform') return this.attributes(p + 4, end, enclosing)
    if (level === 'nested') {
      if (type === T.SA_KEK) return this.sak(p, end, enclosing)
      if (type === T.SA_TEK) return this.sat(p, end, enclosing)
      if (type === T.GAP) return this.attributes(p, end, enclosing)
      return
    }
    switch (type) {
      case T.SA: {
        const doi = u32(this.b, p)
        if (saKind === 'gdoi' && doi === 2) {
          const first = u16(this.b, p + 8)
          this.field(p + 8, 2, 'next', first)
          this.chain(p + 12, end, first & 0xff, { at: p + 9, width: 1 }, 'nested', saKind, enclosing)
        } else {
          this.chain(p + 8, end, T.PROPOSAL, undefined, 'proposal', saKind, enclosing)
        }
        return
      }
      case T.KEY_DOWNLOAD: {
        this.field(p, 2, 'count', u16(this.b, p))
        let q = p + 4
        while (q + 5 <= end && !this.full) {
          const len = u16(this.b, q + 2)
          this.field(q + 2, 2, 'length', end - q)
          const spiSize = this.b[q + 4] ?? 0
          this.field(q + 4, 1, 'size', spiSize)
          if (len < 5 || q + len > end) return
          this.attributes(q + 5 + spiSize, q + len, [{ at: q + 2, width: 2 }, ...enclosing])
          q += len
        }
        return
      }
      case T.NOTIFICATION:
        this.field(p + 5, 1, 'size', this.b[p + 5] ?? 0)
        return
      case T.DELETE:
        this.field(p + 5, 1, 'size', this.b[p + 5] ?? 0)
        this.field(p + 6, 2, 'count', u16(this.b, p + 6))
        return
      case T.GAP:
        return this.attributes(p, end, enclosing)
      default:
        return
    }
  }

  /** SRC or DST identity: | type | port (2) | length (1 or 2) | data |; returns the offset after it. */
  trafficId(p: number, width: 1 | 2): number {
    const at = p + 3
    const len = width === 1 ? (this.b[at] ?? 0) : u16(this.b, at)
    this.field(at, width, 'length', len)
    return at + width + len
  }

  sak(p: number, end: number, enclosing: readonly LengthRef[]): void {
    const width = this.b[p + 4] === 0 ? 2 : 1
    const q = this.trafficId(this.trafficId(p + 1, width), width)
    this.attributes(q + 16 + 4, end, enclosing)
  }

  sat(p: number, end: number, enclosing: readonly LengthRef[]): void {
    const protocolId = this.b[p] ?? 0
    if (protocolId !== 1 && protocolId !== 2) return
    const width = this.b[p + 5] === 0 ? 2 : 1
    const q = this.trafficId(this.trafficId(p + 2, width), width)
    this.attributes(q + 1 + 4, end, enclosing)
  }

  attributes(p: number, end: number, enclosing: readonly LengthRef[]): void {
    while (p + 4 <= end && !this.full) {
      const word = u16(this.b, p)
      let len = 4
      if ((word & 0x8000) === 0) {
        const n = u16(this.b, p + 2)
        this.field(p + 2, 2, 'length', Math.max(0, end - p - 4))
        len = 4 + n
        if (p + len > end) return
      }
      this.out.spans.push({ start: p, end: p + len, level: 'attribute', type: word & 0x7fff, enclosing })
      p += len
    }
  }
}

/** Maps the fields and spans of `buf` laid out as `layout`. Never throws. */
export function scan(buf: Uint8Array, layout: Layout): Structure {
  const s = new Scan(buf)
  if (layout.kind === 'opaque') return s.out
  if (layout.kind === 'chain') {
    const first = buf[layout.firstAt] ?? 0
    s.chain(layout.start, buf.length, first, { at: layout.firstAt, width: 1 }, 'top', layout.saKind, [])
    return s.out
  }
  const h = layout.headerAt
  s.field(h + 16, 1, 'next', buf[h + 16] ?? 0)
  s.field(h + 18, 1, 'exchange', buf[h + 18] ?? 0)
  s.field(h + 19, 1, 'flags', buf[h + 19] ?? 0)
  s.field(h + 24, 4, 'length', buf.length - h)
  const flags = buf[h + 19] ?? 0
  if ((flags & Flags.ENCRYPTION) === 0) {
    const kind = GDOI_EXCHANGES.has(buf[h + 18] ?? 0) ? 'gdoi' : 'ike'
    const end = Math.min(buf.length, h + u32(buf, h + 24))
    const headerLen = h + 24 >= 0 ? [{ at: h + 24, width: 4 as const }] : []
    s.chain(h + 28, end, buf[h + 16] ?? 0, h + 16 >= 0 ? { at: h + 16, width: 1 } : undefined, 'top', kind, headerLen)
  }
  return s.out
}

/**
 * End of the chain a receiver would walk in buf[start, end) from `first` (tolerant: stops at a length
 * that does not fit), and the offset of the last payload's generic header; undefined for an empty chain.
 */
export function chainEnd(buf: Uint8Array, start: number, end: number, first: number): { end: number; lastAt: number } | undefined {
  let p = start
  let type = first
  let lastAt: number | undefined
  for (let n = 0; type !== 0 && p + 4 <= end && n < 4096; n++) {
    const len = u16(buf, p + 2)
    if (len < 4 || p + len > end) break
    lastAt = p
    type = buf[p] ?? 0
    p += len
  }
  return lastAt === undefined ? undefined : { end: p, lastAt }
}
