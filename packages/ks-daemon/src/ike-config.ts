// KsConfig.ike → the Main Mode responder configuration of @gdoi/wire: proposals, the PSK for a peer
// (longest matching prefix wins, like several IOS `crypto isakmp key … address` lines), and for rsa-sig
// our certificate + key and the trust decision for the peer's certificate (node-forge: chain to the
// configured CA and validity dates; the ID payload must match the certificate's subject or a SAN).
import { readFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import forge from 'node-forge'
import type { IkeConfig, IkePolicy, Logger } from '@gdoi/daemon-kit'
import { IdType } from '@gdoi/wire/constants'
import type { IdPayload } from '@gdoi/wire'
import { idIpv4 } from '@gdoi/wire'
import { PayloadType } from '@gdoi/wire/constants'
import type { Phase1Proposal, ResponderConfig, RsaCredentials, VerifyPeerCert } from '@gdoi/wire/exchange/index'
import { formatIp } from '@gdoi/wire/exchange/ip-address'
import { inPrefix } from './groups.js'

export function phase1Proposal(p: IkePolicy): Phase1Proposal {
  return {
    encryption: p.encryption === 'aes-256' ? 'aes256' : p.encryption === 'aes-128' ? 'aes128' : '3des',
    hash: p.hash,
    auth: p.authentication === 'pre-share' ? 'psk' : 'rsa',
    group: p.group,
    lifetimeSec: p.lifetimeSec,
  }
}

/** The PSK for a peer address: the most specific matching `preSharedKeys[].peer`. */
export function pskFor(ike: IkeConfig, peerAddress: string): Uint8Array | undefined {
  let best: { len: number; key: Uint8Array } | undefined
  for (const k of ike.preSharedKeys) {
    if (!inPrefix(peerAddress, k.peer)) continue
    if (best === undefined || k.peer.length > best.len) best = { len: k.peer.length, key: k.key.reveal() }
  }
  return best?.key
}

/** Our RSA identity for rsa-sig phase 1, loaded once at start. */
export interface RsaIdentityLoaded {
  readonly credentials: RsaCredentials
  readonly localId: IdPayload
  readonly verifyPeerCert: VerifyPeerCert
  readonly subject: string
}

function readCertDer(path: string): Uint8Array {
  const raw = readFileSync(path)
  return raw.includes('-----BEGIN') ? new Uint8Array(new X509Certificate(raw).raw) : new Uint8Array(raw)
}

function toForgeCert(der: Uint8Array): forge.pki.Certificate {
  return forge.pki.certificateFromAsn1(forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(der).toString('binary'))))
}

function readCaCerts(path: string): forge.pki.Certificate[] {
  const raw = readFileSync(path)
  if (!raw.includes('-----BEGIN')) return [toForgeCert(new Uint8Array(raw))]
  return forge.pem.decode(raw.toString('utf8')).filter((m) => m.type === 'CERTIFICATE').map((m) => forge.pki.certificateFromAsn1(forge.asn1.fromDer(m.body)))
}

function subjectDer(cert: forge.pki.Certificate): Uint8Array {
  const bytes = forge.asn1.toDer(forge.pki.distinguishedNameToAsn1(cert.subject)).getBytes()
  return new Uint8Array(Buffer.from(bytes, 'binary'))
}

interface AltName {
  readonly type: number
  readonly value?: string
  readonly ip?: string
}

/** Does the peer's ID payload name this certificate (DN = subject; IPv4/FQDN/USER_FQDN = a SAN)? */
export function idMatchesCert(id: IdPayload, cert: forge.pki.Certificate): boolean {
  const san = (cert.getExtension('subjectAltName') as { altNames?: AltName[] } | null)?.altNames ?? []
  const text = Buffer.from(id.data).toString('utf8')
  switch (id.idType) {
    case IdType.DER_ASN1_DN:
      return Buffer.from(subjectDer(cert)).equals(Buffer.from(id.data))
    case IdType.IPV4_ADDR: {
      const ip = formatIp(id.data)
      return san.some((a) => a.type === 7 && a.ip === ip)
    }
    case IdType.FQDN:
      return san.some((a) => a.type === 2 && a.value?.toLowerCase() === text.toLowerCase())
    case IdType.USER_FQDN:
      return san.some((a) => a.type === 1 && a.value?.toLowerCase() === text.toLowerCase())
    default:
      return false
  }
}

/** Trust decision for a peer certificate: chains to one of `cas`, is valid now, and matches the ID. */
export function certVerifier(cas: readonly forge.pki.Certificate[], log: Logger, nowMs: () => number): VerifyPeerCert {
  const store = forge.pki.createCaStore([...cas])
  return (certDer, id) => {
    let cert: forge.pki.Certificate
    try {
      cert = toForgeCert(certDer)
    } catch {
      log.info({ reason: 'unparsable' }, 'peer certificate refused')
      return undefined
    }
    try {
      forge.pki.verifyCertificateChain(store, [cert], { validityCheckDate: new Date(nowMs()) })
    } catch (err) {
      const message = (err as { message?: string }).message ?? 'chain check failed'
      log.info({ reason: 'untrusted', detail: message }, 'peer certificate refused')
      return undefined
    }
    if (!idMatchesCert(id, cert)) {
      log.info({ reason: 'id-mismatch' }, 'peer certificate refused: the ID payload does not name the certificate')
      return undefined
    }
    try {
      return new Uint8Array(new X509Certificate(certDer).publicKey.export({ type: 'spki', format: 'der' }))
    } catch {
      return undefined
    }
  }
}

/** Loads `ike.identity` (certificate, key, CA) for rsa-sig. */
export function loadRsaIdentity(ike: IkeConfig, log: Logger, nowMs: () => number): RsaIdentityLoaded | undefined {
  const idc = ike.identity
  if (idc === null) return undefined
  const certDer = readCertDer(idc.certFile)
  const keyPem = readFileSync(idc.keyFile, 'utf8')
  const cas = idc.caFile !== null ? readCaCerts(idc.caFile) : []
  if (cas.length === 0) log.warn({ event: 'gdoi.config.warning' }, 'ike.identity has no caFile: every peer certificate is refused')
  const own = toForgeCert(certDer)
  const dn = subjectDer(own)
  return {
    credentials: { privateKey: keyPem, certDer, certRequestAuthorities: cas.map(subjectDer) },
    localId: { type: PayloadType.ID, idType: IdType.DER_ASN1_DN, protocol: 0, port: 0, data: dn },
    verifyPeerCert: certVerifier(cas, log, nowMs),
    subject: new X509Certificate(Buffer.from(certDer)).subject.replaceAll('\n', ','),
  }
}

export interface ResponderOptions {
  /** Our IDir with PSK authentication (default: ID_IPV4_ADDR of the listen address). */
  readonly localAddress: string
  readonly rsa?: RsaIdentityLoaded
  /** Half-open exchanges are abandoned after this long (default 120 s in @gdoi/wire). */
  readonly exchangeMaxMs?: number
}

export function responderConfig(ike: IkeConfig, o: ResponderOptions): ResponderConfig {
  const rsa = o.rsa
  return {
    proposals: ike.policies.map(phase1Proposal),
    localId: rsa !== undefined && ike.policies.every((p) => p.authentication === 'rsa-sig') ? rsa.localId : idIpv4(o.localAddress),
    pskFor: (peer) => pskFor(ike, peer),
    ...(rsa !== undefined ? { rsa: rsa.credentials, verifyPeerCert: rsa.verifyPeerCert } : {}),
    ...(o.exchangeMaxMs !== undefined ? { exchangeMaxMs: o.exchangeMaxMs } : {}),
  }
}
