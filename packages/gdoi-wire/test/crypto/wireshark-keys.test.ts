// Independent check of the key-table formatters: tshark (Wireshark 4.0) decrypts real captures with
// exactly the lines ikev1DecryptionLine/espSaLine produce. Skipped when tshark is not installed.
import t from 'tap'
import { espSaLine, ikev1DecryptionLine } from '../../src/crypto/index.js'
import { tsharkFields, tsharkMissing } from '../helpers/tshark.js'
import { esp3desMd5Pcap, espAes256Sha1Pcap, strongswanPcapng } from './captures.js'
import { strongswan as s } from './fixtures.js'
import { b } from './util.js'

const skip = tsharkMissing()

t.test('tshark decrypts the strongSwan Main Mode, Quick Mode and Informationals with our ikev1 line', { skip }, (t) => {
  const rows = tsharkFields(strongswanPcapng, { ikev1Keys: [ikev1DecryptionLine(b(s.ckyI), b(s.ka))], fields: ['frame.number', 'isakmp.hash'] })
  const hashes = new Map(rows.map((r) => [r['frame.number']?.[0], r['isakmp.hash']?.[0]]))
  t.equal(hashes.get('5'), s.hashI, 'MM5 HASH_I')
  t.equal(hashes.get('6'), s.hashR, 'MM6 HASH_R')
  t.equal(hashes.get('7'), s.qmHash1, 'Quick Mode HASH(1)')
  t.equal(hashes.get('8'), s.qmHash2, 'Quick Mode HASH(2)')
  t.equal(hashes.get('9'), s.info1Hash, 'Informational HASH(1)')
  t.equal(hashes.get('10'), s.info2Hash, 'Informational HASH(1)')
  t.end()
})

t.test('tshark decrypts ESP with our esp_sa lines (AES-256/SHA-1 and 3DES/MD5)', { skip }, (t) => {
  const aes = espSaLine({
    spi: 0xd1234567, transformId: 12, keyLengthBits: 256, authAlgorithm: 2, dst: '192.1.2.45',
    encKey: b('aaaabbbbccccdddd4043434545464649494a4a4c4c4f4f515152525454575758'), authKey: b('8765876587658765876587658765876587658765'),
  })
  const des = espSaLine({
    spi: 0x12345678, transformId: 3, authAlgorithm: 1,
    encKey: b('4043434545464649494a4a4c4c4f4f515152525454575758'), authKey: b('87658765876587658765876587658765'),
  })
  for (const [name, pcap, line] of [['AES-256', espAes256Sha1Pcap, aes], ['3DES', esp3desMd5Pcap, des]] as const) {
    const rows = tsharkFields(pcap, { espSas: [line], fields: ['esp.spi', 'icmp.type'] })
    t.ok(rows.length > 0, `${name}: frames`)
    t.ok(rows.every((r) => r['icmp.type']?.[0] === '8'), `${name}: every inner packet is an ICMP echo request`)
  }
  t.end()
})
