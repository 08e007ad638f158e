// Decodes a payload chain one payload at a time, so a malformed payload still leaves the ones before
// it decoded (a capture decoder shows what it can; message.ts decodeChain is all-or-nothing).
import { DecodeError } from '../errors.js'
import { decodePayload, type SaKind } from '../message.js'
import type { Payload, PayloadSpan } from '../payloads/types.js'

export interface WalkedChain {
  readonly payloads: Payload[]
  readonly spans: PayloadSpan[]
  /** One past the last decoded payload. */
  readonly end: number
  /** Set when a payload failed to decode; the walk stopped there. */
  readonly error?: DecodeError
}

export function walkPayloads(buf: Uint8Array, start: number, end: number, first: number, saKind: SaKind): WalkedChain {
  const payloads: Payload[] = []
  const spans: PayloadSpan[] = []
  let type = first
  let at = start
  while (type !== 0) {
    try {
      const d = decodePayload(buf, at, type, saKind, end)
      payloads.push(d.payload)
      spans.push({ start: at, end: d.end })
      at = d.end
      type = d.next
    } catch (e) {
      if (e instanceof DecodeError) return { payloads, spans, end: at, error: e }
      throw e
    }
  }
  return { payloads, spans, end: at }
}
