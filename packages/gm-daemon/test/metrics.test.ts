// Prometheus metrics of a running group member (daemon-kit metrics-gm.ts fed by gm.status() and the
// diagnostics channels): the member registers with a test key server on the memory network, runs a
// memory-TUN data plane, encrypts a ping, accepts a TEK rollover push and drops a forged ESP packet —
// then the endpoint on 127.0.0.1 (port 0) is scraped.
import t, { type Test } from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogSink, createUdpTransport, type UdpTransport } from '@gdoi/daemon-kit'
import { createGmMetrics, createMetricsRegistry, startMetricsServer, type MetricsServer } from '@gdoi/daemon-kit/metrics'
import { metricValue, scrapeMetrics } from '@gdoi/daemon-kit/metrics-scrape'
import { createMemoryTun } from '../src/dataplane/memory-tun.js'
import { buildIcmpEcho, buildIpv4, IpProto } from '../src/dataplane/ipv4.js'
import { dataPlaneOver } from '../src/tun-data-plane.js'
import { runGroupMember } from '../src/daemon.js'
import { cliMain } from '../src/cli-main.js'
import { ConfigError, parseGmConfig } from '../src/config/load.js'
import { GM_ADDRESS, setup } from './helpers/harness.js'
import { PSK_TEXT, TestKeyServer } from './helpers/test-ks.js'

const GROUP_LABEL = 'group="GETVPN-GRP"'

const scrape = (server: Pick<MetricsServer, 'port'>): Promise<string> => scrapeMetrics({ port: server.port })
const sample = metricValue

/** A member's configuration file in a temporary directory, with a UDP socket on 127.0.1.1 as its key
 *  server (answer with a TestKeyServer on `ksT`, or leave it silent). */
async function labConfig(t: Test, localAddress: string, extraYaml = ''): Promise<{ configPath: string; ksT: UdpTransport }> {
  const dir = mkdtempSync(join(tmpdir(), 'gdoi-gm-metrics-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const ksT = await createUdpTransport({ address: '127.0.1.1', port: 0 })
  t.teardown(() => ksT.close())
  const pskFile = join(dir, 'psk')
  writeFileSync(pskFile, `${PSK_TEXT}\n`, { mode: 0o600 })
  const configPath = join(dir, 'gm.yaml')
  writeFileSync(
    configPath,
    `
group: { name: LAB-GRP, identity: { number: 1234 } }
keyServers: ["127.0.1.1:${ksT.local.port}"]
local: { address: ${localAddress}, port: 0 }
ike:
  policies: [{ encryption: aes-256, hash: sha1, group: 2 }]
  preSharedKeys: [{ peer: 127.0.1.0/24, keyFile: ${pskFile} }]
controlSocket: ${join(dir, 'run', 'gm.sock')}
log: { level: info, format: json }
${extraYaml}`,
  )
  return { configPath, ksT }
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

t.test('gdoi-gm run --metrics: the daemon serves its metrics on loopback (real UDP, port 0)', async (t) => {
  const { configPath, ksT } = await labConfig(t, '127.0.1.4')
  const ks = new TestKeyServer(ksT, { address: '127.0.1.1' }, () => Date.now())
  const sink = createLogSink()
  const d = await runGroupMember({ configPath, logDestination: sink.stream, dataPlane: null, metrics: { address: '127.0.0.1', port: 0 } })
  let closed = false
  t.teardown(async () => {
    if (!closed) await d.close()
  })
  const port = d.metricsPort
  if (port === undefined) throw new Error('no metrics port')
  const end = Date.now() + 10_000
  while (d.gm.status().registration.status !== 'Registered' && Date.now() < end) await new Promise((r) => setTimeout(r, 10))
  t.equal(ks.registrations.length, 1)
  await new Promise((r) => setTimeout(r, 300)) // past the per-scrape status cache
  const text = await scrape({ port })
  t.equal(sample(text, 'gdoi_gm_registered{group="LAB-GRP"}'), 1)
  t.equal(sample(text, 'gdoi_gm_registrations_total{group="LAB-GRP",result="registered"}'), 1)
  t.equal(sample(text, 'gdoi_gm_phase1_established_total{group="LAB-GRP"}'), 1)
  t.same(text.split('\n').filter((l) => l.startsWith('gdoi_gm_dataplane')), [], 'no data plane, no data-plane series')
  t.match(sink.text(), /"msg":"metrics endpoint listening"/)
  await d.close()
  closed = true
  await t.rejects(scrape({ port }), { code: 'ECONNREFUSED' }, 'the endpoint closes with the daemon')
})

t.test('gdoi-gm run --metrics with a bad address is a usage error (exit 2)', async (t) => {
  const err: string[] = []
  const code = await cliMain(['run', '--config', '/nonexistent.yaml', '--metrics', 'localhost:9849'], { stdout: () => {}, stderr: (s) => err.push(s) })
  t.equal(code, 2)
  t.match(err.join(''), /metrics: bad address in "localhost:9849"/)
})

const BASE_YAML = `group: { name: G, identity: { number: 1 } }
keyServers: [10.0.0.1]
ike:
  policies: [{ encryption: aes-256, group: 5 }]
  preSharedKeys: [{ peer: 10.0.0.0/24, key: gm-psk }]
`
const parse = (yaml: string) => parseGmConfig(yaml, { format: 'yaml', env: {}, baseDir: '/' }).config
function configIssues(yaml: string): { path: string; message: string }[] {
  try {
    parse(yaml)
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => ({ path: i.path, message: i.message }))
    throw err
  }
  return []
}

t.test('metrics.listen in the configuration: default off, validated with the field path', (t) => {
  t.equal(parse(BASE_YAML).metrics, undefined, 'no metrics part: no endpoint')
  t.equal(parse(`${BASE_YAML}metrics: {}\n`).metrics, undefined, 'an empty metrics part: no endpoint')
  t.same(parse(`${BASE_YAML}metrics: { listen: 127.0.0.1:9849 }\n`).metrics, { listen: { address: '127.0.0.1', port: 9849 } })
  t.same(parse(`${BASE_YAML}metrics: { listen: 9849 }\n`).metrics, { listen: { address: '127.0.0.1', port: 9849 } }, 'a bare port binds loopback')
  t.same(parse(`${BASE_YAML}metrics: { listen: "[::1]:9849" }\n`).metrics, { listen: { address: '::1', port: 9849 } })
  t.same(configIssues(`${BASE_YAML}metrics: { listen: localhost:9849 }\n`), [{ path: 'metrics.listen', message: 'bad address in "localhost:9849" (an IPv4 or [IPv6] literal, e.g. 127.0.0.1:9848)' }])
  t.same(configIssues(`${BASE_YAML}metrics: { listen: 127.0.0.1:70000 }\n`), [{ path: 'metrics.listen', message: 'bad port in "127.0.0.1:70000" (ADDRESS:PORT, e.g. 127.0.0.1:9848)' }])
  t.same(configIssues(`${BASE_YAML}metrics: { listen: [9849] }\n`).map((i) => i.path), ['metrics.listen'])
  t.match(configIssues(`${BASE_YAML}metrics: { port: 9849 }\n`), [{ path: 'metrics.port', message: /unknown field/ }])
  t.end()
})

t.test('gdoi-gm run: metrics.listen of the configuration serves the endpoint; --metrics wins over it', async (t) => {
  const { configPath } = await labConfig(t, '127.0.1.5', 'metrics: { listen: "127.0.0.2:0" }\n') // its key server never answers
  for (const [flag, host] of [[undefined, '127.0.0.2'], [{ address: '127.0.0.1', port: 0 }, '127.0.0.1']] as const) {
    const sink = createLogSink()
    const d = await runGroupMember({ configPath, logDestination: sink.stream, dataPlane: null, ...(flag !== undefined ? { metrics: flag } : {}) })
    try {
      const port = d.metricsPort
      t.ok(port !== undefined && port > 0, `an endpoint (${flag === undefined ? 'from the configuration' : 'from the flag'})`)
      t.match(sink.text(), new RegExp(`"listen":"${host.replace(/\./g, '\\.')}:${port}"`), `bound to ${host}`)
      t.match(await scrapeMetrics({ host, port: port ?? 0 }), /^gdoi_gm_registration_attempts_total\{group="LAB-GRP"\} \d+$/m, `scraped at ${host}`)
    } finally {
      await d.close()
    }
  }
})
