// JSON lines: one object per datagram. Bytes are lowercase hex; payloads keep the codec's field names
// plus `name`; numbers stay numbers (exchange, msgid, SPIs of TEKs) so tools need not parse text.
import { toHex } from '../crypto/bytes.js'
import { opaquePayloadName, payloadName } from './names.js'
import type { CaptureRecord, EspInfo, InnerPacket, LearnedKey } from './record.js'

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

/** Uint8Array → hex, nested objects/arrays converted, `type` of a payload-like object gets a `name`. */
export function toJson(v: unknown): Json {
  if (v instanceof Uint8Array) return toHex(v)
  if (Array.isArray(v)) return v.map(toJson)
  if (v === null || v === undefined) return null
  if (typeof v === 'object') {
    const o: { [k: string]: Json } = {}
    const rec = v as Record<string, unknown>
    if (typeof rec.type === 'number' && !('tv' in rec)) o.name = rec.unknown === true ? opaquePayloadName(rec.type) : payloadName(rec.type)
    for (const [k, x] of Object.entries(rec)) if (x !== undefined) o[k] = toJson(x)
    return o
  }
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v
  return String(v)
}

function innerJson(i: InnerPacket): Json {
  const { esp, ...rest } = i
  return { ...(toJson(rest) as { [k: string]: Json }), ...(esp ? { esp: espJson(esp) } : {}) }
}

function espJson(e: EspInfo): Json {
  const { inner, ...rest } = e
  return { ...(toJson(rest) as { [k: string]: Json }), spiHex: `0x${e.spi.toString(16).padStart(8, '0')}`, ...(inner ? { inner: innerJson(inner) } : {}) }
}

function learnedJson(l: LearnedKey): Json {
  const o = toJson(l) as { [k: string]: Json }
  if (l.kind === 'tek') o.spiHex = `0x${l.spi.toString(16).padStart(8, '0')}`
  return o
}

export function recordToJson(r: CaptureRecord): { [k: string]: Json } {
  const h = r.isakmp
  return {
    frame: r.frame,
    time: r.timeSec,
    src: r.src,
    dst: r.dst,
    sport: r.sport ?? null,
    dport: r.dport ?? null,
    kind: r.kind,
    exchange: h?.exchange ?? null,
    exchangeName: h?.exchangeName ?? null,
    msgid: h?.messageId ?? null,
    msgidHex: h ? `0x${h.messageId.toString(16).padStart(8, '0')}` : null,
    flags: h?.flags ?? null,
    icookie: h ? toHex(h.icookie) : null,
    rcookie: h ? toHex(h.rcookie) : null,
    length: h?.length ?? null,
    nonEspMarker: h?.nonEspMarker ?? false,
    encrypted: r.encrypted,
    decrypted: r.decrypted,
    payloads: r.payloads.map(toJson),
    checks: toJson(r.checks),
    esp: r.esp ? espJson(r.esp) : null,
    learned: r.learned.map(learnedJson),
    notes: [...r.notes],
    errors: r.errors.map(toJson),
  }
}

/** One JSON object per line, newline-terminated. */
export function formatJsonLines(records: readonly CaptureRecord[]): string {
  return records.map((r) => `${JSON.stringify(recordToJson(r))}\n`).join('')
}
