// `status`: the JSON object and the `show crypto gdoi`-like text carry what LAB.md §2 lists, and no key.
import t from 'tap'
import { renderStatus } from '../src/status.js'
import { GM_ADDRESS, setup } from './helpers/harness.js'
import { toHex } from './helpers/test-ks.js'

const GM = { address: GM_ADDRESS, port: 848 }

t.test('status after registration and one rekey', async (t) => {
  const s = await setup({ ks: { gap: { activationDelaySec: 30, deactivationDelaySec: 90 } } })
  t.teardown(() => s.close())
  const ks = s.kss[0]!
  ks.sendTo(ks.tekRollover(0x1002), GM)
  s.clock.advance(10_000)
  const st = s.gm.status()

  t.equal(st.group.name, 'GETVPN-GRP')
  t.equal(st.group.identity, '1234')
  t.equal(st.rekeys.received, 1)
  t.equal(st.rekeys.acksSent, 1)
  t.equal(st.registration.registeredWith, '10.0.0.1')
  t.same(st.acl.entries, ['permit ip 10.1.0.0 0.0.255.255 10.2.0.0 0.0.255.255'])
  t.equal(st.rekeyTransport, 'Unicast')
  t.match(st.kek, { transport: 'Unicast', algorithm: 'AES', keySizeBits: 128, sigHash: 'HMAC_AUTH_SHA256', sigKeyModulusBits: 2048, acknowledgement: 'RFC 8263 (KEK, SHA-256)', lastSeq: 1 })
  t.ok(st.kek !== null && st.kek.sigKeyLengthBits > 2048, 'Sig Key Length is the DER key length in bits, as on IOS')
  t.ok(st.kek?.lifetimeSec !== null && (st.kek?.lifetimeSec ?? 0) > 86000)
  t.same(st.ipsecSas.map((r) => [r.spi, r.direction, r.state]), [
    [0x1001, 'inbound', 'retiring'],
    [0x1001, 'outbound', 'active'],
    [0x1002, 'inbound', 'active'],
    [0x1002, 'outbound', 'pending'],
  ])
  const pending = st.ipsecSas.find((r) => r.spi === 0x1002 && r.direction === 'outbound')
  t.equal(pending?.activatesInSec, 20)
  t.equal(st.ipsecSas[0]?.transform, 'esp-256-aes esp-sha-hmac')
  t.equal(st.ipsecSas[0]?.antiReplay, 'disabled')
  t.equal(st.ipsecSas[0]?.algKeyBytes, 32)
  t.equal(st.ipsecSas[0]?.sigKeyBytes, 20)
  t.ok((st.ipsecSas[0]?.remainingSec ?? 0) > 3500)
  t.equal(st.ipsecSas[0]?.counters, null, 'no per-SA counters without a data plane')
  t.same(st.isakmpSas.map((r) => [r.dst, r.src, r.state, r.status, r.kind]), [
    ['10.0.0.1', GM_ADDRESS, 'GDOI_IDLE', 'ACTIVE', 'registration'],
    [GM_ADDRESS, '10.0.0.1', 'GDOI_REKEY', 'ACTIVE', 'rekey'],
  ])
  t.equal(st.dataPlane, null)

  const json = JSON.stringify(st)
  for (const k of [...ks.kekHistory.map((x) => x.keys.algorithmKey), ...ks.keys.teks.flatMap((x) => [x.encKey, x.authKey ?? new Uint8Array(0)])]) {
    t.notOk(json.includes(toHex(k)), 'no key in the status object')
  }

  const text = renderStatus(st)
  for (const want of [
    /Group Name\s+: GETVPN-GRP/,
    /Group Identity\s+: 1234/,
    /Rekeys received\s+: 1/,
    /Group Server list\s+: 10\.0\.0\.1:848/,
    /Registration status\s+: Registered/,
    /Registered with\s+: 10\.0\.0\.1/,
    /Re-registers in\s+: \d+ sec/,
    /Last rekey seq num\s+: 1/,
    /Rekey ACKs sent\s+: 1/,
    /ACL Received From KS\s+: gdoi_group_GETVPN-GRP_temp_acl/,
    /access-list\s+permit ip 10\.1\.0\.0 0\.0\.255\.255 10\.2\.0\.0 0\.0\.255\.255/,
    /Rekey Transport Type\s+: Unicast/,
    /Lifetime \(secs\)\s+: \d+/,
    /Encrypt Algorithm\s+: AES/,
    /Key Size\s+: 128/,
    /Sig Hash Algorithm\s+: HMAC_AUTH_SHA256/,
    /Sig Key Length \(bits\)\s+: \d+/,
    /spi: 0x00001001\(4097\)/,
    /direction: inbound \(retiring, removed in 80 sec\)/,
    /direction: outbound \(pending, sending in 20 sec\)/,
    /transform: esp-256-aes esp-sha-hmac/,
    /remaining key lifetime \(sec\): \(\d+\)/,
    /Anti-Replay : disabled/,
    /encaps: ENCAPS_TUNNEL/,
    /10\.0\.0\.1\s+10\.0\.1\.1\s+GDOI_IDLE\s+\d+ ACTIVE/,
    /10\.0\.1\.1\s+10\.0\.0\.1\s+GDOI_REKEY\s+\d+ ACTIVE/,
  ]) {
    t.match(text, want)
  }
})

t.test('status before any registration, and with rejects and decode errors', async (t) => {
  const s = await setup({ settleMs: 0 })
  t.teardown(() => s.close())
  s.kss[0]!.silent = true
  s.clock.advance(100)
  let st = s.gm.status()
  t.equal(st.registration.status, 'Registering')
  t.same(st.isakmpSas.map((r) => [r.state, r.status]), [['MM_NO_STATE', 'NEGOTIATING']])
  let text = renderStatus(st)
  t.match(text, /Registration status\s+: Registering/)
  t.match(text, /\(no rekey SA/)
  t.match(text, /\(no IPsec SA\)/)
  s.kss[0]!.transport.send(new Uint8Array([1, 2, 3]), GM)
  s.clock.advance(10)
  st = s.gm.status()
  t.same(st.decodeErrors, { ERR_TRUNCATED: 1 })
  text = renderStatus(st)
  t.match(text, /Dropped undecodable datagrams: ERR_TRUNCATED 1/)
})
