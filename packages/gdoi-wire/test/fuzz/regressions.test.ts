// Bugs the fuzz targets found, each as a readable test and as the fuzz input that found it (replayed
// through its target, so a regression in the harness shows up too). See RELIABILITY.md "Findings".
import t from 'tap'
import { PayloadType } from '../../src/constants.js'
import { checkKeysForPolicy, buildPush, keyDownloadToKeys, processPush, type PushOutcome, type TekPolicy } from '../../src/exchange/index.js'
import type { KeyDownloadPayload, KeyPacket } from '../../src/payloads/types.js'
import { bugKind, target } from '../../fuzz/targets.js'
import { session } from '../../fuzz/session.js'

const code = (r: PushOutcome): string => ('rejected' in r ? r.rejected.code : 'accepted')
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'))

function replay(name: string, input: Uint8Array): string {
  try {
    return target(name).run(input)
  } catch (e) {
    return bugKind(e) === undefined ? 'decode-error' : `BUG ${String(e)}`
  }
}

t.test('push: a SAK re-sent for the held KEK with another cipher but no KEK key packet is refused', (t) => {
  // Before the fix processPush accepted it and installed the KEK as AES-128 with the 48-octet
  // AES-256 IV ‖ key it held; the next push under that SPI threw CryptoError (ERR_BAD_KEY_LENGTH).
  const s = session()
  const held = s.pushMember.keks[0]!
  const kek = { spi: held.spi, cipher: held.cipher, algorithmKey: held.algorithmKey }
  const sak = { spi: held.spi, algorithm: 'aes' as const, keyBits: 128, sigHash: 'sha256' as const, sigAlgorithm: 'rsa' as const, transport: { protocol: 17, src: { address: '192.0.2.1', port: 848 }, dst: { address: '239.192.0.1', port: 848 } } }
  const tek = {
    spi: 0x3001,
    selector: { protocol: 0, src: { address: { kind: 'prefix' as const, address: '10.0.0.0', prefixLength: 8 }, port: 0 }, dst: { address: { kind: 'prefix' as const, address: '10.0.0.0', prefixLength: 8 }, port: 0 } },
    transform: { cipher: 'aes-gcm-16' as const, keyBits: 256 },
    lifetimeSec: 3600,
    encapsulation: 'tunnel' as const,
  }
  const push = buildPush({ kek, seq: 1, policy: { kek: sak, teks: [tek] }, keys: { teks: [{ spi: 0x3001, encKey: new Uint8Array(36) }] }, signingKey: s.kek.signingKey, sigHash: 'sha256' })
  const r = processPush(s.pushMember, push)
  t.equal(code(r), 'bad-policy')
  t.match('rejected' in r && r.rejected.code === 'bad-policy' ? r.rejected.detail : '', /cipher/)
  t.equal(r.state.keks[0]?.cipher, 'aes-256-cbc', 'the held KEK keeps its cipher')
  t.equal(r.state.keks[0]?.lastSeq, 1, 'authentic and newer: consumed')
  const next = buildPush({ kek, seq: 2, deletes: [{ kind: 'tek', spis: [0x1001] }], signingKey: s.kek.signingKey, sigHash: 'sha256' })
  t.equal(code(processPush(r.state, next)), 'accepted', 'later pushes under the KEK still work')

  // the same SAK with the KEK key packet for the new cipher is a legitimate re-key of the same SPI
  const newKey = Uint8Array.from({ length: 32 }, (_, i) => 0xc0 + i)
  const rekeyed = buildPush({
    kek, seq: 1, policy: { kek: sak, teks: [tek] },
    keys: { kek: { spi: held.spi, algorithmKey: newKey, signingPublicKey: held.publicKey }, teks: [{ spi: 0x3001, encKey: new Uint8Array(36) }] },
    signingKey: s.kek.signingKey, sigHash: 'sha256',
  })
  const ok = processPush(s.pushMember, rekeyed)
  t.equal(code(ok), 'accepted')
  t.equal(ok.state.keks[0]?.cipher, 'aes-128-cbc')
  t.end()
})

t.test('push-signed fuzz input 764652b792b10aad (SEQ, SA with a KEK_KEY_LENGTH 128 SAK for the held SPI, KD without KEK)', (t) => {
  const input = hex(`
    12010100000800000007110000d30000000200000000000f0000100000491101035004c000020101035004efc0000130
    3132333435363738393a3b3c3d3e3f000000008002000380030080000400040001518080050003800600018007080080
    0900011000003b0100040000080a000000ff000000040000080a000000ff000000140000100180040001800601008001
    000180020e10800e0004800f00030000003f0100040000080a000000ff000000040000080a000000ff0000000c000020
    018004000180050005800600808001000180020e10800e0004800f00030000007a000200000100003104000010010001
    002401010101010101010101010101010101010101010101010101010101010101010101010101000041040000200100
    01001001010101010101010101010101010101000200205a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a
    5a5a5a5a5a5a5a`)
  t.equal(input[0], PayloadType.SEQ)
  t.notMatch(replay('push-signed', input), /^BUG/, replay('push-signed', input))
  t.end()
})

// ---- KD processing was quadratic in the key packets -------------------------------------------------
// keyDownloadToKeys checked duplicate TEK SPIs with Array.some over the TEKs so far and copied the SID
// list for every SID packet; checkKeysForPolicy filtered all SATs for every TEK key. A 64 KB PULL4 from
// a (compromised) KS with 7.2 K TEK packets took ~32 ms, 4.6 K SID packets ~16 ms (fuzz/worst-case.ts).
// The sizes below are far beyond one datagram on purpose: quadratic code takes 10–30 s there, linear
// well under a second even on a busy 2-core machine.

const tekPacket = (spi: number): KeyPacket => ({ kdType: 1, spi: Uint8Array.of(spi >>> 24, (spi >> 16) & 0xff, (spi >> 8) & 0xff, spi & 0xff), attributes: [{ type: 1, tv: false, value: new Uint8Array(16) }, { type: 2, tv: false, value: new Uint8Array(20) }] })
const sidPacket = (values: number[]): KeyPacket => ({ kdType: 4, spi: new Uint8Array(0), attributes: [{ type: 1, tv: true, value: 16 }, ...values.map((v) => ({ type: 2, tv: false as const, value: Uint8Array.of(0, 0, v >> 8, v & 0xff) }))] })
const kd = (packets: KeyPacket[]): KeyDownloadPayload => ({ type: PayloadType.KEY_DOWNLOAD, packets })
const sat = (spi: number, keyBits: number): TekPolicy => ({
  spi,
  selector: { protocol: 0, src: { address: { kind: 'prefix', address: '10.0.0.0', prefixLength: 8 }, port: 0 }, dst: { address: { kind: 'prefix', address: '10.0.0.0', prefixLength: 8 }, port: 0 } },
  transform: { cipher: 'aes-cbc', keyBits, integrity: 'sha1' },
  lifetimeSec: 3600,
  encapsulation: 'tunnel',
})

t.test('key download: same results as before, in linear time', (t) => {
  t.match(keyDownloadToKeys(kd([tekPacket(7), tekPacket(8), tekPacket(7)])), { ok: false, reason: /two TEK key packets for SPI 7/ })
  const two = keyDownloadToKeys(kd([sidPacket([1, 2]), tekPacket(9), sidPacket([3])]))
  t.same(two.ok ? two.value.sids : undefined, { bits: 16, values: [1, 2, 3] }, 'SID values of several packets, in order')
  t.match(keyDownloadToKeys(kd([sidPacket([1]), { ...sidPacket([2]), attributes: [{ type: 1, tv: true, value: 8 }] }])), { ok: false, reason: /different widths/ })
  // the first SAT with an SPI decides, as before
  const keys = { teks: [{ spi: 5, encKey: new Uint8Array(16), authKey: new Uint8Array(20) }] }
  t.equal(checkKeysForPolicy({ teks: [sat(5, 128), sat(5, 256)] }, keys), undefined)
  t.match(checkKeysForPolicy({ teks: [sat(5, 256), sat(5, 128)] }, keys), /need 32/)

  const n = 120_000
  let t0 = performance.now()
  const many = keyDownloadToKeys(kd(Array.from({ length: n }, (_, i) => tekPacket(i))))
  const tekMs = performance.now() - t0
  t.equal(many.ok && many.value.teks.length, n)
  t0 = performance.now()
  const sids = keyDownloadToKeys(kd(Array.from({ length: n / 2 }, (_, i) => sidPacket([i & 0xffff]))))
  const sidMs = performance.now() - t0
  t.equal(sids.ok && sids.value.sids?.values.length, n / 2)
  const policy = { teks: Array.from({ length: n }, (_, i) => sat(i, 128)) }
  t0 = performance.now()
  t.equal(checkKeysForPolicy(policy, { teks: many.ok ? many.value.teks : [] }), undefined)
  const checkMs = performance.now() - t0
  // before the fix, at 60 K on this project's 2-core VM: TEK 3.4 s, SID 30.6 s, check 7.1 s (×4 at 120 K)
  // 10 s each: far above the linear cost even on a loaded machine, far below the quadratic one
  t.ok(tekMs < 10_000 && sidMs < 10_000 && checkMs < 10_000, `120 K TEK packets ${tekMs.toFixed(0)} ms, 60 K SID packets ${sidMs.toFixed(0)} ms, check ${checkMs.toFixed(0)} ms`)
  t.end()
})
