// Runs the installed tshark (our independent decoder, spec §8) over a capture we wrote, and returns
// the requested fields per frame. Port 848 is not registered for ISAKMP in tshark 4.0, hence `-d`.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

export function tsharkMissing(): string | false {
  const r = spawnSync('tshark', ['--version'], { encoding: 'utf8' })
  return r.status === 0 ? false : 'tshark is not installed (scripts/setup-debian.sh installs it)'
}

export interface TsharkOptions {
  /** `icookie,key` lines for uat:ikev1_decryption_table (bare hex). */
  readonly ikev1Keys?: readonly string[]
  /** uat:esp_sa records, already quoted as tshark wants them. */
  readonly espSas?: readonly string[]
  readonly fields: readonly string[]
}

/** One row per frame: field name → the values tshark printed for it (repeated fields in payload order). */
export type TsharkRow = Record<string, string[]>

export function tsharkFields(pcap: Uint8Array, opts: TsharkOptions): TsharkRow[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'gdoi-tshark-'))
  try {
    const file = path.join(dir, 'cap.pcap')
    writeFileSync(file, pcap)
    const args = ['-n', '-r', file, '-d', 'udp.port==848,isakmp', '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=|']
    for (const k of opts.ikev1Keys ?? []) args.push('-o', `uat:ikev1_decryption_table:${k}`)
    if (opts.espSas?.length) {
      args.push('-o', 'esp.enable_encryption_decode:TRUE')
      for (const s of opts.espSas) args.push('-o', `uat:esp_sa:${s}`)
    }
    for (const f of opts.fields) args.push('-e', f)
    const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 64 << 20 })
    if (r.status !== 0) throw new Error(`tshark failed (${r.status}): ${r.stderr}`)
    return r.stdout
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => {
        const cols = line.split('\t')
        const row: TsharkRow = {}
        opts.fields.forEach((f, i) => {
          const v = cols[i] ?? ''
          row[f] = v === '' ? [] : v.split('|')
        })
        return row
      })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
