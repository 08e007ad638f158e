// The etcd store over TLS with client certificates and password authentication, against a real etcd
// (etcd-server 3.4) started by the test with --client-cert-auth and `auth enable` (helpers/etcd-secure.ts),
// key servers on real UDP on 127.0.23.x (override with GDOI_SECURE_NET):
//   - a key server with the right CA, client certificate and password connects, becomes primary,
//     registers a GM and writes its state (read back with etcdctl as root);
//   - a wrong client certificate → ERR_STATE_TLS naming the TLS failure; a wrong password →
//     ERR_STATE_AUTH naming the user and where the password came from (never the password);
//   - the password changed in etcd under a running key server: no crash; status shows etcd unavailable
//     [auth], store.error.auth is counted, gdoi.store.unavailable logged, no rekey; the old password
//     back: it recovers and is primary again;
//   - `gdoi-ks export-key` reads the sealed signing key from etcd: the public key by default, the
//     private key only into a 0600 file with --private --out.
import t from 'tap'
import { createPublicKey, randomBytes } from 'node:crypto'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createLogger, createLogSink, createRealClock, createUdpTransport, type LogSink, type UdpTransport } from '@gdoi/daemon-kit'
import { createKsMetrics, createMetricsRegistry } from '@gdoi/daemon-kit/metrics'
import { parseKsConfig, type KsConfig } from '../src/config/index.js'
import { startKeyServer, type KeyServer } from '../src/main.js'
import { openEtcdStore, type ClusterStore } from '../src/store/etcd-store.js'
import { main } from '../src/cli.js'
import { etcdMissing, freePort } from './helpers/etcd.js'
import { SecureEtcd } from './helpers/etcd-secure.js'
import { GROUP_NUMBER, PSK, ksYaml } from './helpers/ks-fixture.js'
import { TestGm } from './helpers/test-gm.js'
import { until } from './helpers/cluster-lab.js'

const NET = process.env['GDOI_SECURE_NET'] ?? '127.0.23'
const GROUP = 'GETVPN-GRP'
const USER = 'gdoi-ks'
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`
const PREFIX = `/gdoi-tls-${randomBytes(3).toString('hex')}/`

const missing = etcdMissing()
t.test('key servers on etcd with TLS client certificates and password auth', { timeout: 110_000, skip: missing === false ? false : `etcd TLS tests: ${missing}` }, async (t) => {
  const etcd = await SecureEtcd.start(2371)
  t.teardown(() => etcd.close())
  etcd.enableAuth(USER, PASSWORD, PREFIX)
  const f = etcd.files
  const file = (name: string, text: string): string => {
    const p = join(etcd.dir, name)
    writeFileSync(p, text, { mode: 0o600 })
    return p
  }
  const kekFile = file('store.key', randomBytes(32).toString('hex'))
  const goodPw = file('etcd.pw', `${PASSWORD}\n`)
  const wrongPw = file('wrong.pw', 'not-the-password\n')
  const storeYaml = (o: { cert?: string; key?: string; pw?: string; kek?: string; name?: string; endpoint?: string } = {}): string => `
store:
  kind: etcd
  endpoints: ["${o.endpoint ?? etcd.endpoint}"]
  prefix: ${PREFIX}
  keyEncryptionKey: { file: ${o.kek ?? kekFile} }
  leaseTtlSec: 2
  requestTimeoutSec: 1
  instanceName: ${o.name ?? 'ks1'}
  tls: { caFile: ${f.ca}, certFile: ${o.cert ?? f.cert}, keyFile: ${o.key ?? f.key} }
  auth: { user: ${USER}, passwordFile: ${o.pw ?? goodPw} }
`
  const configText = (host: number, o: Parameters<typeof storeYaml>[0] = {}): string =>
    `${ksYaml({ listen: `${NET}.${host}`, port: 848, retransmitPeriodSec: 1, retransmitCount: 1 })}${storeYaml(o)}`
  const config = (host: number, o: Parameters<typeof storeYaml>[0] = {}): KsConfig => parseKsConfig(configText(host, o), { path: join(etcd.dir, 'ks.yaml') }).config
  const storeOf = (c: KsConfig) => {
    if (c.store.kind !== 'etcd') throw new Error('etcd store expected')
    return c.store
  }
  const sinks: LogSink[] = []
  const logFor = (name: string) => {
    const sink = createLogSink()
    sinks.push(sink)
    return { sink, log: createLogger({ level: 'debug', format: 'json', destination: sink.stream, base: { ks: name } }) }
  }

  // ---- the right credentials: primary, a GM registers, the state is in etcd ----
  const clock = createRealClock({ unref: false })
  const c1 = config(1)
  const { sink, log } = logFor('ks1')
  const store: ClusterStore = await openEtcdStore({ config: storeOf(c1), listen: `${NET}.1:848`, log })
  const udp: UdpTransport = await createUdpTransport({ address: `${NET}.1`, port: 848 })
  const ks: KeyServer = await startKeyServer({ config: c1, transport: udp, clock, log, store })
  t.teardown(async () => {
    await ks.close().catch(() => {})
    await udp.close()
    await store.close()
  })
  const cl = () => ks.status().cluster!
  t.equal(cl().role, 'primary', 'connected over TLS with a client certificate and a password; primary')
  t.same(cl().store.security, { tls: true, clientCert: true, user: USER }, 'status: TLS + client certificate, user gdoi-ks')
  const gmUdp = await createUdpTransport({ address: `${NET}.11`, port: 848 })
  const gm = new TestGm({ name: `${NET}.11`, transport: gmUdp, ks: { address: `${NET}.1`, port: 848 }, clock, psk: PSK, groupId: { kind: 'number', value: GROUP_NUMBER }, retransmit: { intervalMs: 500, maxTries: 12 } })
  t.teardown(async () => {
    gm.close()
    await gmUdp.close()
  })
  await gm.register()
  await ks.rekey(GROUP, 'tek')
  await until('SEQ 1 at the GM', () => gm.seqs.includes(1), 5000)
  const keys = etcd.rootCtl(['get', '--prefix', '--keys-only', PREFIX]).stdout.split('\n').filter((l) => l !== '')
  t.ok(keys.includes(`${PREFIX}groups/${GROUP}`) && keys.includes(`${PREFIX}leader`) && keys.includes(`${PREFIX}instances/ks1`), `etcd (read as root) holds the group record, the leader key and the instance: ${keys.length} keys`)
  const rec = JSON.parse(etcd.rootCtl(['get', '--print-value-only', `${PREFIX}groups/${GROUP}`]).stdout) as { seq: number; writer: string }
  t.same({ seq: rec.seq, writer: rec.writer }, { seq: 1, writer: 'ks1' }, 'the fenced write of SEQ 1 went through')
  t.not(etcd.ctl(['get', `${PREFIX}leader`], false).status, 0, 'etcd refuses a client without a user (auth is on)')

  // ---- wrong client certificate / wrong password: typed errors, no secrets in them ----
  const { log: log2 } = logFor('ks2')
  await t.rejects(openEtcdStore({ config: storeOf(config(2, { cert: f.rogueCert, key: f.rogueKey, name: 'ks2' })), listen: `${NET}.2:848`, log: log2 }), { code: 'ERR_STATE_TLS', message: /TLS to etcd .* fails: etcd sent the TLS alert "bad certificate": etcd does not accept this client certificate \(check store\.tls: caFile .*, certFile .*rogue\.pem\)/ }, 'a client certificate from another CA: ERR_STATE_TLS')
  const wrong = openEtcdStore({ config: storeOf(config(2, { pw: wrongPw, name: 'ks2' })), listen: `${NET}.2:848`, log: log2 })
  await t.rejects(wrong, { code: 'ERR_STATE_AUTH', message: new RegExp(`refuses user ${USER}: wrong password \\(from file .*wrong\\.pw\\)`) }, 'a wrong password: ERR_STATE_AUTH')
  const msg = await wrong.then(() => '', (e: Error) => e.message)
  t.notMatch(msg, /not-the-password/, 'the password is not in the error')
  const closed = `https://127.0.0.1:${await freePort()}`
  await t.rejects(openEtcdStore({ config: storeOf(config(2, { endpoint: closed, name: 'ks2' })), listen: `${NET}.2:848`, log: log2 }), { code: 'ERR_STATE_UNAVAILABLE' }, 'nothing listening: ERR_STATE_UNAVAILABLE, not mistaken for a TLS problem')

  // ---- export-key from etcd ----
  const cfgPath = file('ks1.yaml', configText(1))
  const run = async (args: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = ''
    let err = ''
    const code = await main(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) })
    return { code, out, err }
  }
  const pub = await run(['export-key', '--config', cfgPath])
  t.equal(pub.code, 0, pub.err)
  t.match(pub.out, /^-----BEGIN PUBLIC KEY-----/, 'store: etcd → the public key by default')
  const spki = (pem: string): string => createPublicKey(pem).export({ type: 'spki', format: 'der' }).toString('hex')
  t.equal(spki(pub.out), Buffer.from(gm.pushState.keks[0]?.publicKey ?? []).toString('hex'), 'the key the GM verifies pushes with')
  const noOut = await run(['export-key', '--config', cfgPath, '--private'])
  t.equal(noOut.code, 2, '--private to stdout is refused')
  t.match(noOut.err, /--private with store: etcd writes only to a file: add --out/)
  const outFile = join(etcd.dir, 'exported-private.pem')
  const priv = await run(['export-key', '--config', cfgPath, '--private', '--out', outFile])
  t.equal(priv.code, 0, priv.err)
  t.equal(statSync(outFile).mode & 0o777, 0o600, 'private key file 0600')
  t.equal(spki(readFileSync(outFile, 'utf8')), spki(pub.out), 'the private key belongs to that public key')
  t.notMatch(priv.err, /PRIVATE KEY/, 'nothing secret on stderr')
  const badKek = await run(['export-key', '--config', file('bad-kek.yaml', configText(1, { kek: file('other.key', randomBytes(32).toString('hex')) }))])
  t.equal(badKek.code, 1)
  t.match(badKek.err, /keyEncryptionKey .* is not the one the key servers under .* use \[ERR_STATE_KEY\]/, 'another keyEncryptionKey: refused')

  // ---- the password changes under a running key server ----
  etcd.setPassword(USER, 'changed-by-the-etcd-admin')
  await until('etcd unavailable [auth] in status', () => cl().store.available === false && cl().store.lastErrorKind === 'auth', 15_000)
  t.pass(`status: etcd UNAVAILABLE [auth]: ${cl().store.lastError ?? ''}`)
  t.ok((ks.status().counters['store.error.auth'] ?? 0) > 0, `counted: store.error.auth = ${ks.status().counters['store.error.auth'] ?? 0}`)
  t.match(sink.text(), /"event":"gdoi\.store\.unavailable".*"kind":"auth".*etcd refuses the credentials of user gdoi-ks/, 'logged gdoi.store.unavailable (kind auth)')
  await until('no longer primary (it let its lease run out)', () => cl().role === 'follower', 15_000)
  await t.rejects(ks.rekey(GROUP, 'tek'), { code: 'ERR_NOT_PRIMARY' }, 'no rekey without etcd')
  const registry = createMetricsRegistry()
  const m = createKsMetrics(registry, { source: () => ks.status(), filter: () => false })
  const text = await registry.metrics()
  m.close()
  t.match(text, /\ngdoi_ks_store_available 0\n/, 'metrics: store unavailable')
  t.match(text, /\ngdoi_ks_store_errors_total\{kind="auth"\} [1-9]\d*\n/, 'metrics: auth errors counted')
  t.equal(ks.status().groups[0]?.seq, 1, 'nothing changed: SEQ still 1')

  // The old password back: the key server recovers by itself.
  etcd.setPassword(USER, PASSWORD)
  await until('etcd available and primary again', () => cl().store.available && cl().role === 'primary', 20_000)
  await ks.rekey(GROUP, 'tek')
  await until('SEQ 2 at the GM', () => gm.seqs.includes(2), 5000)
  t.pass('primary again after the password was restored; SEQ 2 reaches the GM')
  t.notMatch(sinks.map((s) => s.text()).join('\n'), new RegExp(`${PASSWORD}|not-the-password|changed-by-the-etcd-admin`), 'no password in any log')
})
