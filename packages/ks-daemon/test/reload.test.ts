// Configuration reload without a restart (spec: ACL/lifetime changes apply at the next rekey).
import t from 'tap'
import { ksConfig, memoryLab, register, type KsYamlOptions } from './helpers/ks-fixture.js'

const GROUP = 'GETVPN-GRP'
const withAcl = (o: KsYamlOptions, acl: string) => {
  const c = ksConfig(o)
  const g = c.groups[0]
  if (g === undefined) throw new Error('no group')
  const [a, b] = acl.split('/')
  const p = { address: a ?? '', length: Number(b) }
  return { ...c, groups: [{ ...g, acl: [{ action: 'permit' as const, protocol: 0, source: p, destination: p, sourcePort: null, destinationPort: null }] }] }
}

t.test('ACL, transform and TEK lifetime changes apply to the next TEK; live TEKs keep theirs', async (t) => {
  const lab = await memoryLab()
  t.teardown(() => lab.close())
  const gm = lab.addGm('127.0.1.11')
  await register(lab, gm)
  const next = withAcl({ tekLifetimeSec: 1800, transform: 'esp-aes 128 esp-sha256-hmac' }, '10.9.0.0/16')
  const r = await lab.ks.reload(next)
  t.same([...r.deferred].sort(), ['groups.GETVPN-GRP.acl', 'groups.GETVPN-GRP.tekLifetimeSec', 'groups.GETVPN-GRP.transform'])
  t.same(r.restartRequired, [])
  let st = lab.ks.status().groups[0]
  t.ok(st?.teks[0]?.acl.includes('permit ip 10.1.0.0 0.0.255.255 10.1.0.0 0.0.255.255'), 'the live TEK keeps its ACL')
  await lab.ks.rekey(GROUP, 'tek')
  await lab.run(100)
  st = lab.ks.status().groups[0]
  const fresh = st?.teks[1]
  t.same(fresh?.acl, ['permit ip 10.9.0.0 0.0.255.255 10.9.0.0 0.0.255.255'], 'the new TEK has the new ACL')
  t.equal(fresh?.transform, 'esp-128-aes esp-sha256-hmac')
  t.equal(fresh?.origLifetimeSec, 1800)
  const pushed = gm.accepted[0]?.policy?.teks[0]
  t.equal(pushed?.transform.keyBits, 128, 'the GM got the new transform')
  t.equal(pushed?.selector.src.address.kind === 'prefix' ? pushed.selector.src.address.address : '', '10.9.0.0')
})

t.test('what needs a restart is reported and not applied; groups can be added and removed', async (t) => {
  const lab = await memoryLab()
  t.teardown(() => lab.close())
  const base = ksConfig()
  const g = base.groups[0]
  if (g?.rekey == null) throw new Error('fixture')
  const second = { ...g, name: 'SECOND', identity: { kind: 'number' as const, number: 77 }, rekey: null }
  const changed = {
    ...base,
    listen: { address: '127.0.9.9', port: 848 },
    groups: [{ ...g, identity: { kind: 'number' as const, number: 4321 }, rekey: { ...g.rekey, signingKey: { source: 'generate' as const, bits: 3072 as const, label: 'OTHER' }, retransmitCount: 5 } }, second],
  }
  const r = await lab.ks.reload(changed)
  t.same([...r.restartRequired].sort(), ['groups.GETVPN-GRP.identity', 'groups.GETVPN-GRP.rekey.signingKey', 'listen'])
  t.ok(r.applied.includes('groups.SECOND added'))
  t.ok(r.applied.includes('groups.GETVPN-GRP.rekey'), 'retransmit count applied')
  const st = lab.ks.status()
  t.equal(st.groups.find((x) => x.name === GROUP)?.identity, '1234', 'identity unchanged')
  t.equal(st.groups.find((x) => x.name === GROUP)?.retransmitCount, 5)
  t.equal(st.groups.find((x) => x.name === 'SECOND')?.transport, 'none')
  t.equal(st.groups.find((x) => x.name === 'SECOND')?.teks.length, 1, 'the new group has a TEK')
  const r2 = await lab.ks.reload({ ...base, groups: [second] })
  t.ok(r2.applied.includes(`groups.${GROUP} removed`))
  t.same(lab.ks.status().groups.map((x) => x.name), ['SECOND'])
})

t.test('rekey switched off and on again', async (t) => {
  const lab = await memoryLab()
  t.teardown(() => lab.close())
  const gm = lab.addGm('127.0.1.11')
  await register(lab, gm)
  const off = ksConfig({ rekey: false })
  await lab.ks.reload(off)
  t.equal(lab.ks.status().groups[0]?.kek, null, 'no KEK any more')
  await lab.ks.rekey(GROUP, 'tek')
  await lab.run(100)
  t.same(gm.seqs, [], 'no push without a KEK')
  await lab.ks.reload(ksConfig())
  t.ok(lab.ks.status().groups[0]?.kek, 'a new KEK')
})
