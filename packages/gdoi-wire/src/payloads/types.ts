// Value types of every ISAKMP/GDOI payload (spec §2). Codecs live one per file next to this one.
// Decoded byte fields are views into the datagram: copy with .slice() anything that outlives it.
// The types keep what is needed to re-encode a decoded payload byte for byte (attribute order and
// TV/TLV form, ID-length width, unknown payloads as opaque bytes).
import type { PayloadType } from '../constants.js'

/** An ISAKMP data attribute (RFC 2408 §3.3): TV ("basic", AF=1, 16-bit value) or TLV (variable). */
export type DataAttribute =
  | { readonly type: number; readonly tv: true; readonly value: number }
  | { readonly type: number; readonly tv: false; readonly value: Uint8Array }

/** The 28-octet ISAKMP header (spec §2.2). */
export interface IsakmpHeader {
  readonly icookie: Uint8Array // 8 octets
  readonly rcookie: Uint8Array // 8 octets
  readonly nextPayload: number
  readonly version: number // 0x10
  readonly exchange: number
  readonly flags: number
  readonly messageId: number
  readonly length: number
}

// ---- phase-1 (IKE) SA: proposals and transforms (spec §2.7) --------------------------------------

export interface TransformPayload {
  readonly number: number
  readonly transformId: number // KEY_IKE = 1
  readonly attributes: readonly DataAttribute[]
}

export interface ProposalPayload {
  readonly number: number
  readonly protocolId: number // PROTO_ISAKMP = 1
  readonly spi: Uint8Array // usually empty
  readonly transforms: readonly TransformPayload[]
}

/** SA payload of an IKE exchange (Main Mode): DOI 1 or 2, situation, proposals. */
export interface IkeSaPayload {
  readonly type: typeof PayloadType.SA
  readonly kind: 'ike'
  readonly doi: number
  readonly situation: Uint8Array // 4 octets
  readonly proposals: readonly ProposalPayload[]
}

// ---- GDOI SA and its nested SA-attribute payloads (spec §2.12–§2.15) -----------------------------

/** Source or destination identity of an SA KEK / SA TEK (ID type, port, data). */
export interface TrafficId {
  readonly idType: number
  readonly port: number
  readonly data: Uint8Array
}

/** Width of the SRC/DST ID Data Length fields as found on the wire (spec §2.19). */
export type IdLengthWidth = 1 | 2

export interface SaKekPayload {
  readonly type: typeof PayloadType.SA_KEK
  readonly protocol: number // IP protocol of the rekey transport, 17
  readonly src: TrafficId
  readonly dst: TrafficId
  readonly spi: Uint8Array // 16 octets = push ICOOKIE‖RCOOKIE
  readonly attributes: readonly DataAttribute[]
  readonly idLengthWidth: IdLengthWidth
}

/** The ESP/AH protocol-specific part of an SA TEK (RFC 6407 §5.5.1). */
export interface IpsecTek {
  readonly protocol: number // IP protocol selector, 0 = any
  readonly src: TrafficId
  readonly dst: TrafficId
  readonly transformId: number
  readonly spi: number // 32-bit
  readonly attributes: readonly DataAttribute[]
  readonly idLengthWidth: IdLengthWidth
}

export interface SaTekPayload {
  readonly type: typeof PayloadType.SA_TEK
  readonly protocolId: number // GDOI numbering: 1 ESP, 2 AH
  /** Present for ESP/AH; other protocol IDs keep their body opaque in `raw`. */
  readonly ipsec?: IpsecTek
  readonly raw?: Uint8Array
}

export interface GapPayload {
  readonly type: typeof PayloadType.GAP
  readonly attributes: readonly DataAttribute[]
}

/** A nested payload of a GDOI SA whose type we do not know: kept opaque. */
export interface UnknownPayload {
  readonly type: number
  readonly unknown: true
  readonly body: Uint8Array
}

export type SaAttributePayload = SaKekPayload | GapPayload | SaTekPayload | UnknownPayload

/** SA payload of a GDOI exchange (PULL2, PUSH): DOI 2, nested SAK/GAP/SAT chain in order. */
export interface GdoiSaPayload {
  readonly type: typeof PayloadType.SA
  readonly kind: 'gdoi'
  readonly doi: number // 2
  readonly situation: number // 0
  readonly attributePayloads: readonly SaAttributePayload[]
}

export type SaPayload = IkeSaPayload | GdoiSaPayload

// ---- simple payloads (spec §2.8–§2.11, §2.16, §2.17) ----------------------------------------------

export interface KePayload { readonly type: typeof PayloadType.KE; readonly data: Uint8Array }
export interface NoncePayload { readonly type: typeof PayloadType.NONCE; readonly data: Uint8Array }
export interface HashPayload { readonly type: typeof PayloadType.HASH; readonly data: Uint8Array }
export interface SigPayload { readonly type: typeof PayloadType.SIG; readonly data: Uint8Array }
export interface VendorIdPayload { readonly type: typeof PayloadType.VENDOR_ID; readonly data: Uint8Array }

/** ID payload, IPsec-DOI layout (also the GDOI group identity in PULL1 and the ACK). */
export interface IdPayload {
  readonly type: typeof PayloadType.ID
  readonly idType: number
  readonly protocol: number
  readonly port: number
  readonly data: Uint8Array
}

export interface CertPayload { readonly type: typeof PayloadType.CERT; readonly encoding: number; readonly data: Uint8Array }
export interface CrPayload { readonly type: typeof PayloadType.CR; readonly certType: number; readonly authority: Uint8Array }

export interface NotificationPayload {
  readonly type: typeof PayloadType.NOTIFICATION
  readonly doi: number
  readonly protocolId: number
  readonly notifyType: number
  readonly spi: Uint8Array
  readonly data: Uint8Array
}

export interface DeletePayload {
  readonly type: typeof PayloadType.DELETE
  readonly doi: number
  readonly protocolId: number
  readonly spiSize: number
  readonly spis: readonly Uint8Array[]
}

export interface KeyPacket {
  readonly kdType: number // 1 TEK, 2 KEK, 3 LKH, 4 SID
  readonly spi: Uint8Array // 4 (TEK), 16 (KEK/LKH), 0 (SID)
  readonly attributes: readonly DataAttribute[]
}

export interface KeyDownloadPayload {
  readonly type: typeof PayloadType.KEY_DOWNLOAD
  readonly packets: readonly KeyPacket[]
}

export interface SeqPayload { readonly type: typeof PayloadType.SEQ; readonly seq: number }

/** A top-level payload type we do not decode (or 15/16 outside a GDOI SA): kept as opaque bytes. */
export interface OpaquePayload {
  readonly type: number
  readonly unknown: true
  readonly body: Uint8Array
}

export type Payload =
  | SaPayload
  | KePayload
  | IdPayload
  | CertPayload
  | CrPayload
  | HashPayload
  | SigPayload
  | NoncePayload
  | NotificationPayload
  | DeletePayload
  | VendorIdPayload
  | KeyDownloadPayload
  | SeqPayload
  | GapPayload
  | OpaquePayload

/** Byte range of one decoded payload (generic header included), absolute in the decoded buffer. */
export interface PayloadSpan {
  readonly start: number
  readonly end: number
}

/** Options for encoding: the SA TEK ID-length width (1 = RFC 6407 form, default; 2 = tshark 4.0 form). The SAK keeps its own. */
export interface EncodeOptions {
  readonly idLengthWidth?: IdLengthWidth
}
