// Certificate authentication (IKE policy `authentication: rsa-sig`): the member loads its certificate,
// key and CA from files, signs MM5, and accepts the key server only with a certificate from that CA
// naming the key server's address. Certificates are made with the openssl CLI (skipped without it).
import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LogEvent } from '@gdoi/daemon-kit'
import type { IdPayload } from '@gdoi/wire'
import { GM_ADDRESS, logEvents, setup } from './helpers/harness.js'
import { LAB_PROPOSAL } from './helpers/test-ks.js'

const noOpenssl = spawnSync('openssl', ['version']).status !== 0

interface Pki {
  readonly dir: string
  cert(name: string, ip: string, ca?: string): { key: string; cert: string }
  ca(name: string): { key: string; cert: string }
}

function pki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'gdoi-gm-pki-'))
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' })
  }
  return {
    dir,
    ca(name) {
      run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', `/CN=${name}`, '-days', '2')
      return { key: join(dir, `${name}.key`), cert: join(dir, `${name}.pem`) }
    },
    cert(name, ip, ca = 'ca') {
      run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`)
      writeFileSync(join(dir, `${name}.ext`), `subjectAltName=IP:${ip}\n`)
      run('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`)
      return { key: join(dir, `${name}.key`), cert: join(dir, `${name}.pem`) }
    },
  }
}

/** The test KS's trust rule: any certificate issued by `caPem`. */
function ksVerifier(caPem: string): (certDer: Uint8Array, id: IdPayload) => Uint8Array | undefined {
  const ca = new X509Certificate(readFileSync(caPem))
  return (certDer) => {
    const c = new X509Certificate(certDer)
    return c.checkIssued(ca) && c.verify(ca.publicKey) ? new Uint8Array(c.publicKey.export({ type: 'spki', format: 'der' })) : undefined
  }
}

async function withCerts(p: Pki, ksCertCa: string) {
  const gmCert = p.cert('gm', GM_ADDRESS)
  const ksCert = p.cert('ks', '10.0.0.1', ksCertCa)
  return setup({
    startMs: Date.now(),
    ks: {
      proposals: [{ ...LAB_PROPOSAL, auth: 'rsa' }],
      rsa: {
        credentials: { privateKey: createPrivateKey(readFileSync(ksCert.key)), certDer: new Uint8Array(new X509Certificate(readFileSync(ksCert.cert)).raw) },
        verifyPeerCert: ksVerifier(join(p.dir, 'ca.pem')),
      },
    },
    config: {
      ike: {
        policies: [{ priority: 10, encryption: 'aes-256', hash: 'sha1', group: 2, lifetimeSec: 86400, authentication: 'rsa-sig' }],
        preSharedKeys: [],
        identity: { certFile: gmCert.cert, keyFile: gmCert.key, caFile: join(p.dir, 'ca.pem') },
      },
    },
  })
}

t.test('registers with RSA signatures and CA-issued certificates', { skip: noOpenssl ? 'no openssl CLI' : false }, async (t) => {
  const p = pki()
  t.teardown(() => rmSync(p.dir, { recursive: true, force: true }))
  p.ca('ca')
  const s = await withCerts(p, 'ca')
  t.teardown(() => s.close())
  t.equal(s.gm.status().registration.status, 'Registered')
  t.equal(s.kss[0]?.registrations.length, 1)
  t.equal(logEvents(s.sink, LogEvent.IKE_ESTABLISHED).length, 1)
})

t.test('a key server certificate from another CA is refused', { skip: noOpenssl ? 'no openssl CLI' : false }, async (t) => {
  const p = pki()
  t.teardown(() => rmSync(p.dir, { recursive: true, force: true }))
  p.ca('ca')
  p.ca('rogue')
  const s = await withCerts(p, 'rogue')
  t.teardown(() => s.close())
  t.equal(s.gm.status().registration.status, 'Not registered')
  t.equal(logEvents(s.sink, LogEvent.IKE_FAILED)[0]?.['reason'], 'untrusted-cert')
  t.equal(s.kss[0]?.registrations.length, 0)
})
