// Policy consistency in a key-server cluster on a real etcd (started by the test), over real UDP on
// 127.0.24.x (override with GDOI_POLICY_NET). Two key servers whose configurations give the group
// different ACLs: the primary publishes its policy with the group record; the follower logs
// gdoi.cluster.policy-mismatch, counts it, shows it in status and metrics, and answers a GM with the
// primary's ACL. Status on the primary shows which instance differs. When the follower becomes primary
// it serves (and publishes) its own policy; a reload that makes the configurations equal clears the
// mismatch.
import t from 'tap'
import { createKsMetrics, createMetricsRegistry } from '@gdoi/daemon-kit/metrics'
import { parseKsConfig } from '../src/config/index.js'
import { renderStatus } from '../src/status-text.js'
import { EtcdCluster, etcdMissing } from './helpers/etcd.js'
import { ClusterLab, until } from './helpers/cluster-lab.js'
import { ksYaml } from './helpers/ks-fixture.js'

const NET = process.env['GDOI_POLICY_NET'] ?? '127.0.24'
const GROUP = 'GETVPN-GRP'
const OWN_ACL = 'source: 10.1.0.0/16, destination: 10.1.0.0/16'
const OTHER_ACL = 'source: 10.2.0.0/16, destination: 10.2.0.0/16'

const missing = etcdMissing()
t.test('the cluster serves the primary policy and reports a follower whose configuration differs', { timeout: 100_000, skip: missing === false ? false : `etcd policy tests: ${missing}` }, async (t) => {
  const etcd = await EtcdCluster.start(1)
  t.teardown(() => etcd.close())
  const opts = { net: NET, endpoints: etcd.endpoints, leaseTtlSec: 2, ack: 'rfc8263' as const, retransmitPeriodSec: 1, retransmitCount: 1 }
  const lab = new ClusterLab(opts)
  t.teardown(() => lab.close())
  // The second key server: same cluster (prefix, store key), another ACL in its own configuration.
  const ks2Text = (host: number): string => `${ksYaml({ ...opts, listen: `${NET}.${host}`, port: 848 }).replace(OWN_ACL, OTHER_ACL)}
store:
  kind: etcd
  endpoints: [${etcd.endpoints.join(', ')}]
  prefix: ${lab.prefix}
  keyEncryptionKey: { env: GDOI_TEST_STORE_KEY }
  leaseTtlSec: 2
  instanceName: ks2
  requestTimeoutSec: 1
`
  const base = lab.config.bind(lab)
  lab.config = (name, host, kek) => (name === 'ks2' ? parseKsConfig(ks2Text(host), { path: '/tmp/ks-policy-test.yaml', env: { GDOI_TEST_STORE_KEY: lab.kekHex } }).config : base(name, host, kek))

  const ks1 = await lab.start('ks1', 1)
  t.equal(ks1.ks?.status().cluster?.role, 'primary', 'ks1 is primary')
  const ks2 = await lab.start('ks2', 2)
  t.equal(ks2.ks?.status().cluster?.role, 'follower', 'ks2 follows')
  const c2 = () => ks2.ks!.status().cluster!
  await until('ks2 sees its policy differ from the primary', () => c2().policyMismatches === 1, 5000)
  const p2 = c2().policy[0]!
  t.same({ matches: p2.matches, differs: p2.differs, serving: p2.serving }, { matches: false, differs: ['acl'], serving: 'primary' }, 'status on ks2: differs in acl, serving the primary policy')
  t.not(p2.own, p2.primary, 'different digests')
  t.equal(ks2.ks!.status().counters['cluster.policy-mismatch'], 1, 'counted once')
  t.match(ks2.sink.text(), /"event":"gdoi\.cluster\.policy-mismatch".*"differs":\["acl"\]/, 'logged gdoi.cluster.policy-mismatch')
  t.same(ks2.ks!.status().groups[0]?.acl.filter((a) => a.startsWith('permit')), ['permit ip 10.1.0.0 0.0.255.255 10.1.0.0 0.0.255.255'], "ks2 shows the primary's ACL as the group's")
  await until('ks1 sees the digests of both instances', () => ks1.ks!.status().cluster!.instances.every((i) => i.policyMatchesPrimary !== null) && ks1.ks!.status().cluster!.instances.length === 2, 5000)
  t.same(
    ks1.ks!.status().cluster!.instances.map((i) => [i.id, i.policyMatchesPrimary]),
    [['ks1', true], ['ks2', false]],
    'status on the primary: ks2 has another policy',
  )
  t.match(renderStatus(ks2.ks!.status()), /GETVPN-GRP +own [0-9a-f]{16}, DIFFERS from the primary's [0-9a-f]{16} \(acl\); serving the primary's policy/, 'status text on ks2')
  t.match(renderStatus(ks1.ks!.status()), /\n +ks2 .* POLICY DIFFERS\n/, 'status text on ks1 marks ks2')
  const registry = createMetricsRegistry()
  const m = createKsMetrics(registry, { source: () => ks2.ks!.status(), filter: () => false })
  t.match(await registry.metrics(), /\ngdoi_ks_cluster_policy_mismatch 1\n/, 'metric on ks2: gdoi_ks_cluster_policy_mismatch 1')
  m.close()

  // A GM registering at the follower gets the primary's ACL.
  const gm = await lab.addGm(11, 2)
  await gm.register()
  const selectors = (): string[] => [...gm.teks.values()].map((x) => `${x.policy.selector.src.address.kind === 'prefix' ? x.policy.selector.src.address.address : '?'}`)
  t.same([...new Set(selectors())], ['10.1.0.0'], "the GM registered at ks2 got the primary's ACL (10.1.0.0/16), not ks2's (10.2.0.0/16)")

  // ks2 becomes primary: its own policy now; the TEK it creates carries its own ACL.
  await lab.stop('ks1')
  await until('ks2 primary', () => c2().role === 'primary', 8000)
  t.equal(c2().policyMismatches, 0, 'as primary ks2 has no mismatch: it serves its own policy')
  await ks2.ks!.rekey(GROUP, 'tek')
  const teks = ks2.ks!.status().groups[0]!.teks
  t.match(teks[teks.length - 1]?.acl.join(' | ') ?? '', /permit ip 10\.2\.0\.0 0\.0\.255\.255 10\.2\.0\.0/, "the new TEK carries ks2's own ACL")

  // ks1 comes back as a follower: now it is the one that differs; a reload of ks1 with ks2's ACL clears it.
  const back = await lab.start('ks1', 1)
  const c1 = () => back.ks!.status().cluster!
  await until('ks1 sees its policy differ', () => c1().policyMismatches === 1, 5000)
  t.same(c1().policy[0]?.differs, ['acl'], 'the returning ks1 differs in acl')
  const fixed = parseKsConfig(ks2Text(1).replace('instanceName: ks2', 'instanceName: ks1'), { path: '/tmp/ks-policy-test.yaml', env: { GDOI_TEST_STORE_KEY: lab.kekHex } }).config
  await back.ks!.reload(fixed)
  t.equal(c1().policyMismatches, 0, 'after a reload with the same ACL: no mismatch on ks1')
  await until('ks2 sees every instance match', () => c2().instances.length === 2 && c2().instances.every((i) => i.policyMatchesPrimary === true), 5000)
  t.pass('status on the primary: every instance matches')
})
