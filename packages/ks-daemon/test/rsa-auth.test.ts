// Phase 1 with RSA signatures (IKE authentication method 3): certificates checked with node-forge
// (chain to the configured CA, validity, ID ↔ certificate). A GM with a certificate from another CA is
// refused with untrusted-cert and nothing changes.
import t from 'tap'
import { generateKeyPairSync, X509Certificate } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import forge from 'node-forge'
import { createLogger, createLogSink } from '@gdoi/daemon-kit'
import type { RsaCredentials } from '@gdoi/wire/exchange/index'
import { certVerifier } from '../src/ike-config.js'
import { memoryLab, register, ksYaml } from './helpers/ks-fixture.js'
import { LAB_PROPOSAL } from './helpers/test-gm.js'

interface Issued {
  readonly certPem: string
  readonly keyPem: string
  readonly cert: forge.pki.Certificate
}

function keyPair(): { pem: string; forgeKey: forge.pki.rsa.PrivateKey; forgePub: forge.pki.rsa.PublicKey } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  const forgeKey = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey
  const forgePub = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e)
  return { pem, forgeKey, forgePub }
}

function issue(cn: string, ca: { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } | undefined, ip?: string): Issued & { key: forge.pki.rsa.PrivateKey } {
  const k = keyPair()
  const cert = forge.pki.createCertificate()
  cert.publicKey = k.forgePub
  cert.serialNumber = String(Math.floor(Math.random() * 1e9))
  cert.validity.notBefore = new Date(Date.UTC(2024, 0, 1))
  cert.validity.notAfter = new Date(Date.UTC(2030, 0, 1))
  cert.setSubject([{ name: 'commonName', value: cn }, { name: 'organizationName', value: 'gdoi lab' }])
  cert.setIssuer(ca?.cert.subject.attributes ?? cert.subject.attributes)
  const ext: object[] = [{ name: 'basicConstraints', cA: ca === undefined }]
  if (ip !== undefined) ext.push({ name: 'subjectAltName', altNames: [{ type: 7, ip }] })
  cert.setExtensions(ext)
  cert.sign(ca?.key ?? k.forgeKey, forge.md.sha256.create())
  return { certPem: forge.pki.certificateToPem(cert), keyPem: k.pem, cert, key: k.forgeKey }
}

function derOf(pem: string): Uint8Array {
  return new Uint8Array(new X509Certificate(pem).raw)
}

t.test('rsa-sig phase 1: trusted certificates register, a foreign CA is refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gdoi-ks-rsa-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const ca = issue('gdoi lab CA', undefined)
  const ks = issue('ks1', ca, '127.0.1.1')
  const gm = issue('gm1', ca, '127.0.1.11')
  const rogueCa = issue('rogue CA', undefined)
  const rogue = issue('gm2', rogueCa, '127.0.1.12')
  const w = (name: string, text: string): string => {
    const p = join(dir, name)
    writeFileSync(p, text, { mode: 0o600 })
    return p
  }
  const yaml = ksYaml().replace(
    '    - { priority: 10, encryption: aes-256, hash: sha1, group: 5, authentication: pre-share }',
    '    - { priority: 10, encryption: aes-256, hash: sha1, group: 5, authentication: rsa-sig }',
  ).replace('ike:\n', `ike:\n  identity: { certFile: ${w('ks.crt', ks.certPem)}, keyFile: ${w('ks.key', ks.keyPem)}, caFile: ${w('ca.crt', ca.certPem)} }\n`)
  const { parseKsConfig } = await import('../src/config/index.js')
  const config = parseKsConfig(yaml, { path: join(dir, 'ks.yaml') }).config
  const lab = await memoryLab()
  await lab.ks.close()
  lab.config = config
  await lab.restart()
  t.teardown(() => lab.close())

  const sink = createLogSink()
  const verify = certVerifier([forge.pki.certificateFromPem(ca.certPem)], createLogger({ destination: sink.stream, format: 'json' }), () => Date.now())
  const rsaGm = (c: Issued): RsaCredentials => ({ privateKey: c.keyPem, certDer: derOf(c.certPem) })
  const good = lab.addGm('127.0.1.11', { proposals: [{ ...LAB_PROPOSAL, auth: 'rsa' }], rsa: rsaGm(gm), verifyPeerCert: verify })
  const r = await register(lab, good)
  t.ok(r.policy.kek, 'registered over an rsa-sig phase 1')
  t.match(lab.ks.status().ikeSas[0]?.peerId ?? '', /^ipv4 127\.0\.1\.11$/)

  const bad = lab.addGm('127.0.1.12', { proposals: [{ ...LAB_PROPOSAL, auth: 'rsa' }], rsa: rsaGm(rogue), verifyPeerCert: verify })
  await t.rejects(register(lab, bad), /phase1/)
  const st = lab.ks.status()
  t.equal(st.counters['ike.failed.untrusted-cert'], 1, 'foreign CA refused')
  t.same(st.groups[0]?.members.map((m) => m.address), ['127.0.1.11'])

  // the ID must name the certificate: a GM claiming another address with its (valid) certificate
  const liar = lab.addGm('127.0.1.13', { proposals: [{ ...LAB_PROPOSAL, auth: 'rsa' }], rsa: rsaGm(gm), verifyPeerCert: verify })
  await t.rejects(register(lab, liar))
  t.equal(lab.ks.status().counters['ike.failed.untrusted-cert'], 2, 'ID/certificate mismatch refused')
})
