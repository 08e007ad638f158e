// store.tls / store.auth in YAML, and the `gdoi-ks store etcd` block of an IOS configuration: files read
// and checked at load (CA, client certificate + key that belong together, 0600 key and password
// files), passwords never inline, http/https consistent with tls, and every mistake named with its
// field path (YAML) or line number (IOS).
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError } from '@gdoi/daemon-kit'
import { parseKsConfig } from '../../src/config/index.js'
import { ksYaml } from '../helpers/ks-fixture.js'
import { issue } from '../helpers/etcd-secure.js'

const dir = mkdtempSync(join(tmpdir(), 'gdoi-store-sec-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const w = (name: string, text: string | Buffer, mode = 0o600): string => {
  const p = join(dir, name)
  writeFileSync(p, text, { mode })
  chmodSync(p, mode)
  return p
}
const ca = issue('test CA', undefined)
const client = issue('gdoi-ks', ca)
const other = issue('other', ca)
const files = {
  ca: w('ca.pem', ca.certPem, 0o644),
  cert: w('client.pem', client.certPem, 0o644),
  key: w('client-key.pem', client.keyPem),
  otherKey: w('other-key.pem', other.keyPem),
  openKey: w('open-key.pem', client.keyPem, 0o644),
  pw: w('etcd.pw', 's3cret-etcd-pw\n'),
  openPw: w('open.pw', 's3cret-etcd-pw\n', 0o644),
  kek: w('store.key', `${randomBytes(32).toString('hex')}\n`),
  notPem: w('not.pem', 'hello', 0o644),
}
const PATH = join(dir, 'ks.yaml')

const yaml = (store: string): string => `${ksYaml()}
store:
  kind: etcd
  keyEncryptionKey: { file: ${files.kek} }
${store}`

function errorOf(text: string, env: Record<string, string> = {}, path = PATH): string {
  try {
    parseKsConfig(text, { path, env })
  } catch (err) {
    if (err instanceof ConfigError) return err.message
    throw err
  }
  return ''
}

t.test('YAML: tls + auth accepted, read at load', async (t) => {
  const c = parseKsConfig(
    yaml(`  endpoints: [10.0.20.11:2379, "https://10.0.20.12:2379"]
  tls: { caFile: ${files.ca}, certFile: ${files.cert}, keyFile: ${files.key} }
  auth: { user: gdoi-ks, passwordFile: ${files.pw} }
`),
    { path: PATH },
  ).config.store
  if (c.kind !== 'etcd') return t.fail('etcd store expected')
  t.same(c.endpoints, ['https://10.0.20.11:2379', 'https://10.0.20.12:2379'], 'with tls a bare host:port is https')
  t.equal(Buffer.from(c.tls?.ca ?? []).toString(), ca.certPem, 'CA read')
  t.equal(Buffer.from(c.tls?.key?.reveal() ?? []).toString(), client.keyPem, 'client key read')
  t.equal(c.auth?.user, 'gdoi-ks')
  t.equal(Buffer.from(c.auth?.password.reveal() ?? []).toString(), 's3cret-etcd-pw', 'password from the file, trailing newline dropped')
  t.notMatch(JSON.stringify(c), /s3cret|PRIVATE KEY/, 'neither the password nor the key prints')
  const e = parseKsConfig(yaml(`  endpoints: [10.0.20.11:2379]\n  auth: { user: ks, passwordEnv: ETCD_PW }\n`), { path: PATH, env: { ETCD_PW: 'from-env' } }).config.store
  t.equal(e.kind === 'etcd' && Buffer.from(e.auth?.password.reveal() ?? []).toString(), 'from-env', 'password from the environment')
  const onlyCa = parseKsConfig(yaml(`  endpoints: ["https://10.0.20.11:2379"]\n  tls: { caFile: ${files.ca} }\n`), { path: PATH }).config.store
  t.equal(onlyCa.kind === 'etcd' && onlyCa.tls?.cert, null, 'server-only TLS: no client certificate')
})

t.test('YAML: mistakes named with their path and reason', async (t) => {
  const cases: Array<[string, string, RegExp, Record<string, string>?]> = [
    ['inline password', `  endpoints: [a:2379]\n  auth: { user: ks, password: hunter2 }\n`, /store\.auth\.password: inline passwords are not accepted/],
    ['no password source', `  endpoints: [a:2379]\n  auth: { user: ks }\n`, /store\.auth: give exactly one of passwordFile, passwordEnv/],
    ['password file readable by others', `  endpoints: [a:2379]\n  auth: { user: ks, passwordFile: ${files.openPw} }\n`, /store\.auth\.passwordFile: .*open\.pw is readable by other users/],
    ['missing password file', `  endpoints: [a:2379]\n  auth: { user: ks, passwordFile: ${dir}/nope.pw }\n`, /store\.auth\.passwordFile: cannot read .*nope\.pw \(ENOENT\)/],
    ['unset env', `  endpoints: [a:2379]\n  auth: { user: ks, passwordEnv: NOPE }\n`, /store\.auth\.passwordEnv: environment variable NOPE is not set/],
    ['missing CA', `  endpoints: [a:2379]\n  tls: { caFile: ${dir}/nope.pem }\n`, /store\.tls\.caFile: cannot read .*nope\.pem \(ENOENT\)/],
    ['CA not a certificate', `  endpoints: [a:2379]\n  tls: { caFile: ${files.notPem} }\n`, /store\.tls\.caFile: .*not\.pem holds no PEM certificate/],
    ['cert without key', `  endpoints: [a:2379]\n  tls: { caFile: ${files.ca}, certFile: ${files.cert} }\n`, /store\.tls\.keyFile: certFile and keyFile go together/],
    ['key of another certificate', `  endpoints: [a:2379]\n  tls: { caFile: ${files.ca}, certFile: ${files.cert}, keyFile: ${files.otherKey} }\n`, /store\.tls\.keyFile: .*other-key\.pem is not the private key of the certificate/],
    ['key readable by others', `  endpoints: [a:2379]\n  tls: { caFile: ${files.ca}, certFile: ${files.cert}, keyFile: ${files.openKey} }\n`, /store\.tls\.keyFile: .*open-key\.pem is readable by other users/],
    ['http with tls', `  endpoints: ["http://a:2379"]\n  tls: { caFile: ${files.ca} }\n`, /store\.endpoints\[0\]: http:\/\/ with store\.tls/],
    ['https without tls', `  endpoints: [b:2379, "https://a:2379"]\n`, /store\.endpoints\[1\]: https:\/\/ needs store\.tls/],
  ]
  for (const [what, store, re, env] of cases) t.match(errorOf(yaml(store), env), re, what)
})

const KEK_ENV = { GDOI_KS_STORE_KEY: randomBytes(32).toString('hex') }
const ios = (block: string): string => `${readFileSync(new URL('../../../../examples/ks.ios.cfg', import.meta.url), 'utf8').replace(/\nend\s*$/, '\n')}!\n${block}`

t.test('IOS: gdoi-ks store etcd gives the same store as YAML', async (t) => {
  const block = `gdoi-ks store etcd
 endpoint https://10.0.20.11:2379 https://10.0.20.12:2379
 endpoint https://10.0.20.13:2379
 prefix /gdoi/east/
 key-encryption-key env GDOI_KS_STORE_KEY
 tls ca ${files.ca} cert ${files.cert} key ${files.key}
 auth user gdoi-ks password-file ${files.pw}
 lease-ttl 5
 instance-name ks-east
 request-timeout 2
`
  const loaded = parseKsConfig(ios(block), { path: join(dir, 'ks.cfg'), env: KEK_ENV })
  const fromYaml = parseKsConfig(
    `${ksYaml()}
store:
  kind: etcd
  endpoints: ["https://10.0.20.11:2379", "https://10.0.20.12:2379", "https://10.0.20.13:2379"]
  prefix: /gdoi/east/
  keyEncryptionKey: { env: GDOI_KS_STORE_KEY }
  tls: { caFile: ${files.ca}, certFile: ${files.cert}, keyFile: ${files.key} }
  auth: { user: gdoi-ks, passwordFile: ${files.pw} }
  leaseTtlSec: 5
  instanceName: ks-east
  requestTimeoutSec: 2
`,
    { path: PATH, env: KEK_ENV },
  )
  const norm = (s: typeof loaded.config.store): unknown => JSON.parse(JSON.stringify(s, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)))
  t.same(norm(loaded.config.store), norm(fromYaml.config.store), 'IOS block = YAML store (secrets compared below)')
  const s = loaded.config.store
  t.equal(s.kind === 'etcd' && Buffer.from(s.auth?.password.reveal() ?? []).toString(), 's3cret-etcd-pw')
  t.notOk(loaded.warnings.some((w) => /gdoi-ks/.test(w.message)), 'the block is not reported as ignored')
  t.same(parseKsConfig(ios('gdoi-ks store file\n'), { path: join(dir, 'ks.cfg') }).config.store, { kind: 'file' }, 'gdoi-ks store file')
  t.same(parseKsConfig(ios(''), { path: join(dir, 'ks.cfg') }).config.store, { kind: 'file' }, 'no block: the state file')
})

t.test('IOS: mistakes carry the line number', async (t) => {
  const base = ios('').split('\n').length // the block starts on this line
  const at = (n: number): RegExp => new RegExp(`line ${base + n - 1}\\b`)
  const err = (block: string, env: Record<string, string> = KEK_ENV): string => errorOf(ios(block), env, join(dir, 'ks.cfg')).replace(/\n/g, ' | ')
  const cases: Array<[string, string, RegExp[]]> = [
    ['inline password', `gdoi-ks store etcd\n endpoint 10.0.0.1:2379\n key-encryption-key env GDOI_KS_STORE_KEY\n auth user ks password hunter2\n`, [/inline passwords are not accepted/, at(4)]],
    ['unknown setting', `gdoi-ks store etcd\n endpoint 10.0.0.1:2379\n key-encryption-key env GDOI_KS_STORE_KEY\n endpiont 10.0.0.2:2379\n`, [/unknown setting "endpiont"/, at(4)]],
    ['no endpoint', `gdoi-ks store etcd\n key-encryption-key env GDOI_KS_STORE_KEY\n`, [/no "endpoint URL" line/, at(1)]],
    ['key inline', `gdoi-ks store etcd\n endpoint 10.0.0.1:2379\n key-encryption-key 0123456789abcdef\n`, [/key-encryption-key file PATH/, at(3)]],
    ['bad kind', `gdoi-ks store consul\n`, [/expected "gdoi-ks store etcd"/, at(1)]],
    ['missing CA file (schema error mapped to the tls line)', `gdoi-ks store etcd\n endpoint 10.0.0.1:2379\n key-encryption-key env GDOI_KS_STORE_KEY\n tls ca ${dir}/nope.pem\n`, [/store\.tls\.caFile: cannot read/, at(4)]],
    ['bad lease TTL (schema error mapped to its line)', `gdoi-ks store etcd\n endpoint 10.0.0.1:2379\n key-encryption-key env GDOI_KS_STORE_KEY\n lease-ttl 1\n`, [/store\.leaseTtlSec/, at(4)]],
    ['http endpoint with tls', `gdoi-ks store etcd\n endpoint 10.0.0.1:2379\n endpoint http://10.0.0.2:2379\n key-encryption-key env GDOI_KS_STORE_KEY\n tls ca ${files.ca}\n`, [/store\.endpoints\[1\]: http:\/\/ with store\.tls/, at(3)]],
  ]
  for (const [what, block, res] of cases) {
    const m = err(block)
    for (const re of res) t.match(m, re, `${what}: ${re.source}`)
  }
})

t.test('examples/cluster-ks.yaml and cluster-ks.ios.cfg load (with their /etc/gdoi files present) and agree', async (t) => {
  const { groupPolicyOf, policyDigest } = await import('../../src/cluster-policy.js')
  const etc = join(dir, 'etc-gdoi')
  const { mkdirSync } = await import('node:fs')
  mkdirSync(etc, { mode: 0o700 })
  const put = (name: string, text: string): void => writeFileSync(join(etc, name), text, { mode: 0o600 })
  put('psk', 'GETVPN-LAB-EXAMPLE-KEY\n')
  put('ks-store.key', `${randomBytes(32).toString('hex')}\n`)
  put('etcd-ca.pem', ca.certPem)
  put('ks-etcd.pem', client.certPem)
  put('ks-etcd-key.pem', client.keyPem)
  put('etcd.pw', 'example-pw\n')
  const load = (name: string) => {
    const text = readFileSync(new URL(`../../../../examples/${name}`, import.meta.url), 'utf8').replaceAll('/etc/gdoi/', `${etc}/`)
    return parseKsConfig(text, { path: join(dir, name) })
  }
  const y = load('cluster-ks.yaml')
  const i = load('cluster-ks.ios.cfg')
  const norm = (s: unknown): unknown => JSON.parse(JSON.stringify(s, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)))
  t.equal(y.config.store.kind, 'etcd')
  t.same(norm(i.config.store), norm(y.config.store), 'the same store')
  t.equal(policyDigest(groupPolicyOf(i.config.groups[0]!)), policyDigest(groupPolicyOf(y.config.groups[0]!)), 'the same group policy digest')
})
