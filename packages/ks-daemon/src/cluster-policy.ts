// The group policy of a key-server cluster (README "Clustering on etcd", "Policy"). Each instance reads
// the policy from its own configuration, but the cluster must hand out one policy: a GM registering at
// a follower must get the ACL and transforms it would get from the primary. As in Cisco COOP (the
// secondaries' policies are synchronised with the primary's), the primary publishes its policy with
// the group record in etcd (fenced like the keys); followers serve that policy and, when their own
// configuration differs, say so (log event, counter, metric, status) instead of silently diverging.
// The signing-key settings stay local (every instance reads the same key from etcd or its own file).
import { createHash } from 'node:crypto'
import type { AclEntry } from '@gdoi/daemon-kit'
import type { KsGroupConfig, RekeyConfig } from './config/index.js'

/** What of a group's configuration reaches the members (and who may register): replicated. */
export interface GroupPolicyDoc {
  readonly identity: KsGroupConfig['identity']
  readonly acl: KsGroupConfig['acl']
  readonly transform: KsGroupConfig['transform']
  readonly tekLifetimeSec: number
  readonly kek: KsGroupConfig['kek']
  readonly rekey: Omit<RekeyConfig, 'signingKey'> | null
  readonly gap: KsGroupConfig['gap']
  readonly authorization: KsGroupConfig['authorization']
  readonly senderIdBits: KsGroupConfig['senderIdBits']
}

/** The primary's policy as published in etcd (with the group record). */
export interface PublishedPolicy {
  readonly digest: string
  readonly writer: string
  readonly policy: GroupPolicyDoc
  /** The ACL each live TEK was created under (an ACL change applies to the next TEK only). */
  readonly teks: readonly { readonly spi: number; readonly acl: readonly AclEntry[] }[]
}

export function groupPolicyOf(cfg: KsGroupConfig): GroupPolicyDoc {
  const r = cfg.rekey
  return {
    identity: cfg.identity,
    acl: cfg.acl,
    transform: cfg.transform,
    tekLifetimeSec: cfg.tekLifetimeSec,
    kek: cfg.kek,
    rekey:
      r === null
        ? null
        : { transport: r.transport, multicastAddress: r.multicastAddress, retransmitPeriodSec: r.retransmitPeriodSec, retransmitCount: r.retransmitCount, sigHash: r.sigHash, ack: r.ack },
    gap: cfg.gap,
    authorization: cfg.authorization,
    senderIdBits: cfg.senderIdBits,
  }
}

/** JSON with object keys sorted: the same policy gives the same text whatever the key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(v)
}

/** 16 hex digits of SHA-256 over the canonical policy: equal digests, equal policies. */
export function policyDigest(p: GroupPolicyDoc): string {
  return createHash('sha256').update('gdoi-ks group policy v1\n').update(canonical(p)).digest('hex').slice(0, 16)
}

/** This instance's configuration with the replicated policy in place of its own (signing key kept). */
export function withPolicy(own: KsGroupConfig, p: GroupPolicyDoc): KsGroupConfig {
  // A follower configured without rekeys has no signing key to name: it keeps `rekey: none` (the
  // mismatch is reported) rather than hand out a KEK it could not describe.
  const rekey: RekeyConfig | null = p.rekey === null || own.rekey === null ? null : { ...p.rekey, signingKey: own.rekey.signingKey }
  return {
    ...own,
    identity: p.identity,
    acl: p.acl,
    transform: p.transform,
    tekLifetimeSec: p.tekLifetimeSec,
    kek: p.kek,
    rekey,
    gap: p.gap,
    authorization: p.authorization,
    senderIdBits: p.senderIdBits,
  }
}

/** Which top-level policy fields differ (for the warning: "acl, transform"). */
export function policyDifferences(a: GroupPolicyDoc, b: GroupPolicyDoc): string[] {
  return (Object.keys(a) as (keyof GroupPolicyDoc)[]).filter((k) => canonical(a[k]) !== canonical(b[k]))
}

/** Basic shape check of a policy read from etcd (written by another instance: trust, but not blindly). */
export function isPublishedPolicy(v: unknown): v is PublishedPolicy {
  if (v === null || typeof v !== 'object') return false
  const p = v as Partial<PublishedPolicy>
  return typeof p.digest === 'string' && typeof p.writer === 'string' && p.policy !== null && typeof p.policy === 'object' && Array.isArray(p.policy.acl) && Array.isArray(p.teks)
}
