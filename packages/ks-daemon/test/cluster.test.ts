// Key-server redundancy on etcd, in one process over real UDP on loopback (127.0.6.x, override with
import { writeFileSync } from 'node:fs'
// GDOI_CLUSTER_NET) with a real three-member etcd cluster started by the test: three key servers serve
// one group, three GMs register with different key servers and hold the same keys; rekeys come from the
// primary only; the primary crashes and another takes over within the lease TTL with a higher SEQ that
// every GM accepts; one etcd member dies without effect; etcd stops answering altogether and nobody
// pushes, registrations still work, and when etcd is back the SEQ continues.
import t from 'tap'
import { createKsMetrics, createMetricsRegistry } from '@gdoi/daemon-kit/metrics'
import { EtcdCluster, etcdMissing } from './helpers/etcd.js'
import { ClusterLab, until } from './helpers/cluster-lab.js'

const NET = process.env['GDOI_CLUSTER_NET'] ?? '127.0.6'
const GROUP = 'GETVPN-GRP'
const TTL = 2

const missing = etcdMissing()
  t.test('three key servers on a three-member etcd', { timeout: 120_000, skip: missing === false ? false : `etcd cluster tests: ${missing}` }, async (t) => {
    const etcd = await EtcdCluster.start(3)
    t.teardown(() => etcd.close())
    const lab = new ClusterLab({ net: NET, endpoints: etcd.endpoints, leaseTtlSec: TTL, ack: 'rfc8263', retransmitPeriodSec: 1, retransmitCount: 2 })
    t.teardown(() => lab.close())
    if (process.env['GDOI_CLUSTER_LOGS'] !== undefined) t.teardown(() => { for (const s of lab.servers.values()) writeFileSync(`${process.env['GDOI_CLUSTER_LOGS']}/${s.name}.log`, s.sink.text()) })

    await lab.start('ks1', 1)
    await lab.start('ks2', 2)
    await lab.start('ks3', 3)
    await until('one primary', () => lab.primaries().length === 1, 5000)
    const first = lab.primaries()[0]!
    const followers = [...lab.servers.values()].filter((s) => s !== first)
    t.pass(`${first.name} is primary, ${followers.map((f) => f.name).join(' and ')} follow`)
    await until('every instance sees three instances', () => [...lab.servers.values()].every((s) => s.ks?.status().cluster?.instances.length === 3), 5000)
  for (const s of [first, followers[0]!]) {
    const registry = createMetricsRegistry()
    const m = createKsMetrics(registry, { source: () => s.ks!.status(), filter: () => false })
    const text = await registry.metrics()
    m.close()
    t.match(text, new RegExp(`\\ngdoi_ks_cluster_primary ${s === first ? 1 : 0}\\n`), `metrics: ${s.name} primary = ${s === first ? 1 : 0}`)
    t.match(text, /\ngdoi_ks_cluster_instances 3\n/, 'metrics: 3 instances')
    t.match(text, /\ngdoi_ks_store_available 1\n/, 'metrics: etcd available')
  }

    const seqOf = (name: string): number | null => lab.get(name).ks?.status().groups[0]?.seq ?? null
    const teksOf = (name: string): string => JSON.stringify(lab.get(name).ks?.status().groups[0]?.teks.map((x) => x.spi))
    await until('followers have the keys', () => followers.every((f) => teksOf(f.name) === teksOf(first.name)), 5000)
    t.equal(teksOf(followers[0]!.name), teksOf(first.name), 'followers answer with the primary TEKs')
    t.equal(followers[0]!.ks?.status().groups[0]?.kek?.spi, first.ks?.status().groups[0]?.kek?.spi, 'and its KEK')

    // One GM registers with each key server.
    const gms = [await lab.addGm(11, 1), await lab.addGm(12, 2), await lab.addGm(13, 3)]
    await Promise.all(gms.map((g) => g.register()))
    t.equal(new Set(gms.map((g) => JSON.stringify(g.tekSpis))).size, 1, 'the three GMs hold the same TEK')
    t.equal(new Set(gms.map((g) => JSON.stringify(g.kekSpis))).size, 1, 'and the same KEK')
    await until('the primary sees the members registered at the followers', () => first.ks?.status().groups[0]?.members.length === 3, 5000)

    // Rekeys come from the primary; a follower refuses.
    await t.rejects(followers[0]!.ks!.rekey(GROUP, 'tek'), { code: 'ERR_NOT_PRIMARY' }, 'a follower does not rekey')
    await first.ks!.rekey(GROUP, 'tek')
    await until('SEQ 1 at every GM', () => gms.every((g) => g.seqs.includes(1)), 5000)
    await until('followers see SEQ 1 and the new TEK', () => followers.every((f) => seqOf(f.name) === 1 && teksOf(f.name) === teksOf(first.name)), 5000)
    t.pass('GMs registered at followers got the primary push (SEQ 1); followers replicate SEQ and TEKs')

    // The primary crashes: another takes over within the lease TTL.
    const crashedAt = Date.now()
    await lab.crash(first.name)
    const took = await until('a new primary', () => lab.primaries().length === 1, (TTL + 3) * 1000)
    const primary = lab.primaries()[0]!
    const failoverMs = Date.now() - crashedAt
    t.ok(failoverMs <= (TTL + 1.5) * 1000, `new primary ${primary.name} after ${failoverMs} ms (lease TTL ${TTL} s; polled ${took} ms)`)
    t.equal(seqOf(primary.name), 1, 'the new primary continues from SEQ 1')
    await primary.ks!.rekey(GROUP, 'tek')
    await until('SEQ 2 at every GM', () => gms.every((g) => g.seqs.includes(2)), 5000)
    for (const g of gms) t.same(g.seqs.slice(0, 2), [1, 2], `${g.address}: SEQ 1 then 2, no re-registration (${g.registrations})`)
    t.equal(new Set(gms.map((g) => JSON.stringify(g.tekSpis))).size, 1, 'all GMs still hold the same TEKs')

    // One etcd member dies: no effect.
    await etcd.killMember(2)
    await primary.ks!.rekey(GROUP, 'tek')
    await until('SEQ 3 at every GM with an etcd member down', () => gms.every((g) => g.seqs.includes(3)), 8000)
    t.equal(lab.primaries().length, 1, 'still exactly one primary')
    await until('status shows the dead etcd member', () => primary.ks?.status().cluster?.store.endpoints.filter((e) => !e.healthy).length === 1, 12_000)
    t.pass('etcd member killed: rekeys go on, status shows 1 unhealthy endpoint')

    // The crashed key server comes back as a follower with the current keys.
    const back = await lab.start(first.name, Number(first.address.split('.')[3]))
    t.equal(back.ks?.status().cluster?.role, 'follower', 'the restarted key server is a follower')
    t.equal(seqOf(first.name), 3, 'and has SEQ 3')

    // etcd stops answering altogether: nobody pushes; registrations still work; nothing is corrupted.
    etcd.pauseAll(true)
    await until('no primary while etcd is away', () => lab.primaries().length === 0, (TTL + 4) * 1000)
    t.pass('the primary stepped down once its lease could have expired')
    const down = primary.ks!.status().cluster
    t.equal(down?.store.available, false, 'status: etcd unavailable')
    t.match(primary.sink.text(), /gdoi\.store\.unavailable/, 'logged gdoi.store.unavailable')
    await t.rejects(primary.ks!.rekey(GROUP, 'tek'), { code: 'ERR_NOT_PRIMARY' }, 'no rekey without etcd')
    const gm4 = await lab.addGm(14, 2)
    await gm4.register()
    t.same(gm4.tekSpis, gms[0]!.tekSpis, 'a GM still registers (with the keys in memory) while etcd is away')
    etcd.pauseAll(false)
    await until('a primary again after etcd returns', () => lab.primaries().length === 1, 20_000)
    const p2 = lab.primaries()[0]!
    t.equal(seqOf(p2.name), 3, `${p2.name} is primary and continues from SEQ 3`)
    await p2.ks!.rekey(GROUP, 'tek')
    await until('SEQ 4 at every GM', () => [...gms, gm4].every((g) => g.seqs.includes(4)), 8000)
    t.pass('SEQ 4 accepted by every GM after etcd came back')
    for (const g of [...gms, gm4]) t.equal(g.rejected.filter((r) => r.code !== 'duplicate').length, 0, `${g.address}: no push rejected (other than duplicates)`)
    for (const s of lab.servers.values()) t.notMatch(s.sink.text(), lab.kekHex, `${s.name}: the store key is never logged`)
  })
