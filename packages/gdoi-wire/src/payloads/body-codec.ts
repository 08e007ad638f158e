// The shape every payload codec has (strongSwan's encodings[] table, as a small object). The generic
// payload header (Next Payload, RESERVED, Payload Length) is read and written by the chain walker in
// chain.ts, so a body codec only sees a Reader bounded to its body and must consume all of it.
import type { Reader } from '../reader.js'
import type { Writer } from '../writer.js'
import type { EncodeOptions } from './types.js'

/** Which SA layout a top-level SA payload uses: phase-1/IPsec proposals, or the GDOI nested chain. */
export type SaKind = 'ike' | 'gdoi'

export interface DecodeCtx {
  readonly saKind: SaKind
  /** The payload type as named by the previous Next Payload field (unknown.ts keeps it). */
  readonly type: number
}

export interface BodyCodec<P> {
  /** Body length in octets, generic header excluded. */
  bodyLength(p: P, opts?: EncodeOptions): number
  encodeBody(p: P, w: Writer, opts?: EncodeOptions): void
  /** `r` is bounded to the body; message.ts requires it to be exhausted afterwards. */
  decodeBody(r: Reader, ctx: DecodeCtx): P
}
