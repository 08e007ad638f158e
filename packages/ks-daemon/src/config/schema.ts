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
  MAX_MAX_DATAGRAM_BYTES,
  MIN_MAX_DATAGRAM_BYTES,
  multicastIpv4,
  pathIn,
  prefix,
  readPrivateFile,
  Secret,
  strict,
  type ConfigContext,
} from '@gdoi/daemon-kit'
import { metricsConfigSchema } from '@gdoi/daemon-kit/metrics-config'
import { KS_DEFAULTS, type EtcdAuthConfig, type EtcdTlsConfig, type KsConfig, type KsGroupConfig, type KsStoreConfig, type RekeyConfig, type SigningKeyConfig } from './types.js'
import { parseKeyEncryptionKey } from '../store/seal.js'
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'

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

/** `rekey.ack` when the file does not say: RFC 8263 ACKs for unicast rekeys, none for multicast. */
export function defaultRekeyAck(transport: RekeyConfig['transport']): RekeyConfig['ack'] {
  return transport === 'unicast' ? 'rfc8263' : 'none'
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
    // Default by transport: unicast rekeys are acknowledged by each GM (RFC 8263; a GM that misses
    // three pushes in a row is dropped), multicast rekeys are not. An explicit value wins.
    ack: z.enum(['rfc8263', 'none']).optional(),
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
      ack: v.ack ?? defaultRekeyAck(v.transport),
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

const KEK_FORMAT = '32 bytes: 64 hex digits, 44 base64 characters or 32 raw bytes'

type Issues = { issues: z.core.$ZodRawIssue[] }
function issue(c: Issues, path: PropertyKey[], message: string): void {
  c.issues.push({ code: 'custom', message, input: undefined, path })
}

/** PEM certificates in `path` (one or more), or the reason they are unusable. */
function readCertificates(path: string): { ok: true; pem: Buffer; certs: X509Certificate[] } | { ok: false; reason: string } {
  let pem: Buffer
  try {
    pem = readFileSync(path)
  } catch (err) {
    return { ok: false, reason: `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})` }
  }
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  if (blocks.length === 0) return { ok: false, reason: `${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` }
  try {
    return { ok: true, pem, certs: blocks.map((b) => new X509Certificate(b)) }
  } catch {
    return { ok: false, reason: `${path}: a certificate in it does not parse` }
  }
}

// store.tls: { caFile, certFile, keyFile } — files read and checked here (a typo fails at load, with the
// field path), the key file must be 0600 and match the certificate.
function etcdTlsSchema(ctx: ConfigContext) {
  return strict({ caFile: pathIn(ctx), certFile: pathIn(ctx).optional(), keyFile: pathIn(ctx).optional() }).transform((v, c): EtcdTlsConfig => {
    const ca = readCertificates(v.caFile)
    if (!ca.ok) {
      issue(c, ['caFile'], ca.reason)
      return z.NEVER
    }
    if ((v.certFile === undefined) !== (v.keyFile === undefined)) {
      issue(c, [v.certFile === undefined ? 'certFile' : 'keyFile'], 'certFile and keyFile go together (the client certificate and its private key)')
      return z.NEVER
    }
    if (v.certFile === undefined || v.keyFile === undefined) return { ca: new Uint8Array(ca.pem), caFile: v.caFile, cert: null, certFile: null, key: null, keyFile: null }
    const cert = readCertificates(v.certFile)
    if (!cert.ok) {
      issue(c, ['certFile'], cert.reason)
      return z.NEVER
    }
    const k = readPrivateFile(v.keyFile)
    if (!k.ok) {
      issue(c, ['keyFile'], k.reason)
      return z.NEVER
    }
    try {
      const key = createPrivateKey(k.bytes)
      if (!(cert.certs[0] as X509Certificate).checkPrivateKey(key)) {
        issue(c, ['keyFile'], `${v.keyFile} is not the private key of the certificate in ${v.certFile}`)
        return z.NEVER
      }
    } catch {
      issue(c, ['keyFile'], `${v.keyFile} is not a readable private key (PEM; encrypted keys are not supported)`)
      return z.NEVER
    }
    const key = new Secret(k.bytes)
    k.bytes.fill(0)
    return { ca: new Uint8Array(ca.pem), caFile: v.caFile, cert: new Uint8Array(cert.pem), certFile: v.certFile, key, keyFile: v.keyFile }
  })
}

// store.auth: { user, passwordFile | passwordEnv } — never an inline password (it would end up in
// backups, diffs and `ps`-visible tooling); the file must be 0600.
function etcdAuthSchema(ctx: ConfigContext) {
  return strict({
    user: z.string().min(1).max(128).regex(/^[^\s:]+$/, 'no spaces or ":"'),
    passwordFile: pathIn(ctx).optional(),
    passwordEnv: z.string().min(1).optional(),
    password: z.unknown().optional(),
  }).transform((v, c): EtcdAuthConfig => {
    if (v.password !== undefined) {
      issue(c, ['password'], 'inline passwords are not accepted: use passwordFile (mode 0600) or passwordEnv')
      return z.NEVER
    }
    if ((v.passwordFile === undefined) === (v.passwordEnv === undefined)) {
      issue(c, [], 'give exactly one of passwordFile, passwordEnv')
      return z.NEVER
    }
    if (v.passwordFile !== undefined) {
      const r = readPrivateFile(v.passwordFile)
      if (!r.ok) {
        issue(c, ['passwordFile'], r.reason)
        return z.NEVER
      }
      const text = r.bytes.toString('utf8').replace(/\r?\n$/, '')
      r.bytes.fill(0)
      if (text === '') {
        issue(c, ['passwordFile'], `${v.passwordFile} is empty`)
        return z.NEVER
      }
      return { user: v.user, password: Secret.fromString(text), source: `file ${v.passwordFile}` }
    }
    const name = v.passwordEnv ?? ''
    const val = ctx.env[name]
    if (val === undefined || val === '') {
      issue(c, ['passwordEnv'], `environment variable ${name} is not set`)
      return z.NEVER
    }
    return { user: v.user, password: Secret.fromString(val), source: `env ${name}` }
  })
}

// store: { kind: file }  |  { kind: etcd, endpoints, prefix, keyEncryptionKey: { file | env }, leaseTtlSec, …,
//                            tls: { caFile, certFile, keyFile }, auth: { user, passwordFile | passwordEnv } }
function storeSchema(ctx: ConfigContext) {
  const etcd = strict({
    kind: z.literal('etcd'),
    endpoints: z
      .array(z.string().regex(/^(https?:\/\/)?[A-Za-z0-9.\-]+(:\d{1,5})?$|^(https?:\/\/)?\[[0-9A-Fa-f:]+\](:\d{1,5})?$/, 'host:port, http://host:port or https://host:port'))
      .min(1),
    prefix: z
      .string()
      .regex(/^\/[A-Za-z0-9._\-/]*\/$/, 'a key prefix like /gdoi/ks/ (starts and ends with "/")')
      .default(KS_DEFAULTS.etcdPrefix),
    keyEncryptionKey: strict({ file: pathIn(ctx).optional(), env: z.string().min(1).optional() }),
    leaseTtlSec: z.int().min(2).max(300).default(KS_DEFAULTS.etcdLeaseTtlSec),
    instanceName: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:\-]{0,62}$/, 'letters, digits, ".", "_", ":" and "-" only (at most 63)')
      .optional(),
    requestTimeoutSec: z.number().min(0.5).max(60).default(KS_DEFAULTS.etcdRequestTimeoutSec),
    tls: etcdTlsSchema(ctx).optional(),
    auth: etcdAuthSchema(ctx).optional(),
  }).transform((v, c): KsStoreConfig => {
    // With tls every endpoint is https (a bare host:port becomes https://); an explicit http:// next to
    // tls, or https:// without it, is a mistake worth stopping for.
    let endpointsOk = true
    v.endpoints.forEach((e, i) => {
      if (v.tls !== undefined && e.startsWith('http://')) {
        issue(c, ['endpoints', i], 'http:// with store.tls: use https:// (or drop tls)')
        endpointsOk = false
      } else if (v.tls === undefined && e.startsWith('https://')) {
        issue(c, ['endpoints', i], 'https:// needs store.tls (at least caFile: the CA of the etcd server certificate)')
        endpointsOk = false
      }
    })
    if (!endpointsOk) return z.NEVER
    const k = v.keyEncryptionKey
    if ((k.file === undefined) === (k.env === undefined)) {
      c.issues.push({ code: 'custom', message: 'give exactly one of file, env', input: undefined, path: ['keyEncryptionKey'] })
      return z.NEVER
    }
    let raw: Uint8Array
    if (k.file !== undefined) {
      const r = readPrivateFile(k.file)
      if (!r.ok) {
        c.issues.push({ code: 'custom', message: r.reason, input: undefined, path: ['keyEncryptionKey', 'file'] })
        return z.NEVER
      }
      raw = r.bytes
    } else {
      const val = ctx.env[k.env ?? '']
      if (val === undefined || val === '') {
        c.issues.push({ code: 'custom', message: `environment variable ${k.env ?? ''} is not set`, input: undefined, path: ['keyEncryptionKey', 'env'] })
        return z.NEVER
      }
      raw = Buffer.from(val, 'latin1')
    }
    const key = parseKeyEncryptionKey(raw)
    raw.fill(0)
    if (key === undefined) {
      c.issues.push({ code: 'custom', message: `not a key-encryption key (${KEK_FORMAT})`, input: undefined, path: ['keyEncryptionKey', k.file !== undefined ? 'file' : 'env'] })
      return z.NEVER
    }
    const secret = new Secret(key)
    key.fill(0)
    return {
      kind: 'etcd',
      endpoints: v.endpoints.map((e) => (/^https?:\/\//.test(e) ? e : `${v.tls !== undefined ? 'https' : 'http'}://${e}`)),
      prefix: v.prefix,
      keyEncryptionKey: secret,
      leaseTtlSec: v.leaseTtlSec,
      instanceName: v.instanceName ?? null,
      requestTimeoutSec: v.requestTimeoutSec,
      tls: v.tls ?? null,
      auth: v.auth ?? null,
    }
  })
  const file = strict({ kind: z.literal('file') }).transform((): KsStoreConfig => ({ kind: 'file' }))
  return z.discriminatedUnion('kind', [file, etcd])
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
      maxDatagramBytes: z.int().min(MIN_MAX_DATAGRAM_BYTES).max(MAX_MAX_DATAGRAM_BYTES).default(KS_DEFAULTS.maxDatagramBytes),
    }).prefault({}),
    compat: strict({
      idLengthWidth: z.literal([1, 2]).default(1),
      pushSignature: z.enum(['rfc', 'bare']).default('rfc'),
    }).prefault({}),
    store: storeSchema(ctx).prefault({ kind: 'file' }),
    metrics: metricsConfigSchema,
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
      store: v.store,
      ...(v.metrics.listen !== null ? { metrics: v.metrics } : {}),
    }),
  ) as unknown as z.ZodType<KsConfig>
}
