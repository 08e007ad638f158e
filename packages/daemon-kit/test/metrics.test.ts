// The metrics endpoint (scraped over HTTP on 127.0.0.1, port 0) and the two metric sets fed from
// hand-made status views and diagnostics events. The daemons' own tests (ks-daemon/test/metrics.test.ts,
// gm-daemon/test/metrics.test.ts) feed them from running daemons.
import t from 'tap'
import { request } from 'node:http'
import { Counter } from 'prom-client'
import { DiagChannel, publish } from '../src/diag.js'
import {
  createGmMetrics,
  createKsMetrics,
  createMetricsRegistry,
  parseMetricsListen,
  startGmMetricsEndpoint,
  startKsMetricsEndpoint,
  startMetricsServer,
  type GmMetricsView,
  type KsMetricsView,
  type MetricsServer,
} from '../src/metrics.js'
import { fetchMetrics, metricLines } from '../src/metrics-scrape.js'

const scrape = (server: Pick<MetricsServer, 'port'>, path = '/metrics', method = 'GET') => fetchMetrics({ port: server.port, path, method })
const samples = metricLines

t.test('parseMetricsListen: port, address:port, [v6]:port; bad input rejected', (t) => {
  t.same(parseMetricsListen('9848'), { address: '127.0.0.1', port: 9848 })
  t.same(parseMetricsListen('127.0.0.1:0'), { address: '127.0.0.1', port: 0 })
  t.same(parseMetricsListen('0.0.0.0:9100'), { address: '0.0.0.0', port: 9100 })
  t.same(parseMetricsListen('[::1]:9848'), { address: '::1', port: 9848 })
  for (const bad of ['', 'localhost:9848', '127.0.0.1:', '127.0.0.1:65536', '1.2.3:80', ':80', '127.0.0.1:80x']) {
    t.throws(() => parseMetricsListen(bad), { code: 'ERR_METRICS_LISTEN' }, JSON.stringify(bad))
  }
  t.end()
})

t.test('the endpoint: GET/HEAD /metrics only, loopback by default, close() with a client connected', async (t) => {
  const registry = createMetricsRegistry({ defaultMetrics: false })
  const c = new Counter({ name: 'gdoi_test_things_total', help: 'things', registers: [registry] })
  c.inc(3)
  const server = await startMetricsServer({ port: 0, registry })
  t.equal(server.address, '127.0.0.1')
  t.ok(server.port > 0)
  const ok = await scrape(server)
  t.equal(ok.status, 200)
  t.equal(ok.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
  t.match(ok.body, /^# HELP gdoi_test_things_total things\n# TYPE gdoi_test_things_total counter\ngdoi_test_things_total 3\n/)
  t.equal((await scrape(server, '/metrics?x=1')).status, 200, 'a query string is ignored')
  const head = await scrape(server, '/metrics', 'HEAD')
  t.equal(head.status, 200)
  t.equal(head.body, '')
  t.equal((await scrape(server, '/')).status, 404)
  t.equal((await scrape(server, '/metrics/x')).status, 404)
  const post = await scrape(server, '/metrics', 'POST')
  t.equal(post.status, 405)
  t.equal(post.headers['allow'], 'GET, HEAD')
  // a keep-alive client does not hold close() up
  const keep = await new Promise<import('node:http').ClientRequest>((resolve) => {
    const req = request({ host: '127.0.0.1', port: server.port, path: '/metrics', headers: { connection: 'keep-alive' } }, (res) => {
      res.resume()
      resolve(req)
    })
    req.end()
  })
  await server.close()
  keep.destroy()
  await t.rejects(scrape(server), { code: 'ECONNREFUSED' }, 'closed')
})

t.test('a registry has the process metrics unless told not to', async (t) => {
  t.match(await createMetricsRegistry().metrics(), /^process_cpu_seconds_total /m)
  t.notMatch(await createMetricsRegistry({ defaultMetrics: false }).metrics(), /process_cpu/)
})

t.test('a failing collect answers 500, not a crash', async (t) => {
  const registry = createMetricsRegistry({ defaultMetrics: false })
  new Counter({
    name: 'gdoi_test_broken_total',
    help: 'broken',
    registers: [registry],
    collect() {
      throw new Error('boom')
    },
  })
  const server = await startMetricsServer({ port: 0, registry })
  t.teardown(() => server.close())
  t.equal((await scrape(server)).status, 500)
})

const ksView = (members: number): KsMetricsView => ({
  groups: [
    {
      name: 'GETVPN-GRP',
      seq: 4,
      members: Array.from({ length: members }, () => ({})),
      kek: { spi: '0x00112233445566778899AABBCCDDEEFF', remainingSec: 86000 },
      teks: [
        { spi: '0x1234ABCD', remainingSec: 3500 },
        { spi: '0x0000BEEF', remainingSec: 20 },
      ],
    },
    { name: 'NO-REKEY', seq: null, members: [], kek: null, teks: [{ spi: '0x00000001', remainingSec: 100 }] },
  ],
  ikeSas: [{}, {}],
  pushesInProgress: [{}],
  counters: {
    'datagrams.in': 40,
    'datagrams.out': 38,
    'drop.decode.ERR_TRUNCATED': 2,
    'drop.decode.ERR_BAD_LENGTH': 1,
    'drop.push-from-peer': 1,
    'ike.established': 3,
    'ike.failed.bad-hash': 1,
    'ike.failed.timeout': 2,
    registrations: 3,
    'registrations.refused.unauthorized': 1,
    'pull.failed.unauthorized': 1,
    'pull.failed.bad-hash': 1,
    'rekey.datagrams': 9,
    'rekey.acks.rejected.bad-hash': 1,
    'state.saved': 5,
  },
})

t.test('key server metrics: events by group, status gauges and counters, exposition text', async (t) => {
  const registry = createMetricsRegistry({ defaultMetrics: false })
  let members = 2
  const metrics = createKsMetrics(registry, { source: () => ksView(members) })
  const server = await startMetricsServer({ port: 0, registry })
  t.teardown(() => server.close())
  for (let i = 0; i < 3; i++) publish(DiagChannel.KS_MEMBER_REGISTERED, { group: 'GETVPN-GRP', peer: `127.0.1.1${i}:848` })
  publish(DiagChannel.KS_PUSH_SENT, { group: 'GETVPN-GRP', kind: 'tek-rekey', seq: 4 })
  publish(DiagChannel.KS_PUSH_SENT, { group: 'GETVPN-GRP', kind: 'kek-rekey', seq: 1 })
  publish(DiagChannel.KS_PUSH_RETRANSMIT, { group: 'GETVPN-GRP', seq: 4, attempt: 1 })
  publish(DiagChannel.KS_ACK_RECEIVED, { group: 'GETVPN-GRP', peer: '127.0.1.10:848', seq: 4 })
  publish(DiagChannel.KS_MEMBER_REMOVED, { group: 'GETVPN-GRP', peer: '127.0.1.12:848', reason: 'ack-missing' })
  const text = (await scrape(server)).body

  t.same(samples(text, 'gdoi_ks_registrations_total'), [
    'gdoi_ks_registrations_total{group="",result="bad-hash"} 1',
    'gdoi_ks_registrations_total{group="",result="unauthorized"} 1',
    'gdoi_ks_registrations_total{group="GETVPN-GRP",result="registered"} 3',
  ])
  t.match(text, '# TYPE gdoi_ks_registrations_total counter')
  t.same(samples(text, 'gdoi_ks_rekeys_sent_total'), ['gdoi_ks_rekeys_sent_total{group="GETVPN-GRP",kind="kek"} 1', 'gdoi_ks_rekeys_sent_total{group="GETVPN-GRP",kind="tek"} 1'])
  t.same(samples(text, 'gdoi_ks_push_retransmissions_total'), ['gdoi_ks_push_retransmissions_total{group="GETVPN-GRP"} 1'])
  t.same(samples(text, 'gdoi_ks_rekey_acks_received_total'), ['gdoi_ks_rekey_acks_received_total{group="GETVPN-GRP"} 1'])
  t.same(samples(text, 'gdoi_ks_rekey_acks_rejected_total'), ['gdoi_ks_rekey_acks_rejected_total{reason="bad-hash"} 1'])
  t.same(samples(text, 'gdoi_ks_members_removed_total'), ['gdoi_ks_members_removed_total{group="GETVPN-GRP",reason="ack-missing"} 1'])
  t.same(samples(text, 'gdoi_ks_rekey_datagrams_sent_total'), ['gdoi_ks_rekey_datagrams_sent_total 9'])
  t.same(samples(text, 'gdoi_ks_members'), ['gdoi_ks_members{group="GETVPN-GRP"} 2', 'gdoi_ks_members{group="NO-REKEY"} 0'])
  t.match(text, '# TYPE gdoi_ks_members gauge')
  t.same(samples(text, 'gdoi_ks_rekey_sequence'), ['gdoi_ks_rekey_sequence{group="GETVPN-GRP"} 4'], 'no sequence without rekeys')
  t.same(samples(text, 'gdoi_ks_kek_remaining_lifetime_seconds'), ['gdoi_ks_kek_remaining_lifetime_seconds{group="GETVPN-GRP",spi="0x00112233445566778899AABBCCDDEEFF"} 86000'])
  t.same(samples(text, 'gdoi_ks_tek_remaining_lifetime_seconds'), [
    'gdoi_ks_tek_remaining_lifetime_seconds{group="GETVPN-GRP",spi="0x0000BEEF"} 20',
    'gdoi_ks_tek_remaining_lifetime_seconds{group="GETVPN-GRP",spi="0x1234ABCD"} 3500',
    'gdoi_ks_tek_remaining_lifetime_seconds{group="NO-REKEY",spi="0x00000001"} 100',
  ])
  t.same(samples(text, 'gdoi_ks_decode_errors_total'), ['gdoi_ks_decode_errors_total{code="ERR_BAD_LENGTH"} 1', 'gdoi_ks_decode_errors_total{code="ERR_TRUNCATED"} 2'])
  t.same(samples(text, 'gdoi_ks_datagrams_dropped_total'), ['gdoi_ks_datagrams_dropped_total{reason="push-from-peer"} 1'], 'decode errors are not counted twice')
  t.same(samples(text, 'gdoi_ks_phase1_failures_total'), ['gdoi_ks_phase1_failures_total{reason="bad-hash"} 1', 'gdoi_ks_phase1_failures_total{reason="timeout"} 2'])
  t.same(samples(text, 'gdoi_ks_phase1_established_total'), ['gdoi_ks_phase1_established_total 3'])
  t.same(samples(text, 'gdoi_ks_phase1_sas'), ['gdoi_ks_phase1_sas 2'])
  t.same(samples(text, 'gdoi_ks_pushes_in_progress'), ['gdoi_ks_pushes_in_progress 1'])
  t.same(samples(text, 'gdoi_ks_state_saves_total'), ['gdoi_ks_state_saves_total{result="ok"} 5'])
  t.same(samples(text, 'gdoi_ks_datagrams_received_total'), ['gdoi_ks_datagrams_received_total 40'])

  // gauges follow the status; events after close() are not counted
  members = 1
  metrics.close()
  publish(DiagChannel.KS_MEMBER_REGISTERED, { group: 'GETVPN-GRP' })
  await new Promise((r) => setTimeout(r, 300)) // past the per-scrape status cache
  const later = (await scrape(server)).body
  t.same(samples(later, 'gdoi_ks_members'), ['gdoi_ks_members{group="GETVPN-GRP"} 1', 'gdoi_ks_members{group="NO-REKEY"} 0'])
  t.same(samples(later, 'gdoi_ks_registrations_total').filter((l) => l.includes('registered')), ['gdoi_ks_registrations_total{group="GETVPN-GRP",result="registered"} 3'])
})

t.test('key server metrics without a source: event counters only, no gauge series; a throwing source reads as absent', async (t) => {
  const registry = createMetricsRegistry({ defaultMetrics: false })
  const metrics = createKsMetrics(registry)
  t.teardown(() => metrics.close())
  let text = await registry.metrics()
  t.same(samples(text, 'gdoi_ks_members'), [])
  t.same(samples(text, 'gdoi_ks_tek_remaining_lifetime_seconds'), [])
  metrics.setSource(() => {
    throw new Error('closing')
  })
  text = await registry.metrics()
  t.same(samples(text, 'gdoi_ks_members'), [])
  metrics.setSource(() => ksView(5))
  t.same(samples(await registry.metrics(), 'gdoi_ks_members'), ['gdoi_ks_members{group="GETVPN-GRP"} 5', 'gdoi_ks_members{group="NO-REKEY"} 0'])
})

const gmView = (running: boolean): GmMetricsView => ({
  group: { name: 'GETVPN-GRP' },
  registration: { status: 'Registered', succeeded: 2, attempted: 3 },
  rekeys: { receivedUnicast: 4, receivedMulticast: 1, acksSent: 5, lastSeq: 7, rejected: { duplicate: 2, 'bad-signature': 0 } },
  keks: [{ spi: '0xAABB', lifetimeSec: 8000 }, { spi: '0xCCDD', lifetimeSec: null }],
  ipsecSas: [
    { spiHex: '0x00001001', remainingSec: 3000 },
    { spiHex: '0x00001001', remainingSec: 3000 },
    { spiHex: '0x00001002', remainingSec: 10 },
  ],
  isakmpSas: [{ kind: 'registration' }, { kind: 'rekey' }],
  decodeErrors: { ERR_TRUNCATED: 1 },
  dataPlane: {
    running,
    counters: { rxPackets: 10, txPackets: 9, encryptedPackets: 4, encryptedBytes: 400, decryptedPackets: 3, decryptedBytes: 300, clearPackets: 2, dropAuth: 1, dropUnknownSpi: 2, readErrors: 0 },
    sas: [
      { spi: '0x00001001', packetsEncrypted: 4, bytesEncrypted: 400, packetsDecrypted: 3, bytesDecrypted: 300, drops: { auth: 1, seqExhausted: 0 } },
    ],
  },
})

t.test('group member metrics: status, data plane per SA, phase-1 events of this member only', async (t) => {
  const registry = createMetricsRegistry({ defaultMetrics: false })
  const metrics = createGmMetrics(registry, { member: '10.0.1.1:848' })
  t.teardown(() => metrics.close())
  publish(DiagChannel.IKE_ESTABLISHED, { gm: '10.0.1.1:848', group: 'GETVPN-GRP', peer: '10.0.0.1:848' })
  publish(DiagChannel.IKE_FAILED, { gm: '10.0.1.1:848', group: 'GETVPN-GRP', peer: '10.0.0.2:848', reason: 'timeout' })
  publish(DiagChannel.IKE_FAILED, { gm: '10.0.9.9:848', group: 'GETVPN-GRP', reason: 'timeout' }) // another member
  publish(DiagChannel.IKE_FAILED, { peer: '10.0.1.1:848', reason: 'bad-hash' }) // a key server in this process
  publish(DiagChannel.GM_REGISTRATION_FAILED, { gm: '10.0.1.1:848', group: 'GETVPN-GRP', round: 1 })
  let text = await registry.metrics()
  t.same(samples(text, 'gdoi_gm_registered'), [], 'no status series before the source is set')
  t.same(samples(text, 'gdoi_gm_phase1_failures_total'), ['gdoi_gm_phase1_failures_total{group="GETVPN-GRP",reason="timeout"} 1'])

  let running = true
  metrics.setSource(() => gmView(running))
  text = await registry.metrics()
  t.same(samples(text, 'gdoi_gm_phase1_established_total'), ['gdoi_gm_phase1_established_total{group="GETVPN-GRP"} 1'])
  t.same(samples(text, 'gdoi_gm_registrations_total'), ['gdoi_gm_registrations_total{group="GETVPN-GRP",result="failed"} 1', 'gdoi_gm_registrations_total{group="GETVPN-GRP",result="registered"} 2'])
  t.same(samples(text, 'gdoi_gm_registration_attempts_total'), ['gdoi_gm_registration_attempts_total{group="GETVPN-GRP"} 3'])
  t.same(samples(text, 'gdoi_gm_registered'), ['gdoi_gm_registered{group="GETVPN-GRP"} 1'])
  t.same(samples(text, 'gdoi_gm_rekeys_received_total'), ['gdoi_gm_rekeys_received_total{group="GETVPN-GRP",transport="multicast"} 1', 'gdoi_gm_rekeys_received_total{group="GETVPN-GRP",transport="unicast"} 4'])
  t.same(samples(text, 'gdoi_gm_rekeys_rejected_total'), ['gdoi_gm_rekeys_rejected_total{group="GETVPN-GRP",reason="bad-signature"} 0', 'gdoi_gm_rekeys_rejected_total{group="GETVPN-GRP",reason="duplicate"} 2'])
  t.same(samples(text, 'gdoi_gm_rekey_acks_sent_total'), ['gdoi_gm_rekey_acks_sent_total{group="GETVPN-GRP"} 5'])
  t.same(samples(text, 'gdoi_gm_rekey_sequence'), ['gdoi_gm_rekey_sequence{group="GETVPN-GRP"} 7'])
  t.same(samples(text, 'gdoi_gm_kek_remaining_lifetime_seconds'), ['gdoi_gm_kek_remaining_lifetime_seconds{group="GETVPN-GRP",spi="0xAABB"} 8000'])
  t.same(samples(text, 'gdoi_gm_tek_remaining_lifetime_seconds'), ['gdoi_gm_tek_remaining_lifetime_seconds{group="GETVPN-GRP",spi="0x00001001"} 3000', 'gdoi_gm_tek_remaining_lifetime_seconds{group="GETVPN-GRP",spi="0x00001002"} 10'])
  t.same(samples(text, 'gdoi_gm_phase1_sas'), ['gdoi_gm_phase1_sas{group="GETVPN-GRP"} 1'])
  t.same(samples(text, 'gdoi_gm_decode_errors_total'), ['gdoi_gm_decode_errors_total{group="GETVPN-GRP",code="ERR_TRUNCATED"} 1'])
  t.same(samples(text, 'gdoi_gm_dataplane_up'), ['gdoi_gm_dataplane_up{group="GETVPN-GRP"} 1'])
  t.same(samples(text, 'gdoi_gm_tun_packets_total'), ['gdoi_gm_tun_packets_total{group="GETVPN-GRP",direction="read"} 10', 'gdoi_gm_tun_packets_total{group="GETVPN-GRP",direction="written"} 9'])
  t.same(samples(text, 'gdoi_gm_dataplane_packets_total'), [
    'gdoi_gm_dataplane_packets_total{group="GETVPN-GRP",action="clear"} 2',
    'gdoi_gm_dataplane_packets_total{group="GETVPN-GRP",action="decrypted"} 3',
    'gdoi_gm_dataplane_packets_total{group="GETVPN-GRP",action="encrypted"} 4',
  ])
  t.same(samples(text, 'gdoi_gm_dataplane_bytes_total'), ['gdoi_gm_dataplane_bytes_total{group="GETVPN-GRP",action="decrypted"} 300', 'gdoi_gm_dataplane_bytes_total{group="GETVPN-GRP",action="encrypted"} 400'])
  t.same(samples(text, 'gdoi_gm_dataplane_drops_total'), ['gdoi_gm_dataplane_drops_total{group="GETVPN-GRP",reason="auth"} 1', 'gdoi_gm_dataplane_drops_total{group="GETVPN-GRP",reason="unknown-spi"} 2'])
  t.same(samples(text, 'gdoi_gm_tun_read_errors_total'), ['gdoi_gm_tun_read_errors_total{group="GETVPN-GRP"} 0'])
  t.same(samples(text, 'gdoi_gm_sa_encrypted_packets_total'), ['gdoi_gm_sa_encrypted_packets_total{group="GETVPN-GRP",spi="0x00001001"} 4'])
  t.same(samples(text, 'gdoi_gm_sa_encrypted_bytes_total'), ['gdoi_gm_sa_encrypted_bytes_total{group="GETVPN-GRP",spi="0x00001001"} 400'])
  t.same(samples(text, 'gdoi_gm_sa_decrypted_packets_total'), ['gdoi_gm_sa_decrypted_packets_total{group="GETVPN-GRP",spi="0x00001001"} 3'])
  t.same(samples(text, 'gdoi_gm_sa_decrypted_bytes_total'), ['gdoi_gm_sa_decrypted_bytes_total{group="GETVPN-GRP",spi="0x00001001"} 300'])
  t.same(samples(text, 'gdoi_gm_sa_drops_total'), ['gdoi_gm_sa_drops_total{group="GETVPN-GRP",spi="0x00001001",reason="auth"} 1', 'gdoi_gm_sa_drops_total{group="GETVPN-GRP",spi="0x00001001",reason="seq-exhausted"} 0'])
  running = false
  await new Promise((r) => setTimeout(r, 300))
  t.same(samples(await registry.metrics(), 'gdoi_gm_dataplane_up'), ['gdoi_gm_dataplane_up{group="GETVPN-GRP"} 0'])
  metrics.setSource(() => ({ ...gmView(true), dataPlane: null }))
  text = await registry.metrics()
  t.same(samples(text, 'gdoi_gm_dataplane_up'), [], 'no data plane: no data-plane series')
  t.same(samples(text, 'gdoi_gm_sa_encrypted_packets_total'), [])
})

t.test('names: gdoi_ks_* / gdoi_gm_*, counters end in _total, units spelled out, help everywhere', async (t) => {
  const registry = createMetricsRegistry({ defaultMetrics: false })
  const ks = createKsMetrics(registry, { source: () => ksView(1) })
  const gm = createGmMetrics(registry, { source: () => gmView(true) })
  t.teardown(() => {
    ks.close()
    gm.close()
  })
  const all = await registry.getMetricsAsJSON()
  t.ok(all.length >= 40, `${all.length} metric families`)
  for (const m of all) {
    t.match(m.name, /^gdoi_(ks|gm)_[a-z0-9_]+$/, m.name)
    t.ok(m.help.length > 10, `${m.name} has help`)
    // getMetricsAsJSON gives the type as a string ('counter'); the .d.ts declares a numeric enum
    if (String(m.type) === 'counter') t.match(m.name, /_total$/, `${m.name}: counter ends in _total`)
    else t.notMatch(m.name, /_total$/, `${m.name}: only counters end in _total`)
    if (/lifetime|_bytes/.test(m.name)) t.match(m.name, /_(seconds|bytes_total|bytes)$/, `${m.name}: unit at the end`)
  }
})

t.test('startKsMetricsEndpoint / startGmMetricsEndpoint: one call per daemon; a taken port fails cleanly', async (t) => {
  const ks = await startKsMetricsEndpoint({ address: '127.0.0.1', port: 0 })
  ks.setSource(() => ksView(3))
  const text = (await scrape(ks)).body
  t.same(samples(text, 'gdoi_ks_members'), ['gdoi_ks_members{group="GETVPN-GRP"} 3', 'gdoi_ks_members{group="NO-REKEY"} 0'])
  t.match(text, /^process_cpu_seconds_total /m)
  await t.rejects(startGmMetricsEndpoint({ address: '127.0.0.1', port: ks.port, member: '10.0.1.1:848' }), { code: 'EADDRINUSE' })
  await ks.close()
  const gm = await startGmMetricsEndpoint({ address: '127.0.0.1', port: 0 })
  gm.setSource(() => gmView(true))
  t.same(samples((await scrape(gm)).body, 'gdoi_gm_registered'), ['gdoi_gm_registered{group="GETVPN-GRP"} 1'])
  await gm.close()
})
