// Prometheus metrics of a running key server (daemon-kit metrics-ks.ts fed by ks.status() and the
// diagnostics channels): two members register on the memory network, one is refused, a TEK rekey is
// pushed and acknowledged, garbage arrives — then the endpoint on 127.0.0.1 (port 0) is scraped.
import t from 'tap'
import { request } from 'node:http'
import { createKsMetrics, createMetricsRegistry, startMetricsServer, type MetricsServer } from '@gdoi/daemon-kit/metrics'
import { memoryLab, register } from './helpers/ks-fixture.js'

const GROUP = 'GETVPN-GRP'

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

t.test('a running key server, scraped', async (t) => {
  const registry = createMetricsRegistry()
  const metrics = createKsMetrics(registry) // before the daemon starts: its events are counted from here
  t.teardown(() => metrics.close())
  const lab = await memoryLab({ authorization: ['127.0.1.11/32', '127.0.1.12/32'], ack: 'rfc8263' })
  t.teardown(() => lab.close())
  metrics.setSource(() => lab.ks.status())
  const server = await startMetricsServer({ port: 0, registry })
  t.teardown(() => server.close())

  await register(lab, lab.addGm('127.0.1.11'))
  await register(lab, lab.addGm('127.0.1.12'))
  await register(lab, lab.addGm('127.0.1.13')).catch(() => undefined) // not authorized
  const evil = lab.net.attach('127.0.1.66')
  evil.send(new Uint8Array([1, 2, 3]), { address: '127.0.1.1', port: 848 })
  await lab.ks.rekey(GROUP, 'tek')
  await lab.run(1000)

  const text = await scrape(server)
  const st = lab.ks.status()
  const g = st.groups[0]
  t.equal(sample(text, `gdoi_ks_registrations_total{group="${GROUP}",result="registered"}`), 2)
  t.equal(sample(text, 'gdoi_ks_registrations_total{group="",result="unauthorized"}'), 1)
  t.equal(sample(text, `gdoi_ks_members{group="${GROUP}"}`), 2)
  t.equal(sample(text, `gdoi_ks_rekeys_sent_total{group="${GROUP}",kind="tek"}`), 1)
  t.equal(sample(text, `gdoi_ks_rekey_acks_received_total{group="${GROUP}"}`), 2, 'both members acknowledged')
  t.equal(sample(text, `gdoi_ks_rekey_sequence{group="${GROUP}"}`), g?.seq ?? -1)
  t.equal(sample(text, 'gdoi_ks_rekey_datagrams_sent_total'), 2, 'one unicast datagram per member')
  t.equal(sample(text, 'gdoi_ks_phase1_established_total'), 3)
  t.equal(sample(text, 'gdoi_ks_decode_errors_total{code="ERR_TRUNCATED"}'), st.counters['drop.decode.ERR_TRUNCATED'])
  t.ok((sample(text, 'gdoi_ks_decode_errors_total{code="ERR_TRUNCATED"}') ?? 0) >= 1, 'the garbage was counted')
  t.equal(g?.teks.length, 2, 'two TEKs after the rekey')
  for (const tek of g?.teks ?? []) {
    const left = sample(text, `gdoi_ks_tek_remaining_lifetime_seconds{group="${GROUP}",spi="${tek.spi}"}`)
    t.ok(left !== undefined && Math.abs(left - tek.remainingSec) <= 1, `TEK ${tek.spi}: ${left} s left`)
  }
  t.ok((sample(text, `gdoi_ks_kek_remaining_lifetime_seconds{group="${GROUP}",spi="${g?.kek?.spi}"}`) ?? 0) > 86000)
  t.match(text, /^process_cpu_seconds_total /m, 'process metrics too')
  t.notMatch(text, /127\.0\.1\.1[123]/, 'no member addresses in labels')
})
