// Group state → the wire-level policy and keys of @gdoi/wire (GroupPolicy / GroupKeys): what PULL2/PULL4
// and every GROUPKEY-PUSH carry. Lifetimes are the *remaining* seconds at `nowMs` (spec §1.7 PULL2).
import type { AclEntry, EspTransformConfig, KekAlgorithmName, Prefix } from '@gdoi/daemon-kit'
import { espTransformWire } from '@gdoi/daemon-kit'
import { KekAck } from '@gdoi/wire/constants'
import type {
  EspTransformPolicy,
  GroupKeys,
  GroupPolicy,
  KekPolicy,
  SelectorEnd,
  TekKeys,
  TekPolicy,
} from '@gdoi/wire/exchange/index'
import { kekCipherName } from '@gdoi/wire/exchange/index'
import { keylogEspLine, keylogKekLine } from '@gdoi/wire/crypto/keylog'
import type { CbcCipherName, HashName } from '@gdoi/wire/crypto/algorithms'
import type { KsGroupConfig } from './config/index.js'
import type { KekState, TekState } from './store/index.js'
import type { SigningKey } from './store/index.js'

/** UDP, the rekey transport protocol in the SAK (spec §2.13). */
const UDP = 17

export function kekAlgorithmPolicy(a: KekAlgorithmName): Pick<KekPolicy, 'algorithm' | 'keyBits'> {
  if (a === '3des') return { algorithm: '3des', keyBits: 192 }
  return { algorithm: 'aes', keyBits: a === 'aes-256-cbc' ? 256 : 128 }
}

export function kekCipher(a: KekAlgorithmName): CbcCipherName {
  return kekCipherName(kekAlgorithmPolicy(a))
}

export function espTransformPolicy(t: EspTransformConfig): EspTransformPolicy {
  const integrity =
    t.integrity === 'hmac-sha1' ? 'sha1'
    : t.integrity === 'hmac-sha256' ? 'sha256'
    : t.integrity === 'hmac-sha384' ? 'sha384'
    : t.integrity === 'hmac-sha512' ? 'sha512'
    : undefined
  const cipher = t.cipher === 'aes-cbc' ? 'aes-cbc' : t.cipher === 'aes-gcm' ? 'aes-gcm-16' : '3des'
  return {
    cipher,
    ...(t.cipher !== '3des-cbc' ? { keyBits: t.keyBits } : {}),
    ...(integrity !== undefined ? { integrity } : {}),
  }
}

function end(p: Prefix, port: number | null): SelectorEnd {
  return { address: { kind: 'prefix', address: p.address, prefixLength: p.length }, port: port ?? 0 }
}

export function remainingSec(expiresMs: number, nowMs: number): number {
  return Math.max(1, Math.ceil((expiresMs - nowMs) / 1000))
}

/** Where pushes come from and go to: what the SAK SRC/DST IDs describe (spec §5.5). */
export interface RekeyTransport {
  readonly source: { readonly address: string; readonly port: number }
  /** Multicast group; undefined for unicast (the SAK then names 0.0.0.0). */
  readonly multicastAddress?: string
}

export function kekPolicyOf(g: KsGroupConfig, kek: KekState, signing: SigningKey | undefined, tr: RekeyTransport, nowMs: number): KekPolicy {
  const r = g.rekey
  const dst = tr.multicastAddress !== undefined ? { address: tr.multicastAddress, port: tr.source.port } : { address: '0.0.0.0', port: tr.source.port }
  return {
    spi: kek.spi,
    ...kekAlgorithmPolicy(kek.algorithm),
    lifetimeSec: remainingSec(kek.expiresMs, nowMs),
    sigHash: (r?.sigHash ?? 'sha1') as HashName,
    sigAlgorithm: 'rsa',
    ...(signing !== undefined ? { sigKeyBits: signing.bits } : {}),
    transport: { protocol: UDP, src: { address: tr.source.address, port: tr.source.port }, dst },
    ...(r?.ack === 'rfc8263' ? { ackRequested: KekAck.KEK_SHA256 } : {}),
  }
}

/** One SAT per permit ACL entry (deny entries stay in clear and produce no SAT), all sharing the TEK's SPI. */
export function tekPolicies(tek: TekState, acl: readonly AclEntry[], nowMs: number): TekPolicy[] {
  const transform = espTransformPolicy(tek.transform)
  const lifetimeSec = remainingSec(tek.expiresMs, nowMs)
  return acl
    .filter((e) => e.action === 'permit')
    .map((e) => ({
      spi: tek.spi,
      selector: { protocol: e.protocol, src: end(e.source, e.sourcePort), dst: end(e.destination, e.destinationPort) },
      transform,
      lifetimeSec,
      encapsulation: 'tunnel',
    }))
}

export function tekKeys(t: TekState): TekKeys {
  return { spi: t.spi, encKey: t.encKey, ...(t.authKey !== null ? { authKey: t.authKey } : {}) }
}

export interface PolicyInput {
  readonly group: KsGroupConfig
  readonly kek: KekState | null
  readonly signing: SigningKey | undefined
  readonly transport: RekeyTransport
  /** TEKs with the ACL each was created under. */
  readonly teks: readonly { readonly tek: TekState; readonly acl: readonly AclEntry[] }[]
  readonly includeKek: boolean
  readonly includeKekKeys: boolean
  readonly nowMs: number
}

/** Policy and keys for a PULL or a push. */
export function policyAndKeys(p: PolicyInput): { policy: GroupPolicy; keys: GroupKeys } {
  const g = p.group
  const kek = p.includeKek && p.kek !== null ? kekPolicyOf(g, p.kek, p.signing, p.transport, p.nowMs) : undefined
  const gap = g.gap !== null ? { activationDelaySec: g.gap.activationDelaySec, deactivationDelaySec: g.gap.deactivationDelaySec } : undefined
  const policy: GroupPolicy = {
    groupId: g.identity.kind === 'number' ? { kind: 'number', value: g.identity.number } : { kind: 'ipv4', address: g.identity.address },
    ...(kek !== undefined ? { kek } : {}),
    ...(gap !== undefined ? { gap } : {}),
    teks: p.teks.flatMap((t) => tekPolicies(t.tek, t.acl, p.nowMs)),
  }
  const kekKeys =
    p.includeKekKeys && p.kek !== null
      ? { spi: p.kek.spi, algorithmKey: p.kek.algorithmKey, ...(p.signing !== undefined ? { signingPublicKey: p.signing.publicKeySpkiDer } : {}) }
      : undefined
  const keys: GroupKeys = { ...(kekKeys !== undefined ? { kek: kekKeys } : {}), teks: p.teks.map((t) => tekKeys(t.tek)) }
  return { policy, keys }
}

/** gdoi keylog record of a KEK (read back by gdoi-pcap). Key material: only for the --keylog file. */
export function kekKeylogLine(k: KekState, sigHash: HashName, signing: SigningKey | undefined): string {
  const ivBytes = k.algorithm === '3des' ? 8 : 16
  return keylogKekLine({
    spi: k.spi,
    cipher: kekCipher(k.algorithm),
    iv: k.algorithmKey.subarray(0, ivBytes),
    key: k.algorithmKey.subarray(ivBytes),
    sigHash,
    ...(signing !== undefined ? { sigKey: signing.publicKeySpkiDer } : {}),
  })
}

/** gdoi keylog record of a TEK (ESP SA). Key material: only for the --keylog file. */
export function tekKeylogLine(t: TekState): string {
  const w = espTransformWire(t.transform)
  return keylogEspLine({
    spi: t.spi,
    transformId: w.transformId,
    ...(w.keyLengthBits !== undefined ? { keyLengthBits: w.keyLengthBits } : {}),
    ...(w.authAlgorithm !== undefined ? { authAlgorithm: w.authAlgorithm } : {}),
    encKey: t.encKey,
    ...(t.authKey !== null ? { authKey: t.authKey } : {}),
  })
}
