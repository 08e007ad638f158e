// The control-plane / data-plane seam: a factory gets the member's SaTable and the downloaded ACL,
// follows ACL changes, and its per-SA counters show up in status. Two members with memory TUNs: a
// packet from GM-1's site reaches GM-2's site as ESP under the group TEK and back.
import t from 'tap'
import { createLogger, createLogSink } from '@gdoi/daemon-kit'
import { createMemoryTun, type MemoryTun } from '../src/dataplane/memory-tun.js'
import { buildIcmpEcho, buildIpv4, IpProto, parseIpv4Header, u32 } from '../src/dataplane/ipv4.js'
import type { AclEntry } from '../src/dataplane/policy.js'
import { startGroupMember } from '../src/main.js'
import { dataPlaneOver } from '../src/tun-data-plane.js'
import { renderStatus } from '../src/status.js'
import type { DataPlaneContext, DataPlaneFactory } from '../src/data-plane-seam.js'
import { gmConfig, seededRng, setup } from './helpers/harness.js'

function recordingFactory(tun: MemoryTun, seen: { ctx?: DataPlaneContext; acls: (readonly AclEntry[])[] }): DataPlaneFactory {
  const inner = dataPlaneOver(() => tun.tun)
  return async (ctx) => {
    seen.ctx = ctx
    const dp = await inner(ctx)
    return {
      setAcl: (acl) => {
        seen.acls.push(acl)
        dp.setAcl(acl)
      },
      snapshot: () => dp.snapshot(),
      close: () => dp.close(),
    }
  }
}

t.test('data plane gets the SA table and the ACL; a ping crosses ESP between two members', async (t) => {
  const tun1 = createMemoryTun({ name: 'gm1tun' })
  const seen1: { ctx?: DataPlaneContext; acls: (readonly AclEntry[])[] } = { acls: [] }
  const s = await setup({ gm: { dataPlane: recordingFactory(tun1, seen1), espEngine: 'node' } })
  t.teardown(() => s.close())
  t.equal(seen1.ctx?.sas, s.gm.sas, 'the factory got the member SaTable')
  t.same(seen1.ctx?.acl, [], 'no ACL before registration')
  t.same(seen1.acls, [[{ action: 'permit', src: '10.1.0.0/16', dst: '10.2.0.0/16', policyId: 'ip 10.1.0.0/16 10.2.0.0/16', mirrored: true }]], 'ACL pushed once after registration')

  // a second member on the same network
  const tun2 = createMemoryTun({ name: 'gm2tun' })
  const sink = createLogSink()
  const gm2 = await startGroupMember({
    config: gmConfig({ local: { address: '10.0.2.1', port: 848 } }),
    transport: s.net.attach('10.0.2.1'),
    clock: s.clock,
    log: createLogger({ level: 'info', format: 'json', destination: sink.stream }),
    rng: seededRng('gm2'),
    dataPlane: dataPlaneOver(() => tun2.tun),
    espEngine: 'node',
  })
  t.teardown(() => gm2.close())
  s.clock.advance(1000)
  t.equal(gm2.status().registration.status, 'Registered')

  const ping = buildIpv4({ src: '10.1.1.1', dst: '10.2.2.2', protocol: IpProto.ICMP, payload: buildIcmpEcho(8, 7, 1, new Uint8Array(32).fill(0x61)) })
  tun1.kernel.send(ping)
  const esp = await tun1.kernel.receive(2000)
  const outer = parseIpv4Header(esp)
  t.equal(outer.protocol, IpProto.ESP, 'GM-1 encrypted the packet')
  t.equal(outer.src, '10.1.1.1', 'address preservation: outer source = inner source')
  t.equal(outer.dst, '10.2.2.2')
  t.equal(u32(esp, 20), 0x1001, 'the group SPI')

  tun2.kernel.send(esp)
  const inner = await tun2.kernel.receive(2000)
  t.same(inner, ping, 'GM-2 decrypted the original packet')

  const st1 = s.gm.status()
  const st2 = gm2.status()
  t.equal(st1.dataPlane?.counters.encryptedPackets, 1)
  t.equal(st2.dataPlane?.counters.decryptedPackets, 1)
  t.equal(st1.ipsecSas.find((r) => r.direction === 'outbound')?.counters?.packets, 1, 'per-SA outbound counter')
  t.equal(st2.ipsecSas.find((r) => r.direction === 'inbound')?.counters?.packets, 1, 'per-SA inbound counter')
  t.match(renderStatus(st1), /#pkts encrypt: 1/)
  t.match(renderStatus(st2), /#pkts decrypt: 1/)
  t.match(renderStatus(st1), /Data plane: running on gm1tun/)

  // a rekey with a second selector reaches the data plane as a new ACL
  const ks = s.kss[0]!
  ks.teks = [...ks.teks]
  const push = ks.buildPush({
    policy: { teks: [{ ...ks.teks[0]!, spi: 0x1003, selector: { protocol: 17, src: { address: { kind: 'prefix', address: '10.1.0.0', prefixLength: 16 }, port: 0 }, dst: { address: { kind: 'prefix', address: '10.3.0.0', prefixLength: 16 }, port: 53 } } }] },
    keys: { teks: [{ spi: 0x1003, encKey: new Uint8Array(32).fill(3), authKey: new Uint8Array(20).fill(4) }] },
  })
  ks.sendTo(push, { address: '10.0.1.1', port: 848 })
  s.clock.advance(10)
  t.equal(seen1.acls.length, 2, 'ACL updated after the rekey')
  t.same(seen1.acls[1]?.[1], { action: 'permit', protocol: 17, src: '10.1.0.0/16', dst: '10.3.0.0/16', dstPorts: [53, 53], policyId: 'udp 10.1.0.0/16 10.3.0.0/16:53', mirrored: true })
})
