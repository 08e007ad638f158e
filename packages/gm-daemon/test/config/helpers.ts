// Configs with their Secrets revealed, so deep equality compares the key bytes too.
import { Secret } from '@gdoi/daemon-kit'

export function plain(v: unknown): unknown {
  if (v instanceof Secret) return { secret: Buffer.from(v.reveal()).toString('utf8') }
  if (Array.isArray(v)) return v.map(plain)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
  return v
}

export const EXAMPLES = new URL('../../../../examples/', import.meta.url).pathname
