// Hostile ESP at the data plane (memory TUNs, the node ESP engine, two members on the memory network):
// a bad ICV, an unknown SPI and a truncated packet are dropped and counted by reason, globally and on the
// SA (status().dataPlane.counters, status().ipsecSas[].counters), never delivered, and a legitimate packet
// still crosses afterwards. Figures: RELIABILITY.md, "Hostile input on the wire".
import t from 'tap'
import { createLogger, createLogSink } from '@gdoi/daemon-kit'
import { createMemoryTun } from '../../src/dataplane/memory-tun.js'
import { buildIcmpEcho, buildIpv4, IpProto, parseIpv4Header } from '../../src/dataplane/ipv4.js'
import { startGroupMember } from '../../src/main.js'
import { dataPlaneOver } from '../../src/tun-data-plane.js'
import { gmConfig, seededRng, setup } from '../helpers/harness.js'

t.test('ESP with a bad ICV, an unknown SPI, truncated: dropped by reason; a good packet still crosses', async (t) => {
  const tun1 = createMemoryTun({ name: 'hostile1' })
  const s = await setup({ gm: { dataPlane: dataPlaneOver(() => tun1.tun), espEngine: 'node' } })
  t.teardown(() => s.close())
  const tun2 = createMemoryTun({ name: 'hostile2' })
  const gm2 = await startGroupMember({
    config: gmConfig({ local: { address: '10.0.2.1', port: 848 } }),
    transport: s.net.attach('10.0.2.1'),
    clock: s.clock,
    log: createLogger({ level: 'info', format: 'json', destination: createLogSink().stream }),
    rng: seededRng('gm2-hostile'),
    dataPlane: dataPlaneOver(() => tun2.tun),
    espEngine: 'node',
  })
  t.teardown(() => gm2.close())
  s.clock.advance(1000)
  t.equal(gm2.status().registration.status, 'Registered')

  const ping = (n: number): Uint8Array => buildIpv4({ src: '10.1.1.1', dst: '10.2.2.2', protocol: IpProto.ICMP, payload: buildIcmpEcho(8, 7, n, new Uint8Array(32).fill(0x61)) })
  const esp = async (n: number): Promise<Uint8Array> => {
    tun1.kernel.send(ping(n))
    const e = await tun1.kernel.receive(2000)
    t.equal(parseIpv4Header(e).protocol, IpProto.ESP)
    return e
  }
  const delivered = async (): Promise<Uint8Array | undefined> => tun2.kernel.receive(200).catch(() => undefined)
  const counters = () => gm2.status().dataPlane!.counters
  const inboundSa = () => gm2.status().ipsecSas.find((r) => r.direction === 'inbound' && r.spi === 0x1001)!.counters!

  // bad ICV: last octet flipped
  const bad = Uint8Array.from(await esp(1))
  bad[bad.length - 1]! ^= 0x01
  tun2.kernel.send(bad)
  t.equal(await delivered(), undefined, 'bad ICV: not delivered')
  t.equal(counters().dropAuth, 1, 'dataPlane.counters.dropAuth')
  t.equal(inboundSa().dropAuth, 1, 'per-SA counters.dropAuth on SPI 0x1001')

  // unknown SPI
  const unknown = Uint8Array.from(await esp(2))
  new DataView(unknown.buffer).setUint32(20, 0xdeadbeef)
  tun2.kernel.send(unknown)
  t.equal(await delivered(), undefined, 'unknown SPI: not delivered')
  t.equal(counters().dropUnknownSpi, 1, 'dataPlane.counters.dropUnknownSpi')

  // truncated: IP header + 10 octets of ESP (IP total length patched)
  const trunc = Uint8Array.from((await esp(3)).subarray(0, 30))
  new DataView(trunc.buffer).setUint16(2, 30)
  tun2.kernel.send(trunc)
  t.equal(await delivered(), undefined, 'truncated: not delivered')
  const c = counters()
  t.comment(`drops after hostile ESP: ${JSON.stringify({ auth: c.dropAuth, unknownSpi: c.dropUnknownSpi, malformed: c.dropMalformed, replay: c.dropReplay, crypto: c.dropCrypto })}`)
  t.equal(c.dropMalformed, 1, 'truncated: dataPlane.counters.dropMalformed')
  t.equal(c.decryptedPackets, 0, 'nothing decrypted so far')

  // a legitimate packet still crosses
  const good = await esp(4)
  tun2.kernel.send(good)
  t.same(await delivered(), ping(4), 'legitimate ESP decrypted and delivered')
  t.equal(counters().decryptedPackets, 1)
  t.equal(inboundSa().packets, 1)
})
