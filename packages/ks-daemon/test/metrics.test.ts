// Prometheus metrics of a running key server (daemon-kit metrics-ks.ts fed by ks.status() and the
// diagnostics channels): two members register on the memory network, one is refused, a TEK rekey is
// pushed and acknowledged, garbage arrives — then the endpoint on 127.0.0.1 (port 0) is scraped. Then the
// executable: `gdoi-ks run --metrics 127.0.0.1:0` serves the same endpoint until SIGTERM.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createKsMetrics, createMetricsRegistry, startMetricsServer, type MetricsServer } from '@gdoi/daemon-kit/metrics'
import { metricValue, scrapeMetrics } from '@gdoi/daemon-kit/metrics-scrape'
import { ConfigError, parseKsConfig } from '../src/config/index.js'
import { ksYaml, memoryLab, register } from './helpers/ks-fixture.js'
import { KS_CLI, runCli, startDaemon } from './e2e/helpers/spawn.js'

const GROUP = 'GETVPN-GRP'

const scrape = (server: Pick<MetricsServer, 'port'>): Promise<string> => scrapeMetrics({ port: server.port })
const sample = metricValue

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

function configIssues(yaml: string): { path: string; message: string }[] {
  try {
    parseKsConfig(yaml, { path: '/tmp/ks-test.yaml' })
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => ({ path: i.path, message: i.message }))
    throw err
  }
  return []
}

t.test('metrics.listen in the configuration: default off, validated with the field path', (t) => {
  const parse = (extra: string) => parseKsConfig(`${ksYaml()}${extra}`, { path: '/tmp/ks-test.yaml' }).config.metrics
  t.equal(parse(''), undefined, 'no metrics part: no endpoint')
  t.same(parse('metrics: { listen: 127.0.0.1:9848 }\n'), { listen: { address: '127.0.0.1', port: 9848 } })
  t.same(parse('metrics: { listen: 9848 }\n'), { listen: { address: '127.0.0.1', port: 9848 } }, 'a bare port binds loopback')
  t.same(configIssues(`${ksYaml()}metrics: { listen: "10.0.0.2:x" }\n`), [{ path: 'metrics.listen', message: 'bad port in "10.0.0.2:x" (ADDRESS:PORT, e.g. 127.0.0.1:9848)' }])
  t.same(configIssues(`${ksYaml()}metrics: { listen: ks.example:9848 }\n`), [{ path: 'metrics.listen', message: 'bad address in "ks.example:9848" (an IPv4 or [IPv6] literal, e.g. 127.0.0.1:9848)' }])
  t.match(configIssues(`${ksYaml()}metrics: { listen: 9848, path: /m }\n`), [{ path: 'metrics.path', message: /unknown field/ }])
  t.end()
})

t.test('gdoi-ks run: metrics.listen of the configuration serves the endpoint; --metrics wins over it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gdoi-ks-metrics-cfg-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const cfgPath = join(dir, 'ks.yaml')
  writeFileSync(cfgPath, `${ksYaml({ listen: '127.0.5.2', port: 0, stateDir: join(dir, 'state'), controlSocket: join(dir, 'run', 'ks.sock') })}metrics: { listen: "127.0.0.2:0" }\n`)
  for (const [flag, host] of [[[], '127.0.0.2'], [['--metrics', '127.0.0.1:0'], '127.0.0.1']] as const) {
    const ks = startDaemon(KS_CLI, ['run', '--config', cfgPath, ...flag])
    try {
      const line = await ks.waitForLine((l) => l['msg'] === 'metrics endpoint listening', 60_000)
      const listen = String(line['listen'])
      t.match(listen, new RegExp(`^${host.replace(/\./g, '\\.')}:\\d+$`), `${flag.length === 0 ? 'the configuration' : 'the flag'}: ${listen}`)
      await ks.waitForLine((l) => l['msg'] === 'control socket ready', 60_000)
      t.equal(sample(await scrapeMetrics({ host, port: Number(listen.split(':')[1]) }), `gdoi_ks_members{group="${GROUP}"}`), 0, `scraped at ${host}`)
    } finally {
      if (ks.child.exitCode === null) ks.child.kill('SIGTERM')
      await ks.exited
    }
  }
})
