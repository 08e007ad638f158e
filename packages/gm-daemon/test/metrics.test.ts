// Prometheus metrics of a running group member (daemon-kit metrics-gm.ts fed by gm.status() and the
// diagnostics channels): the member registers with a test key server on the memory network, runs a
// memory-TUN data plane, encrypts a ping, accepts a TEK rollover push and drops a forged ESP packet —
// then the endpoint on 127.0.0.1 (port 0) is scraped.
import t from 'tap'
import { request } from 'node:http'
import { createGmMetrics, createMetricsRegistry, startMetricsServer, type MetricsServer } from '@gdoi/daemon-kit/metrics'
import { createMemoryTun } from '../src/dataplane/memory-tun.js'
import { buildIcmpEcho, buildIpv4, IpProto } from '../src/dataplane/ipv4.js'
import { dataPlaneOver } from '../src/tun-data-plane.js'
import { GM_ADDRESS, setup } from './helpers/harness.js'

const GROUP_LABEL = 'group="GETVPN-GRP"'

function scrape(server: MetricsServer): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port: server.port, path: '/metrics', agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve(body))
    })
      .on('error', reject)
      .end()
  })
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

t.test('a running group member with a data plane, scraped', async (t) => {
  const registry = createMetricsRegistry()
  const metrics = createGmMetrics(registry, { member: `${GM_ADDRESS}:848` })
  t.teardown(() => metrics.close())
  const tun = createMemoryTun({ name: 'gmtun' })
  const s = await setup({ gm: { dataPlane: dataPlaneOver(() => tun.tun), espEngine: 'node' } })
  t.teardown(() => s.close())
  metrics.setSource(() => s.gm.status())
  const server = await startMetricsServer({ port: 0, registry })
  t.teardown(() => server.close())
  t.equal(s.gm.status().registration.status, 'Registered')

  // one ping out (encrypted under the group TEK)
  tun.kernel.send(buildIpv4({ src: '10.1.1.1', dst: '10.2.2.2', protocol: IpProto.ICMP, payload: buildIcmpEcho(8, 7, 1, new Uint8Array(32).fill(0x61)) }))
  const esp = await tun.kernel.receive(2000)
  // the same packet back with a flipped ICV byte: an authentication drop on the inbound SA
  const forged = Uint8Array.from(esp)
  forged[forged.length - 1] = (forged[forged.length - 1] ?? 0) ^ 0xff
  tun.kernel.send(forged)
  await new Promise((r) => setTimeout(r, 50))
  // a TEK rollover push
  const ks = s.kss[0]
  if (ks === undefined) throw new Error('no test key server')
  ks.sendTo(ks.tekRollover(0x2002), { address: GM_ADDRESS, port: 848 })
  s.clock.advance(10)

  const text = await scrape(server)
  const st = s.gm.status()
  t.equal(sample(text, `gdoi_gm_registered{${GROUP_LABEL}}`), 1)
  t.equal(sample(text, `gdoi_gm_registrations_total{${GROUP_LABEL},result="registered"}`), 1)
  t.equal(sample(text, `gdoi_gm_phase1_established_total{${GROUP_LABEL}}`), 1, 'counted from the diagnostics channel')
  t.equal(sample(text, `gdoi_gm_rekeys_received_total{${GROUP_LABEL},transport="unicast"}`), 1)
  t.equal(sample(text, `gdoi_gm_dataplane_up{${GROUP_LABEL}}`), 1)
  t.equal(sample(text, `gdoi_gm_dataplane_packets_total{${GROUP_LABEL},action="encrypted"}`), 1)
  t.equal(sample(text, `gdoi_gm_dataplane_drops_total{${GROUP_LABEL},reason="auth"}`), 1)
  t.equal(sample(text, `gdoi_gm_sa_encrypted_packets_total{${GROUP_LABEL},spi="0x00001001"}`), 1, 'per SA')
  t.ok((sample(text, `gdoi_gm_sa_encrypted_bytes_total{${GROUP_LABEL},spi="0x00001001"}`) ?? 0) >= 60, 'bytes of the 60-byte ping')
  t.equal(sample(text, `gdoi_gm_sa_drops_total{${GROUP_LABEL},spi="0x00001001",reason="auth"}`), 1)
  for (const row of st.ipsecSas) {
    const left = sample(text, `gdoi_gm_tek_remaining_lifetime_seconds{${GROUP_LABEL},spi="${row.spiHex}"}`)
    t.ok(left !== undefined && Math.abs(left - row.remainingSec) <= 1, `TEK ${row.spiHex}: ${left} s left`)
  }
  t.ok(st.ipsecSas.some((r) => r.spiHex === '0x00002002'), 'the rolled-over TEK is installed')
  t.match(text, new RegExp(`^gdoi_gm_kek_remaining_lifetime_seconds\\{${GROUP_LABEL},spi="0x[0-9A-F]+"\\} \\d+$`, 'm'))
  t.match(text, /^process_cpu_seconds_total /m, 'process metrics too')
})
