// Configuration of the Main Mode initiator (GM) and responder (KS) (spec §1.2, §1.7, §2.7).
// Pure data plus a few callbacks: the daemon owns PSK storage and PKI; this package only calls in.
import type { KeyObject } from 'node:crypto'
import { dhPrivateKeyBytes, dhPublicKey, dhSharedSecret } from '../crypto/dh.js'
import type { IdPayload } from '../payloads/types.js'
import type { HashName } from '../crypto/algorithms.js'
import type { RetransmitPolicy } from './types.js'

export type Phase1Encryption = '3des' | 'aes128' | 'aes192' | 'aes256'
export type Phase1AuthMethod = 'psk' | 'rsa'
export type Phase1Group = 2 | 5 | 14

/** One phase-1 policy ("crypto isakmp policy"): becomes one KEY_IKE transform. */
export interface Phase1Proposal {
  readonly encryption: Phase1Encryption
  /** 'sha1' | 'sha256' in practice; md5/sha384/sha512 are understood too. */
  readonly hash: HashName
  readonly auth: Phase1AuthMethod
  readonly group: Phase1Group
  readonly lifetimeSec: number
}

/** Local RSA identity for authentication method 3 (spec §1.2 "Authentication"). */
export interface RsaCredentials {
  /** PEM (PKCS#1 or PKCS#8) or a node:crypto private KeyObject; signs HASH_I/HASH_R raw (PKCS#1 v1.5 type 1). */
  readonly privateKey: string | KeyObject
  /** Our X.509 certificate, DER; sent in a CERT payload with encoding 4. */
  readonly certDer: Uint8Array
  /** DER CA names for the CR payloads we send in MM3/MM4; empty or absent: one CR without authority. */
  readonly certRequestAuthorities?: readonly Uint8Array[]
}

/**
 * Trust decision for a peer certificate (the daemon does PKI, e.g. with node-forge): given the CERT
 * (encoding 4, DER) and the peer's ID payload from MM5/MM6, return the certificate's SubjectPublicKeyInfo
 * DER when the certificate is trusted and matches the ID, else undefined.
 */
export type VerifyPeerCert = (certDer: Uint8Array, id: IdPayload) => Uint8Array | undefined

/**
 * Diffie-Hellman as used by Main Mode. The default is MODP via src/crypto/dh.ts; vector tests inject an
 * engine returning a trace's g^x and g^xy when the trace does not give the private values.
 */
export interface DhEngine {
  privateKeyBytes(groupId: number): number
  publicKey(groupId: number, privateKey: Uint8Array): Uint8Array
  /** Throws when the peer value is invalid (1 < y < p-1 fails). */
  sharedSecret(groupId: number, privateKey: Uint8Array, peerPublic: Uint8Array): Uint8Array
}

/** Nonce length when nonceBytes is not configured. */
export const DEFAULT_NONCE_BYTES = 20

export const modpDh: DhEngine = {
  privateKeyBytes: dhPrivateKeyBytes,
  publicKey: dhPublicKey,
  sharedSecret: dhSharedSecret,
}

interface MainModeCommonConfig {
  /** Initiator: offered in this order. Responder: acceptable set (the initiator's order decides). */
  readonly proposals: readonly Phase1Proposal[]
  /** Our IDii/IDir: usually ID_IPV4_ADDR (PSK) or ID_DER_ASN1_DN (RSA). */
  readonly localId: IdPayload
  readonly rsa?: RsaCredentials
  /** Required when an 'rsa' proposal can be chosen. */
  readonly verifyPeerCert?: VerifyPeerCert
  /** Phase-1 SA payload DOI: 2 (GDOI, RFC 6407 §2.1, default) or 1 (tshark-decodable captures, spec §1.2). */
  readonly doi?: 1 | 2
  /** Add N(INITIAL-CONTACT) after the HASH/SIG in MM5 (initiator) / MM6 (responder), as gdoid does. */
  readonly initialContact?: boolean
  /** Nonce length, 8..256 (default 20). */
  readonly nonceBytes?: number
  /** Vendor ID payloads appended to MM1 (initiator) / MM2 (responder). */
  readonly vendorIds?: readonly Uint8Array[]
  /** Default: modpDh. */
  readonly dh?: DhEngine
  /** Abandon the exchange after this long (default EXCHANGE_MAX_MS = 120 s). */
  readonly exchangeMaxMs?: number
}

export interface InitiatorConfig extends MainModeCommonConfig {
  /** Pre-shared key for the (single) responder; required when a 'psk' proposal is offered. */
  readonly psk?: Uint8Array
  /** Default DEFAULT_RETRANSMIT (7 s × 5). */
  readonly retransmit?: RetransmitPolicy
  /**
   * Order of the attributes inside each offered transform, as IkeAttr numbers (default
   * DEFAULT_PHASE1_ATTRIBUTE_ORDER: enc, key length, hash, auth, group, life type, life duration).
   * SAi_b enters HASH_I/HASH_R, so replaying another stack's MM1 needs its order.
   */
  readonly attributeOrder?: readonly number[]
  /** Number of the first transform (default 1; gdoid numbers from 0). */
  readonly firstTransformNumber?: number
}

export interface ResponderConfig extends MainModeCommonConfig {
  /**
   * The PSK for a peer, looked up by its source address when MM1 arrives (MM5's ID is encrypted with
   * a key derived from the PSK, so Main Mode cannot look it up by ID). Undefined: 'psk' transforms
   * are not acceptable for this peer.
   */
  readonly pskFor?: (peerAddress: string) => Uint8Array | undefined
  /** Send the unencrypted error notifies of spec §1.7 (NO-PROPOSAL-CHOSEN, AUTHENTICATION-FAILED, …). Default true. */
  readonly notifyOnFailure?: boolean
}

/**
 * The configuration checks both roles share: at least one proposal, the credentials every offered
 * authentication method needs (`pskField` names how the role supplies its PSK), a nonce of 8..256
 * octets. Throws TypeError naming `what` — a programming error, not a protocol failure.
 */
export function checkMainModeConfig(what: string, cfg: MainModeCommonConfig, pskField: string, hasPsk: boolean): void {
  if (cfg.proposals.length === 0) throw new TypeError(`${what}.proposals is empty`)
  for (const p of cfg.proposals) {
    if (p.auth === 'psk' && !hasPsk) throw new TypeError(`${what}: a psk proposal needs ${pskField}`)
    if (p.auth === 'rsa' && (cfg.rsa === undefined || cfg.verifyPeerCert === undefined)) {
      throw new TypeError(`${what}: an rsa proposal needs rsa and verifyPeerCert`)
    }
  }
  const n = cfg.nonceBytes ?? DEFAULT_NONCE_BYTES
  if (n < 8 || n > 256) throw new TypeError(`${what}.nonceBytes must be 8..256`)
}
