// Wireshark key-table lines and our keylog format (write → parse round trip, Wireshark lines, errors).
import t from 'tap'
import { inspect } from 'node:util'
import {
  CryptoError, KeylogError, espSaLine, ikev1DecryptionLine, keylogEspLine, keylogIkev1Line, keylogKekLine, parseKeylog,
  type KeylogRecord,
} from '../../src/crypto/index.js'
import { pushB, strongswan, traceA } from './fixtures.js'
import { b } from './util.js'

t.test('ikev1_decryption_table lines equal the shared .ikev1_decryption_table files', (t) => {
  t.equal(ikev1DecryptionLine(b(traceA.ckyI), b(traceA.ka)), 'a91b9d5035d8fc4f,80cdab03c1105d2b48ab436dde73f5b1bbbe55449c1efe69')
  t.equal(ikev1DecryptionLine(b(strongswan.ckyI), b(strongswan.ka)), `f372158c720e7822,${strongswan.ka}`)
  t.throws(() => ikev1DecryptionLine(b('0102'), b(traceA.ka)), RangeError)
  t.end()
})

t.test('esp_sa lines in Wireshark 4.0 column order and names', (t) => {
  // Keys of shared/captures/esp-tun-aes256-sha1.pcap (FreeS/WAN test keys).
  t.equal(
    espSaLine({
      spi: 0xd1234567, transformId: 12, keyLengthBits: 256, authAlgorithm: 2, dst: '192.1.2.45',
      encKey: b('aaaabbbbccccdddd4043434545464649494a4a4c4c4f4f515152525454575758'), authKey: b('8765876587658765876587658765876587658765'),
    }),
    '"IPv4","*","192.1.2.45","0xd1234567","AES-CBC [RFC3602]","0xaaaabbbbccccdddd4043434545464649494a4a4c4c4f4f515152525454575758","HMAC-SHA-1-96 [RFC2404]","0x8765876587658765876587658765876587658765"',
  )
  t.equal(
    espSaLine({ spi: 0x1122aabb, transformId: 20, encKey: b('00112233445566778899aabbccddeeff01020304'), src: '10.0.0.1', dst: '239.1.1.1' }),
    '"IPv4","10.0.0.1","239.1.1.1","0x1122aabb","AES-GCM with 16 octet ICV [RFC4106]","0x00112233445566778899aabbccddeeff01020304","NULL",""',
  )
  t.match(espSaLine({ spi: 1, transformId: 3, authAlgorithm: 1, encKey: new Uint8Array(24), authKey: new Uint8Array(16), src: '2001:db8::1' }), /^"IPv6","2001:db8::1","\*","0x00000001","TripleDES-CBC \[RFC2451\]",.*"HMAC-MD5-96 \[RFC2403\]"/)
  t.match(espSaLine({ spi: 2, transformId: 11, authAlgorithm: 5, encKey: new Uint8Array(0), authKey: new Uint8Array(32) }), /"NULL","","HMAC-SHA-256-128 \[RFC4868\]"/)
  for (const bad of [{ transformId: 16 }, { transformId: 23 }, { transformId: 12, authAlgorithm: 3 }]) {
    const err = t.throws(() => espSaLine({ spi: 1, encKey: new Uint8Array(16), ...bad })) as unknown
    t.ok(err instanceof CryptoError && err.code === 'ERR_UNSUPPORTED_ALGORITHM', JSON.stringify(bad))
  }
  t.throws(() => espSaLine({ spi: -1, transformId: 12, encKey: new Uint8Array(16) }), RangeError)
  t.end()
})

const ikev1 = {
  icookie: b(traceA.ckyI), rcookie: b(traceA.ckyR), cipher: 'des-ede3-cbc', encKey: b(traceA.ka), hash: 'sha1',
  skeyid: b(traceA.skeyid), skeyidD: b(traceA.skeyidD), skeyidA: b(traceA.skeyidA), skeyidE: b(traceA.skeyidE),
} as const
const kek = {
  spi: b(pushB.kekSpi), cipher: 'des-ede3-cbc', iv: b(pushB.kekIv), key: b(pushB.kekKey), sigHash: 'sha1', sigKey: b(pushB.spki),
} as const
const esp = {
  spi: 0x1122aabb, transformId: 3, authAlgorithm: 2, encKey: b('4142434445464748494a4b4c4d4e4f505152535455565758'),
  authKey: b('3132333435363738393031323334353637383930'), src: '172.19.137.42', dst: '239.192.1.1',
} as const

t.test('keylog lines: format and round trip through parseKeylog', (t) => {
  const l1 = keylogIkev1Line(ikev1)
  t.equal(l1, `IKEV1 ${traceA.ckyI} ${traceA.ckyR} ENC=des-ede3-cbc KEY=${traceA.ka} HASH=sha1 SKEYID=${traceA.skeyid} SKEYID_D=${traceA.skeyidD} SKEYID_A=${traceA.skeyidA} SKEYID_E=${traceA.skeyidE}`)
  const l2 = keylogKekLine(kek)
  t.equal(l2, `KEK ${pushB.kekSpi} ALG=des-ede3-cbc IV=${pushB.kekIv} KEY=${pushB.kekKey} SIGHASH=sha1 SIGKEY=${pushB.spki}`)
  const l3 = keylogEspLine({ ...esp, keyLengthBits: 192 })
  t.equal(l3, 'ESP 1122aabb TRANSFORM=3 KEYBITS=192 ENCKEY=4142434445464748494a4b4c4d4e4f505152535455565758 AUTH=2 AUTHKEY=3132333435363738393031323334353637383930 SRC=172.19.137.42 DST=239.192.1.1')
  const text = ['# gdoi keylog', '', l1, `  ${l2}  `, l3, 'a91b9d5035d8fc4f,80CDAB03C1105D2B48AB436DDE73F5B1BBBE55449C1EFE69', '"957e3b86f602b129","335a62dff6f5170e0c138fe534fae83123df56165fe37e3c"'].join('\r\n')
  const recs = parseKeylog(text)
  t.equal(recs.length, 5)
  t.same({ ...recs[0] }, { kind: 'ikev1', line: 3, ...ikev1 })
  t.same({ ...recs[1] }, { kind: 'kek', line: 4, ...kek })
  t.same({ ...recs[2] }, { kind: 'esp', line: 5, ...esp, keyLengthBits: 192 })
  t.same({ ...recs[3] }, { kind: 'ikev1', line: 6, icookie: b(traceA.ckyI), encKey: b(traceA.ka) }, 'Wireshark line, upper-case hex')
  t.same({ ...recs[4] }, { kind: 'ikev1', line: 7, icookie: b('957e3b86f602b129'), encKey: b('335a62dff6f5170e0c138fe534fae83123df56165fe37e3c') }, 'quoted')
  t.end()
})

t.test('keylog minimal records, field order, forward compatibility', (t) => {
  const recs = parseKeylog([
    `IKEV1 ${traceA.ckyI} ${traceA.ckyR} HASH=md5 KEY=00 ENC=des-cbc FUTURE=1`,
    'ESP 1 TRANSFORM=11 AUTH=2 AUTHKEY=00',
    'NEWKIND whatever it carries',
    `KEK ${pushB.kekSpi} ALG=aes-128-cbc IV=00 KEY=11`,
  ].join('\n'))
  t.same(recs.map((r) => r.kind), ['ikev1', 'esp', 'kek'])
  const e = recs[1] as Extract<KeylogRecord, { kind: 'esp' }>
  t.equal(e.spi, 1)
  t.equal(e.encKey.length, 0, 'ENCKEY absent → empty (ESP_NULL)')
  t.notOk('src' in e, 'absent optional fields are absent, not undefined')
  t.notOk('skeyid' in recs[0]!, 'IKEV1 without SKEYID=: no skeyid field')
  const withSkeyid = parseKeylog(`IKEV1 ${traceA.ckyI} ${traceA.ckyR} SKEYID=${traceA.skeyid.toUpperCase()} HASH=sha1 KEY=00 ENC=des-cbc`)[0]
  t.same(withSkeyid?.kind === 'ikev1' ? withSkeyid.skeyid : undefined, b(traceA.skeyid), 'SKEYID= read in any position, hex case-insensitive')
  t.equal(JSON.stringify(withSkeyid), '"[key]"', 'and never printed')
  t.equal(keylogEspLine({ spi: 1, transformId: 11, encKey: new Uint8Array(0) }), 'ESP 00000001 TRANSFORM=11')
  t.end()
})

t.test('malformed keylog lines throw KeylogError with the line number', (t) => {
  const cases: [string, RegExp][] = [
    [`IKEV1 ${traceA.ckyI} KEY=00 ENC=des-cbc HASH=sha1`, /rcookie/],
    [`IKEV1 ${traceA.ckyI} ${traceA.ckyR} ENC=des-cbc HASH=sha1`, /KEY= missing/],
    [`IKEV1 ${traceA.ckyI} ${traceA.ckyR} KEY=0g ENC=des-cbc HASH=sha1`, /KEY: not hex/],
    [`IKEV1 ${traceA.ckyI} ${traceA.ckyR} KEY=00 ENC=rc4 HASH=sha1`, /unknown cipher/],
    [`IKEV1 ${traceA.ckyI} ${traceA.ckyR} KEY=00 ENC=des-cbc HASH=tiger`, /unknown hash/],
    [`IKEV1 ${traceA.ckyI} ${traceA.ckyR} KEY=00 KEY=00 ENC=des-cbc HASH=sha1`, /twice/],
    [`IKEV1 ${traceA.ckyI} ${traceA.ckyR} KEY=00 ENC=des-cbc HASH=sha1 SKEYID=xyz`, /SKEYID: not hex/],
    [`IKEV1 ${traceA.ckyI} ${traceA.ckyR} KEY=00 ENC=des-cbc HASH=sha1 SKEYID=00 SKEYID=00`, /twice/],
    [`KEK 0102 ALG=des-cbc IV=00 KEY=00`, /KEK SPI/],
    [`KEK ${pushB.kekSpi} ALG=des-cbc IV=00 KEY=00 stray`, /NAME=VALUE/],
    ['ESP 123456789 TRANSFORM=3', /SPI/],
    ['ESP 1 TRANSFORM=x', /TRANSFORM: not a decimal/],
    ['a91b9d5035d8fc4f,', /key is empty or not hex/],
    ['what is this', /neither/],
    ['toString x=1', /neither/],
  ]
  for (const [line, re] of cases) {
    const err = t.throws(() => parseKeylog(`# header\n${line}\n`)) as unknown
    t.ok(err instanceof KeylogError && err.line === 2 && err.code === 'ERR_KEYLOG_SYNTAX', line.slice(0, 30))
    t.match(String(err), re)
  }
  const secret = `IKEV1 ${traceA.ckyI} ${traceA.ckyR} KEY=${traceA.ka} ENC=rc4 HASH=sha1`
  t.notMatch(String((() => { try { parseKeylog(secret) } catch (e) { return e } })()), traceA.ka, 'errors never echo key material')
  t.end()
})

t.test('parsed records print as [key]', (t) => {
  const recs = parseKeylog(keylogKekLine(kek))
  t.equal(JSON.stringify(recs), '["[key]"]')
  t.equal(inspect(recs[0]), '[key]')
  t.notMatch(inspect(recs), pushB.kekKey)
  t.end()
})
