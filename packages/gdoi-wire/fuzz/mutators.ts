// Mutators: byte-level havoc (flip/set/insert/delete/truncate) and structure-aware edits driven by
// structure.ts: set a length/count/size/next field to a boundary value (0, 3, 4, len±1, 0xffff…),
// splice or insert a payload/attribute taken from another corpus entry (the previous Next Payload and
// every enclosing length are patched, so the codec parses past it), repeat a payload (wide chains),
// remove one, or nest one in GDOI SAs (depth). A mutation is plain data, so fast-check can generate
// and shrink it (mutationArb) and the long run can draw it from a seeded PRNG (randomMutations); both
// apply it with the same mutate().
import fc from 'fast-check'
import { scan, type Field, type Layout, type LengthRef, type Span, type SpanLevel } from './structure.js'

export type Mutation =
  | { readonly op: 'flip'; readonly at: number; readonly bit: number }
  | { readonly op: 'set'; readonly at: number; readonly value: number }
  | { readonly op: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly op: 'delete'; readonly at: number; readonly count: number }
  | { readonly op: 'truncate'; readonly at: number }
  | { readonly op: 'field'; readonly pick: number; readonly choice: number }
  | { readonly op: 'splice'; readonly pick: number; readonly donor: number; readonly insert: boolean }
  | { readonly op: 'repeat'; readonly pick: number; readonly times: number }
  | { readonly op: 'remove'; readonly pick: number }
  | { readonly op: 'nest'; readonly pick: number; readonly depth: number }
  | { readonly op: 'attr'; readonly pick: number; readonly choice: number }

/** Payloads and attributes of the corpus by level, to splice into other inputs. */
export interface Donor {
  readonly type: number
  readonly bytes: Uint8Array
}
export type DonorPool = ReadonlyMap<SpanLevel, readonly Donor[]>

/** Upper bound on what mutation may grow an input to (the largest UDP payload). */
export const MAX_INPUT_BYTES = 65_507

export function buildDonorPool(seeds: readonly { readonly bytes: Uint8Array; readonly layout: Layout }[], perLevel = 4096): DonorPool {
  const pool = new Map<SpanLevel, Donor[]>()
  const seen = new Set<string>()
  for (const s of seeds) {
    for (const sp of scan(s.bytes, s.layout).spans) {
      const b = s.bytes.slice(sp.start, sp.end)
      const key = `${sp.level}/${Buffer.from(b).toString('hex')}`
      if (seen.has(key)) continue
      seen.add(key)
      const list = pool.get(sp.level) ?? []
      if (list.length < perLevel) list.push({ type: sp.type, bytes: b })
      pool.set(sp.level, list)
    }
  }
  return pool
}

// ---- field boundary values --------------------------------------------------------------------------

const NEXT_TYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 21, 22, 130, 255]
const EXCHANGES = [0, 2, 4, 5, 32, 33, 34, 35, 255]

function readField(b: Uint8Array, f: Field): number {
  let v = 0
  for (let i = 0; i < f.width; i++) v = v * 256 + (b[f.at + i] ?? 0)
  return v
}

function writeField(b: Uint8Array, at: number, width: 1 | 2 | 4, value: number): void {
  const max = 2 ** (8 * width)
  let v = ((value % max) + max) % max
  for (let i = width - 1; i >= 0; i--) {
    if (at + i >= 0 && at + i < b.length) b[at + i] = v & 0xff
    v = Math.floor(v / 256)
  }
}

function boundaryValues(f: Field, current: number): readonly number[] {
  const max = 2 ** (8 * f.width) - 1
  switch (f.kind) {
    case 'length':
      return f.width === 4
        ? [0, 27, 28, 29, f.natural - 1, f.natural + 1, f.natural + 4, current - 1, current + 1, max, 0x7fffffff, 0xffff]
        : [0, 3, 4, 5, f.natural - 1, f.natural, f.natural + 1, current - 1, current + 1, max, max >> 1, (max >> 1) + 1]
    case 'next':
      return NEXT_TYPES
    case 'count':
      return [0, 1, f.natural - 1, f.natural + 1, 0xff, max]
    case 'size':
      return [0, 1, 4, 8, 16, f.natural - 1, f.natural + 1, max]
    case 'exchange':
      return EXCHANGES
    case 'flags':
      return [0, 1, 2, 3, 4, 7, 0xff, current ^ 1]
  }
}

// Data attributes (spec §2.4; CVE-2023-20109 was in GDOI attribute processing): TV values at the edges
// of what the policy code accepts, TLV values of awkward sizes (empty, wider than a JS-safe integer),
// and another attribute type for the same value (type confusion).
const TV_VALUES = [0, 1, 2, 3, 4, 5, 7, 12, 20, 64, 0x80, 0xc0, 0x100, 0x7fff, 0x8000, 0xffff]
const TLV_SIZES = [0, 1, 2, 3, 4, 6, 7, 8, 16, 255, 256]
const ATTR_TYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 0x7fff]

function mutateAttribute(b: Uint8Array, sp: Span, choice: number): Uint8Array {
  const tvForm = ((b[sp.start] ?? 0) & 0x80) !== 0
  const c = Math.abs(choice)
  if (c % 4 === 0) {
    // another type, same form and value
    const out = b.slice()
    const type = ATTR_TYPES[(c >> 2) % ATTR_TYPES.length] ?? 0
    writeField(out, sp.start, 2, (tvForm ? 0x8000 : 0) | type)
    return out
  }
  if (tvForm) {
    const out = b.slice()
    writeField(out, sp.start + 2, 2, TV_VALUES[(c >> 2) % TV_VALUES.length] ?? 0)
    return out
  }
  // TLV: a value of another size, big-endian, all 0x01..0xff-ish so numeric readers see a large number
  const size = TLV_SIZES[(c >> 2) % TLV_SIZES.length] ?? 0
  const value = new Uint8Array(size).fill(c & 1 ? 0xff : 0x01)
  if (size > 0 && c & 2) value[0] = 0
  const attr = new Uint8Array(4 + size)
  attr.set(b.subarray(sp.start, sp.start + 2), 0)
  writeField(attr, 2, 2, size)
  attr.set(value, 4)
  const out = replaceRange(b, sp.start, sp.end, attr)
  adjust(out, sp.enclosing, attr.length - (sp.end - sp.start))
  return out
}

// ---- splicing helpers -------------------------------------------------------------------------------

function replaceRange(b: Uint8Array, start: number, end: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length - (end - start) + insert.length)
  out.set(b.subarray(0, start), 0)
  out.set(insert, start)
  out.set(b.subarray(end), start + insert.length)
  return out
}

/** Adds `delta` to every enclosing length (they all sit before the edited range, so offsets hold). */
function adjust(b: Uint8Array, refs: readonly LengthRef[], delta: number): void {
  for (const r of refs) {
    const cur = readField(b, { at: r.at, width: r.width, kind: 'length', natural: 0 })
    writeField(b, r.at, r.width, cur + delta)
  }
}

function setType(b: Uint8Array, sp: Span, type: number): void {
  if (sp.typeRef !== undefined) writeField(b, sp.typeRef.at, sp.typeRef.width, type)
}

function isGeneric(level: SpanLevel): boolean {
  return level !== 'attribute'
}

/** A GDOI SA (DOI 2) around `inner`, whose first nested payload has type `innerType`. */
function gdoiSaAround(inner: Uint8Array, innerType: number, next: number): Uint8Array {
  const out = new Uint8Array(16 + inner.length)
  const len = Math.min(0xffff, out.length)
  out.set([next, 0, len >> 8, len & 0xff, 0, 0, 0, 2, 0, 0, 0, 0, 0, innerType & 0xff, 0, 0], 0)
  out.set(inner, 16)
  out[16] = 0 // the nested chain ends with it
  return out
}

// ---- apply ------------------------------------------------------------------------------------------

function pick<T>(xs: readonly T[], n: number): T | undefined {
  return xs.length === 0 ? undefined : xs[Math.abs(n) % xs.length]
}

function applyOne(b: Uint8Array, layout: Layout, m: Mutation, pool: DonorPool): Uint8Array {
  switch (m.op) {
    case 'flip': {
      if (b.length === 0) return b
      const out = b.slice()
      const i = m.at % b.length
      out[i] = (out[i] ?? 0) ^ (1 << (m.bit & 7))
      return out
    }
    case 'set': {
      if (b.length === 0) return b
      const out = b.slice()
      out[m.at % b.length] = m.value & 0xff
      return out
    }
    case 'insert': {
      const at = m.at % (b.length + 1)
      return replaceRange(b, at, at, m.bytes)
    }
    case 'delete': {
      if (b.length === 0) return b
      const at = m.at % b.length
      return replaceRange(b, at, Math.min(b.length, at + Math.max(1, m.count)), new Uint8Array(0))
    }
    case 'truncate':
      return b.subarray(0, m.at % (b.length + 1)).slice()
    case 'field': {
      const f = pick(scan(b, layout).fields, m.pick)
      if (f === undefined) return b
      const values = boundaryValues(f, readField(b, f))
      const out = b.slice()
      writeField(out, f.at, f.width, pick(values, m.choice) ?? 0)
      return out
    }
    case 'splice': {
      const sp = pick(scan(b, layout).spans, m.pick)
      if (sp === undefined) return b
      const donor = pick(pool.get(sp.level) ?? [], m.donor)
      if (donor === undefined) return b
      const d = donor.bytes.slice()
      if (isGeneric(sp.level)) d[0] = m.insert ? sp.type : (b[sp.start] ?? 0) // keep the chain going after it
      const out = replaceRange(b, sp.start, m.insert ? sp.start : sp.end, d)
      adjust(out, sp.enclosing, m.insert ? d.length : d.length - (sp.end - sp.start))
      // The item now at sp.start is the donor: whatever named the old item's type must name the donor's.
      if (isGeneric(sp.level)) setType(out, sp, donor.type)
      return out
    }
    case 'repeat': {
      const sp = pick(scan(b, layout).spans, m.pick)
      if (sp === undefined) return b
      const one = b.slice(sp.start, sp.end)
      const times = 1 + (Math.abs(m.times) % 64)
      if (b.length + one.length * times > MAX_INPUT_BYTES) return b
      const copies = new Uint8Array(one.length * times)
      for (let i = 0; i < times; i++) {
        copies.set(one, i * one.length)
        if (isGeneric(sp.level)) copies[i * one.length] = sp.level === 'proposal' ? 2 : sp.level === 'transform' ? 3 : sp.type
      }
      const out = replaceRange(b, sp.start, sp.start, copies)
      adjust(out, sp.enclosing, copies.length)
      return out
    }
    case 'remove': {
      const sp = pick(scan(b, layout).spans, m.pick)
      if (sp === undefined) return b
      const out = replaceRange(b, sp.start, sp.end, new Uint8Array(0))
      adjust(out, sp.enclosing, -(sp.end - sp.start))
      if (isGeneric(sp.level)) setType(out, sp, b[sp.start] ?? 0)
      return out
    }
    case 'attr': {
      const sp = pick(
        scan(b, layout).spans.filter((s) => s.level === 'attribute'),
        m.pick,
      )
      return sp === undefined ? b : mutateAttribute(b, sp, m.choice)
    }
    case 'nest': {
      const sp = pick(
        scan(b, layout).spans.filter((s) => s.level === 'top' || s.level === 'nested'),
        m.pick,
      )
      if (sp === undefined) return b
      let inner: Uint8Array = b.slice(sp.start, sp.end)
      let innerType = sp.type
      const depth = 1 + (Math.abs(m.depth) % 8)
      for (let i = 0; i < depth; i++) {
        inner = gdoiSaAround(inner, innerType, i === depth - 1 ? (b[sp.start] ?? 0) : 0)
        innerType = 1
      }
      const out = replaceRange(b, sp.start, sp.end, inner)
      adjust(out, sp.enclosing, inner.length - (sp.end - sp.start))
      setType(out, sp, 1)
      return out
    }
  }
}

/** Applies the mutations in order. Never throws; the result is at most MAX_INPUT_BYTES long. */
export function mutate(input: Uint8Array, layout: Layout, ops: readonly Mutation[], pool: DonorPool): Uint8Array {
  let b: Uint8Array = input
  for (const m of ops) {
    const next = applyOne(b, layout, m, pool)
    if (next.length <= MAX_INPUT_BYTES) b = next
  }
  return b
}

// ---- generation -------------------------------------------------------------------------------------

/** Small deterministic PRNG (sfc32) for the long run: an input is reproducible from (seed, index). */
export interface Rng {
  u32(): number
  int(n: number): number
  chance(p: number): boolean
  bytes(n: number): Uint8Array
}

export function prng(seed: number): Rng {
  let a = 0x9e3779b9 ^ seed
  let b = 0x243f6a88
  let c = 0xb7e15162 ^ (seed * 31)
  let d = 1
  const u32 = (): number => {
    a >>>= 0
    b >>>= 0
    c >>>= 0
    d >>>= 0
    const t = (((a + b) | 0) + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    return t >>> 0
  }
  for (let i = 0; i < 16; i++) u32()
  return {
    u32,
    int: (n) => (n <= 0 ? 0 : u32() % n),
    chance: (p) => u32() / 0x1_0000_0000 < p,
    bytes: (n) => {
      const out = new Uint8Array(n)
      for (let i = 0; i < n; i++) out[i] = u32() & 0xff
      return out
    },
  }
}

const INTERESTING = [0, 1, 3, 4, 0x7f, 0x80, 0xfe, 0xff]

/** One random mutation; structure-aware ones are favoured for structured layouts. */
export function randomMutation(rng: Rng, layout: Layout): Mutation {
  const structured = layout.kind !== 'opaque'
  const r = rng.int(structured ? 100 : 45)
  const at = rng.u32()
  if (r < 12) return { op: 'flip', at, bit: rng.int(8) }
  if (r < 22) return { op: 'set', at, value: rng.chance(0.7) ? (INTERESTING[rng.int(INTERESTING.length)] ?? 0) : rng.int(256) }
  if (r < 30) return { op: 'insert', at, bytes: rng.chance(0.5) ? rng.bytes(1 + rng.int(16)) : new Uint8Array(1 + rng.int(8)).fill(rng.chance(0.5) ? 0 : 0xff) }
  if (r < 38) return { op: 'delete', at, count: 1 + rng.int(rng.chance(0.8) ? 8 : 256) }
  if (r < 45) return { op: 'truncate', at }
  if (r < 60) return { op: 'field', pick: rng.u32(), choice: rng.u32() }
  if (r < 70) return { op: 'attr', pick: rng.u32(), choice: rng.u32() }
  if (r < 82) return { op: 'splice', pick: rng.u32(), donor: rng.u32(), insert: rng.chance(0.4) }
  if (r < 88) return { op: 'repeat', pick: rng.u32(), times: rng.chance(0.8) ? rng.int(4) : rng.int(64) }
  if (r < 94) return { op: 'remove', pick: rng.u32() }
  return { op: 'nest', pick: rng.u32(), depth: rng.int(8) }
}

/** 1–8 mutations, mostly few (a geometric-ish count keeps most inputs close to their seed). */
export function randomMutations(rng: Rng, layout: Layout): Mutation[] {
  let n = 1
  while (n < 8 && rng.chance(0.45)) n++
  return Array.from({ length: n }, () => randomMutation(rng, layout))
}

const nat = fc.nat()
/** fast-check arbitrary of one mutation (shrinks towards small positions and simple ops). */
export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('field' as const), pick: nat, choice: nat }),
  fc.record({ op: fc.constant('splice' as const), pick: nat, donor: nat, insert: fc.boolean() }),
  fc.record({ op: fc.constant('attr' as const), pick: nat, choice: nat }),
  fc.record({ op: fc.constant('flip' as const), at: nat, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: nat, value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('insert' as const), at: nat, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ op: fc.constant('delete' as const), at: nat, count: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: nat }),
  fc.record({ op: fc.constant('repeat' as const), pick: nat, times: fc.integer({ min: 0, max: 63 }) }),
  fc.record({ op: fc.constant('remove' as const), pick: nat }),
  fc.record({ op: fc.constant('nest' as const), pick: nat, depth: fc.integer({ min: 0, max: 7 }) }),
)
export const mutationsArb = fc.array(mutationArb, { minLength: 1, maxLength: 8 })
