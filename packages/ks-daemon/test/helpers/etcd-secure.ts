// A throw-away single-member etcd with client TLS (server certificate, client certificates required,
// --client-cert-auth) and password authentication enabled, for the store.tls / store.auth tests.
// Certificates come from a CA made here with node-forge (keys from node:crypto); a second, unrelated
// CA issues the "wrong" client certificate. etcdctl sets up users and roles, then `auth enable`.
// Client port: 23xx on 127.0.0.1 (other tests use ephemeral ports), a free port if that one is taken.
import { generateKeyPairSync } from 'node:crypto'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import forge from 'node-forge'
import { ETCD_BIN, freePort } from './etcd.js'

export interface Issued {
  readonly certPem: string
  readonly keyPem: string
  readonly cert: forge.pki.Certificate
  readonly key: forge.pki.rsa.PrivateKey
}

export function issue(cn: string, ca: Issued | undefined, alt?: { ip: string }): Issued {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const keyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey
  const cert = forge.pki.createCertificate()
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e)
  cert.serialNumber = `0${Math.floor(Math.random() * 1e9).toString(16)}`
  cert.validity.notBefore = new Date(Date.now() - 86_400_000)
  cert.validity.notAfter = new Date(Date.now() + 30 * 86_400_000)
  cert.setSubject([{ name: 'commonName', value: cn }, { name: 'organizationName', value: 'gdoi test' }])
  cert.setIssuer((ca?.cert ?? cert).subject.attributes)
  const ext: object[] = [{ name: 'basicConstraints', cA: ca === undefined }]
  if (ca === undefined) ext.push({ name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true })
  else ext.push({ name: 'keyUsage', digitalSignature: true, keyEncipherment: true }, { name: 'extKeyUsage', serverAuth: true, clientAuth: true })
  if (alt !== undefined) ext.push({ name: 'subjectAltName', altNames: [{ type: 7, ip: alt.ip }, { type: 2, value: 'localhost' }] })
  cert.setExtensions(ext)
  cert.sign(ca?.key ?? key, forge.md.sha256.create())
  return { certPem: forge.pki.certificateToPem(cert), keyPem, cert, key }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

export interface SecureEtcdFiles {
  readonly ca: string
  readonly cert: string
  readonly key: string
  /** A client certificate + key from another CA (etcd must refuse it). */
  readonly rogueCert: string
  readonly rogueKey: string
}

export class SecureEtcd {
  readonly dir: string
  readonly files: SecureEtcdFiles
  readonly port: number
  readonly rootPassword = 'root-pw-test'
  #proc: ChildProcess | undefined
  #log = ''

  private constructor(dir: string, files: SecureEtcdFiles, port: number) {
    this.dir = dir
    this.files = files
    this.port = port
  }

  get endpoint(): string {
    return `https://127.0.0.1:${this.port}`
  }

  /** Starts etcd with TLS + client certificates; `auth` off until enableAuth(). */
  static async start(preferredPort: number): Promise<SecureEtcd> {
    const dir = mkdtempSync(join(tmpdir(), 'gdoi-etcd-tls-'))
    const ca = issue('gdoi test etcd CA', undefined)
    const server = issue('etcd', ca, { ip: '127.0.0.1' })
    const client = issue('gdoi-ks-client', ca)
    const rogueCa = issue('rogue CA', undefined)
    const rogue = issue('gdoi-ks-client', rogueCa)
    const w = (name: string, text: string): string => {
      const p = join(dir, name)
      writeFileSync(p, text, { mode: 0o600 })
      return p
    }
    const files: SecureEtcdFiles = {
      ca: w('ca.pem', ca.certPem),
      cert: w('client.pem', client.certPem),
      key: w('client-key.pem', client.keyPem),
      rogueCert: w('rogue.pem', rogue.certPem),
      rogueKey: w('rogue-key.pem', rogue.keyPem),
    }
    const serverCert = w('server.pem', server.certPem)
    const serverKey = w('server-key.pem', server.keyPem)
    const port = (await portFree(preferredPort)) && (await portFree(preferredPort + 1)) ? preferredPort : await freePort()
    const peer = port === preferredPort ? preferredPort + 1 : await freePort()
    const e = new SecureEtcd(dir, files, port)
    const args = [
      '--name', 'tls1',
      '--data-dir', join(dir, 'data'),
      '--listen-client-urls', e.endpoint,
      '--advertise-client-urls', e.endpoint,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-cluster', `tls1=http://127.0.0.1:${peer}`,
      '--cert-file', serverCert,
      '--key-file', serverKey,
      '--trusted-ca-file', files.ca,
      '--client-cert-auth',
      '--logger', 'zap',
      '--log-level', 'error',
    ]
    const proc = spawn(ETCD_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    proc.stderr?.setEncoding('utf8')
    proc.stderr?.on('data', (d: string) => {
      e.#log = (e.#log + d).slice(-4000)
    })
    e.#proc = proc
    const end = Date.now() + 20_000
    while (e.ctl(['endpoint', 'health'], false).status !== 0) {
      if (Date.now() > end || proc.exitCode !== null) {
        await e.close()
        throw new Error(`TLS etcd did not start: ${e.#log.slice(-800)}`)
      }
      await new Promise((r) => setTimeout(r, 200))
    }
    return e
  }

  /** etcdctl with the test client certificate (as root once auth is on). Throws on failure when `check`. */
  ctl(args: readonly string[], check = true, user: string | undefined = undefined, input = ''): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(
      'etcdctl',
      ['--endpoints', this.endpoint, '--cacert', this.files.ca, '--cert', this.files.cert, '--key', this.files.key, '--command-timeout=3s', ...(user !== undefined ? ['--user', user] : []), ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, encoding: 'utf8', input },
    )
    if (check && r.status !== 0) throw new Error(`etcdctl ${args.join(' ')}: ${r.stderr}`)
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  }

  /** root + one user with read/write on `prefix` only, then `auth enable`. */
  enableAuth(user: string, password: string, prefix: string): void {
    this.ctl(['user', 'add', `root:${this.rootPassword}`, '--interactive=false'])
    this.ctl(['user', 'add', `${user}:${password}`, '--interactive=false'])
    this.ctl(['role', 'add', 'gdoi-ks'])
    this.ctl(['role', 'grant-permission', 'gdoi-ks', '--prefix=true', 'readwrite', prefix])
    this.ctl(['user', 'grant-role', user, 'gdoi-ks'])
    this.ctl(['auth', 'enable'])
  }

  /** As root (auth on). */
  rootCtl(args: readonly string[], check = true, input = ''): { status: number | null; stdout: string; stderr: string } {
    return this.ctl(args, check, `root:${this.rootPassword}`, input)
  }

  /** Sets a user's password (as root). */
  setPassword(user: string, password: string): void {
    this.rootCtl(['user', 'passwd', user, '--interactive=false'], true, `${password}\n`)
  }

  async close(): Promise<void> {
    const p = this.#proc
    if (p !== undefined && p.exitCode === null) {
      const done = new Promise<void>((resolve) => p.once('exit', () => resolve()))
      p.kill('SIGKILL')
      await done
    }
    this.#proc = undefined
    rmSync(this.dir, { recursive: true, force: true })
  }
}
