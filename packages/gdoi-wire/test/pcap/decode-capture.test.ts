// The decoding pipeline end to end (pure, in process): key files → key chain → records.
import t, { type Test } from 'tap'
import { PayloadType } from '../../src/constants.js'
import { sealEsp } from '../../src/esp/esp.js'
import { buildAck } from '../../src/exchange/ack.js'
import type { KeyDownloadPayload, Payload } from '../../src/payloads/types.js'
import { decodeCapture } from '../../src/pcap/decode-capture.js'
import { buildIpv4, buildUdp, internetChecksum, IpProto } from '../../src/pcap/ipv4.js'
import { parseKeyFile } from '../../src/pcap/key-file.js'
import { readCapture, type CapturedPacket } from '../../src/pcap/read-capture.js'
import type { CaptureRecord } from '../../src/pcap/record.js'
import { writePcapIp, writePcapUdp } from '../../src/pcap/write-pcap.js'
import {
  capture, captureText, ESP_KEYLOG, ESP_NESTED_KEYLOG, hex, STRONGSWAN_KEYLOG, TRACE_A, TRACE_A_KEYLOG, TRACE_B, traceBFrames, udp,
} from './helpers.js'

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const types = (r: CaptureRecord | undefined): number[] => (r?.payloads ?? []).map((p) => p.type)
const byFrame = (rs: readonly CaptureRecord[], f: number): CaptureRecord => {
  const r = rs.find((x) => x.frame === f)
  if (!r) throw new Error(`no record for frame ${f}`)
  return r
}
const noErrors = (t: Test, rs: readonly CaptureRecord[]): void => {
  t.same(rs.filter((r) => r.errors.length > 0).map((r) => [r.frame, r.errors]), [], 'no record has errors')
}

function kd(r: CaptureRecord): KeyDownloadPayload | undefined {
  return r.payloads.find((p): p is KeyDownloadPayload => p.type === PayloadType.KEY_DOWNLOAD)
}

/** An IPv4 ICMP echo request (what the ESP flows carry). */
function ping(src: string, dst: string, seq: number): Uint8Array {
  const icmp = new Uint8Array(16)
  icmp[0] = 8
  icmp[7] = seq
  const sum = internetChecksum(icmp)
  icmp[2] = sum >> 8
  icmp[3] = sum & 0xff
  return buildIpv4(src, dst, IpProto.ICMP, icmp)
}

function traceAPackets(): CapturedPacket[] {
  return readCapture(capture('gdoi-gdoid-loopback.pcap'))
}

t.test('trace A with the Wireshark table: MM5/MM6 and the PULL decrypted, two TEKs learned', (t) => {
  const rs = decodeCapture(traceAPackets(), parseKeyFile(captureText('gdoid.ikev1_decryption_table')))
  t.equal(rs.length, 10)
  noErrors(t, rs)
  t.same(rs.map((r) => r.decrypted), [false, false, false, false, true, true, true, true, true, true])
  t.same(rs.map((r) => r.isakmp?.exchange), [2, 2, 2, 2, 2, 2, 32, 32, 32, 32])
  t.same(rs.slice(5, 7).map((r) => r.isakmp?.exchangeName), ['MAIN-MODE', 'GROUPKEY-PULL'])
  t.same(types(rs[4]), [5, 8, 11], 'MM5: ID, HASH, N')
  t.same(types(rs[6]), [8, 10, 5], 'PULL1: HASH, NONCE, ID')
  t.same(types(rs[7]), [8, 10, 1], 'PULL2: HASH, NONCE, SA')
  t.same(types(rs[9]), [8, 17], 'PULL4: HASH, KD')
  t.equal(rs[6]?.checks.hash, 'unknown', 'no SKEYID_a in a Wireshark table')
  const teks = rs[9]?.learned.filter((l) => l.kind === 'tek') ?? []
  t.same(
    teks.map((l) => (l.kind === 'tek' ? [l.spi, l.transformId, l.authAlgorithm, toHex(l.encKey), toHex(l.authKey ?? new Uint8Array())] : [])),
    [
      [0x1122aabb, 3, 2, Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWX').toString('hex'), Buffer.from('12345678901234567890').toString('hex')],
      [0x3344ccdd, 3, 2, Buffer.from('FEDCBA11LKJIHG22RQPONM33').toString('hex'), Buffer.from('01234567890123456789').toString('hex')],
    ],
  )
  t.end()
})

t.test('trace A with our keylog (SKEYID_a): every PULL hash checks; a wrong SKEYID_a is reported', (t) => {
  const rs = decodeCapture(traceAPackets(), parseKeyFile(TRACE_A_KEYLOG))
  noErrors(t, rs)
  t.same(rs.slice(6).map((r) => r.checks.hash), ['ok', 'ok', 'ok', 'ok'])
  const bad = decodeCapture(traceAPackets(), parseKeyFile(TRACE_A_KEYLOG.replace('SKEYID_A=83', 'SKEYID_A=84')))
  t.same(bad.slice(6).map((r) => r.checks.hash), ['bad', 'bad', 'bad', 'bad'])
  t.same(bad[6]?.errors.map((e) => [e.code, e.offset]), [['ERR_BAD_HASH', 28]])
  t.same(bad[9]?.learned, [], 'no keys learned from a PULL4 whose HASH fails')
  t.end()
})

t.test('trace A with SKEYID in our keylog: gdoid\'s MM5 HASH_I and MM6 HASH_R check', (t) => {
  const withSkeyid = TRACE_A_KEYLOG.replace('HASH=sha1 ', 'HASH=sha1 SKEYID=0a1ce288962c79cef60cf60d5d446fd5aa233cce ')
  const rs = decodeCapture(traceAPackets(), parseKeyFile(withSkeyid))
  noErrors(t, rs)
  t.same(rs.slice(4, 6).map((r) => r.checks.hash), ['ok', 'ok'], 'HASH_I, HASH_R')
  t.same(decodeCapture(traceAPackets(), parseKeyFile(TRACE_A_KEYLOG)).slice(4, 6).map((r) => r.checks.hash), ['unknown', 'unknown'], 'no SKEYID: unknown')
  const bad = decodeCapture(traceAPackets(), parseKeyFile(withSkeyid.replace('SKEYID=0a', 'SKEYID=0b')))
  t.same(bad.slice(4, 6).map((r) => r.checks.hash), ['bad', 'bad'])
  t.same(bad[4]?.errors.map((e) => e.code), ['ERR_BAD_HASH'])
  t.match(bad[4]?.errors[0]?.detail, /HASH_I/)
  t.match(bad[5]?.errors[0]?.detail, /HASH_R/)
  t.end()
})

t.test('trace A without keys: everything decodes, nothing decrypts, no errors', (t) => {
  const rs = decodeCapture(traceAPackets())
  noErrors(t, rs)
  t.same(rs.map((r) => r.encrypted), [false, false, false, false, true, true, true, true, true, true])
  t.ok(rs.every((r) => !r.decrypted))
  t.match(rs[4]?.notes, [/no phase-1 key for icookie a91b9d5035d8fc4f/])
  t.end()
})

t.test('a wrong phase-1 key: the garbage plaintext is reported, not thrown', (t) => {
  const rs = decodeCapture(traceAPackets(), parseKeyFile('a91b9d5035d8fc4f,00cdab03c1105d2b48ab436dde73f5b1bbbe55449c1efe69\n'))
  t.same(rs.map((r) => r.decrypted), [false, false, false, false, false, false, false, false, false, false])
  t.ok(rs.slice(4).every((r) => r.errors.length > 0), 'each encrypted datagram has an error')
  t.ok(rs.slice(4).every((r) => r.errors.every((e) => e.layer === 'isakmp' && typeof e.offset === 'number' && e.offset >= 28)))
  // MM5 cut to a partial cipher block (header Length patched to match): ERR_BAD_BLOCK at its datagram offset.
  const mm5 = hex((TRACE_A[4] as (typeof TRACE_A)[number]).wire).slice(0, 89)
  mm5[27] = 89
  const cut = readCapture(writePcapUdp([...TRACE_A.slice(0, 4).map((f, i) => udp(f, i)), { ...udp(TRACE_A[4] as (typeof TRACE_A)[number], 4), payload: mm5 }]))
  const cutRs = decodeCapture(cut, parseKeyFile(TRACE_A_KEYLOG))
  t.same(cutRs[4]?.errors.map((e) => [e.code, e.offset]), [['ERR_BAD_BLOCK', 84]])
  const short = decodeCapture(traceAPackets(), parseKeyFile('a91b9d5035d8fc4f,0011\n'))
  t.same(short[4]?.errors.map((e) => e.code), ['ERR_KEY_LENGTH'])
  t.end()
})

t.test('strongSwan (phase-1 DOI 1, AES-256): MM5/MM6, Quick Mode and Informationals decrypt with its table', (t) => {
  const pk = readCapture(capture('strongswan-mm-aes256-sha1-modp1536.pcapng'))
  const rs = decodeCapture(pk, parseKeyFile(captureText('strongswan-mm-aes256-sha1-modp1536.ikev1_decryption_table')))
  noErrors(t, rs)
  t.same(rs.map((r) => r.decrypted), [false, false, false, false, true, true, true, true, true, true])
  t.same(types(rs[4]), [5, 8], 'MM5: ID, HASH')
  t.same(types(rs[6]), [8, 1, 10, 5, 5], 'Quick Mode 1: HASH, SA, NONCE, ID, ID')
  t.same(types(rs[8]), [8, 11])
  t.same(types(rs[9]), [8, 12])
  const sa = rs[6]?.payloads[1]
  t.ok(sa && 'kind' in sa && sa.kind === 'ike' && sa.doi === 1, 'exchange 32 with an IPsec-DOI SA decodes as Quick Mode')
  t.same(rs.slice(6, 8).map((r) => r.isakmp?.exchangeName), ['QUICK-MODE', 'QUICK-MODE'], 'and is named so')
  const withA = decodeCapture(pk, parseKeyFile(STRONGSWAN_KEYLOG))
  t.same(withA.slice(6).map((r) => r.checks.hash), ['ok', 'ok', 'ok', 'ok'], 'QM HASH(1)/(2) and Informational HASH(1)')
  t.end()
})

t.test('Cisco IKEv1 without keys: payload 15 stays opaque (NAT-D), no crash, no errors', (t) => {
  const rs = decodeCapture(readCapture(capture('ikev1-cisco-mm-qm-nokeys.pcap')))
  t.equal(rs.length, 9)
  noErrors(t, rs)
  t.same(types(rs[2]), [4, 10, 13, 13, 13, 13, 15, 15])
  const p15 = rs[2]?.payloads.find((p) => p.type === 15) as Payload & { unknown?: boolean }
  t.equal(p15?.unknown, true)
  t.same(rs.slice(4).map((r) => [r.encrypted, r.decrypted]), Array(5).fill([true, false]))
  t.equal(rs[6]?.isakmp?.exchangeName, 'QUICK-MODE', 'exchange 32 under a DOI-1 phase 1 on port 500')
  t.end()
})

t.test('Openswan NAT-T without keys: port 4500 marker, ESP in UDP, keepalives', (t) => {
  const rs = decodeCapture(readCapture(capture('ikev1-natt-openswan-nokeys.pcap')))
  noErrors(t, rs)
  const kinds = new Set(rs.map((r) => r.kind))
  t.same([...kinds].sort(), ['esp', 'isakmp', 'nat-keepalive'])
  t.ok(rs.some((r) => r.isakmp?.nonEspMarker), 'ISAKMP after the non-ESP marker')
  const esp = rs.filter((r) => r.kind === 'esp')
  t.ok(esp.length > 0 && esp.every((r) => r.esp?.udpEncapsulated && r.esp.spi === 0xf4dc0ae5 && !r.decrypted))
  t.same(esp.map((r) => r.esp?.seq).slice(0, 3), [1, 2, 3])
  t.equal(byFrame(rs, 18).kind, 'nat-keepalive')
  t.end()
})

t.test('ESP captures with keylog ESP keys: tunnel mode, UDP 4500 and nested ESP open to ICMP', (t) => {
  const keys = parseKeyFile(ESP_KEYLOG)
  for (const name of ['esp-tun-3des-md5.pcap', 'esp-tun-aes256-sha1.pcap', 'esp-udp4500-3des-md5.pcap']) {
    const rs = decodeCapture(readCapture(capture(name)), keys)
    t.equal(rs.length, 8, name)
    noErrors(t, rs)
    t.ok(rs.every((r) => r.decrypted && r.checks.icv === 'ok'), `${name}: all decrypted`)
    t.same(rs.map((r) => r.esp?.seq), [1, 2, 3, 4, 5, 6, 7, 8])
    const inner = rs[0]?.esp?.inner
    t.same([inner?.src, inner?.dst, inner?.protocol, inner?.icmpType], ['192.0.2.1', '192.0.1.1', 1, 8], `${name}: inner ICMP echo request`)
  }
  const nested = decodeCapture(readCapture(capture('esp-nested-3des-md5.pcap')), parseKeyFile(ESP_NESTED_KEYLOG))
  noErrors(t, nested)
  const n = nested[0]?.esp?.inner
  t.same([n?.protocol, n?.esp?.spi, n?.esp?.decrypted, n?.esp?.inner?.protocol, n?.esp?.inner?.icmpType], [50, 0xabcdabcd, true, 1, 8])
  // The FreeS/WAN key for 0x12345678 does not authenticate the nested capture's outer SA.
  const wrong = decodeCapture(readCapture(capture('esp-nested-3des-md5.pcap')), keys)
  t.same([wrong[0]?.decrypted, wrong[0]?.checks.icv, wrong[0]?.errors[0]?.code], [false, 'bad', 'ERR_ESP_AUTH'])
  t.end()
})

t.test('Wireshark esp_sa lines work as key files too', (t) => {
  const line = '"IPv4","*","*","0x12345678","TripleDES-CBC [RFC2451]","0x4043434545464649494a4a4c4c4f4f515152525454575758","HMAC-MD5-96 [RFC2403]","0x87658765876587658765876587658765"'
  const rs = decodeCapture(readCapture(capture('esp-tun-3des-md5.pcap')), parseKeyFile(`# comment\n${line}\n`))
  t.ok(rs.every((r) => r.decrypted))
  t.end()
})

t.test('trace B + pushes: keys from PULL4 decrypt and verify both GROUPKEY-PUSHes, then ESP under a pushed TEK', (t) => {
  const frames = traceBFrames(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 31, 32)
  const pcap = writePcapUdp(frames.map((f, i) => udp(f, 1000 + i)))
  // ESP from GM .37 under the first pushed TEK (0x2e22fbb7, 3DES + HMAC-SHA1, keys as in spec §7.3).
  const tek = { spi: 0x2e22fbb7, transformId: 3, authAlgorithm: 2, encKey: hex('054ab45cf180cf16ec5d691cd9aecf3f6768850f33ccb111'), authKey: hex('9946932950584877a3394974e3d2a04f142c1d6b') }
  const esp = sealEsp(tek, 1, hex('0102030405060708'), ping('10.0.224.37', '239.1.1.1', 1), 4)
  const packets = [...readCapture(pcap), { frame: 13, timeSec: 1013, ip: buildIpv4('10.0.224.37', '239.1.1.1', IpProto.ESP, esp) }]
  const rs = decodeCapture(packets, parseKeyFile(captureText('gdoid.ikev1_decryption_table')))
  noErrors(t, rs)
  t.equal(rs.length, 13)
  t.same(rs.map((r) => r.decrypted), [false, false, false, false, true, true, true, true, true, true, true, true, true])
  const pull4 = rs[9] as CaptureRecord
  t.same(types(pull4), [8, 18, 17], 'PULL4: HASH, SEQ, KD')
  const kek = pull4.learned.find((l) => l.kind === 'kek')
  t.ok(kek && kek.kind === 'kek' && toHex(kek.spi) === Buffer.from('abcdefgh01234567').toString('hex') && kek.publicKey?.length === 162, 'KEK and KS public key learned')
  const [push1, push2] = [rs[10] as CaptureRecord, rs[11] as CaptureRecord]
  t.same([push1.checks, push2.checks], [{ seq: 'ok', signature: 'ok' }, { seq: 'ok', signature: 'ok' }])
  t.same(types(push1), [18, 1, 17, 9], 'push: SEQ, SA, KD, SIG')
  t.same(push1.payloads[0], { type: 18, seq: 1 })
  t.same(push2.payloads[0], { type: 18, seq: 2 })
  t.same(push1.learned.filter((l) => l.kind === 'tek').map((l) => (l.kind === 'tek' ? l.spi : 0)), [0x2e22fbb7, 0x2123d5f2])
  t.same(push2.learned.filter((l) => l.kind === 'tek').map((l) => (l.kind === 'tek' ? l.spi : 0)), [0x6181ef69, 0x29bacf25])
  const e = rs[12] as CaptureRecord
  t.same([e.kind, e.decrypted, e.checks.icv, e.esp?.inner?.src, e.esp?.inner?.icmpType], ['esp', true, 'ok', '10.0.224.37', 8])
  t.end()
})

t.test('push checks: replayed SEQ, duplicate, tampered signature, unknown KEK', (t) => {
  const table = parseKeyFile(captureText('gdoid.ikev1_decryption_table'))
  const pull = traceBFrames(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
  const [p1, p2] = traceBFrames(31, 32) as [typeof TRACE_B[number], typeof TRACE_B[number]]
  const run = (pushes: Uint8Array[]): CaptureRecord[] =>
    decodeCapture(readCapture(writePcapUdp([...pull.map((f) => udp(f, 0)), ...pushes.map((payload) => ({ ...udp(p1, 0), payload }))])), table).slice(10)

  const [a, b] = run([hex(p2.wire), hex(p1.wire)])
  t.same([a?.checks.seq, b?.checks.seq], ['ok', 'replay'], 'SEQ 1 after SEQ 2 is a replay')
  t.same(b?.errors.map((x) => x.code), ['ERR_SEQ_REPLAY'])
  t.same(b?.learned, [], 'nothing learned from a replay')

  const [c, d] = run([hex(p1.wire), hex(p1.wire)])
  t.same([c?.checks.seq, d?.checks.seq, d?.errors], ['ok', 'duplicate', []], 'a byte-identical retransmission is not an error')

  const tampered = hex(p1.wire)
  tampered[tampered.length - 10] = (tampered[tampered.length - 10] ?? 0) ^ 0x01 // inside the SIG (the last block holds the end of SIG + padding)
  const [x] = run([tampered])
  t.same([x?.decrypted, x?.checks.signature, x?.errors.map((y) => y.code)], [true, 'bad', ['ERR_BAD_SIGNATURE']])
  t.same(x?.learned, [])

  const alone = decodeCapture(readCapture(writePcapUdp([udp(p1, 0)])), table)
  t.same([alone[0]?.decrypted, alone[0]?.errors], [false, []])
  t.match(alone[0]?.notes, [/no KEK for SPI 61626364656667683031323334353637/])
  t.end()
})

t.test('a KEK given in the keylog decrypts pushes without the PULL; SIGKEY enables the signature check', (t) => {
  const [p1] = traceBFrames(31)
  const pull4 = decodeCapture(readCapture(writePcapUdp(traceBFrames(1, 2, 3, 4, 5, 6, 7, 8, 9, 10).map((f) => udp(f, 0)))), parseKeyFile(captureText('gdoid.ikev1_decryption_table')))[9]
  const pub = kd(pull4 as CaptureRecord)?.packets[0]?.attributes.find((a) => a.type === 2)
  const pubHex = pub && !pub.tv ? toHex(pub.value) : ''
  const line = 'KEK 61626364656667683031323334353637 ALG=des-ede3-cbc IV=4956495649564956 KEY=4142434445464748494a4b4c4d4e4f505152535455565758 SIGHASH=sha1'
  const pcap = readCapture(writePcapUdp([udp(p1 as typeof TRACE_B[number], 0)]))
  const [noSig] = decodeCapture(pcap, parseKeyFile(line))
  t.same([noSig?.decrypted, noSig?.checks], [true, { seq: 'ok', signature: 'unknown' }])
  const [withSig] = decodeCapture(pcap, parseKeyFile(`${line} SIGKEY=${pubHex}`))
  t.same(withSig?.checks, { seq: 'ok', signature: 'ok' })
  t.end()
})

t.test('RFC 8263 ACK: HASH checked under a KEK from the keylog (no SA KEK seen: SHA-256/512 by HASH length)', (t) => {
  const spi = '41424344454647484950515253545556'
  const key = Uint8Array.from({ length: 32 }, (_, i) => 0x90 + i)
  const line = `KEK ${spi} ALG=aes-256-cbc IV=${'00'.repeat(16)} KEY=${toHex(key)}`
  const ack = (ackRequested: number, baseKey = key): Uint8Array => buildAck({ kekSpi: hex(spi), ackRequested, baseKey, seq: 7, member: '192.0.2.10' })
  const pcap = readCapture(writePcapUdp([1, 3].map((a, i) => ({ src: '192.0.2.10', dst: '192.0.2.1', sport: 848, dport: 848, payload: ack(a), timeSec: i }))))
  const rs = decodeCapture(pcap, parseKeyFile(line))
  noErrors(t, rs)
  t.same(rs.map((r) => r.checks.hash), ['ok', 'ok'], 'KEK_SHA256 and KEK_SHA512 forms')
  t.same(rs.map((r) => types(r)), [[8, 18, 5], [8, 18, 5]])
  const wrongKey = readCapture(writePcapUdp([{ src: '192.0.2.10', dst: '192.0.2.1', sport: 848, dport: 848, payload: ack(1, new Uint8Array(32)) }]))
  const [bad] = decodeCapture(wrongKey, parseKeyFile(line))
  t.equal(bad?.checks.hash, 'bad')
  t.same(bad?.errors.map((e) => [e.code, e.offset]), [['ERR_BAD_HASH', 28]])
  const [unknown] = decodeCapture(wrongKey, parseKeyFile(''))
  t.equal(unknown?.checks.hash, 'unknown', 'no KEK: not checked')
  t.same(unknown?.errors, [])
  t.match(unknown?.notes, [/no KEK for SPI 4142/])
  t.end()
})

t.test('the whole three-GM session: three phase-1 SAs share one PULL M-ID, contexts stay apart', (t) => {
  const rs = decodeCapture(readCapture(writePcapUdp(TRACE_B.map((f, i) => udp(f, i)))), parseKeyFile(captureText('gdoid.ikev1_decryption_table')))
  t.equal(rs.length, 32)
  noErrors(t, rs)
  t.equal(rs.filter((r) => r.decrypted).length, 20)
  t.same(rs.slice(30).map((r) => r.checks), [{ seq: 'ok', signature: 'ok' }, { seq: 'ok', signature: 'ok' }])
  t.end()
})

t.test('ESP under a TEK learned from a PULL4 (trace A) and retransmitted PULL messages', (t) => {
  const tek = { spi: 0x1122aabb, transformId: 3, authAlgorithm: 2, encKey: new TextEncoder().encode('ABCDEFGHIJKLMNOPQRSTUVWX'), authKey: new TextEncoder().encode('12345678901234567890') }
  const esp = sealEsp(tek, 7, hex('a1a2a3a4a5a6a7a8'), ping('172.19.137.42', '239.192.1.1', 7), 4)
  const lo = traceAPackets()
  // PULL2 retransmitted after PULL3: must decrypt with its first IV and leave the chain alone.
  const pk = [...lo.slice(0, 9), { ...lo[7] as CapturedPacket, frame: 100 }, lo[9] as CapturedPacket, { frame: 101, timeSec: 0, ip: buildIpv4('172.19.137.42', '239.192.1.1', IpProto.ESP, esp) }]
  const rs = decodeCapture(pk, parseKeyFile(TRACE_A_KEYLOG))
  noErrors(t, rs)
  const re = byFrame(rs, 100)
  t.same([re.decrypted, re.checks.hash], [true, 'ok'])
  t.match(re.notes, [/retransmission/])
  t.same([byFrame(rs, 10).decrypted, byFrame(rs, 10).checks.hash], [true, 'ok'], 'PULL4 after the retransmission still decrypts')
  const e = byFrame(rs, 101)
  t.same([e.decrypted, e.esp?.seq, e.esp?.inner?.dst, e.esp?.inner?.icmpType], [true, 7, '239.192.1.1', 8])
  t.end()
})

t.test('IPv4 fragments are reassembled; the datagram is reported at the completing frame', (t) => {
  const f = TRACE_A[9] as typeof TRACE_A[number]
  const whole = buildIpv4(f.src, f.dst, IpProto.UDP, buildUdp(f.src, f.dst, 848, 848, hex(f.wire)), { id: 77 })
  const frag = (from: number, to: number, more: boolean): Uint8Array => {
    const ip = buildIpv4(f.src, f.dst, IpProto.UDP, whole.subarray(20 + from, 20 + to), { id: 77 })
    ip[6] = (more ? 0x20 : 0) | ((from / 8) >> 8)
    ip[7] = (from / 8) & 0xff
    return ip
  }
  const lo = traceAPackets().slice(0, 9)
  const n = whole.length - 20
  const pk = [...lo, { frame: 10, timeSec: 0, ip: frag(96, n, false) }, { frame: 11, timeSec: 0, ip: frag(0, 96, true) }]
  const rs = decodeCapture(pk, parseKeyFile(TRACE_A_KEYLOG))
  t.same(rs.map((r) => r.frame), [1, 2, 3, 4, 5, 6, 7, 8, 9, 11])
  t.same([rs[9]?.decrypted, rs[9]?.checks.hash, rs[9]?.learned.length], [true, 'ok', 2])
  t.end()
})

t.test('malformed datagrams: errors with offsets, the rest of the capture still decodes', (t) => {
  const mm1 = hex((TRACE_A[0] as typeof TRACE_A[number]).wire)
  const badLen = new Uint8Array(mm1)
  badLen[30] = 0xff // SA payload length
  const badVersion = new Uint8Array(mm1)
  badVersion[17] = 0x20
  const truncated = mm1.subarray(0, 20)
  const trailing = new Uint8Array([...mm1, 0, 0])
  const ds = [badLen, badVersion, truncated, trailing].map((payload) => ({ src: '192.0.2.1', dst: '192.0.2.2', sport: 500, dport: 500, payload }))
  const rs = decodeCapture(readCapture(writePcapUdp(ds)))
  t.same(rs.map((r) => r.errors.map((e) => [e.layer, e.code, e.offset])), [
    [['isakmp', 'ERR_BAD_LENGTH', 30]],
    [['isakmp', 'ERR_BAD_VERSION', 17]],
    [['isakmp', 'ERR_TRUNCATED', 20]],
    [['isakmp', 'ERR_TRAILING_BYTES', 80]],
  ])
  t.same(types(rs[3]), [1], 'the message before the trailing bytes is decoded')
  t.equal(rs[0]?.isakmp?.exchange, 2, 'header still reported')
  const shortUdp = buildIpv4('192.0.2.1', '192.0.2.2', IpProto.UDP, Uint8Array.of(0x01, 0xf4, 0x01, 0xf4, 0, 99, 0, 0, 1))
  const ipOnly = decodeCapture(readCapture(writePcapIp([{ ip: shortUdp }, { ip: Uint8Array.of(0x45, 0) }])))
  t.same(ipOnly.map((r) => [r.kind, r.errors[0]?.layer, r.errors[0]?.code]), [['isakmp', 'udp', 'ERR_TRUNCATED'], ['ip', 'ip', 'ERR_TRUNCATED']])
  t.end()
})
