// Protocol numbers from RFC 2408/2407/6407/8263 (see ../shared/spec/GDOI.md §2). `as const` objects
// with derived unions instead of TS enums, so the code stays erasable syntax.

export const ISAKMP_VERSION = 0x10
export const ISAKMP_HEADER_BYTES = 28
export const GENERIC_HEADER_BYTES = 4
export const GDOI_PORT = 848

export const Doi = { ISAKMP: 0, IPSEC: 1, GDOI: 2 } as const
export type Doi = (typeof Doi)[keyof typeof Doi]

export const ExchangeType = {
  IDENTITY_PROTECTION: 2, // Main Mode
  AGGRESSIVE: 4,
  INFORMATIONAL: 5,
  GROUPKEY_PULL: 32,
  GROUPKEY_PUSH: 33,
  GROUPKEY_PUSH_ACK: 35, // RFC 8263
} as const
export type ExchangeType = (typeof ExchangeType)[keyof typeof ExchangeType]

export const Flags = { ENCRYPTION: 0x01, COMMIT: 0x02, AUTH_ONLY: 0x04 } as const

export const PayloadType = {
  NONE: 0,
  SA: 1,
  PROPOSAL: 2,
  TRANSFORM: 3,
  KE: 4,
  ID: 5,
  CERT: 6,
  CR: 7,
  HASH: 8,
  SIG: 9,
  NONCE: 10,
  NOTIFICATION: 11,
  DELETE: 12,
  VENDOR_ID: 13,
  SA_KEK: 15, // GDOI, only nested inside a DOI-2 SA
  SA_TEK: 16, // GDOI, only nested inside a DOI-2 SA
  KEY_DOWNLOAD: 17,
  SEQ: 18,
  POP: 19, // RFC 3547 only
  NAT_D: 20,
  NAT_OA: 21,
  GAP: 22,
} as const
export type PayloadType = (typeof PayloadType)[keyof typeof PayloadType]

export const IdType = {
  IPV4_ADDR: 1,
  FQDN: 2,
  USER_FQDN: 3,
  IPV4_ADDR_SUBNET: 4,
  IPV6_ADDR: 5,
  IPV6_ADDR_SUBNET: 6,
  IPV4_ADDR_RANGE: 7,
  IPV6_ADDR_RANGE: 8,
  DER_ASN1_DN: 9,
  DER_ASN1_GN: 10,
  KEY_ID: 11,
} as const
export type IdType = (typeof IdType)[keyof typeof IdType]

/** Phase-1 (IKE) transform attribute types, RFC 2409 App. A. */
export const IkeAttr = {
  ENCRYPTION_ALGORITHM: 1,
  HASH_ALGORITHM: 2,
  AUTHENTICATION_METHOD: 3,
  GROUP_DESCRIPTION: 4,
  GROUP_TYPE: 5,
  LIFE_TYPE: 11,
  LIFE_DURATION: 12,
  PRF: 13,
  KEY_LENGTH: 14,
} as const

export const IkeEncryption = { DES_CBC: 1, TRIPLE_DES_CBC: 5, AES_CBC: 7 } as const
export const IkeHash = { MD5: 1, SHA1: 2, SHA2_256: 4, SHA2_384: 5, SHA2_512: 6 } as const
export const IkeAuth = { PRE_SHARED_KEY: 1, DSS: 2, RSA_SIG: 3 } as const
export const IkeGroup = { MODP_768: 1, MODP_1024: 2, MODP_1536: 5, MODP_2048: 14, ECP_256: 19, ECP_384: 20 } as const
export const LifeType = { SECONDS: 1, KILOBYTES: 2 } as const
export const ProtocolId = { ISAKMP: 1, IPSEC_AH: 2, IPSEC_ESP: 3 } as const
export const KEY_IKE = 1

/** SA KEK attributes, RFC 6407 §5.3 and RFC 8263. */
export const KekAttr = {
  KEK_MANAGEMENT_ALGORITHM: 1,
  KEK_ALGORITHM: 2,
  KEK_KEY_LENGTH: 3,
  KEK_KEY_LIFETIME: 4,
  SIG_HASH_ALGORITHM: 5,
  SIG_ALGORITHM: 6,
  SIG_KEY_LENGTH: 7,
  KEK_ACK_REQUESTED: 9,
} as const
export const KekAlgorithm = { DES: 1, TRIPLE_DES: 2, AES: 3 } as const
export const SigHash = { MD5: 1, SHA1: 2, SHA256: 3, SHA384: 4, SHA512: 5 } as const
export const SigAlgorithm = { RSA: 1, DSS: 2, ECDSS: 3 } as const
export const KekAck = { KEK_SHA256: 1, LKH_SHA256: 2, KEK_SHA512: 3, LKH_SHA512: 4 } as const

/** SA TEK protocol IDs (GDOI numbering), RFC 6407 §5.5. */
export const TekProtocol = { IPSEC_ESP: 1, IPSEC_AH: 2 } as const

/** ESP transform IDs (IPsec DOI). */
export const EspTransform = {
  DES: 2,
  TRIPLE_DES: 3,
  NULL: 11,
  AES_CBC: 12,
  AES_CTR: 13,
  AES_CCM_8: 14,
  AES_CCM_12: 15,
  AES_CCM_16: 16,
  AES_GCM_8: 18,
  AES_GCM_12: 19,
  AES_GCM_16: 20,
  NULL_AUTH_AES_GMAC: 23,
} as const

/** IPsec SA attributes carried in an SA TEK (RFC 2407 §4.5 + RFC 6407). */
export const IpsecAttr = {
  SA_LIFE_TYPE: 1,
  SA_LIFE_DURATION: 2,
  GROUP_DESCRIPTION: 3,
  ENCAPSULATION_MODE: 4,
  AUTH_ALGORITHM: 5,
  KEY_LENGTH: 6,
  KEY_ROUNDS: 7,
  ECN_TUNNEL: 10,
  EXTENDED_SEQ: 11,
  AUTH_KEY_LENGTH: 12,
  ADDRESS_PRESERVATION: 14,
  SA_DIRECTION: 15,
} as const
export const EncapsulationMode = { TUNNEL: 1, TRANSPORT: 2 } as const
export const AuthAlgorithm = { HMAC_MD5: 1, HMAC_SHA1: 2, HMAC_SHA2_256: 5, HMAC_SHA2_384: 6, HMAC_SHA2_512: 7 } as const
export const AddressPreservation = { NONE: 1, SOURCE_ONLY: 2, DESTINATION_ONLY: 3, SOURCE_AND_DESTINATION: 4 } as const
export const SaDirection = { SENDER_ONLY: 1, RECEIVER_ONLY: 2, SYMMETRIC: 3 } as const

/** GAP attributes, RFC 6407 §5.4. */
export const GapAttr = { ACTIVATION_TIME_DELAY: 1, DEACTIVATION_TIME_DELAY: 2, SENDER_ID_REQUEST: 3 } as const

/** Key Download key-packet types and attributes, RFC 6407 §5.6. */
export const KdType = { TEK: 1, KEK: 2, LKH: 3, SID: 4 } as const
export const TekKeyAttr = { TEK_ALGORITHM_KEY: 1, TEK_INTEGRITY_KEY: 2, TEK_SOURCE_AUTH_KEY: 3 } as const
export const KekKeyAttr = { KEK_ALGORITHM_KEY: 1, SIG_ALGORITHM_KEY: 2 } as const
export const SidAttr = { NUMBER_OF_SID_BITS: 1, SID_VALUE: 2 } as const

/** Notify message types (RFC 2408 §3.14.1, RFC 2407 §4.6.3). */
export const NotifyType = {
  INVALID_PAYLOAD_TYPE: 1,
  INVALID_COOKIE: 4,
  INVALID_EXCHANGE_TYPE: 7,
  INVALID_MESSAGE_ID: 9,
  NO_PROPOSAL_CHOSEN: 14,
  PAYLOAD_MALFORMED: 16,
  INVALID_ID_INFORMATION: 18,
  INVALID_HASH_INFORMATION: 23,
  AUTHENTICATION_FAILED: 24,
  INVALID_SIGNATURE: 25,
  RESPONDER_LIFETIME: 24576,
  INITIAL_CONTACT: 24578,
  R_U_THERE: 36136,
  R_U_THERE_ACK: 36137,
} as const

export const CertEncoding = { PKCS7: 1, X509_SIGNATURE: 4, CRL: 7 } as const
