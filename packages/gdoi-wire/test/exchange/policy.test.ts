// Group policy ↔ GDOI SA payload and group keys ↔ KD payload (spec §2.12–§2.16, §4.1, §6.1, §9.1 #10).
import t from 'tap'
import { PayloadType } from '../../src/constants.js'
import { tv } from '../../src/attributes.js'
import { decodeChain, encodeChain } from '../../src/message.js'
import type { GdoiSaPayload, KeyDownloadPayload, Payload } from '../../src/payloads/types.js'
import {
  checkKeysForPolicy,
  groupIdToIdPayload,
  idPayloadToGroupId,
  isCounterModeTek,
  keyDownloadToKeys,
  keysToKeyDownload,
  policyToSaPayload,
  saPayloadToPolicy,
  teksFromAcl,
  type GroupKeys,
  type GroupPolicy,
  type TekPolicy,
} from '../../src/exchange/index.js'
import { traceA, traceB } from '../crypto/fixtures.js'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))
const frame = (trace: typeof traceA, name: string): string => {
  const f = trace.frames.find((x) => x.name === name)
  if (f?.plain === undefined) throw new Error(`no ${name}`)
  return f.plain
}
const chainOf = (plain: string): Payload[] => {
  const b = hex(plain)
  return decodeChain(b, 0, b.length, PayloadType.HASH, 'gdoi').payloads
}
const saOf = (ps: Payload[]): GdoiSaPayload => ps.find((p): p is GdoiSaPayload => p.type === PayloadType.SA && 'kind' in p && p.kind === 'gdoi') as GdoiSaPayload
const kdOf = (ps: Payload[]): KeyDownloadPayload => ps.find((p) => p.type === PayloadType.KEY_DOWNLOAD) as KeyDownloadPayload

/** Encode → decode through a real chain, as on the wire. */
function viaWire(sa: GdoiSaPayload): GdoiSaPayload {
  const b = encodeChain([sa])
  return decodeChain(b, 0, b.length, PayloadType.SA, 'gdoi').payloads[0] as GdoiSaPayload
}

t.test('trace A PULL2 (two SATs, no SAK) parses into a policy with two TEKs', (t) => {
  const r = saPayloadToPolicy(saOf(chainOf(frame(traceA, 'PULL2'))), { groupId: { kind: 'number', value: 1234 } })
  if (!r.ok) throw new Error(r.reason)
  const p = r.value
  t.equal(p.kek, undefined)
  t.same(p.groupId, { kind: 'number', value: 1234 })
  t.equal(p.teks.length, 2)
  t.same(
    p.teks.map((x) => x.spi),
    [0x1122aabb, 0x3344ccdd],
  )
  const [a] = p.teks
  t.same(a?.transform, { cipher: '3des', integrity: 'sha1' })
  t.equal(a?.encapsulation, 'tunnel')
  t.equal(a?.lifetimeSec, 3600)
  t.equal(a?.addressPreservation, 4, 'absent ⇒ source-and-destination')
  t.equal(a?.saDirection, 3, 'absent ⇒ symmetric')
  // gdoid writes port 1024 in host byte order (00 04): kept as found on the wire
  t.same(a?.selector, { protocol: 0, src: { address: { kind: 'prefix', address: '172.19.137.42', prefixLength: 32 }, port: 4 }, dst: { address: { kind: 'prefix', address: '239.192.1.1', prefixLength: 32 }, port: 4 } })
  t.same(p.teks[1]?.selector.dst.address, { kind: 'prefix', address: '239.192.1.2', prefixLength: 32 })
  t.end()
})

t.test('trace B PULL2 (SAK + two SATs, transport mode) and PULL4 KD', (t) => {
  const r = saPayloadToPolicy(saOf(chainOf(frame(traceB, 'PULL2'))))
  if (!r.ok) throw new Error(r.reason)
  const p = r.value
  t.same(p.kek && { ...p.kek, spi: Buffer.from(p.kek.spi).toString() }, {
    spi: 'abcdefgh01234567',
    algorithm: '3des',
    keyBits: 192,
    sigHash: 'sha1',
    sigAlgorithm: 'rsa',
    transport: { protocol: 17, src: { address: '10.0.224.44', port: 848 }, dst: { address: '239.10.1.1', port: 848 } },
  })
  t.equal(p.kek?.lifetimeSec, undefined, 'gdoid sends no KEK_KEY_LIFETIME')
  t.same(
    p.teks.map((x) => [x.spi, x.encapsulation, x.lifetimeSec]),
    [
      [0x1122aabb, 'transport', 60],
      [0x3344ccdd, 'transport', 60],
    ],
  )
  const k = keyDownloadToKeys(kdOf(chainOf(frame(traceB, 'PULL4'))))
  if (!k.ok) throw new Error(k.reason)
  t.equal(Buffer.from(k.value.kek?.algorithmKey ?? []).toString(), 'IVIVIVIVABCDEFGHIJKLMNOPQRSTUVWX')
  t.equal(k.value.kek?.signingPublicKey?.length, 162)
  t.same(
    k.value.teks.map((x) => [x.spi, x.encKey.length, x.authKey?.length]),
    [
      [0x1122aabb, 24, 20],
      [0x3344ccdd, 24, 20],
    ],
  )
  t.equal(checkKeysForPolicy(p, k.value, { requireSigningKey: true }), undefined)
  t.equal(JSON.stringify(k.value), '"[key]"', 'keys never print')
  t.end()
})

const kekSpi = hex('00112233445566778899aabbccddeeff')
const gcmTek: TekPolicy = {
  spi: 0xdeadbeef,
  selector: {
    protocol: 17,
    src: { address: { kind: 'prefix', address: '10.1.0.0', prefixLength: 16 }, port: 0 },
    dst: { address: { kind: 'range', first: '10.2.0.1', last: '10.2.0.99' }, port: 5060 },
  },
  transform: { cipher: 'aes-gcm-16', keyBits: 256 },
  lifetimeSec: 100000,
  encapsulation: 'tunnel',
  addressPreservation: 4,
  saDirection: 3,
}
const fullPolicy: GroupPolicy = {
  kek: {
    spi: kekSpi,
    algorithm: 'aes',
    keyBits: 256,
    lifetimeSec: 86400,
    sigHash: 'sha256',
    sigAlgorithm: 'rsa',
    sigKeyBits: 2048,
    transport: { protocol: 17, src: { address: '192.0.2.1', port: 848 }, dst: { address: '239.1.2.3', port: 848 } },
    ackRequested: 1,
  },
  gap: { activationDelaySec: 15, deactivationDelaySec: 45 },
  teks: [
    gcmTek,
    {
      spi: 0x01020304,
      selector: {
        protocol: 0,
        src: { address: { kind: 'prefix', address: '2001:db8::', prefixLength: 32 }, port: 0 },
        dst: { address: { kind: 'prefix', address: '2001:db8::1', prefixLength: 128 }, port: 0 },
      },
      transform: { cipher: 'aes-cbc', keyBits: 128, integrity: 'sha256' },
      lifetimeSec: 3600,
      encapsulation: 'tunnel',
      addressPreservation: 2,
      saDirection: 1,
    },
  ],
}

t.test('policy → SA payload → wire → policy is lossless', (t) => {
  for (const idLengthWidth of [1, 2] as const) {
    const back = saPayloadToPolicy(viaWire(policyToSaPayload(fullPolicy, { idLengthWidth })))
    if (!back.ok) throw new Error(back.reason)
    t.same(back.value, fullPolicy, `ID length width ${idLengthWidth}`)
  }
  const sa = policyToSaPayload(fullPolicy)
  t.same(
    sa.attributePayloads.map((p) => p.type),
    [PayloadType.SA_KEK, PayloadType.GAP, PayloadType.SA_TEK, PayloadType.SA_TEK],
    'SAK, GAP, SAT order (RFC 6407 §5.2.1)',
  )
  const omitted = policyToSaPayload({ teks: [gcmTek] }, { omitDefaults: true })
  const sat = omitted.attributePayloads[0]
  t.ok(sat !== undefined && 'ipsec' in sat && sat.ipsec !== undefined && sat.ipsec.attributes.every((a) => a.type !== 14 && a.type !== 15), 'defaults omitted on request')
  t.throws(() => policyToSaPayload({ teks: [] }), RangeError)
  t.end()
})

t.test('ACL → one SAT per permit entry, all sharing the SPI; one key packet per SPI', (t) => {
  const base = { spi: 0x0a0b0c0d, transform: { cipher: 'aes-cbc', keyBits: 128, integrity: 'sha1' }, lifetimeSec: 3600, encapsulation: 'tunnel' } as const
  const sel = (a: string, b: string) => ({ protocol: 0, src: { address: { kind: 'prefix' as const, address: a, prefixLength: 24 }, port: 0 }, dst: { address: { kind: 'prefix' as const, address: b, prefixLength: 24 }, port: 0 } })
  const teks = teksFromAcl(base, [
    { action: 'permit', selector: sel('10.0.1.0', '10.0.2.0') },
    { action: 'deny', selector: sel('10.0.9.0', '10.0.9.0') },
    { action: 'permit', selector: sel('10.0.2.0', '10.0.1.0') },
  ])
  t.equal(teks.length, 2)
  t.ok(teks.every((x) => x.spi === 0x0a0b0c0d))
  const sa = policyToSaPayload({ teks })
  t.equal(sa.attributePayloads.length, 2)
  const kd = keysToKeyDownload({ teks: [{ spi: 0x0a0b0c0d, encKey: new Uint8Array(16), authKey: new Uint8Array(20) }, { spi: 0x0a0b0c0d, encKey: new Uint8Array(16), authKey: new Uint8Array(20) }] })
  t.equal(kd.packets.length, 1)
  const back = saPayloadToPolicy(viaWire(sa))
  t.ok(back.ok && back.value.teks.length === 2 && back.value.teks[1]?.selector.src.address.kind === 'prefix')
  t.end()
})

t.test('keys ↔ KD round trip, SID packet, key checks', (t) => {
  const keys: GroupKeys = {
    kek: { spi: kekSpi, algorithmKey: new Uint8Array(48).fill(7), signingPublicKey: new Uint8Array(294).fill(1) },
    teks: [
      { spi: 0xdeadbeef, encKey: new Uint8Array(36).fill(2) },
      { spi: 0x01020304, encKey: new Uint8Array(16).fill(3), authKey: new Uint8Array(32).fill(4) },
    ],
    sids: { bits: 16, values: [1, 2, 0xffff] },
  }
  const kd = keysToKeyDownload(keys)
  t.same(
    kd.packets.map((p) => p.kdType),
    [2, 1, 1, 4],
    'KEK, TEKs, SID',
  )
  const b = encodeChain([kd])
  const back = keyDownloadToKeys(decodeChain(b, 0, b.length, PayloadType.KEY_DOWNLOAD, 'gdoi').payloads[0] as KeyDownloadPayload)
  if (!back.ok) throw new Error(back.reason)
  t.same({ ...back.value }, keys)
  t.equal(checkKeysForPolicy(fullPolicy, back.value), undefined)
  t.match(checkKeysForPolicy(fullPolicy, { ...keys, kek: { spi: kekSpi, algorithmKey: new Uint8Array(40) } }), /IV ‖ key/)
  t.match(checkKeysForPolicy(fullPolicy, { teks: keys.teks }), /SAK without/)
  t.match(checkKeysForPolicy(fullPolicy, { ...keys, teks: [{ spi: 0xdeadbeef, encKey: new Uint8Array(32) }] }), /need 36/)
  t.match(checkKeysForPolicy(fullPolicy, { ...keys, teks: [{ spi: 0x01020304, encKey: new Uint8Array(16) }] }), /integrity key/)
  t.equal(checkKeysForPolicy({ teks: fullPolicy.teks }, { teks: [] }), undefined, 'a SAT whose TEK follows later is fine')
  t.ok(isCounterModeTek(gcmTek))
  t.notOk(isCounterModeTek(fullPolicy.teks[1] as TekPolicy))
  const twoKeks: KeyDownloadPayload = { type: PayloadType.KEY_DOWNLOAD, packets: [...kd.packets, ...kd.packets.slice(0, 1)] }
  t.match(keyDownloadToKeys(twoKeks), { ok: false, reason: /more than one KEK/ })
  t.end()
})

t.test('decoding is lenient with unknown attribute types, strict on request, and refuses what a GM cannot install', (t) => {
  const sa = policyToSaPayload({ teks: [gcmTek] })
  const sat = sa.attributePayloads[0]
  if (sat === undefined || !('ipsec' in sat) || sat.ipsec === undefined) throw new Error('SAT expected')
  const ipsec = sat.ipsec
  const withAttr = (attrs: typeof ipsec.attributes, transformId = ipsec.transformId): GdoiSaPayload => ({
    ...sa,
    attributePayloads: [{ ...sat, ipsec: { ...ipsec, attributes: attrs, transformId } }],
  })
  const a = ipsec.attributes
  const lenient = saPayloadToPolicy(viaWire(withAttr([...a, tv(200, 1)])))
  t.ok(lenient.ok, 'private attribute 200 skipped (Cisco TBAR style)')
  t.match(saPayloadToPolicy(withAttr([...a, tv(200, 1)]), { strict: true }), { ok: false, reason: /unknown SA TEK attribute 200/ })
  t.match(saPayloadToPolicy(withAttr(a, 99)), { ok: false, reason: /unsupported ESP transform 99/ })
  t.match(saPayloadToPolicy(withAttr(a.filter((x) => x.type !== 6))), { ok: false, reason: /Key Length/ })
  t.match(saPayloadToPolicy(withAttr([...a, tv(5, 2)])), { ok: false, reason: /must not carry/ })
  t.match(saPayloadToPolicy(withAttr(a.filter((x) => x.type !== 6), 3)), { ok: false, reason: /3des without an authentication/ })
  const noLife = saPayloadToPolicy(withAttr(a.filter((x) => x.type !== 1 && x.type !== 2)))
  t.ok(noLife.ok && noLife.value.teks[0]?.lifetimeSec === 28800, 'no SA Life Type ⇒ 28800 s (RFC 2407 §4.5)')
  const badMask: GdoiSaPayload = { ...sa, attributePayloads: [{ ...sat, ipsec: { ...ipsec, src: { idType: 4, port: 0, data: hex('0a000000ff00ff00') } } }] }
  t.match(saPayloadToPolicy(badMask), { ok: false, reason: /non-contiguous/ })
  const sak = policyToSaPayload(fullPolicy).attributePayloads[0]
  if (sak === undefined || !('spi' in sak) || !(sak.spi instanceof Uint8Array) || sak.type !== PayloadType.SA_KEK) throw new Error('SAK expected')
  t.match(saPayloadToPolicy({ ...sa, attributePayloads: [{ ...sak, attributes: sak.attributes.filter((x) => x.type !== 2) }] }), { ok: false, reason: /KEK_ALGORITHM/ })
  t.match(saPayloadToPolicy({ ...sa, attributePayloads: [{ ...sak, attributes: [...sak.attributes.filter((x) => x.type !== 6), tv(6, 4)] }] }), { ok: false, reason: /SIG_ALGORITHM 4/ })
  t.end()
})

t.test('group identities', (t) => {
  t.same(Buffer.from(groupIdToIdPayload({ kind: 'number', value: 1234 }).data).toString('hex'), '000004d2')
  t.same(idPayloadToGroupId(groupIdToIdPayload({ kind: 'ipv4', address: '239.1.1.1' })), { kind: 'ipv4', address: '239.1.1.1' })
  t.same(idPayloadToGroupId({ type: PayloadType.ID, idType: 2, protocol: 0, port: 0, data: new Uint8Array(3) }), undefined)
  t.end()
})
