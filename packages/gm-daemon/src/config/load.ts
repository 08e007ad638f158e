// loadGmConfig(): YAML or pasted IOS → a validated, fully defaulted GmConfig, or a ConfigError listing
// every problem with its field path (and line).
import {
  ConfigError,
  formatPrefix,
  loadConfigFile,
  parseConfigText,
  prefixContains,
  type ConfigFormat,
  type ConfigIssue,
  type ConfigPipeline,
  type ConfigWarning,
  type ParseOptions,
} from '@gdoi/daemon-kit'
import { gmConfigSchema } from './schema.js'
import { gmFromIos } from './ios.js'
import type { GmConfig } from './types.js'

export { ConfigError }

/** Cross-field checks on the typed configuration. */
export function gmSemanticChecks(c: GmConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = []
  const seen = new Map<string, number>()
  c.keyServers.forEach((ks, i) => {
    const k = `${ks.address}:${ks.port}`
    const dup = seen.get(k)
    if (dup !== undefined) issues.push({ path: `keyServers[${i}]`, message: `${k} is also keyServers[${dup}]` })
    seen.set(k, i)
    if (c.local.address !== '0.0.0.0' && ks.address === c.local.address && ks.port === c.local.port) {
      issues.push({ path: `keyServers[${i}]`, message: 'is this group member\'s own local address' })
    }
  })
  const psk = c.ike.policies.some((p) => p.authentication === 'pre-share')
  if (psk && c.ike.preSharedKeys.length > 0) {
    for (const ks of c.keyServers) {
      if (!c.ike.preSharedKeys.some((k) => prefixContains(k.peer, ks.address))) {
        const peers = c.ike.preSharedKeys.map((k) => formatPrefix(k.peer)).join(', ')
        issues.push({ path: 'ike.preSharedKeys', message: `no pre-shared key for key server ${ks.address} (keys are for ${peers})` })
      }
    }
  }
  return issues
}

export const gmConfigPipeline: ConfigPipeline<GmConfig> = {
  schema: gmConfigSchema,
  fromIos: gmFromIos,
  semantic: gmSemanticChecks,
}

/** Command-line settings that override the file (input shape; validated like the file). */
export interface GmConfigOverrides {
  readonly local?: { readonly address?: string; readonly port?: number }
  readonly interface?: string
  readonly tun?: { readonly name?: string; readonly mtuBytes?: number }
  readonly controlSocket?: string
  readonly log?: { readonly level?: string; readonly format?: string }
  readonly keylog?: string
}

export interface GmLoadOptions extends Omit<ParseOptions, 'overrides'> {
  readonly overrides?: GmConfigOverrides
}

export interface LoadedGmConfig {
  readonly config: GmConfig
  readonly warnings: readonly ConfigWarning[]
  readonly format: ConfigFormat
}

/** Validates GM configuration text. Throws ConfigError. */
export function parseGmConfig(text: string, opts: GmLoadOptions = {}): LoadedGmConfig {
  const { overrides, ...rest } = opts
  return parseConfigText(gmConfigPipeline, text, { ...rest, ...(overrides ? { overrides: { ...overrides } } : {}) })
}

/** Reads and validates a GM configuration file (YAML, or IOS by extension `.ios`/`.cfg` or content). */
export async function loadGmConfig(path: string, opts: Omit<GmLoadOptions, 'path'> = {}): Promise<LoadedGmConfig> {
  const { overrides, ...rest } = opts
  return loadConfigFile(gmConfigPipeline, path, { ...rest, ...(overrides ? { overrides: { ...overrides } } : {}) })
}
