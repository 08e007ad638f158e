// The phase-1 initiator configuration for one key server, from the GM's `ike` settings: the IKE
// policies as KEY_IKE transforms (in priority order), the pre-shared key whose peer prefix contains
// the key server (longest prefix wins), or the RSA identity (certificate + key) with the CA that must
// have issued the key server's certificate. Our phase-1 identity is ID_IPV4_ADDR of the local address
// (IOS `crypto isakmp identity address`, the default), with either authentication method.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { IdType, idIpv4, type IdPayload } from '@gdoi/wire'
import type { InitiatorConfig, Phase1Proposal, RetransmitPolicy, VerifyPeerCert } from '@gdoi/wire/exchange/index'
import { prefixContains, type Endpoint, type IkeConfig, type IkePolicy } from '@gdoi/daemon-kit'

const ENCRYPTION: Readonly<Record<IkePolicy['encryption'], Phase1Proposal['encryption']>> = {
  'aes-128': 'aes128',
  'aes-256': 'aes256',
  '3des': '3des',
}

export function phase1Proposal(p: IkePolicy): Phase1Proposal {
  return {
    encryption: ENCRYPTION[p.encryption],
    hash: p.hash,
    auth: p.authentication === 'pre-share' ? 'psk' : 'rsa',
    group: p.group,
    lifetimeSec: p.lifetimeSec,
  }
}

/** Loaded RSA credentials (read once per start/reload; the key stays a KeyObject, never bytes in a log). */
export interface RsaMaterial {
  readonly privateKey: KeyObject
  readonly certDer: Uint8Array
  readonly ca: X509Certificate | undefined
}

export function loadRsaMaterial(ike: IkeConfig): RsaMaterial | undefined {
  const id = ike.identity
  if (id === null) return undefined
  const cert = new X509Certificate(readFileSync(id.certFile))
  const keyBytes = readFileSync(id.keyFile)
  try {
    const privateKey = createPrivateKey(keyBytes.toString('utf8').includes('-----BEGIN') ? keyBytes : { key: keyBytes, format: 'der', type: 'pkcs8' })
    const ca = id.caFile === null ? undefined : new X509Certificate(readFileSync(id.caFile))
    return { privateKey, certDer: new Uint8Array(cert.raw), ca }
  } finally {
    keyBytes.fill(0)
  }
}

/**
 * Trust rule for the key server's certificate: issued and signed by the configured CA, valid now, and
 * naming the identity it sent (ID_IPV4_ADDR → an IP SAN, ID_FQDN → a DNS SAN/CN; a DN identity is
 * accepted on the CA's word). Without a CA nothing is trusted.
 */
export function caVerifier(ca: X509Certificate | undefined, nowMs: () => number): VerifyPeerCert {
  return (certDer: Uint8Array, id: IdPayload): Uint8Array | undefined => {
    if (ca === undefined) return undefined
    let cert: X509Certificate
    try {
      cert = new X509Certificate(certDer)
    } catch {
      return undefined
    }
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return undefined
    const now = nowMs()
    if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) < now) return undefined
    if (id.idType === IdType.IPV4_ADDR && id.data.length === 4) {
      if (cert.checkIP(Array.from(id.data).join('.')) === undefined) return undefined
    } else if (id.idType === IdType.FQDN) {
      if (cert.checkHost(new TextDecoder().decode(id.data)) === undefined) return undefined
    } else if (id.idType !== IdType.DER_ASN1_DN) {
      return undefined
    }
    return new Uint8Array(cert.publicKey.export({ type: 'spki', format: 'der' }))
  }
}

export interface InitiatorFor {
  /** The initiator configuration for this key server, or why there is none (no usable credential). */
  (ks: Endpoint): { readonly ok: true; readonly config: InitiatorConfig } | { readonly ok: false; readonly reason: string }
}

export interface IkeSetup {
  readonly ike: IkeConfig
  readonly localAddress: string
  readonly rsa: RsaMaterial | undefined
  readonly nowMs: () => number
  readonly retransmit?: RetransmitPolicy
  readonly exchangeMaxMs?: number
}

export function initiatorFor(s: IkeSetup): InitiatorFor {
  const localId = idIpv4(s.localAddress)
  return (ks) => {
    const psk = s.ike.preSharedKeys
      .filter((k) => prefixContains(k.peer, ks.address))
      .sort((a, b) => b.peer.length - a.peer.length)[0]
    const proposals = s.ike.policies
      .map(phase1Proposal)
      .filter((p) => (p.auth === 'psk' ? psk !== undefined : s.rsa !== undefined))
    if (proposals.length === 0) {
      return { ok: false, reason: `no IKE policy has a credential for ${ks.address} (no matching pre-shared key or RSA identity)` }
    }
    const config: InitiatorConfig = {
      proposals,
      localId,
      initialContact: true,
      ...(psk !== undefined ? { psk: psk.key.reveal() } : {}),
      ...(s.rsa !== undefined ? { rsa: { privateKey: s.rsa.privateKey, certDer: s.rsa.certDer }, verifyPeerCert: caVerifier(s.rsa.ca, s.nowMs) } : {}),
      ...(s.retransmit !== undefined ? { retransmit: s.retransmit } : {}),
      ...(s.exchangeMaxMs !== undefined ? { exchangeMaxMs: s.exchangeMaxMs } : {}),
    }
    return { ok: true, config }
  }
}
