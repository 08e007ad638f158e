// The gdoi-ks executable (bin/gdoi-ks.js imports the build of this file). Parsing is in cli-args.ts,
// the daemon wiring in run.ts; the control-socket clients (status, reload, rekey) and export-key here.
import { ConfigError, ControlError, controlRequest, DEFAULT_KS_CONTROL_SOCKET, writeFileAtomic } from '@gdoi/daemon-kit'
import { parseArgs, type CliCommand } from './cli-args.js'
import { ExitCode, runDaemon } from './run.js'
import { loadKsConfig } from './config/index.js'
import { exportPublicKeyPem, exportSigningKeyPem, loadSigningKey, signingKeyPath, type SigningKey } from './store/index.js'
import { renderStatus } from './status-text.js'
import type { KsStatus } from './status.js'

export interface CliIo {
  stdout(text: string): void
  stderr(text: string): void
}

async function socketOf(c: { readonly socket?: string; readonly config?: string }): Promise<string> {
  if (c.socket !== undefined) return c.socket
  if (c.config !== undefined) return (await loadKsConfig(c.config)).config.controlSocket
  return DEFAULT_KS_CONTROL_SOCKET
}

async function exportKey(c: Extract<CliCommand, { cmd: 'export-key' }>, io: CliIo): Promise<number> {
  const { config } = await loadKsConfig(c.config)
  const g = c.group !== undefined ? config.groups.find((x) => x.name === c.group) : config.groups.find((x) => x.rekey !== null)
  if (g === undefined) {
    io.stderr(`gdoi-ks: ${c.group !== undefined ? `no group named ${c.group}` : 'no group sends rekeys (rekey: none everywhere)'}\n`)
    return ExitCode.USAGE
  }
  if (g.rekey === null) {
    io.stderr(`gdoi-ks: group ${g.name} has no rekey signing key (rekey: none)\n`)
    return ExitCode.USAGE
  }
  const sk = g.rekey.signingKey
  // With etcd a generated key lives in etcd, sealed: every instance reads it there, so what an operator
  // usually wants is the public key; the private key only on explicit request and only into a 0600 file.
  const etcd = config.store.kind === 'etcd' && sk.source === 'generate' ? config.store : undefined
  const part = c.part ?? (etcd !== undefined ? 'public' : 'private')
  if (etcd !== undefined && part === 'private' && c.out === undefined) {
    io.stderr('gdoi-ks: --private with store: etcd writes only to a file: add --out FILE (created 0600)\n')
    return ExitCode.USAGE
  }
  let key: SigningKey
  try {
    if (etcd !== undefined) {
      const { readSigningKeyFromEtcd } = await import('./store/etcd-store.js')
      key = await readSigningKeyFromEtcd(etcd, sk.label)
    } else {
      key = await loadSigningKey(sk.source === 'file' ? sk.path : signingKeyPath(config.stateDir, sk.label), sk.label)
    }
  } catch (err) {
    const hint = sk.source === 'generate' && etcd === undefined ? ' (it is generated on the first start of gdoi-ks)' : ''
    const code = (err as { code?: unknown }).code
    io.stderr(`gdoi-ks: ${(err as Error).message}${hint}${typeof code === 'string' ? ` [${code}]` : ''}\n`)
    return ExitCode.FAILURE
  }
  const pem = part === 'private' ? exportSigningKeyPem(key) : exportPublicKeyPem(key)
  const what = part === 'private' ? 'signing key (private)' : `public signing key (SHA-256 of SPKI ${key.spkiSha256})`
  if (c.out !== undefined) {
    await writeFileAtomic(c.out, pem, { mode: 0o600 })
    const hint = part === 'private' && etcd === undefined ? `; on the second key server use rekey.signingKey: { file: ${c.out} }` : ''
    io.stderr(`gdoi-ks: ${what} of group ${g.name} from ${key.path} written to ${c.out} (mode 0600)${hint}\n`)
  } else {
    io.stdout(pem)
  }
  return ExitCode.OK
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = await parseArgs(argv)
  if (parsed.kind === 'help') {
    io.stdout(`${parsed.text}\n`)
    return ExitCode.OK
  }
  if (parsed.kind === 'usage') {
    io.stderr(`gdoi-ks: ${parsed.message}\nTry gdoi-ks --help\n`)
    return ExitCode.USAGE
  }
  const c = parsed.command
  try {
    switch (c.cmd) {
      case 'run':
        return await runDaemon(c, io.stderr)
      case 'status': {
        const result = (await controlRequest(await socketOf(c), { cmd: 'status' })) as KsStatus
        io.stdout(c.json ? `${JSON.stringify(result, null, 2)}\n` : renderStatus(result))
        return ExitCode.OK
      }
      case 'reload': {
        const result = await controlRequest(await socketOf(c), { cmd: 'reload' }, { timeoutMs: 30_000 })
        io.stdout(`${JSON.stringify(result, null, 2)}\n`)
        return ExitCode.OK
      }
      case 'rekey': {
        await controlRequest(await socketOf(c), { cmd: 'rekey', group: c.group, kind: c.kind }, { timeoutMs: 30_000 })
        io.stdout(`${c.kind.toUpperCase()} rekey of group ${c.group} sent\n`)
        return ExitCode.OK
      }
      case 'export-key':
        return await exportKey(c, io)
    }
  } catch (err) {
    const message = err instanceof ConfigError || err instanceof ControlError ? err.message : (err as Error).message
    io.stderr(`gdoi-ks: ${message}\n`)
    return ExitCode.FAILURE
  }
}

// Run only as the executable (bin/gdoi-ks.js, or `node --import … src/cli.ts`), not when imported by tests.
const entry = process.argv[1] ?? ''
if (/(?:^|[\\/])(?:gdoi-ks(?:\.js)?|cli\.(?:ts|js))$/.test(entry)) {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw e
  })
  process.exitCode = await main(process.argv.slice(2), {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
  })
}
