// Pieces both Main Mode roles use: key derivation (spec §3.2–§3.4), the MM5/MM6 proof (HASH_I/R or
// CERT + SIG_I/R, spec §1.2), the payload checks of MM5/MM6, and the failure type.
import { CertEncoding, GENERIC_HEADER_BYTES, NotifyType, PayloadType, ProtocolId, Doi } from '../constants.js'
import { ikeCipher } from '../crypto/algorithms.js'
import { phase1Iv } from '../crypto/iv-chain.js'
import { hashI, hashR } from '../crypto/hash-payloads.js'
import { rsaSignRaw, rsaVerifyRaw } from '../crypto/rsa.js'
import { deriveSkeyids, encryptionKey, skeyidPsk, skeyidSig } from '../crypto/skeyid.js'
import { encodeChain } from '../message.js'
import type { DecodedChain } from '../message.js'
import type {
  CertPayload,
  CrPayload,
  IdPayload,
  NotificationPayload,
  Payload,
} from '../payloads/types.js'
import type { Phase1Proposal, RsaCredentials, VerifyPeerCert } from './main-mode-config.js'
import { phase1ProposalAttrs } from './proposals.js'
import type { HashName } from '../crypto/algorithms.js'
import type { Phase1Cipher, Phase1Sa } from './types.js'
import { constantTimeEqual, isakmpSpi } from './util.js'

/** Why a Main Mode ended without a Phase1Sa. */
export type MainModeFailure =
  | 'no-proposal' // nothing acceptable offered (responder) / answer not among our offers (initiator)
  | 'malformed' // a message addressed to this exchange that does not decode or breaks the payload rules
  | 'auth-failed' // MM5/MM6 does not decrypt to a valid chain under our PSK-derived key, or no credentials
  | 'bad-hash' // HASH_I / HASH_R mismatch
  | 'bad-signature' // SIG_I / SIG_R does not verify with the certificate's key
  | 'untrusted-cert' // no CERT, or verifyPeerCert refused it
  | 'bad-dh' // peer KE has the wrong length or is not a valid public value
  | 'peer-notify' // the peer sent an (unencrypted) Informational during Main Mode
  | 'timeout' // maxTries retransmissions without an answer, or the exchange outlived exchangeMaxMs

export interface MainModeFailed {
  readonly s: 'failed'
  readonly reason: MainModeFailure
  /** Human-readable detail for a debug log (never contains key material). */
  readonly detail: string
  /** The notify message type when reason is 'peer-notify'. */
  readonly peerNotifyType?: number
}

/** Notify type the responder sends for each failure (spec §1.7, §2.11); undefined: stay silent. */
export const MAIN_MODE_FAILURE_NOTIFY: Readonly<Partial<Record<MainModeFailure, number>>> = {
  'no-proposal': NotifyType.NO_PROPOSAL_CHOSEN,
  'auth-failed': NotifyType.AUTHENTICATION_FAILED,
  'bad-hash': NotifyType.INVALID_HASH_INFORMATION,
  'bad-signature': NotifyType.INVALID_SIGNATURE,
  'untrusted-cert': 20, // INVALID-CERTIFICATE
  'bad-dh': 17, // INVALID-KEY-INFORMATION
}

/** Main Mode completed. */
export interface MainModeDone {
  readonly s: 'done'
  readonly sa: Phase1Sa
  /** The peer sent N(INITIAL-CONTACT): it has no other SA with us (delete older ones). */
  readonly peerInitialContact: boolean
  readonly peerVendorIds: readonly Uint8Array[]
}

export function mainModeFailed(reason: MainModeFailure, detail: string): MainModeFailed {
  return { s: 'failed', reason, detail }
}

/** Everything derived once both KE/Nonce pairs are known. */
export interface Phase1Keys {
  readonly params: Phase1Proposal
  readonly hash: HashName
  readonly cipher: Phase1Cipher
  readonly skeyid: Uint8Array
  readonly skeyidD: Uint8Array
  readonly skeyidA: Uint8Array
  readonly skeyidE: Uint8Array
  readonly encKey: Uint8Array
  /** IV of MM5 = H(g^xi ‖ g^xr)[0:block]. */
  readonly iv: Uint8Array
  readonly gxi: Uint8Array
  readonly gxr: Uint8Array
  readonly icookie: Uint8Array
  readonly rcookie: Uint8Array
  /** Body of the initiator's MM1 SA payload (enters HASH_I and HASH_R). */
  readonly saiB: Uint8Array
}

export interface Phase1KeyInputs {
  readonly params: Phase1Proposal
  /** Required for 'psk'. */
  readonly psk?: Uint8Array
  readonly niB: Uint8Array
  readonly nrB: Uint8Array
  readonly gxi: Uint8Array
  readonly gxr: Uint8Array
  readonly gxy: Uint8Array
  readonly icookie: Uint8Array
  readonly rcookie: Uint8Array
  readonly saiB: Uint8Array
}

export function phase1CipherOf(p: Phase1Proposal): Phase1Cipher {
  const a = phase1ProposalAttrs(p)
  const c = ikeCipher(a.encAttr, a.keyBits)
  return { name: c.name, keyBytes: c.keyBytes, blockBytes: c.blockBytes }
}

/** SKEYID family, Ka and the phase-1 IV (spec §3.2–§3.4). */
export function derivePhase1Keys(k: Phase1KeyInputs): Phase1Keys {
  const h = k.params.hash
  let skeyid: Uint8Array
  if (k.params.auth === 'psk') {
    if (k.psk === undefined) throw new Error('derivePhase1Keys: psk required') // callers check first
    skeyid = skeyidPsk(h, k.psk, k.niB, k.nrB)
  } else {
    skeyid = skeyidSig(h, k.niB, k.nrB, k.gxy)
  }
  const s = deriveSkeyids(h, skeyid, k.gxy, k.icookie, k.rcookie)
  const cipher = phase1CipherOf(k.params)
  return {
    params: k.params,
    hash: h,
    cipher,
    skeyid: s.skeyid,
    skeyidD: s.d,
    skeyidA: s.a,
    skeyidE: s.e,
    encKey: encryptionKey(h, s.e, cipher.keyBytes),
    iv: phase1Iv(h, k.gxi, k.gxr, cipher.blockBytes),
    gxi: k.gxi,
    gxr: k.gxr,
    icookie: k.icookie,
    rcookie: k.rcookie,
    saiB: k.saiB,
  }
}

/** ID payload body (type, protocol, port, data), what HASH_I/HASH_R cover. */
export function idPayloadBody(id: IdPayload): Uint8Array {
  return encodeChain([id]).subarray(GENERIC_HEADER_BYTES)
}

/** HASH_I (initiator = true) or HASH_R over the given ID body. */
export function proofHash(keys: Phase1Keys, initiator: boolean, idB: Uint8Array): Uint8Array {
  return initiator
    ? hashI(keys.hash, keys.skeyid, keys.gxi, keys.gxr, keys.icookie, keys.rcookie, keys.saiB, idB)
    : hashR(keys.hash, keys.skeyid, keys.gxr, keys.gxi, keys.rcookie, keys.icookie, keys.saiB, idB)
}

/** N(INITIAL-CONTACT) as gdoid sends it: DOI 1, protocol ISAKMP, SPI = CKY-I ‖ CKY-R (spec §1.2). */
export function initialContactPayload(icookie: Uint8Array, rcookie: Uint8Array): NotificationPayload {
  const spi = isakmpSpi(icookie, rcookie)
  return {
    type: PayloadType.NOTIFICATION,
    doi: Doi.IPSEC,
    protocolId: ProtocolId.ISAKMP,
    notifyType: NotifyType.INITIAL_CONTACT,
    spi,
    data: new Uint8Array(0),
  }
}

/** CR payloads for MM3/MM4 when certificates are used (spec §2.10). */
export function certRequestPayloads(rsa: RsaCredentials | undefined): CrPayload[] {
  const cas = rsa?.certRequestAuthorities ?? []
  const list = cas.length === 0 ? [new Uint8Array(0)] : cas
  return list.map((authority) => ({ type: PayloadType.CR, certType: CertEncoding.X509_SIGNATURE, authority }))
}

/** MM5 / MM6 payloads: ID, [CERT,] HASH | SIG [, N(INITIAL-CONTACT)]. */
export function buildIdentityMessage(
  keys: Phase1Keys,
  initiator: boolean,
  localId: IdPayload,
  rsa: RsaCredentials | undefined,
  withInitialContact: boolean,
): Payload[] {
  const digest = proofHash(keys, initiator, idPayloadBody(localId))
  const out: Payload[] = [localId]
  if (keys.params.auth === 'psk') {
    out.push({ type: PayloadType.HASH, data: digest })
  } else {
    if (rsa === undefined) throw new Error('buildIdentityMessage: rsa credentials required') // callers check first
    out.push({ type: PayloadType.CERT, encoding: CertEncoding.X509_SIGNATURE, data: rsa.certDer })
    out.push({ type: PayloadType.SIG, data: rsaSignRaw(rsa.privateKey, digest) })
  }
  if (withInitialContact) out.push(initialContactPayload(keys.icookie, keys.rcookie))
  return out
}

export type IdentityProof =
  | { readonly ok: true; readonly peerId: IdPayload; readonly peerPublicKey?: Uint8Array; readonly initialContact: boolean }
  | { readonly ok: false; readonly reason: MainModeFailure; readonly detail: string }

/** The phase-1 SA both roles end with: the derived keys, the verified peer, and the last MM6 block. */
export function establishedSa(
  role: Phase1Sa['role'],
  keys: Phase1Keys,
  proof: Extract<IdentityProof, { ok: true }>,
  localId: IdPayload,
  lastBlock: Uint8Array,
  nowMs: number,
): Phase1Sa {
  return {
    role,
    icookie: keys.icookie,
    rcookie: keys.rcookie,
    hash: keys.hash,
    cipher: keys.cipher,
    skeyid: keys.skeyid,
    skeyidD: keys.skeyidD,
    skeyidA: keys.skeyidA,
    skeyidE: keys.skeyidE,
    encKey: keys.encKey,
    lastBlock,
    localId,
    peerId: proof.peerId,
    ...(proof.peerPublicKey === undefined ? {} : { peerPublicKey: proof.peerPublicKey }),
    lifetimeSec: keys.params.lifetimeSec,
    establishedAtMs: nowMs,
  }
}

const IDENTITY_MESSAGE_ALLOWED = new Set<number>([
  PayloadType.ID,
  PayloadType.CERT,
  PayloadType.CR,
  PayloadType.HASH,
  PayloadType.SIG,
  PayloadType.NOTIFICATION,
  PayloadType.VENDOR_ID,
])

/**
 * Checks the decrypted MM5 (peer = initiator) or MM6 and its proof. `plaintext`/`chain` come from
 * openMessage; the ID body is taken from the bytes as received.
 */
export function verifyIdentityMessage(
  keys: Phase1Keys,
  peerIsInitiator: boolean,
  plaintext: Uint8Array,
  chain: DecodedChain,
  verifyPeerCert: VerifyPeerCert | undefined,
): IdentityProof {
  const { payloads, spans } = chain
  const first = payloads[0]
  const firstSpan = spans[0]
  if (first?.type !== PayloadType.ID || firstSpan === undefined || !('idType' in first)) {
    return { ok: false, reason: 'malformed', detail: 'first payload is not ID' }
  }
  let hashP: Uint8Array | undefined
  let sigP: Uint8Array | undefined
  let cert: CertPayload | undefined
  let sawInitialContact = false
  for (let i = 1; i < payloads.length; i++) {
    const p = payloads[i] as Payload
    if (!IDENTITY_MESSAGE_ALLOWED.has(p.type) || 'unknown' in p || p.type === PayloadType.ID) {
      return { ok: false, reason: 'malformed', detail: `payload ${p.type} not allowed in MM5/MM6` }
    }
    if (p.type === PayloadType.HASH && 'data' in p) {
      if (hashP !== undefined) return { ok: false, reason: 'malformed', detail: 'two HASH payloads' }
      hashP = p.data
    } else if (p.type === PayloadType.SIG && 'data' in p) {
      if (sigP !== undefined) return { ok: false, reason: 'malformed', detail: 'two SIG payloads' }
      sigP = p.data
    } else if (p.type === PayloadType.CERT && 'encoding' in p) {
      if (cert === undefined && p.encoding === CertEncoding.X509_SIGNATURE) cert = p
    } else if (p.type === PayloadType.NOTIFICATION && 'notifyType' in p) {
      if (p.notifyType === NotifyType.INITIAL_CONTACT) sawInitialContact = true
    }
  }
  const peerIdB = plaintext.subarray(firstSpan.start + GENERIC_HEADER_BYTES, firstSpan.end)
  const peerId: IdPayload = { ...first, data: first.data.slice() }
  const expected = proofHash(keys, peerIsInitiator, peerIdB)
  if (keys.params.auth === 'psk') {
    if (hashP === undefined) return { ok: false, reason: 'malformed', detail: 'no HASH payload' }
    if (!constantTimeEqual(hashP, expected)) {
      return { ok: false, reason: 'bad-hash', detail: peerIsInitiator ? 'HASH_I mismatch' : 'HASH_R mismatch' }
    }
    return { ok: true, peerId, initialContact: sawInitialContact }
  }
  if (sigP === undefined) return { ok: false, reason: 'malformed', detail: 'no SIG payload' }
  if (cert === undefined) return { ok: false, reason: 'untrusted-cert', detail: 'no X.509 CERT payload' }
  const spki = verifyPeerCert?.(cert.data.slice(), peerId)
  if (spki === undefined) return { ok: false, reason: 'untrusted-cert', detail: 'certificate refused by verifyPeerCert' }
  let good = false
  try {
    good = rsaVerifyRaw(spki, expected, sigP)
  } catch {
    good = false
  }
  if (!good) return { ok: false, reason: 'bad-signature', detail: peerIsInitiator ? 'SIG_I does not verify' : 'SIG_R does not verify' }
  return { ok: true, peerId, peerPublicKey: spki.slice(), initialContact: sawInitialContact }
}

