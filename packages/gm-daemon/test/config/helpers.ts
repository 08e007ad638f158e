// Configs with their Secrets revealed, so deep equality compares the key bytes too; the issues a YAML
// configuration is refused with; a minimal member configuration to add one setting to.
import { Secret, type ConfigIssue } from '@gdoi/daemon-kit'
import { ConfigError, parseGmConfig } from '../../src/config/load.js'
import type { GmConfig } from '../../src/config/types.js'

export function plain(v: unknown): unknown {
  if (v instanceof Secret) return { secret: Buffer.from(v.reveal()).toString('utf8') }
  if (Array.isArray(v)) return v.map(plain)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
  return v
}

export const EXAMPLES = new URL('../../../../examples/', import.meta.url).pathname

/** The issues a YAML configuration is refused with ([] when it is accepted). */
export function configIssues(text: string): readonly ConfigIssue[] {
  try {
    parseGmConfig(text, { format: 'yaml', env: {}, baseDir: '/' })
  } catch (err) {
    if (err instanceof ConfigError) return err.issues
    throw err
  }
  return []
}

/** A minimal valid member configuration with `extra` (YAML lines) appended. */
export const minimalGmYaml = (extra: string): string => `group: { name: G, identity: { number: 1 } }
keyServers: [10.0.0.2]
local: { address: 10.0.1.2 }
ike:
  policies: [{ encryption: aes-256, group: 5 }]
  preSharedKeys: [{ peer: 10.0.0.2, key: s3cret-psk }]
${extra}`

/** The parsed configuration of `minimalGmYaml(extra)`. */
export const parseMinimalGm = (extra: string): GmConfig => parseGmConfig(minimalGmYaml(extra), { format: 'yaml', env: {}, baseDir: '/' }).config
