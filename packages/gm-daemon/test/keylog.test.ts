// --keylog: the file is 0600 and holds Wireshark lines (ikev1_decryption_table, esp_sa) plus gdoi
// keylog records (IKEV1, KEK, ESP); gdoi-pcap decrypts a capture of the run with them.
import t from 'tap'
import { mkdtempSync, readFileSync, statSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openKeyLog } from '@gdoi/daemon-kit'
import { parseKeyFile } from '@gdoi/wire/pcap/key-file'
import { decodeCapture } from '@gdoi/wire/pcap/decode-capture'
import { readCapture } from '@gdoi/wire/pcap/read-capture'
import { writePcapUdp } from '@gdoi/wire/pcap/write-pcap'
import { GM_ADDRESS, setup } from './helpers/harness.js'
import { toHex } from './helpers/test-ks.js'

t.test('key log lines, mode 0600, usable by gdoi-pcap', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gdoi-gm-keylog-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'keys.log')
  const keylog = await openKeyLog(path)
  const s = await setup({ gm: { keylog } })
  t.teardown(async () => {
    await s.close()
    await keylog.close()
  })
  const ks = s.kss[0]!
  ks.sendTo(ks.tekRollover(0x1002), { address: GM_ADDRESS, port: 848 })
  s.clock.advance(10)

  t.equal(statSync(path).mode & 0o777, 0o600, 'key log is 0600')
  const text = readFileSync(path, 'utf8')
  const lines = text.trim().split('\n')
  const mm = [...ks.mm.values()].find((x) => x.s === 'done')
  t.ok(mm !== undefined && mm.s === 'done')
  if (mm?.s === 'done') {
    t.ok(lines.includes(`${toHex(mm.sa.icookie)},${toHex(mm.sa.encKey)}`), 'Wireshark ikev1_decryption_table line: icookie,Ka')
    t.ok(lines.some((l) => l.startsWith(`IKEV1 ${toHex(mm.sa.icookie)} ${toHex(mm.sa.rcookie)} ENC=aes-256-cbc`)), 'gdoi IKEV1 record')
  }
  t.ok(lines.some((l) => l.startsWith(`KEK ${toHex(ks.kek!.policy.spi)} ALG=aes-128-cbc`)), 'gdoi KEK record')
  for (const spi of ['00001001', '00001002']) {
    t.ok(lines.some((l) => l.startsWith(`ESP ${spi} TRANSFORM=12 KEYBITS=256`)), `gdoi ESP record for ${spi}`)
    t.ok(lines.some((l) => l.startsWith(`"IPv4","*","*","0x${spi}","AES-CBC [RFC3602]"`)), `Wireshark esp_sa line for ${spi}`)
  }
  t.equal(lines.filter((l) => l.includes('0x00001001')).length, 1, 'each TEK written once')

  // A capture of the run, decoded with only what the key log says.
  const pcap = writePcapUdp(
    s.net.trace().filter((e) => e.fate === 'delivered').map((e) => ({ src: e.from.address, dst: e.to.address, sport: e.from.port, dport: e.to.port, payload: e.bytes, timeSec: e.atMs / 1000 })),
  )
  const keys = parseKeyFile(text)
  const records = decodeCapture(readCapture(pcap), keys)
  const encrypted = records.filter((r) => r.encrypted)
  t.ok(encrypted.length >= 7, 'MM5, MM6, PULL1-4 and the push are encrypted')
  t.same(encrypted.filter((r) => !r.decrypted).map((r) => r.frame), [], 'every encrypted message decrypts with the key log')
  const push = records.find((r) => r.isakmp?.exchange === 33)
  t.equal(push?.checks.signature, 'ok', 'push signature verified with the logged KS key')

  // The KEK line alone opens the push (no phase-1 keys given).
  const kekOnly = parseKeyFile(lines.filter((l) => l.startsWith('KEK ')).join('\n'))
  const again = decodeCapture(readCapture(pcap), kekOnly).find((r) => r.isakmp?.exchange === 33)
  t.equal(again?.decrypted, true, 'push decrypts from the KEK record alone')
})
