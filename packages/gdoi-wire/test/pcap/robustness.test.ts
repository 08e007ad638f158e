// Untrusted input never escapes as an exception: readCapture throws only CaptureError, decodeCapture
// never throws (codec and crypto failures become record errors), whatever the bytes.
import fc from 'fast-check'
import t from 'tap'
import { CaptureError } from '../../src/pcap/capture-error.js'
import { decodeCapture } from '../../src/pcap/decode-capture.js'
import { parseKeyFile } from '../../src/pcap/key-file.js'
import { readCapture, type CapturedPacket } from '../../src/pcap/read-capture.js'
import { writePcapUdp } from '../../src/pcap/write-pcap.js'
import { capture, captureText, ESP_KEYLOG, TRACE_A_KEYLOG, TRACE_B, udp } from './helpers.js'

const keys = parseKeyFile(`${captureText('gdoid.ikev1_decryption_table')}\n${TRACE_A_KEYLOG}\n${ESP_KEYLOG}\n`)
const sessions: CapturedPacket[][] = [
  readCapture(capture('gdoi-gdoid-loopback.pcap')),
  readCapture(writePcapUdp([...TRACE_B.slice(0, 10), ...TRACE_B.slice(30)].map((f, i) => udp(f, i)))),
  readCapture(capture('esp-tun-3des-md5.pcap')),
  readCapture(capture('ikev1-natt-openswan-nokeys.pcap')),
]

function mutate(packets: readonly CapturedPacket[], edits: readonly [number, number, number][], cut: number | undefined): CapturedPacket[] {
  return packets.map((p, i) => {
    const ip = new Uint8Array(p.ip)
    for (const [which, at, v] of edits) if (which % packets.length === i && ip.length > 20) ip[20 + (at % (ip.length - 20))] = v
    return { ...p, ip: cut !== undefined && cut % packets.length === i ? ip.subarray(0, 20 + (cut % Math.max(1, ip.length - 20))) : ip }
  })
}

t.test('decodeCapture never throws on mutated sessions (with keys)', (t) => {
  fc.assert(
    fc.property(
      fc.nat(sessions.length - 1),
      fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.option(fc.nat(), { nil: undefined }),
      (s, edits, cut) => {
        const rs = decodeCapture(mutate(sessions[s] ?? [], edits, cut), keys)
        return rs.every((r) => Array.isArray(r.errors))
      },
    ),
    { numRuns: 400 },
  )
  t.pass('no exception')
  t.end()
})

t.test('decodeCapture never throws on random IP packets', (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 120 }), { maxLength: 8 }), (ips) => {
      decodeCapture(ips.map((ip, i) => ({ frame: i + 1, timeSec: 0, ip: ip.length > 0 ? Uint8Array.of(0x45, ...ip.subarray(1)) : ip })), keys)
      return true
    }),
    { numRuns: 300 },
  )
  t.pass('no exception')
  t.end()
})

t.test('readCapture throws only CaptureError on corrupted files', (t) => {
  const files = [capture('gdoi-gdoid-loopback.pcap'), capture('strongswan-mm-aes256-sha1-modp1536.pcapng')]
  fc.assert(
    fc.property(fc.nat(files.length - 1), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.option(fc.nat(), { nil: undefined }), (f, edits, cut) => {
      const file = new Uint8Array(files[f] ?? new Uint8Array())
      for (const [at, v] of edits) file[at % file.length] = v
      try {
        readCapture(cut === undefined ? file : file.subarray(0, cut % file.length))
      } catch (e) {
        if (!(e instanceof CaptureError)) throw e
      }
      return true
    }),
    { numRuns: 500 },
  )
  t.pass('only CaptureError')
  t.end()
})
