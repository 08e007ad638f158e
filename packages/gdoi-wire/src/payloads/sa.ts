// Security Association payload (type 1). Two layouts share the type (spec §2.7, §2.12):
//
// IKE / IPsec-DOI form (Main Mode; also a Quick Mode SA that some peer sends in exchange 32):
// | Next Payload  |   RESERVED    |        Payload Length         |
// |              Domain of Interpretation (DOI)                   |
// |                   Situation (4 octets)                        |
// |  Proposal payloads (type 2), each holding Transform payloads (type 3) ...
//
// GDOI form (DOI 2 inside GROUPKEY-PULL/-PUSH), RFC 6407 §5.2. Payload Length covers the nested chain:
// | Next Payload  |   RESERVED    |        Payload Length         |
// |                       DOI (2)                                 |
// |                       Situation (0)                           |
// |   SA Attribute Next Payload   |          RESERVED2            |
// |  SAK (15)? GAP (22)? SAT (16)* ... as a second payload chain ending with Next Payload 0
//
// Which form: a GDOI exchange (ctx.saKind 'gdoi') with DOI 2 → GDOI; everything else → IKE. The DOI
// test keeps an IPsec Quick Mode SA (exchange 32 = QM number, DOI 1) decodable (strongSwan capture).
import { Doi, PayloadType } from '../constants.js'
import { DecodeError, EncodeError } from '../errors.js'
import { attributesLength, decodeAttributes, encodeAttributes } from '../attributes.js'
import type { Reader } from '../reader.js'
import type { Writer } from '../writer.js'
import type { BodyCodec } from './body-codec.js'
import { walkChain, writeChain, type RawPayload } from './chain.js'
import { gap } from './gap.js'
import { saKek } from './sa-kek.js'
import { saTek } from './sa-tek.js'
import { unknown } from './unknown.js'
import type {
  EncodeOptions,
  GdoiSaPayload,
  IkeSaPayload,
  ProposalPayload,
  SaAttributePayload,
  SaPayload,
  TransformPayload,
} from './types.js'

// ---- IKE form: proposals and transforms ----------------------------------------------------------

// Transform body: | Transform # | Transform-Id |   RESERVED2 (2)   |  SA Attributes ...
function transformLength(t: TransformPayload): number {
  return 4 + attributesLength(t.attributes)
}

function decodeTransform(raw: RawPayload): TransformPayload {
  if (raw.type !== PayloadType.TRANSFORM) throw new DecodeError('ERR_UNEXPECTED_PAYLOAD', raw.start, `payload ${raw.type} in a proposal, expected transforms`)
  const r = raw.body
  const number = r.u8('transform #')
  const transformId = r.u8('transform-id')
  r.zero(2, 'transform RESERVED2')
  return { number, transformId, attributes: decodeAttributes(r) }
}

// Proposal body: | Proposal # | Protocol-Id | SPI Size | # of Transforms | SPI ... | Transform payloads ...
function proposalLength(p: ProposalPayload): number {
  return p.transforms.reduce((n, t) => n + 4 + transformLength(t), 4 + p.spi.length)
}

function decodeProposal(raw: RawPayload): ProposalPayload {
  if (raw.type !== PayloadType.PROPOSAL) throw new DecodeError('ERR_UNEXPECTED_PAYLOAD', raw.start, `payload ${raw.type} in an SA, expected proposals`)
  const r = raw.body
  const number = r.u8('proposal #')
  const protocolId = r.u8('proposal protocol-id')
  const spiSize = r.u8('proposal SPI size')
  const countAt = r.pos
  const count = r.u8('# of transforms')
  const spi = r.bytes(spiSize, 'proposal SPI')
  // The count is redundant with the chain; a mismatch could not be re-encoded, so it is an error.
  const transforms = count === 0 ? [] : walkChain(r, PayloadType.TRANSFORM, 'transform', decodeTransform)
  if (transforms.length !== count) throw new DecodeError('ERR_BAD_VALUE', countAt, `# of transforms ${count}, proposal holds ${transforms.length}`)
  return { number, protocolId, spi, transforms }
}

function encodeProposal(p: ProposalPayload, w: Writer): void {
  if (p.spi.length > 0xff) throw new EncodeError('ERR_TOO_LONG', `proposal SPI of ${p.spi.length} octets`)
  w.u8(p.number, 'proposal #').u8(p.protocolId, 'proposal protocol-id').u8(p.spi.length, 'proposal SPI size')
  w.u8(p.transforms.length, '# of transforms').bytes(p.spi, 'proposal SPI')
  writeChain(p.transforms, w, () => PayloadType.TRANSFORM, (t, tw) => {
    tw.u8(t.number, 'transform #').u8(t.transformId, 'transform-id').u16(0, 'transform RESERVED2')
    encodeAttributes(t.attributes, tw)
  })
}

function ikeBodyLength(p: IkeSaPayload): number {
  return p.proposals.reduce((n, x) => n + 4 + proposalLength(x), 8)
}

function encodeIke(p: IkeSaPayload, w: Writer): void {
  if (p.situation.length !== 4) throw new EncodeError('ERR_BAD_VALUE', `SA situation must be 4 octets, got ${p.situation.length}`)
  w.u32(p.doi, 'SA DOI').bytes(p.situation, 'SA situation')
  writeChain(p.proposals, w, () => PayloadType.PROPOSAL, encodeProposal)
}

function decodeIke(r: Reader, doi: number): IkeSaPayload {
  const situation = r.bytes(4, 'SA situation')
  // An SA without proposals is useless but well-formed; the exchange rejects it.
  const proposals = r.remaining === 0 ? [] : walkChain(r, PayloadType.PROPOSAL, 'proposal', decodeProposal)
  return { type: PayloadType.SA, kind: 'ike', doi, situation, proposals }
}

// ---- GDOI form: the nested SA-attribute chain ----------------------------------------------------

function isUnknown(p: SaAttributePayload): p is Extract<SaAttributePayload, { unknown: true }> {
  return 'unknown' in p
}

function nestedBodyLength(p: SaAttributePayload, opts: EncodeOptions | undefined): number {
  if (isUnknown(p)) return unknown.bodyLength(p, opts)
  switch (p.type) {
    case PayloadType.SA_KEK:
      return saKek.bodyLength(p, opts)
    case PayloadType.SA_TEK:
      return saTek.bodyLength(p, opts)
    case PayloadType.GAP:
      return gap.bodyLength(p, opts)
  }
}

function encodeNested(p: SaAttributePayload, w: Writer, opts: EncodeOptions | undefined): void {
  if (isUnknown(p)) return unknown.encodeBody(p, w, opts)
  switch (p.type) {
    case PayloadType.SA_KEK:
      return saKek.encodeBody(p, w, opts)
    case PayloadType.SA_TEK:
      return saTek.encodeBody(p, w, opts)
    case PayloadType.GAP:
      return gap.encodeBody(p, w, opts)
  }
}

function decodeNested(raw: RawPayload): SaAttributePayload {
  const ctx = { saKind: 'gdoi', type: raw.type } as const
  switch (raw.type) {
    case PayloadType.SA_KEK:
      return saKek.decodeBody(raw.body, ctx)
    case PayloadType.SA_TEK:
      return saTek.decodeBody(raw.body, ctx)
    case PayloadType.GAP:
      return gap.decodeBody(raw.body, ctx)
    default:
      return unknown.decodeBody(raw.body, ctx)
  }
}

function gdoiBodyLength(p: GdoiSaPayload, opts: EncodeOptions | undefined): number {
  return p.attributePayloads.reduce((n, x) => n + 4 + nestedBodyLength(x, opts), 12)
}

function encodeGdoi(p: GdoiSaPayload, w: Writer, opts: EncodeOptions | undefined): void {
  const first = p.attributePayloads[0]?.type ?? 0
  w.u32(p.doi, 'SA DOI').u32(p.situation, 'SA situation').u16(first, 'SA attribute next payload').u16(0, 'SA RESERVED2')
  writeChain(p.attributePayloads, w, (x) => x.type, (x, xw) => encodeNested(x, xw, opts))
}

function decodeGdoi(r: Reader, doi: number): GdoiSaPayload {
  const situation = r.u32('SA situation')
  const firstAt = r.pos
  const first = r.u16('SA attribute next payload')
  // 16-bit field (RFC 6407 §5.2), but it names a payload type, and nested Next Payloads are 8-bit.
  if (first > 0xff) throw new DecodeError('ERR_BAD_VALUE', firstAt, `SA attribute next payload ${first} is not a payload type`)
  r.zero(2, 'SA RESERVED2')
  const attributePayloads = walkChain(r, first, 'SA attribute', decodeNested)
  return { type: PayloadType.SA, kind: 'gdoi', doi, situation, attributePayloads }
}

export const sa: BodyCodec<SaPayload> = {
  bodyLength: (p, opts) => (p.kind === 'gdoi' ? gdoiBodyLength(p, opts) : ikeBodyLength(p)),
  encodeBody: (p, w, opts) => (p.kind === 'gdoi' ? encodeGdoi(p, w, opts) : encodeIke(p, w)),
  decodeBody: (r, ctx) => {
    const doi = r.u32('SA DOI')
    return ctx.saKind === 'gdoi' && doi === Doi.GDOI ? decodeGdoi(r, doi) : decodeIke(r, doi)
  },
}
