// The key server's YAML schema (zod v4). The IOS front end (ios.ts) produces the same input shape.
//
//   listen: { address: 127.0.1.1, port: 848 }
//   stateDir: /var/lib/gdoi/ks
//   ike: { policies: [...], preSharedKeys: [{ peer: any, keyFile: /etc/gdoi/psk }] }
//   groups:
//     - name: GETVPN-GRP
//       identity: { number: 1234 }
//       acl: [{ action: permit, protocol: ip, source: 10.1.0.0/16, destination: 10.1.0.0/16 }]
//       transform: esp-aes 256 esp-sha-hmac
//       rekey: { transport: unicast, signingKey: { generate: { bits: 2048, label: REKEYRSA } } }
//
// `rekey: none` (or `{ enabled: false }`) sends no KEK: GMs only get TEKs and re-register.
import { z } from 'zod'
import { basename, extname } from 'node:path'
import {
  aclEntry,
  checkPrivateKeyFile,
  DEFAULT_ESP_TRANSFORM,
  DEFAULT_KS_CONTROL_SOCKET,
  espTransform,
  groupIdentity,
  groupName,
  ikeSchema,
  ipv4,
  KEK_ALGORITHMS,
  listenPort,
  logSchema,
  multicastIpv4,
  pathIn,
  prefix,
  strict,
  type ConfigContext,
} from '@gdoi/daemon-kit'
import { KS_DEFAULTS, type KsConfig, type KsGroupConfig, type RekeyConfig, type SigningKeyConfig } from './types.js'

const MAX_LIFETIME_SEC = 30 * 86400

export const keyLabel = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only')

function signingKeySchema(ctx: ConfigContext) {
  return strict({
    generate: strict({
      bits: z.literal([2048, 3072, 4096]).default(KS_DEFAULTS.signingKeyBits),
      label: keyLabel.default(KS_DEFAULTS.signingKeyLabel),
    }).optional(),
    file: pathIn(ctx).optional(),
  }).transform((v, c): SigningKeyConfig => {
    if (v.generate !== undefined && v.file !== undefined) {
      c.issues.push({ code: 'custom', message: 'give either generate or file, not both', input: undefined })
      return z.NEVER
    }
    if (v.file !== undefined) {
      const why = checkPrivateKeyFile(v.file, 'rsa')
      if (why !== undefined) {
        c.issues.push({ code: 'custom', message: why, input: undefined, path: ['file'] })
        return z.NEVER
      }
      return { source: 'file', path: v.file, label: basename(v.file, extname(v.file)) }
    }
    const g = v.generate ?? { bits: KS_DEFAULTS.signingKeyBits, label: KS_DEFAULTS.signingKeyLabel }
    return { source: 'generate', bits: g.bits, label: g.label }
  })
}

function rekeySchema(ctx: ConfigContext) {
  const obj = strict({
    enabled: z.boolean().default(true),
    transport: z.enum(['unicast', 'multicast']).default('unicast'),
    multicastAddress: multicastIpv4.optional(),
    retransmitPeriodSec: z.int().min(1).max(300).default(KS_DEFAULTS.retransmitPeriodSec),
    retransmitCount: z.int().min(0).max(10).default(KS_DEFAULTS.retransmitCount),
    signingKey: signingKeySchema(ctx).prefault({}),
    sigHash: z.enum(['sha1', 'sha256']).default('sha1'),
    ack: z.enum(['rfc8263', 'none']).default('none'),
  }).transform((v, c): RekeyConfig | null => {
    if (!v.enabled) return null
    if (v.transport === 'multicast' && v.multicastAddress === undefined) {
      c.issues.push({ code: 'custom', message: 'required for transport: multicast', input: undefined, path: ['multicastAddress'] })
    }
    if (v.transport === 'unicast' && v.multicastAddress !== undefined) {
      c.issues.push({ code: 'custom', message: 'only used with transport: multicast', input: undefined, path: ['multicastAddress'] })
    }
    return {
      transport: v.transport,
      multicastAddress: v.multicastAddress ?? null,
      retransmitPeriodSec: v.retransmitPeriodSec,
      retransmitCount: v.retransmitCount,
      signingKey: v.signingKey,
      sigHash: v.sigHash,
      ack: v.ack,
    }
  })
  // `rekey: none` / `rekey: false` → disabled.
  return z.preprocess((v) => (v === 'none' || v === false || v === null ? { enabled: false } : v), obj)
}

function groupSchema(ctx: ConfigContext) {
  return strict({
    name: groupName,
    identity: groupIdentity,
    acl: z.array(aclEntry).min(1),
    transform: espTransform.default(DEFAULT_ESP_TRANSFORM),
    tekLifetimeSec: z.int().min(10).max(MAX_LIFETIME_SEC).default(KS_DEFAULTS.tekLifetimeSec),
    kek: strict({
      algorithm: z.enum(KEK_ALGORITHMS).default('aes-256-cbc'),
      lifetimeSec: z.int().min(60).max(MAX_LIFETIME_SEC).default(KS_DEFAULTS.kekLifetimeSec),
    }).prefault({}),
    rekey: rekeySchema(ctx).prefault({}),
    gap: strict({
      activationDelaySec: z.int().min(0).max(3600).default(0),
      deactivationDelaySec: z.int().min(0).max(3600).default(0),
    }).optional(),
    authorization: z.array(prefix).min(1).optional(),
    senderIdBits: z.literal([8, 12, 16]).default(KS_DEFAULTS.senderIdBits),
  }).transform((g): KsGroupConfig => ({
    name: g.name,
    identity: g.identity,
    acl: g.acl,
    transform: g.transform,
    tekLifetimeSec: g.tekLifetimeSec,
    kek: g.kek,
    rekey: g.rekey,
    gap: g.gap ?? null,
    authorization: g.authorization ?? null,
    senderIdBits: g.senderIdBits,
  }))
}

export function ksConfigSchema(ctx: ConfigContext): z.ZodType<KsConfig> {
  return strict({
    listen: strict({
      address: ipv4.default(KS_DEFAULTS.listenAddress),
      port: listenPort.default(KS_DEFAULTS.port),
    }).prefault({}),
    stateDir: pathIn(ctx).default(KS_DEFAULTS.stateDir),
    controlSocket: pathIn(ctx).default(DEFAULT_KS_CONTROL_SOCKET),
    log: logSchema,
    keylog: pathIn(ctx).optional(),
    ike: ikeSchema(ctx),
    groups: z.array(groupSchema(ctx)).min(1),
    limits: strict({
      maxHalfOpenSa: z.int().min(1).max(1_000_000).default(KS_DEFAULTS.maxHalfOpenSa),
      exchangeTimeoutSec: z.int().min(5).max(600).default(KS_DEFAULTS.exchangeTimeoutSec),
    }).prefault({}),
    compat: strict({
      idLengthWidth: z.literal([1, 2]).default(1),
      pushSignature: z.enum(['rfc', 'bare']).default('rfc'),
    }).prefault({}),
  }).transform(
    (v): KsConfig => ({
      listen: v.listen,
      stateDir: v.stateDir,
      controlSocket: v.controlSocket,
      log: v.log,
      keylog: v.keylog ?? null,
      ike: v.ike,
      groups: v.groups,
      limits: v.limits,
      compat: v.compat,
    }),
  ) as unknown as z.ZodType<KsConfig>
}
