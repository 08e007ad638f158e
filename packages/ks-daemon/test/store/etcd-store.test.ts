// The etcd store (store/etcd-store.ts) against a real single-member etcd started by the test: sealing,
// no plaintext key in etcd, a wrong keyEncryptionKey refused, fencing of a deposed primary, and the
// group's keys and SEQ surviving a restart of every key server. Loopback 127.0.7.x (GDOI_ETCD_STORE_NET).
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { Etcd3 } from 'etcd3'
import { createSealer, parseKeyEncryptionKey } from '../../src/store/seal.js'
import { EtcdCluster, etcdMissing } from '../helpers/etcd.js'
import { ClusterLab, until } from '../helpers/cluster-lab.js'

const NET = process.env['GDOI_ETCD_STORE_NET'] ?? '127.0.7'
const GROUP = 'GETVPN-GRP'

t.test('sealing', async (t) => {
  const key = randomBytes(32)
  const s = createSealer(key)
  const sealed = s.seal(Buffer.from('secret TEK'), '/gdoi/ks/groups/A')
  t.notMatch(sealed, 'secret', 'the plaintext is not visible')
  t.equal(Buffer.from(s.open(sealed, '/gdoi/ks/groups/A')).toString(), 'secret TEK', 'opens under the same key and etcd key')
  t.throws(() => s.open(sealed, '/gdoi/ks/groups/B'), { code: 'ERR_SEAL' }, 'bound to its etcd key')
  t.throws(() => createSealer(randomBytes(32)).open(sealed, '/gdoi/ks/groups/A'), { code: 'ERR_SEAL' }, 'another key does not open it')
  t.same(parseKeyEncryptionKey(Buffer.from(key.toString('hex') + '\n')), new Uint8Array(key), 'hex key file')
  t.same(parseKeyEncryptionKey(Buffer.from(key.toString('base64'))), new Uint8Array(key), 'base64 key')
  t.same(parseKeyEncryptionKey(key), new Uint8Array(key), 'raw 32 bytes')
  t.equal(parseKeyEncryptionKey(Buffer.from('short')), undefined, 'anything else is refused')
})

const missing = etcdMissing()
  t.test('etcd store', { timeout: 90_000, skip: missing === false ? false : `etcd store tests: ${missing}` }, async (t) => {
    const etcd = await EtcdCluster.start(1)
    t.teardown(() => etcd.close())
    const raw = new Etcd3({ hosts: etcd.endpoints })
    t.teardown(() => raw.close())
    const lab = new ClusterLab({ net: NET, endpoints: etcd.endpoints, leaseTtlSec: 2, ack: 'rfc8263', retransmitPeriodSec: 1, retransmitCount: 1, transform: 'esp-gcm 256' })
    t.teardown(() => lab.close())

    const a = await lab.start('ksa', 1)
    t.equal(a.ks?.status().cluster?.role, 'primary')
    const gm = await lab.addGm(11, 1)
    await gm.register()
    await a.ks!.rekey(GROUP, 'tek')
    await until('SEQ 1', () => gm.seqs.includes(1), 5000)
    const sids = a.ks!.status().groups[0]?.members[0]?.senderIds ?? []
    t.ok(sids.length > 0, `counter-mode TEK: sender IDs ${sids.join(',')} from an etcd block`)
    t.equal((await raw.get(`${lab.prefix}sids/${GROUP}`).string()) ?? '', '65', 'one block of 64 reserved in etcd')

    t.test('etcd never holds a plaintext key', async (t) => {
      const all = await raw.getAll().prefix(lab.prefix).buffers()
      const blob = Buffer.concat(Object.entries(all).flatMap(([k, v]) => [Buffer.from(k), v]))
      t.ok(Object.keys(all).some((k) => k.endsWith(`groups/${GROUP}`)), 'the group record is there')
      t.ok(Object.keys(all).some((k) => k.includes('/signing/')), 'the signing key is there')
      for (const { keys } of gm.teks.values()) {
        for (const form of ['hex', 'base64'] as const) t.equal(blob.indexOf(Buffer.from(keys.encKey).toString(form)), -1, `TEK key not in etcd (${form})`)
      }
      t.equal(blob.indexOf('PRIVATE KEY'), -1, 'no PEM private key in etcd')
      const rec = JSON.parse(all[`${lab.prefix}groups/${GROUP}`]?.toString() ?? '{}') as { seq: number; sealed: string }
      t.equal(rec.seq, 1, 'public fields: SEQ 1')
      t.match(rec.sealed, /^gdoi-seal-v1\./, 'keys sealed')
    })

    t.test('another keyEncryptionKey is refused', async (t) => {
      await t.rejects(lab.start('ksx', 9, randomBytes(32).toString('hex')), { code: 'ERR_STATE_KEY' })
    })

    t.test('a deposed primary writes nothing and sends nothing', async (t) => {
      const before = (await raw.get(`${lab.prefix}groups/${GROUP}`).string()) ?? ''
      const sent = a.ks!.counters.get('rekey.sent')
      // Someone else holds the primary key now (as after a partition from etcd longer than the TTL).
      const other = raw.lease(30)
      await raw.delete().key(`${lab.prefix}leader`)
      await raw.put(`${lab.prefix}leader`).value(JSON.stringify({ id: 'intruder', lease: await other.grant(), sinceMs: Date.now() })).lease(await other.grant())
      await a.ks!.rekey(GROUP, 'tek').catch(() => {})
      await until('ksa is a follower', () => a.ks?.status().cluster?.role === 'follower', 5000)
      t.equal(a.ks!.counters.get('rekey.sent'), sent, 'no push sent')
      t.equal((await raw.get(`${lab.prefix}groups/${GROUP}`).string()) ?? '', before, 'the group record is unchanged')
      t.equal(gm.seqs.length, 1, 'the GM got nothing')
      t.equal(a.ks!.status().groups[0]?.seq, 1, 'the local SEQ is back to the saved one')
      await other.revoke()
      await until('ksa primary again', () => a.ks?.status().cluster?.role === 'primary', 8000)
      await a.ks!.rekey(GROUP, 'tek')
      await until('SEQ 2', () => gm.seqs.includes(2), 5000)
      t.same(gm.seqs, [1, 2], 'the next push is SEQ 2: no SEQ was burnt or reused')
    })

    t.test('every key server restarts: keys and SEQ survive', async (t) => {
      const b = await lab.start('ksb', 2)
      t.equal(b.ks?.status().cluster?.role, 'follower')
      const kek = a.ks!.status().groups[0]?.kek?.spi
      const teks = JSON.stringify(a.ks!.status().groups[0]?.teks.map((x) => x.spi))
      await lab.stop('ksb')
      await lab.stop('ksa')
      const a2 = await lab.start('ksa', 1)
      await until('a primary', () => a2.ks?.status().cluster?.role === 'primary', 6000)
      const g = a2.ks!.status().groups[0]
      t.equal(g?.kek?.spi, kek, 'same KEK')
      t.equal(JSON.stringify(g?.teks.map((x) => x.spi)), teks, 'same TEKs')
      t.equal(g?.seq, 2, 'same SEQ')
      t.equal(g?.members.length, 1, 'the member list survived')
      await a2.ks!.rekey(GROUP, 'tek')
      await until('SEQ 3 at the GM without re-registering', () => gm.seqs.includes(3), 5000)
      t.equal(gm.registrations, 1)
    })
  })
