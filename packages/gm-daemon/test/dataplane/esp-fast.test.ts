// Differential tests: fast path (native EVP and node:crypto engines) vs the @gdoi/wire reference vs an
// independent construction on @noble/ciphers (AES) + node:crypto HMAC, on random packets of every size
// 0–1500 for the suites GET VPN deployments use; fewer sizes for the rest.
import t from 'tap'
import { createHmac, randomBytes } from 'node:crypto'
import { cbc, gcm } from '@noble/ciphers/aes.js'
import { espPadBytes, espSuite, openEsp, sealEsp, type EspSaParams, type EspSuite } from '@gdoi/wire/esp/index'
import { HEADROOM_BYTES, TAILROOM_BYTES } from '../../src/dataplane/buffers.js'
import { createFastSa, EspResult, type EspEngineName, type FastEspSa } from '../../src/dataplane/esp-fast.js'
import { readCaptureIps } from './capture.js'
import { aesCbc, aesGcm, hasNative, KLIPS_3DES_MD5, KLIPS_AES256_SHA1, toHex } from './helpers.js'

const ENGINES: EspEngineName[] = hasNative ? ['native', 'node'] : ['node']
if (!hasNative) t.comment('native addon not built: testing the node engine only')

const SENDER = { sid: 0x2a, sidBits: 16 }

/** ESP by hand: the RFC 4303 layout with noble's AES-CBC / AES-GCM and node's HMAC. */
function nobleSeal(p: EspSaParams, s: EspSuite, seq: number, iv: Uint8Array, inner: Uint8Array): Uint8Array {
  const pad = espPadBytes(inner.length, s.blockBytes)
  const pt = new Uint8Array(inner.length + pad + 2)
  pt.set(inner)
  for (let i = 1; i <= pad; i++) pt[inner.length + i - 1] = i
  pt[pt.length - 2] = pad
  pt[pt.length - 1] = 4
  const hdr = new Uint8Array(8)
  new DataView(hdr.buffer).setUint32(0, p.spi)
  new DataView(hdr.buffer).setUint32(4, seq)
  const key = p.encKey.subarray(0, s.keyBytes)
  if (s.mode === 'gcm') {
    const nonce = new Uint8Array([...p.encKey.subarray(s.keyBytes), ...iv])
    const ct = gcm(key, nonce, hdr).encrypt(pt) // ciphertext ‖ 16-octet tag
    return new Uint8Array([...hdr, ...iv, ...ct.subarray(0, pt.length + s.icvBytes)])
  }
  const ct = cbc(key, iv, { disablePadding: true }).encrypt(pt)
  const body = new Uint8Array([...hdr, ...iv, ...ct])
  const icv = createHmac(s.hmac ?? '', p.authKey ?? new Uint8Array(0)).update(body).digest().subarray(0, s.icvBytes)
  return new Uint8Array([...body, ...icv])
}

interface Slot { buf: Uint8Array; espOff: number }
/** A buffer laid out like a slab slot: headroom, the inner packet, tailroom. */
function slotWith(s: EspSuite, inner: Uint8Array): Slot {
  const buf = new Uint8Array(HEADROOM_BYTES + inner.length + TAILROOM_BYTES)
  buf.set(inner, HEADROOM_BYTES)
  return { buf, espOff: HEADROOM_BYTES - s.headerBytes }
}

function fastSeal(sa: FastEspSa, inner: Uint8Array, seq: number): Uint8Array {
  const { buf, espOff } = slotWith(sa.suite, inner)
  const n = sa.seal(buf, espOff, inner.length, 4, seq)
  if (n < 0) throw new Error(`seal: ${n}`)
  return buf.slice(espOff, espOff + n)
}

function fastOpen(sa: FastEspSa, esp: Uint8Array): { r: number; inner?: Uint8Array } {
  const buf = new Uint8Array(esp.length + 32)
  buf.set(esp, 16)
  const r = sa.open(buf, 16, esp.length)
  if (r < 0) return { r }
  const len = r & 0xffff
  return { r, inner: buf.slice(16 + sa.suite.headerBytes, 16 + sa.suite.headerBytes + len) }
}

const MAIN: [string, EspSaParams][] = [
  ['AES-256-CBC + HMAC-SHA1-96', aesCbc(256, 2)],
  ['AES-128-CBC + HMAC-SHA-256-128', aesCbc(128, 5)],
  ['AES-256-CBC + HMAC-SHA-256-128', aesCbc(256, 5)],
  ['AES-128-GCM-16', aesGcm(128)],
  ['AES-256-GCM-16', aesGcm(256)],
]

for (const [name, p] of MAIN) {
  t.test(`${name}: every size 0–1500, fast = reference = noble`, (t) => {
    const s = espSuite(p)
    const sas = ENGINES.map((e) => createFastSa(p, { engine: e, sender: SENDER }))
    let mismatches = 0
    for (let n = 0; n <= 1500; n++) {
      const inner = randomBytes(n)
      const seq = n + 1
      for (const sa of sas) {
        const esp = fastSeal(sa, inner, seq)
        const iv = esp.subarray(8, 8 + s.ivBytes)
        const ref = sealEsp(p, seq, iv, inner, 4)
        const nob = nobleSeal(p, s, seq, iv, inner)
        const opened = openEsp(p, esp)
        if (toHex(esp) !== toHex(ref) || toHex(ref) !== toHex(nob) || !opened.ok || toHex(opened.inner) !== toHex(inner)) {
          if (mismatches++ < 3) t.fail(`${sa.engine} seal n=${n}`)
        }
        // and the other way: the fast path opens what the reference sealed
        const ref2 = sealEsp(p, seq, randomBytes(s.ivBytes), inner, 4)
        const o = fastOpen(sa, ref2)
        if (o.inner === undefined || toHex(o.inner) !== toHex(inner) || o.r >>> 16 !== 4) {
          if (mismatches++ < 3) t.fail(`${sa.engine} open n=${n}: ${o.r}`)
        }
      }
    }
    t.equal(mismatches, 0, `${1501 * sas.length} packets sealed and opened by ${ENGINES.join(' + ')}`)
    if (s.mode === 'gcm') {
      const esp = fastSeal(sas[0]!, new Uint8Array(20), 0x01020304)
      t.equal(toHex(esp.subarray(8, 16)), '002a000001020304', 'RFC 6054 IV = SID (16 bits) ‖ sequence number')
    }
    for (const sa of sas) sa.destroy()
    t.end()
  })
}

const OTHERS: [string, EspSaParams][] = [
  ['3DES-CBC + HMAC-MD5-96', KLIPS_3DES_MD5],
  ['3DES-CBC + HMAC-SHA1-96', { ...KLIPS_3DES_MD5, authAlgorithm: 2, authKey: randomBytes(20) }],
  ['AES-192-CBC + HMAC-SHA-384-192', aesCbc(192, 6)],
  ['AES-256-CBC + HMAC-SHA-512-256', aesCbc(256, 7)],
  ['AES-128-CBC + HMAC-MD5-96', aesCbc(128, 1)],
  ['AES-128-GCM-8', aesGcm(128, 18)],
  ['AES-192-GCM-12', aesGcm(192, 19)],
  ['AES-256-CTR + HMAC-SHA1-96', { spi: 9, transformId: 13, authAlgorithm: 2, keyLengthBits: 256, encKey: randomBytes(36), authKey: randomBytes(20) }],
  ['AES-128-GMAC', { spi: 9, transformId: 23, keyLengthBits: 128, encKey: randomBytes(20) }],
  ['NULL + HMAC-SHA-256-128', { spi: 9, transformId: 11, authAlgorithm: 5, encKey: new Uint8Array(0), authKey: randomBytes(32) }],
]

for (const [name, p] of OTHERS) {
  t.test(`${name}: fast = reference`, (t) => {
    const s = espSuite(p)
    for (const engine of ENGINES) {
      const sa = createFastSa(p, { engine, sender: SENDER })
      let bad = 0
      for (const n of [0, 1, 2, 3, 5, 6, 7, 8, 9, 15, 16, 17, 31, 40, 63, 64, 65, 100, 576, 1399, 1400, 1500]) {
        const inner = randomBytes(n)
        const esp = fastSeal(sa, inner, 77)
        if (toHex(esp) !== toHex(sealEsp(p, 77, esp.subarray(8, 8 + s.ivBytes), inner, 4))) bad++
        const o = fastOpen(sa, sealEsp(p, 78, randomBytes(s.ivBytes), inner, 4))
        if (o.inner === undefined || toHex(o.inner) !== toHex(inner)) bad++
      }
      t.equal(bad, 0, engine)
      sa.destroy()
    }
    t.end()
  })
}

t.test('known answers: both KLIPS captures open with every engine', async (t) => {
  for (const [file, p] of [['esp-tun-aes256-sha1.pcap', KLIPS_AES256_SHA1], ['esp-tun-3des-md5.pcap', KLIPS_3DES_MD5]] as const) {
    const ips = await readCaptureIps(file)
    for (const engine of ENGINES) {
      const sa = createFastSa(p, { engine })
      let ok = 0
      for (const ip of ips) {
        const ihl = (ip[0]! & 15) * 4
        const o = fastOpen(sa, ip.subarray(ihl, (ip[2]! << 8) | ip[3]!))
        if (o.inner && o.r >>> 16 === 4 && o.inner[9] === 1 && o.inner[20] === 8) ok++
      }
      t.equal(ok, 8, `${file} ${engine}: 8 inner ICMP echo requests`)
      sa.destroy()
    }
  }
})

t.test('failures are results, not exceptions', (t) => {
  const p = aesCbc(256, 2)
  const g = aesGcm(256)
  for (const engine of ENGINES) {
    for (const params of [p, g]) {
      const sa = createFastSa(params, { engine, sender: SENDER })
      const s = sa.suite
      const esp = fastSeal(sa, randomBytes(100), 9)
      let auth = 0
      for (let bit = 32; bit < esp.length * 8; bit += 7) {
        const m = esp.slice()
        m[bit >> 3]! ^= 1 << (bit & 7)
        if (fastOpen(sa, m).r === EspResult.AUTH) auth++
      }
      t.equal(auth, Math.ceil((esp.length * 8 - 32) / 7), `${engine} ${s.mode}: bit flips fail authentication`)
      for (const len of [0, 7, 8, s.headerBytes + s.icvBytes, s.headerBytes + s.icvBytes + 1, esp.length - 1]) {
        const r = fastOpen(sa, esp.subarray(0, len)).r
        t.ok(r === EspResult.MALFORMED || r === EspResult.AUTH, `${engine} ${s.mode}: ${len}-octet prefix → ${r}`)
      }
      // no room for the trailer
      const tight = new Uint8Array(s.headerBytes + 10)
      t.equal(sa.seal(tight, 0, 10, 4, 1), EspResult.ROOM)
      sa.destroy()
      t.equal(sa.seal(new Uint8Array(200), 0, 10, 4, 1), EspResult.DEAD, `${engine}: destroyed SA refuses to seal`)
      t.equal(fastOpen(sa, esp).r, EspResult.DEAD)
    }
    // a counter-mode SA without a sender ID cannot seal (RFC 6407 §4.4) but can open
    const rx = createFastSa(g, { engine })
    t.equal(rx.canSeal, false)
    t.equal(rx.seal(new Uint8Array(200), 0, 10, 4, 1), EspResult.NO_IV)
    const tx = createFastSa(g, { engine, sender: SENDER })
    t.ok(fastOpen(rx, fastSeal(tx, randomBytes(30), 3)).inner, `${engine}: receive-only SA opens`)
    rx.destroy()
    tx.destroy()
  }
  t.throws(() => createFastSa(aesGcm(128), { sender: { sid: 256, sidBits: 8 } }))
  t.end()
})

t.test('bad padding with a valid ICV is MALFORMED', (t) => {
  const p = aesCbc(128, 2)
  const iv = randomBytes(16)
  const pt = new Uint8Array(32)
  pt.set([1, 2, 7, 4, 4, 4], 26)
  const ct = cbc(p.encKey, iv, { disablePadding: true }).encrypt(pt)
  const body = new Uint8Array([0x10, 0, 0, 1, 0, 0, 0, 1, ...iv, ...ct])
  const esp = new Uint8Array([...body, ...createHmac('sha1', p.authKey!).update(body).digest().subarray(0, 12)])
  for (const engine of ENGINES) t.equal(fastOpen(createFastSa(p, { engine }), esp).r, EspResult.MALFORMED, engine)
  t.end()
})

t.test('untrusted input: random and mutated packets only ever yield result codes (fast-check)', async (t) => {
  const fc = (await import('fast-check')).default
  const suites = [aesCbc(256, 2), aesCbc(128, 5), aesGcm(256), KLIPS_3DES_MD5, { spi: 9, transformId: 23, keyLengthBits: 128, encKey: randomBytes(20) }]
  const allowed = new Set<number>([EspResult.AUTH, EspResult.MALFORMED])
  for (const engine of ENGINES) {
    for (const p of suites) {
      const sa = createFastSa(p, { engine, sender: SENDER })
      const valid = fastSeal(sa, randomBytes(77), 1)
      fc.assert(fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => { const m = valid.slice(); m[i]! ^= x; return m }),
          fc.nat(valid.length).map((n) => valid.slice(0, n)),
        ),
        fc.nat(64),
        (esp, slack) => {
          // the packet sits at the very end of its buffer: any over-read would leave it
          const buf = new Uint8Array(slack + esp.length)
          buf.set(esp, slack)
          const r = sa.open(buf, slack, esp.length)
          return (r >= 0 && (r & 0xffff) <= esp.length) || allowed.has(r)
        },
      ), { numRuns: 2000 })
      // lengths and offsets that do not fit the buffer
      for (const [off, len] of [[-1, 10], [0, -1], [5, 1000], [2 ** 31 - 1, 1]]) {
        const r = sa.open(new Uint8Array(100), off!, len!)
        t.ok(r === EspResult.MALFORMED || r === EspResult.AUTH, `${engine}: open(${off}, ${len}) → ${r}`)
      }
      for (const [off, len] of [[-1, 10], [90, 20], [0, -5], [0, 2 ** 30]]) {
        t.equal(sa.seal(new Uint8Array(100), off!, len!, 4, 1), EspResult.ROOM, `${engine}: seal(${off}, ${len}) → ROOM`)
      }
      sa.destroy()
    }
  }
  t.pass('no exception, no out-of-range result')
})
