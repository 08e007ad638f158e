// Prometheus metrics of a running key server (daemon-kit metrics-ks.ts fed by ks.status() and the
// diagnostics channels): two members register on the memory network, one is refused, a TEK rekey is
// pushed and acknowledged, garbage arrives — then the endpoint on 127.0.0.1 (port 0) is scraped. Then the
// executable: `gdoi-ks run --metrics 127.0.0.1:0` serves the same endpoint until SIGTERM.
import t from 'tap'
import { request } from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createKsMetrics, createMetricsRegistry, startMetricsServer, type MetricsServer } from '@gdoi/daemon-kit/metrics'
import { ksYaml, memoryLab, register } from './helpers/ks-fixture.js'
import { KS_CLI, runCli, startDaemon } from './e2e/helpers/spawn.js'

const GROUP = 'GETVPN-GRP'

function scrape(server: Pick<MetricsServer, 'port'>): Promise<string> {
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

t.test('gdoi-ks run --metrics 127.0.0.1:0: the executable serves /metrics until SIGTERM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gdoi-ks-metrics-'))
  const cfgPath = join(dir, 'ks.yaml')
  writeFileSync(
    cfgPath,
    ksYaml({ listen: '127.0.5.1', port: 0, stateDir: join(dir, 'state'), controlSocket: join(dir, 'run', 'ks.sock') }).replace('log: { level: debug, format: json }', 'log: { level: info, format: json }'),
  )
  const ks = startDaemon(KS_CLI, ['run', '--config', cfgPath, '--metrics', '127.0.0.1:0'])
  t.teardown(() => {
    if (ks.child.exitCode === null) ks.child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })
  const line = await ks.waitForLine((l) => l['msg'] === 'metrics endpoint listening', 60_000)
  const listen = String(line['listen'])
  t.match(listen, /^127\.0\.0\.1:\d+$/, 'loopback, the port the kernel picked')
  await ks.waitForLine((l) => l['msg'] === 'control socket ready', 60_000)
  const port = Number(listen.split(':')[1])
  const text = await scrape({ port })
  t.equal(sample(text, `gdoi_ks_members{group="${GROUP}"}`), 0)
  t.match(text, new RegExp(`^gdoi_ks_tek_remaining_lifetime_seconds\\{group="${GROUP}",spi="0x[0-9A-F]{8}"\\} 3[56]\\d\\d$`, 'm'))
  t.match(text, /^gdoi_ks_phase1_sas 0$/m)
  ks.child.kill('SIGTERM')
  t.equal(await ks.exited, 0, 'SIGTERM: exit 0')
  await t.rejects(scrape({ port }), { code: 'ECONNREFUSED' }, 'the endpoint is gone')
})

t.test('gdoi-ks run --metrics with a bad address is a usage error', (t) => {
  const r = runCli(KS_CLI, ['run', '--config', '/nonexistent.yaml', '--metrics', '127.0.0.1:99999'])
  t.equal(r.status, 2)
  t.match(r.stderr, /metrics: bad port in "127\.0\.0\.1:99999"/)
  t.end()
})
