// `store:` in the key-server configuration: the file store by default, etcd with a key-encryption key
// from a 0600 file or an environment variable; every mistake named with its path.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError } from '@gdoi/daemon-kit'
import { parseKsConfig } from '../../src/config/index.js'
import { ksYaml } from '../helpers/ks-fixture.js'

const key = randomBytes(32).toString('hex')
const etcd = (kek: string, extra = ''): string => `${ksYaml()}
store:
  kind: etcd
  endpoints: [127.0.0.1:2379, "http://10.9.9.9:2379"]
  keyEncryptionKey: ${kek}
${extra}`

t.test('default: the state file', async (t) => {
  t.same(parseKsConfig(ksYaml(), { path: '/tmp/x.yaml' }).config.store, { kind: 'file' })
})

t.test('etcd with the key in an environment variable', async (t) => {
  const c = parseKsConfig(etcd('{ env: KS_STORE_KEY }', '  leaseTtlSec: 5\n  instanceName: ks-a\n'), { path: '/tmp/x.yaml', env: { KS_STORE_KEY: key } }).config.store
  t.equal(c.kind, 'etcd')
  if (c.kind !== 'etcd') return
  t.same(c.endpoints, ['http://127.0.0.1:2379', 'http://10.9.9.9:2379'], 'host:port becomes http://host:port')
  t.equal(c.prefix, '/gdoi/ks/')
  t.equal(c.leaseTtlSec, 5)
  t.equal(c.instanceName, 'ks-a')
  t.equal(Buffer.from(c.keyEncryptionKey.reveal()).toString('hex'), key)
  t.equal(JSON.stringify(c.keyEncryptionKey), '"[secret]"', 'the key never prints')
})

t.test('etcd with the key in a file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gdoi-store-cfg-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const f = join(dir, 'store.key')
  writeFileSync(f, `${key}\n`, { mode: 0o600 })
  const c = parseKsConfig(etcd(`{ file: ${f} }`), { path: join(dir, 'ks.yaml') }).config.store
  t.equal(c.kind === 'etcd' && Buffer.from(c.keyEncryptionKey.reveal()).toString('hex'), key)
  chmodSync(f, 0o644)
  t.throws(() => parseKsConfig(etcd(`{ file: ${f} }`), { path: join(dir, 'ks.yaml') }), /store\.keyEncryptionKey\.file/, 'a key file readable by others is refused')
})

t.test('mistakes', async (t) => {
  const bad = (text: string, env: Record<string, string>, re: RegExp, what: string): void => {
    let msg = ''
    try {
      parseKsConfig(text, { path: '/tmp/x.yaml', env })
    } catch (err) {
      msg = err instanceof ConfigError ? err.message : `not a ConfigError: ${String(err)}`
    }
    t.match(msg, re, what)
  }
  bad(etcd('{ env: NOPE }'), {}, /store\.keyEncryptionKey\.env: environment variable NOPE is not set/, 'unset variable')
  bad(etcd('{ env: K }'), { K: 'too-short' }, /not a key-encryption key/, 'not 32 bytes')
  bad(etcd('{ env: K, file: /x }'), { K: key }, /exactly one of file, env/, 'both')
  bad(etcd('{ env: K }', '  prefix: gdoi\n'), { K: key }, /store\.prefix/, 'prefix without slashes')
  bad(etcd('{ env: K }', '  leaseTtlSec: 1\n'), { K: key }, /store\.leaseTtlSec/, 'TTL too short')
  bad(`${ksYaml()}\nstore: { kind: zookeeper }\n`, {}, /store/, 'unknown kind')
})
