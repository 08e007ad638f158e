// loadKsConfig(): YAML or pasted IOS → a validated, fully defaulted KsConfig, or a ConfigError listing
// every problem (`groups[0].rekey.multicastAddress: required for transport: multicast (line 31)`).
import {
  ConfigError,
  loadConfigFile,
  parseConfigText,
  type ConfigIssue,
  type ConfigPipeline,
  type ConfigWarning,
  type ConfigFormat,
  type ParseOptions,
} from '@gdoi/daemon-kit'
import { ksConfigSchema } from './schema.js'
import { ksFromIos } from './ios.js'
import type { KsConfig } from './types.js'

export { ConfigError }

/** Cross-field checks on the typed configuration. */
export function ksSemanticChecks(c: KsConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = []
  const names = new Map<string, number>()
  const ids = new Map<string, number>()
  const labels = new Map<string, { bits: number; i: number }>()
  c.groups.forEach((g, i) => {
    const dupName = names.get(g.name)
    if (dupName !== undefined) issues.push({ path: `groups[${i}].name`, message: `"${g.name}" is also the name of groups[${dupName}]` })
    names.set(g.name, i)
    const id = g.identity.kind === 'number' ? `number ${g.identity.number}` : `address ${g.identity.address}`
    const dupId = ids.get(id)
    if (dupId !== undefined) issues.push({ path: `groups[${i}].identity`, message: `${id} is also the identity of groups[${dupId}]` })
    ids.set(id, i)
    const r = g.rekey
    if (r === null) return
    if (r.transport === 'multicast' && c.listen.address === '0.0.0.0') {
      issues.push({ path: 'listen.address', message: `groups[${i}] sends multicast rekeys: give the key server's own address (the push source), not 0.0.0.0` })
    }
    if (r.signingKey.source === 'generate') {
      const prev = labels.get(r.signingKey.label)
      if (prev !== undefined && prev.bits !== r.signingKey.bits) {
        issues.push({ path: `groups[${i}].rekey.signingKey`, message: `label ${r.signingKey.label} is generated with ${prev.bits} bits in groups[${prev.i}]` })
      }
      labels.set(r.signingKey.label, { bits: r.signingKey.bits, i })
    }
    const retransmitSec = r.retransmitPeriodSec * r.retransmitCount
    if (retransmitSec >= g.tekLifetimeSec) {
      issues.push({ path: `groups[${i}].rekey.retransmitPeriodSec`, message: `retransmissions (${retransmitSec} s) outlast the TEK lifetime (${g.tekLifetimeSec} s)` })
    }
  })
  return issues
}

export const ksConfigPipeline: ConfigPipeline<KsConfig> = {
  schema: ksConfigSchema,
  fromIos: ksFromIos,
  semantic: ksSemanticChecks,
}

/** Command-line settings that override the file (input shape; validated like the file). */
export interface KsConfigOverrides {
  readonly listen?: { readonly address?: string; readonly port?: number }
  readonly stateDir?: string
  readonly controlSocket?: string
  readonly log?: { readonly level?: string; readonly format?: string }
  readonly keylog?: string
}

export interface KsLoadOptions extends Omit<ParseOptions, 'overrides'> {
  readonly overrides?: KsConfigOverrides
}

export interface LoadedKsConfig {
  readonly config: KsConfig
  /** Ignored IOS lines and similar; the daemon logs them at warn. */
  readonly warnings: readonly ConfigWarning[]
  readonly format: ConfigFormat
}

/** Validates KS configuration text. Throws ConfigError. */
export function parseKsConfig(text: string, opts: KsLoadOptions = {}): LoadedKsConfig {
  const { overrides, ...rest } = opts
  return parseConfigText(ksConfigPipeline, text, { ...rest, ...(overrides ? { overrides: { ...overrides } } : {}) })
}

/** Reads and validates a KS configuration file (YAML, or IOS by extension `.ios`/`.cfg` or content). */
export async function loadKsConfig(path: string, opts: Omit<KsLoadOptions, 'path'> = {}): Promise<LoadedKsConfig> {
  const { overrides, ...rest } = opts
  return loadConfigFile(ksConfigPipeline, path, { ...rest, ...(overrides ? { overrides: { ...overrides } } : {}) })
}
