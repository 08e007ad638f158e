import t from 'tap'
import { createCipheriv, createHmac, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import {
  EspSuiteError, espLength, espMaxInnerBytes, espPadBytes, espSuite, openEsp, sealEsp, type EspSaParams,
} from '../../src/esp/index.js'
import { EncodeError } from '../../src/errors.js'
import { hex, readIpPackets } from './capture-helper.js'

const AES256_SHA1: EspSaParams = {
  spi: 0xd1234567, transformId: 12, authAlgorithm: 2,
  encKey: hex('aaaabbbbccccdddd4043434545464649494a4a4c4c4f4f515152525454575758'),
  authKey: hex('8765876587658765876587658765876587658765'),
}
const TDES_MD5: EspSaParams = {
  spi: 0x12345678, transformId: 3, authAlgorithm: 1,
  encKey: hex('4043434545464649494a4a4c4c4f4f515152525454575758'),
  authKey: hex('87658765876587658765876587658765'),
}

function ipChecksumOk(b: Uint8Array, off: number, len: number): boolean {
  let s = 0
  for (let i = 0; i + 1 < len; i += 2) s += (b[off + i]! << 8) | b[off + i + 1]!
  if (len & 1) s += b[off + len - 1]! << 8
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16)
  return s === 0xffff
}

function espOf(ip: Uint8Array): Uint8Array {
  const ihl = (ip[0]! & 0x0f) * 4
  return ip.subarray(ihl, (ip[2]! << 8) | ip[3]!)
}

t.test('transform table (spec §4.1)', (t) => {
  const k = (n: number): Uint8Array => new Uint8Array(n)
  const rows: [EspSaParams, Partial<ReturnType<typeof espSuite>>][] = [
    [{ spi: 1, transformId: 3, authAlgorithm: 1, encKey: k(24), authKey: k(16) }, { cipher: 'des-ede3-cbc', ivBytes: 8, blockBytes: 8, icvBytes: 12, hmac: 'md5' }],
    [{ spi: 1, transformId: 3, authAlgorithm: 2, encKey: k(24), authKey: k(20) }, { ivBytes: 8, icvBytes: 12, hmac: 'sha1' }],
    [{ spi: 1, transformId: 12, authAlgorithm: 2, keyLengthBits: 128, encKey: k(16), authKey: k(20) }, { cipher: 'aes-128-cbc', ivBytes: 16, blockBytes: 16, icvBytes: 12 }],
    [{ spi: 1, transformId: 12, authAlgorithm: 5, keyLengthBits: 256, encKey: k(32), authKey: k(32) }, { cipher: 'aes-256-cbc', icvBytes: 16, hmac: 'sha256' }],
    [{ spi: 1, transformId: 12, authAlgorithm: 6, encKey: k(24), authKey: k(48) }, { cipher: 'aes-192-cbc', icvBytes: 24, hmac: 'sha384' }],
    [{ spi: 1, transformId: 12, authAlgorithm: 7, encKey: k(32), authKey: k(64) }, { icvBytes: 32, hmac: 'sha512' }],
    [{ spi: 1, transformId: 13, authAlgorithm: 2, encKey: k(20), authKey: k(20) }, { cipher: 'aes-128-ctr', ivBytes: 8, blockBytes: 4, saltBytes: 4 }],
    [{ spi: 1, transformId: 18, keyLengthBits: 128, encKey: k(20) }, { cipher: 'aes-128-gcm', ivBytes: 8, blockBytes: 4, icvBytes: 8, saltBytes: 4, hmac: undefined }],
    [{ spi: 1, transformId: 19, encKey: k(28) }, { cipher: 'aes-192-gcm', icvBytes: 12 }],
    [{ spi: 1, transformId: 20, keyLengthBits: 256, encKey: k(36) }, { cipher: 'aes-256-gcm', icvBytes: 16, headerBytes: 16, maxOverheadBytes: 16 + 3 + 2 + 16 }],
    [{ spi: 1, transformId: 23, encKey: k(36) }, { mode: 'gmac', cipher: 'aes-256-gcm', icvBytes: 16 }],
    [{ spi: 1, transformId: 11, authAlgorithm: 2, encKey: k(0), authKey: k(20) }, { mode: 'null', ivBytes: 0, blockBytes: 4 }],
  ]
  for (const [p, want] of rows) t.match(espSuite(p), want, `transform ${p.transformId} auth ${p.authAlgorithm ?? '-'}`)
  const bad: [EspSaParams, string][] = [
    [{ spi: 1, transformId: 2, authAlgorithm: 2, encKey: k(8), authKey: k(20) }, 'ERR_ESP_UNSUPPORTED'], // single DES
    [{ spi: 1, transformId: 14, encKey: k(19) }, 'ERR_ESP_UNSUPPORTED'], // CCM
    [{ spi: 1, transformId: 12, encKey: k(32), authKey: k(20) }, 'ERR_ESP_UNSUPPORTED'], // CBC without auth
    [{ spi: 1, transformId: 20, authAlgorithm: 2, encKey: k(36), authKey: k(20) }, 'ERR_ESP_UNSUPPORTED'], // GCM with auth
    [{ spi: 1, transformId: 12, authAlgorithm: 9, encKey: k(32), authKey: k(20) }, 'ERR_ESP_UNSUPPORTED'],
    [{ spi: 1, transformId: 12, authAlgorithm: 2, keyLengthBits: 256, encKey: k(16), authKey: k(20) }, 'ERR_ESP_KEY_LENGTH'],
    [{ spi: 1, transformId: 12, authAlgorithm: 2, encKey: k(20), authKey: k(20) }, 'ERR_ESP_KEY_LENGTH'],
    [{ spi: 1, transformId: 12, authAlgorithm: 2, encKey: k(16), authKey: k(16) }, 'ERR_ESP_KEY_LENGTH'],
    [{ spi: 1, transformId: 20, encKey: k(32) }, 'ERR_ESP_KEY_LENGTH'], // salt missing
    [{ spi: 1, transformId: 3, authAlgorithm: 1, keyLengthBits: 128, encKey: k(24), authKey: k(16) }, 'ERR_ESP_KEY_LENGTH'],
    [{ spi: 2 ** 32, transformId: 20, encKey: k(36) }, 'ERR_ESP_UNSUPPORTED'],
  ]
  for (const [p, code] of bad) {
    const e = t.throws(() => espSuite(p)) as unknown
    t.ok(e instanceof EspSuiteError && e.code === code, `${code}: transform ${p.transformId}`)
  }
  t.end()
})

t.test('padding and size helpers', (t) => {
  const s = espSuite(AES256_SHA1)
  for (let n = 0; n < 64; n++) {
    const pad = espPadBytes(n, 16)
    t.equal((n + pad + 2) % 16, 0)
    t.ok(pad < 16)
  }
  t.equal(espLength(s, 84), 8 + 16 + 96 + 12) // the capture's 84-octet inner ICMP
  // the largest inner that fits a 1500 path, and one more octet does not
  const max = espMaxInnerBytes(s, 1500)
  t.ok(20 + espLength(s, max) <= 1500)
  t.ok(20 + espLength(s, max + 1) > 1500)
  const g = espSuite({ spi: 1, transformId: 20, encKey: new Uint8Array(36) })
  const gmax = espMaxInnerBytes(g, 1400)
  t.ok(20 + espLength(g, gmax) <= 1400 && 20 + espLength(g, gmax + 1) > 1400)
  t.end()
})

for (const [file, p, cipher] of [
  ['esp-tun-aes256-sha1.pcap', AES256_SHA1, 'AES-256-CBC + HMAC-SHA1-96'],
  ['esp-tun-3des-md5.pcap', TDES_MD5, '3DES-CBC + HMAC-MD5-96'],
] as const) {
  t.test(`known answers: ${file} (FreeS/WAN KLIPS, ${cipher})`, async (t) => {
    const pkts = await readIpPackets(file)
    t.equal(pkts.length, 8)
    for (const [i, pk] of pkts.entries()) {
      const esp = espOf(pk.ip)
      const r = openEsp(p, esp)
      if (!r.ok) { t.fail(`frame ${pk.frame}: ${r.reason}`); continue }
      t.equal(r.seq, i + 1, `frame ${pk.frame} seq`)
      t.equal(r.nextHeader, 4)
      const inner = r.inner
      t.equal(inner[0], 0x45)
      t.ok(ipChecksumOk(inner, 0, 20), 'inner IPv4 checksum')
      t.equal(inner[9], 1, 'ICMP')
      t.same([...inner.subarray(12, 16)], [192, 0, 2, 1])
      t.same([...inner.subarray(16, 20)], [192, 0, 1, 1])
      t.equal(inner[20], 8, 'echo request')
      t.ok(ipChecksumOk(inner, 20, inner.length - 20), 'ICMP checksum')
      // The default padding is deterministic, so re-sealing with the packet's IV gives the same bytes.
      const s = espSuite(p)
      const again = sealEsp(p, r.seq, esp.subarray(8, 8 + s.ivBytes), inner, 4)
      t.same(Buffer.from(again).toString('hex'), Buffer.from(esp).toString('hex'), `frame ${pk.frame} re-seals bit-exact`)
    }
  })
}

t.test('known answers: draft-mcgrew-gcm-test-01 (RFC 4106 GCM, RFC 4543 GMAC)', (t) => {
  const fx = JSON.parse(readFileSync(new URL('./fixtures/mcgrew-gcm.json', import.meta.url), 'utf8')) as {
    cases: { name: string; transformId: number; keyLengthBits: number; encKey: string; spi: number; seq: number; iv: string; nextHeader: number; inner: string; esp: string }[]
  }
  t.equal(fx.cases.length, 5)
  for (const c of fx.cases) {
    const p: EspSaParams = { spi: c.spi, transformId: c.transformId, keyLengthBits: c.keyLengthBits, encKey: hex(c.encKey) }
    const r = openEsp(p, hex(c.esp))
    t.ok(r.ok, c.name)
    if (!r.ok) continue
    t.equal(r.seq, c.seq)
    t.equal(r.nextHeader, c.nextHeader)
    t.equal(Buffer.from(r.inner).toString('hex'), c.inner, `${c.name} plaintext`)
    t.equal(Buffer.from(sealEsp(p, c.seq, hex(c.iv), hex(c.inner), c.nextHeader)).toString('hex'), c.esp, `${c.name} seals bit-exact`)
  }
  t.end()
})

const SUITES: EspSaParams[] = [
  { ...AES256_SHA1 },
  { ...TDES_MD5 },
  { spi: 7, transformId: 12, authAlgorithm: 5, keyLengthBits: 128, encKey: randomBytes(16), authKey: randomBytes(32) },
  { spi: 7, transformId: 12, authAlgorithm: 5, keyLengthBits: 256, encKey: randomBytes(32), authKey: randomBytes(32) },
  { spi: 7, transformId: 12, authAlgorithm: 6, keyLengthBits: 192, encKey: randomBytes(24), authKey: randomBytes(48) },
  { spi: 7, transformId: 12, authAlgorithm: 7, keyLengthBits: 256, encKey: randomBytes(32), authKey: randomBytes(64) },
  { spi: 7, transformId: 13, authAlgorithm: 2, keyLengthBits: 256, encKey: randomBytes(36), authKey: randomBytes(20) },
  { spi: 7, transformId: 18, keyLengthBits: 128, encKey: randomBytes(20) },
  { spi: 7, transformId: 19, keyLengthBits: 192, encKey: randomBytes(28) },
  { spi: 7, transformId: 20, keyLengthBits: 256, encKey: randomBytes(36) },
  { spi: 7, transformId: 23, keyLengthBits: 128, encKey: randomBytes(20) },
  { spi: 7, transformId: 11, authAlgorithm: 2, encKey: new Uint8Array(0), authKey: randomBytes(20) },
]

t.test('round trip, tampering and truncation for every suite', (t) => {
  for (const p of SUITES) {
    const s = espSuite(p)
    const name = `${s.cipher ?? 'null'}/${s.hmac ?? `icv${s.icvBytes}`}`
    for (const n of [0, 1, 13, 14, 15, 16, 17, 20, 64, 255, 1400]) {
      const inner = randomBytes(n)
      const esp = sealEsp(p, 1000 + n, randomBytes(s.ivBytes), inner, 4)
      t.equal(esp.length, espLength(s, n))
      const r = openEsp(p, esp)
      if (!r.ok || Buffer.compare(r.inner, inner) !== 0 || r.seq !== 1000 + n) t.fail(`${name} n=${n} round trip`)
    }
    const esp = sealEsp(p, 5, randomBytes(s.ivBytes), randomBytes(60), 4)
    let flips = 0
    for (let bit = 32; bit < esp.length * 8; bit++) {
      const m = esp.slice()
      m[bit >> 3]! ^= 1 << (bit & 7)
      const r = openEsp(p, m)
      if (!r.ok && r.reason === 'auth') flips++
    }
    t.equal(flips, esp.length * 8 - 32, `${name}: every bit flip after the SPI fails authentication`)
    const wrongSpi = esp.slice()
    wrongSpi[0]! ^= 0x80
    t.same(openEsp(p, wrongSpi), { ok: false, reason: 'spi' })
    for (let len = 0; len < esp.length; len++) {
      const r = openEsp(p, esp.subarray(0, len))
      if (r.ok) t.fail(`${name}: prefix of ${len} opened`)
    }
    t.pass(`${name}: round trips, tampering and truncation`)
  }
  t.end()
})

t.test('padding that is not 1, 2, 3, … is malformed (RFC 4303 §2.4)', (t) => {
  const p = AES256_SHA1
  const iv = randomBytes(16)
  // 26 inner octets + pad 4 + 2 = 32; pad octets 1, 2, 9, 4 (one wrong)
  const pt = Buffer.concat([randomBytes(26), Buffer.from([1, 2, 9, 4, 4, 4])])
  const c = createCipheriv('aes-256-cbc', p.encKey, iv).setAutoPadding(false)
  const ct = Buffer.concat([c.update(pt), c.final()])
  const body = Buffer.concat([Buffer.from([0xd1, 0x23, 0x45, 0x67, 0, 0, 0, 1]), iv, ct])
  const icv = createHmac('sha1', p.authKey!).update(body).digest().subarray(0, 12)
  t.same(openEsp(p, Buffer.concat([body, icv])), { ok: false, reason: 'malformed' })
  // pad length longer than the payload
  const pt2 = Buffer.concat([randomBytes(14), Buffer.from([200, 4])])
  const c2 = createCipheriv('aes-256-cbc', p.encKey, iv).setAutoPadding(false)
  const body2 = Buffer.concat([Buffer.from([0xd1, 0x23, 0x45, 0x67, 0, 0, 0, 1]), iv, c2.update(pt2), c2.final()])
  const icv2 = createHmac('sha1', p.authKey!).update(body2).digest().subarray(0, 12)
  t.same(openEsp(p, Buffer.concat([body2, icv2])), { ok: false, reason: 'malformed' })
  t.end()
})

t.test('sealEsp refuses bad inputs with EncodeError', (t) => {
  const bad: (() => unknown)[] = [
    () => sealEsp(AES256_SHA1, 1, new Uint8Array(8), new Uint8Array(4), 4),
    () => sealEsp(AES256_SHA1, -1, new Uint8Array(16), new Uint8Array(4), 4),
    () => sealEsp(AES256_SHA1, 2 ** 32, new Uint8Array(16), new Uint8Array(4), 4),
    () => sealEsp(AES256_SHA1, 1, new Uint8Array(16), new Uint8Array(4), 256),
  ]
  for (const f of bad) t.ok((t.throws(f) as unknown) instanceof EncodeError)
  t.end()
})

t.test('openEsp never throws on untrusted bytes (fast-check)', async (t) => {
  const fc = (await import('fast-check')).default
  for (const p of [AES256_SHA1, TDES_MD5, SUITES[9]!, SUITES[10]!]) {
    const s = espSuite(p)
    const valid = sealEsp(p, 1, randomBytes(s.ivBytes), randomBytes(50), 4)
    fc.assert(fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => { const m = valid.slice(); m[i]! ^= x; return m }),
      ),
      (esp) => { const r = openEsp(p, esp); return r.ok || ['auth', 'malformed', 'spi'].includes(r.reason) },
    ), { numRuns: 1000 })
  }
  t.pass('only results')
})
