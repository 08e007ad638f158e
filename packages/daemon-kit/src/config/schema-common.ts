// zod pieces both daemons' configuration schemas are built from: addresses, prefixes, ACL entries,
// IKE policies, pre-shared keys (inline, from a file or from the environment), RSA identities,
// logging. Output types are fully defaulted; optional things are `null`, never missing.
import { z } from 'zod'
import { statSync, readFileSync } from 'node:fs'
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { isAbsolute, resolve } from 'node:path'
import { Secret } from '../secret.js'
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../log.js'
import { unknownKeysMessage } from './errors.js'
import { isIpv4, isMulticastIpv4, parsePort, parsePrefix, PROTOCOLS, type Prefix } from './net.js'
import { parseEspTransform, type DhGroupId, type EspTransformConfig, type IkeAuthName, type IkeEncryptionName, type IkeHashName } from './transform.js'

/** Where relative paths in a config file point to, and where `keyEnv` looks. */
export interface ConfigContext {
  readonly baseDir: string
  readonly env: Readonly<Record<string, string | undefined>>
}

/** A strict object whose unknown fields are reported as `path.field: unknown field (did you mean …?)`. */
export function strict<S extends z.core.$ZodLooseShape>(shape: S) {
  return z.strictObject(shape, { error: unknownKeysMessage(Object.keys(shape)) })
}

function custom(ctx: { issues: z.core.$ZodRawIssue[] }, message: string, input: unknown, path?: PropertyKey[]): void {
  ctx.issues.push(path ? { code: 'custom', message, input, path } : { code: 'custom', message, input })
}

export const ipv4 = z.string().refine(isIpv4, 'expected an IPv4 address like 192.0.2.1')
export const unicastIpv4 = z
  .string()
  .refine(isIpv4, 'expected an IPv4 address like 192.0.2.1')
  .refine((s) => !isIpv4(s) || !isMulticastIpv4(s), 'must be a unicast address')
export const multicastIpv4 = z.string().refine(isMulticastIpv4, 'expected an IPv4 multicast address (224.0.0.0/4)')

export const prefix = z.string().transform((s, ctx): Prefix => {
  const r = parsePrefix(s)
  if (!r.ok) {
    custom(ctx, r.reason, s)
    return z.NEVER
  }
  return r.prefix
})

/** 1..65535. */
export const port = z.int().min(1).max(65535)
/** 0..65535 (0 = let the OS pick; tests). */
export const listenPort = z.int().min(0).max(65535)

export function pathIn(ctx: ConfigContext) {
  return z
    .string()
    .min(1)
    .transform((p) => (isAbsolute(p) ? p : resolve(ctx.baseDir, p)))
}

export interface LogConfig {
  readonly level: LogLevel
  readonly format: LogFormat
}
export const logSchema = strict({
  level: z.enum(LOG_LEVELS).default('info'),
  format: z.enum(LOG_FORMATS).default('auto'),
}).prefault({})

export type GroupIdentity = { readonly kind: 'number'; readonly number: number } | { readonly kind: 'address'; readonly address: string }

/** `{ number: 1234 }` (IOS `identity number 1234`, sent as ID_KEY_ID) or `{ address: 192.0.2.1 }`. */
export const groupIdentity = strict({
  number: z.int().min(0).max(0xffffffff).optional(),
  address: ipv4.optional(),
}).transform((v, ctx): GroupIdentity => {
  if (v.number !== undefined && v.address !== undefined) {
    custom(ctx, 'give either number or address, not both', v)
    return z.NEVER
  }
  if (v.number !== undefined) return { kind: 'number', number: v.number }
  if (v.address !== undefined) return { kind: 'address', address: v.address }
  custom(ctx, 'required: { number: N } or { address: A.B.C.D }', v)
  return z.NEVER
})

export const groupName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only')

export interface AclEntry {
  readonly action: 'permit' | 'deny'
  /** IP protocol number; 0 = any ("ip"). */
  readonly protocol: number
  readonly source: Prefix
  readonly destination: Prefix
  readonly sourcePort: number | null
  readonly destinationPort: number | null
}

const protocolSchema = z.union([z.string(), z.number()]).transform((v, ctx): number => {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0 && v <= 255) return v
    custom(ctx, 'protocol number must be 0..255', v)
    return z.NEVER
  }
  const n = PROTOCOLS[v.toLowerCase()]
  if (n !== undefined) return n
  custom(ctx, `must be one of ${Object.keys(PROTOCOLS).join(', ')} or a number`, v)
  return z.NEVER
})

const aclPort = z.union([z.int(), z.string()]).transform((v, ctx): number => {
  const n = parsePort(String(v))
  if (n !== undefined) return n
  custom(ctx, 'expected a port 1..65535', v)
  return z.NEVER
})

export const aclEntry = strict({
  action: z.enum(['permit', 'deny']),
  protocol: protocolSchema.default(0),
  source: prefix,
  destination: prefix,
  sourcePort: aclPort.optional(),
  destinationPort: aclPort.optional(),
}).transform((v, ctx): AclEntry => {
  const ports = v.protocol === PROTOCOLS['tcp'] || v.protocol === PROTOCOLS['udp']
  if (!ports) {
    if (v.sourcePort !== undefined) custom(ctx, 'ports need protocol tcp or udp', v.sourcePort, ['sourcePort'])
    if (v.destinationPort !== undefined) custom(ctx, 'ports need protocol tcp or udp', v.destinationPort, ['destinationPort'])
  }
  return {
    action: v.action,
    protocol: v.protocol,
    source: v.source,
    destination: v.destination,
    sourcePort: v.sourcePort ?? null,
    destinationPort: v.destinationPort ?? null,
  }
})

/** `esp-aes 256 esp-sha-hmac` (one string) or `[esp-aes 256, esp-sha-hmac]`. */
export const espTransform = z.union([z.string(), z.array(z.string())]).transform((v, ctx): EspTransformConfig => {
  const words = (Array.isArray(v) ? v.join(' ') : v).split(/\s+/).filter((w) => w !== '')
  const r = parseEspTransform(words)
  if (!r.ok) {
    custom(ctx, r.reason, v)
    return z.NEVER
  }
  return r.transform
})

export interface IkePolicy {
  readonly priority: number
  readonly encryption: IkeEncryptionName
  readonly hash: IkeHashName
  readonly group: DhGroupId
  readonly lifetimeSec: number
  readonly authentication: IkeAuthName
}

export const ikePolicy = strict({
  priority: z.int().min(1).max(10000).optional(),
  encryption: z.enum(['aes-128', 'aes-256', '3des']),
  hash: z.enum(['sha1', 'sha256']).default('sha1'),
  group: z.literal([2, 5, 14]),
  lifetimeSec: z.int().min(60).max(86400 * 30).default(86400),
  authentication: z.enum(['pre-share', 'rsa-sig']).default('pre-share'),
})

export interface PreSharedKey {
  /** Peers this key is used with; `any` (0.0.0.0/0) for "one key from any address". */
  readonly peer: Prefix
  readonly key: Secret
}

export interface RsaIdentity {
  readonly certFile: string
  readonly keyFile: string
  readonly caFile: string | null
}

export interface IkeConfig {
  /** Sorted by priority (lowest first = proposed/preferred first). */
  readonly policies: readonly IkePolicy[]
  readonly preSharedKeys: readonly PreSharedKey[]
  readonly identity: RsaIdentity | null
}

/** Reads a secret/private file: must be a regular file not readable by group/others. */
export function readPrivateFile(path: string): { ok: true; bytes: Buffer } | { ok: false; reason: string } {
  let st
  try {
    st = statSync(path)
  } catch (err) {
    return { ok: false, reason: `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})` }
  }
  if (!st.isFile()) return { ok: false, reason: `${path} is not a regular file` }
  if ((st.mode & 0o077) !== 0) {
    return { ok: false, reason: `${path} is readable by other users (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); chmod 600 it` }
  }
  try {
    return { ok: true, bytes: readFileSync(path) }
  } catch (err) {
    return { ok: false, reason: `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})` }
  }
}

function stripNewline(b: Buffer): Buffer {
  let end = b.length
  if (end > 0 && b[end - 1] === 0x0a) end--
  if (end > 0 && b[end - 1] === 0x0d) end--
  return b.subarray(0, end)
}

export function preSharedKey(ctx: ConfigContext) {
  return strict({
    peer: prefix,
    // A YAML key like 0123 or 1e5 would silently become a number (and another key): insist on text.
    key: z
      .string({ error: (iss) => (iss.input === undefined ? undefined : 'must be text: put the key in quotes') })
      .min(1)
      .optional(),
    keyFile: z.string().min(1).optional(),
    keyEnv: z.string().min(1).optional(),
  }).transform((v, c): PreSharedKey => {
    const given = [v.key, v.keyFile, v.keyEnv].filter((x) => x !== undefined).length
    if (given !== 1) {
      custom(c, given === 0 ? 'required: key, keyFile or keyEnv' : 'give only one of key, keyFile, keyEnv', undefined)
      return z.NEVER
    }
    if (v.key !== undefined) return { peer: v.peer, key: Secret.fromString(v.key) }
    if (v.keyFile !== undefined) {
      const path = isAbsolute(v.keyFile) ? v.keyFile : resolve(ctx.baseDir, v.keyFile)
      const r = readPrivateFile(path)
      if (!r.ok) {
        custom(c, r.reason, undefined, ['keyFile'])
        return z.NEVER
      }
      const bytes = stripNewline(r.bytes)
      if (bytes.length === 0) {
        custom(c, `${path} is empty`, undefined, ['keyFile'])
        return z.NEVER
      }
      const s = new Secret(bytes)
      r.bytes.fill(0)
      return { peer: v.peer, key: s }
    }
    const name = v.keyEnv ?? ''
    const val = ctx.env[name]
    if (val === undefined || val === '') {
      custom(c, `environment variable ${name} is not set`, undefined, ['keyEnv'])
      return z.NEVER
    }
    return { peer: v.peer, key: Secret.fromString(val) }
  })
}

/** Checks that `path` holds a usable private key (PEM/DER, not world-readable). Returns a reason or undefined. */
export function checkPrivateKeyFile(path: string, want?: 'rsa'): string | undefined {
  const r = readPrivateFile(path)
  if (!r.ok) return r.reason
  try {
    const k = createPrivateKey(r.bytes.toString('utf8').includes('-----BEGIN') ? r.bytes : { key: r.bytes, format: 'der', type: 'pkcs8' })
    if (want === 'rsa' && k.asymmetricKeyType !== 'rsa') return `${path} is a ${k.asymmetricKeyType ?? 'non-RSA'} key, not RSA`
    return undefined
  } catch {
    return `${path} is not a readable private key (PEM or PKCS#8 DER; encrypted keys are not supported)`
  } finally {
    r.bytes.fill(0)
  }
}

function checkCertFile(path: string): string | undefined {
  try {
    new X509Certificate(readFileSync(path))
    return undefined
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return code?.startsWith('E') === true && code !== 'ERR_OSSL_PEM_NO_START_LINE' ? `cannot read ${path} (${code})` : `${path} is not an X.509 certificate`
  }
}

export function rsaIdentity(ctx: ConfigContext) {
  const p = pathIn(ctx)
  return strict({ certFile: p, keyFile: p, caFile: p.optional() }).transform((v, c): RsaIdentity => {
    const certWhy = checkCertFile(v.certFile)
    if (certWhy !== undefined) custom(c, certWhy, undefined, ['certFile'])
    const keyWhy = checkPrivateKeyFile(v.keyFile)
    if (keyWhy !== undefined) custom(c, keyWhy, undefined, ['keyFile'])
    if (v.caFile !== undefined) {
      const caWhy = checkCertFile(v.caFile)
      if (caWhy !== undefined) custom(c, caWhy, undefined, ['caFile'])
    }
    return { certFile: v.certFile, keyFile: v.keyFile, caFile: v.caFile ?? null }
  })
}

export function ikeSchema(ctx: ConfigContext) {
  return strict({
    policies: z.array(ikePolicy).min(1),
    preSharedKeys: z.array(preSharedKey(ctx)).default([]),
    identity: rsaIdentity(ctx).optional(),
  }).transform((v, c): IkeConfig => {
    const seen = new Map<number, number>()
    const policies = v.policies.map((p, i) => {
      const priority = p.priority ?? (i + 1) * 10
      const dup = seen.get(priority)
      if (dup !== undefined) custom(c, `priority ${priority} is also used by policies[${dup}]`, p, ['policies', i, 'priority'])
      seen.set(priority, i)
      return {
        priority,
        encryption: p.encryption,
        hash: p.hash,
        group: p.group,
        lifetimeSec: p.lifetimeSec,
        authentication: p.authentication,
      }
    })
    policies.sort((a, b) => a.priority - b.priority)
    if (v.policies.some((p) => p.authentication === 'rsa-sig') && v.identity === undefined) {
      custom(c, 'a policy uses rsa-sig: give identity { certFile, keyFile }', undefined, ['identity'])
    }
    if (v.policies.some((p) => p.authentication === 'pre-share') && v.preSharedKeys.length === 0) {
      custom(c, 'a policy uses pre-share: give at least one pre-shared key', undefined, ['preSharedKeys'])
    }
    return { policies, preSharedKeys: v.preSharedKeys, identity: v.identity ?? null }
  })
}
