// What gdoi-pcap says about one datagram. Pure data: the text and JSON formatters render it.
import type { Payload } from '../payloads/types.js'

export type CheckState = 'ok' | 'bad' | 'unknown'

export interface Checks {
  /** HASH_I/HASH_R (Main Mode), HASH(1..4) (PULL / Quick Mode), HASH(1) (Informational). */
  hash?: CheckState
  /** GROUPKEY-PUSH SIG (either RSA form, either hashed length). */
  signature?: CheckState
  /** GROUPKEY-PUSH SEQ against the last accepted for the KEK: 'replay' = not larger, 'duplicate' = a byte-identical retransmission. */
  seq?: 'ok' | 'replay' | 'duplicate' | 'unknown'
  /** ESP ICV / AEAD tag. */
  icv?: CheckState
}

export type ErrorLayer = 'ip' | 'udp' | 'isakmp' | 'esp'

export interface RecordError {
  readonly layer: ErrorLayer
  readonly code: string
  /**
   * Byte offset: in the IP packet for layer ip/udp, in the ISAKMP message (plaintext offsets are
   * shifted by the 28-byte header, i.e. the position of the ciphertext byte) for isakmp, in the ESP
   * packet for esp.
   */
  readonly offset?: number
  readonly detail: string
}

export interface IsakmpInfo {
  readonly icookie: Uint8Array
  readonly rcookie: Uint8Array
  readonly nextPayload: number
  readonly version: number
  readonly exchange: number
  readonly flags: number
  readonly messageId: number
  readonly length: number
  /** Carried after the 4-octet non-ESP marker on UDP 4500. */
  readonly nonEspMarker: boolean
  /**
   * Exchange name in context: 32 is GROUPKEY-PULL or IKEv1 QUICK-MODE (the same number), told apart by
   * the first message's payloads when decrypted, else by phase-1 DOI 2 or port 848.
   */
  readonly exchangeName: string
}

/** The packet inside ESP (tunnel mode: the inner IP header; transport mode: the upper-layer protocol). */
export interface InnerPacket {
  readonly protocol: number
  readonly src?: string
  readonly dst?: string
  readonly length: number
  readonly icmpType?: number
  readonly icmpCode?: number
  readonly sport?: number
  readonly dport?: number
  /** An ESP packet inside the tunnel (decrypted too when its SA is known). */
  readonly esp?: EspInfo
}

export interface EspInfo {
  readonly spi: number
  readonly seq: number
  /** Carried in UDP 4500 (RFC 3948). */
  readonly udpEncapsulated: boolean
  readonly nextHeader?: number
  readonly inner?: InnerPacket
  readonly decrypted: boolean
}

/** Keys the key chain learned from this datagram (printed because the user's keys let us decrypt it). */
export type LearnedKey =
  | {
      readonly kind: 'kek'
      readonly spi: Uint8Array
      readonly cipher: string
      readonly iv: Uint8Array
      readonly key: Uint8Array
      readonly sigHash?: string
      readonly publicKey?: Uint8Array
    }
  | {
      readonly kind: 'tek'
      readonly spi: number
      readonly transformId: number
      readonly authAlgorithm?: number
      readonly keyLengthBits?: number
      readonly encKey: Uint8Array
      readonly authKey?: Uint8Array
    }
  | { readonly kind: 'seq'; readonly kekSpi: Uint8Array; readonly seq: number }

/** 'ip': an IPv4 packet too broken to tell what it carries. */
export type RecordKind = 'isakmp' | 'esp' | 'nat-keepalive' | 'ip'

export interface CaptureRecord {
  readonly frame: number
  readonly timeSec: number
  readonly src: string
  readonly dst: string
  readonly sport?: number
  readonly dport?: number
  readonly kind: RecordKind
  readonly isakmp?: IsakmpInfo
  readonly esp?: EspInfo
  /** The E flag (ISAKMP) or ESP. */
  readonly encrypted: boolean
  readonly decrypted: boolean
  /** Decoded payload chain (plaintext for decrypted messages); empty when it could not be decoded. */
  readonly payloads: readonly Payload[]
  readonly checks: Checks
  readonly learned: readonly LearnedKey[]
  /** Things worth saying that are not errors (phase-1 SA unknown, IV fallback used, …). */
  readonly notes: readonly string[]
  readonly errors: readonly RecordError[]
}
