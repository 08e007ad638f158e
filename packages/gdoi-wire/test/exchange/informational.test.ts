// Informational exchange (spec §1.4) and protect.ts (spec §3.4, §3.5): round trips under a phase-1 SA
// established in-process, plus protect.ts against trace A's GROUPKEY-PULL message 1.
import t from 'tap'
import { DecodeError } from '../../src/errors.js'
import { ExchangeType, Flags, NotifyType, PayloadType } from '../../src/constants.js'
import { exchangeIv } from '../../src/crypto/iv-chain.js'
import { pullHash } from '../../src/crypto/hash-payloads.js'
import { cbcDecrypt } from '../../src/crypto/cbc.js'
import { decodeChain, decodeHeader } from '../../src/index.js'
import {
  buildInformational,
  buildPlainInformational,
  buildPlainNotify,
  bytesAfterFirstPayload,
  deletePayload,
  deletePhase1Payload,
  gdoiKeylogLines,
  isErrorNotify,
  notifyPayload,
  openInformational,
  openMessage,
  openPlainInformational,
  randomMessageId,
  sealMessage,
  type Phase1Sa,
} from '../../src/exchange/index.js'
import { traceA } from '../crypto/fixtures.js'
import { handshake, GM_ADDRESS } from './mm-driver.js'
import { ascii, hex, idIpv4, seededRng, unhex } from './mm-helpers.js'

const PSK = ascii('MYISAKMPKEY')

function established(encryption: 'aes256' | '3des' = 'aes256'): { gm: Phase1Sa; ks: Phase1Sa } {
  const suite = { encryption, hash: 'sha1', auth: 'psk', group: 2, lifetimeSec: 3600 } as const
  const p = handshake(
    { proposals: [suite], psk: PSK, localId: idIpv4(GM_ADDRESS) },
    { proposals: [suite], pskFor: () => PSK, localId: idIpv4('10.0.0.1') },
    `info-${encryption}`,
  )
  if (p.i.s !== 'done' || p.r.s !== 'done') throw new Error('handshake failed')
  return { gm: p.i.sa, ks: p.r.sa }
}

for (const enc of ['aes256', '3des'] as const) {
  t.test(`post-phase-1 Informational round trip with a Delete and a Notify (${enc})`, (t) => {
    const { gm, ks } = established(enc)
    const rng = seededRng('mid')
    // INFORMATIONAL HDR*, HASH(1), D(ISAKMP, CKY-I‖CKY-R) -->   (GM leaves)
    const mid = randomMessageId(rng)
    t.not(mid, 0)
    const del = buildInformational(gm, mid, [deletePhase1Payload(gm)])
    const h = decodeHeader(del)
    t.equal(h.exchange, ExchangeType.INFORMATIONAL)
    t.equal(h.flags, Flags.ENCRYPTION)
    t.equal(h.messageId, mid)
    t.equal(h.nextPayload, PayloadType.HASH)
    t.equal((del.length - 28) % gm.cipher.blockBytes, 0, 'padded to the block')
    // IV = H(last phase-1 block ‖ M-ID)
    const plain = cbcDecrypt(gm.cipher.name, gm.encKey, exchangeIv(gm.hash, gm.lastBlock, mid, gm.cipher.blockBytes), del.subarray(28))
    t.equal(plain[0], PayloadType.DELETE, 'HASH(1) is followed by D')
    const opened = openInformational(ks, del)
    t.ok(opened.ok, opened.ok ? '' : opened.detail)
    if (opened.ok) {
      t.equal(opened.messageId, mid)
      const d = opened.payloads[0]
      t.ok(d !== undefined && 'spis' in d && d.protocolId === 1 && d.spiSize === 16 && hex(d.spis[0] ?? new Uint8Array()) === hex(gm.icookie) + hex(gm.rcookie))
    }
    // INFORMATIONAL HDR*, HASH(1), N(INVALID-ID-INFORMATION) <--   (KS refuses a group)
    const mid2 = randomMessageId(rng)
    const n = buildInformational(ks, mid2, [notifyPayload(NotifyType.INVALID_ID_INFORMATION, { doi: 2, data: unhex('000004d2') })])
    const got = openInformational(gm, n)
    t.ok(got.ok)
    if (got.ok) {
      const p = got.payloads[0]
      t.ok(p !== undefined && 'notifyType' in p && p.notifyType === 18 && p.doi === 2 && hex(p.data) === '000004d2')
      t.ok(p !== undefined && 'notifyType' in p && isErrorNotify(p.notifyType))
    }
    // several payloads in one Informational
    const multi = buildInformational(gm, 0x01020304, [
      notifyPayload(NotifyType.INITIAL_CONTACT),
      deletePayload(2, 1, 4, [unhex('1122aabb'), unhex('3344ccdd')]),
    ])
    const m = openInformational(ks, multi)
    t.same(m.ok ? m.payloads.map((x) => x.type) : [], [PayloadType.NOTIFICATION, PayloadType.DELETE])
    t.end()
  })
}

t.test('a tampered, foreign or wrong-kind Informational is refused without throwing', (t) => {
  const { gm, ks } = established()
  const other = established('3des')
  const msg = buildInformational(gm, 77, [deletePhase1Payload(gm)])
  const flipped = msg.slice()
  flipped[msg.length - 1] = (flipped[msg.length - 1] ?? 0) ^ 0x80
  const r1 = openInformational(ks, flipped)
  t.equal(r1.ok, false)
  t.equal(openInformational(other.ks, msg).ok, false, 'another SA: cookies differ')
  t.equal(openInformational(ks, new Uint8Array(10)).ok, false, 'not ISAKMP')
  // HASH(1) computed over something else
  const sealed = sealMessage(gm, ExchangeType.INFORMATIONAL, 78, exchangeIv(gm.hash, gm.lastBlock, 78, gm.cipher.blockBytes), [
    { type: PayloadType.HASH, data: new Uint8Array(20) },
    deletePhase1Payload(gm),
  ])
  const r2 = openInformational(ks, sealed.bytes)
  t.equal(!r2.ok && r2.reason, 'bad-hash')
  // an encrypted PULL (exchange 32) is not an Informational
  const pull = sealMessage(gm, ExchangeType.GROUPKEY_PULL, 79, exchangeIv(gm.hash, gm.lastBlock, 79, gm.cipher.blockBytes), [
    { type: PayloadType.HASH, data: new Uint8Array(20) },
  ])
  t.equal(openInformational(ks, pull.bytes).ok, false)
  t.throws(() => buildInformational(gm, 1, []), RangeError)
  t.end()
})

t.test('pre-phase-1 plaintext notifies', (t) => {
  const icky = unhex('0102030405060708')
  const rcky = unhex('1112131415161718')
  const bytes = buildPlainNotify(icky, rcky, NotifyType.NO_PROPOSAL_CHOSEN)
  const h = decodeHeader(bytes)
  t.same([h.exchange, h.flags, h.messageId, h.nextPayload], [ExchangeType.INFORMATIONAL, 0, 0, PayloadType.NOTIFICATION])
  const o = openPlainInformational(bytes)
  t.ok(o.ok)
  if (o.ok) {
    const n = o.payloads[0]
    t.ok(n !== undefined && 'notifyType' in n && n.notifyType === 14 && n.protocolId === 1 && hex(n.spi) === hex(icky) + hex(rcky))
  }
  t.equal(openPlainInformational(new Uint8Array(3)).ok, false)
  const withSa = buildPlainInformational(icky, rcky, [notifyPayload(16)])
  t.ok(openPlainInformational(withSa).ok)
  t.throws(() => buildPlainInformational(icky, rcky, []), RangeError)
  t.equal(isErrorNotify(NotifyType.INITIAL_CONTACT), false)
  t.end()
})

// ---- protect.ts against trace A PULL1 (3DES, M-ID 483c11c0, IV = SHA1(last phase-1 block ‖ M-ID)) --------

const saA: Phase1Sa = {
  role: 'initiator',
  icookie: unhex(traceA.ckyI),
  rcookie: unhex(traceA.ckyR),
  hash: 'sha1',
  cipher: { name: 'des-ede3-cbc', keyBytes: 24, blockBytes: 8 },
  skeyid: unhex(traceA.skeyid),
  skeyidD: unhex(traceA.skeyidD),
  skeyidA: unhex(traceA.skeyidA),
  skeyidE: unhex(traceA.skeyidE),
  encKey: unhex(traceA.ka),
  lastBlock: unhex(traceA.lastPhase1Block),
  localId: idIpv4('127.0.0.1'),
  peerId: idIpv4('127.0.0.2'),
  lifetimeSec: 3600,
  establishedAtMs: 0,
}

t.test('sealMessage / openMessage reproduce trace A PULL1 byte for byte', (t) => {
  const pull1 = traceA.frames.find((f) => f.name === 'PULL1')
  if (pull1?.plain === undefined) return t.fail('fixture')
  const mid = parseInt(traceA.pullMid, 16)
  const iv = exchangeIv('sha1', saA.lastBlock, mid, 8)
  t.equal(hex(iv), traceA.pullIv)
  const plain = unhex(pull1.plain)
  const chain = decodeChain(plain, 0, plain.length, PayloadType.HASH, 'gdoi')
  const sealed = sealMessage(saA, ExchangeType.GROUPKEY_PULL, mid, iv, chain.payloads)
  t.equal(hex(sealed.bytes), pull1.wire, 'PULL1 datagram')
  t.equal(hex(sealed.plaintext), hex(plain.subarray(0, chain.end)), 'plaintext = the chain without padding')
  t.equal(hex(sealed.lastBlock), pull1.wire.slice(-16))

  const opened = openMessage(saA, unhex(pull1.wire), iv)
  t.equal(opened.header.messageId, mid)
  t.equal(hex(opened.plaintext), pull1.plain, 'decrypted body, padding included')
  t.same(opened.chain.payloads.map((p) => p.type), [PayloadType.HASH, PayloadType.NONCE, PayloadType.ID])
  t.equal(hex(opened.lastBlock), pull1.wire.slice(-16))
  // HASH(1) = prf(SKEYID_a, M-ID ‖ Ni ‖ ID): the bytes after the first payload
  const rest = bytesAfterFirstPayload(opened.plaintext, opened.chain)
  t.equal(hex(pullHash('sha1', saA.skeyidA, mid, undefined, undefined, rest)), traceA.hash1)
  t.end()
})

t.test('openMessage throws DecodeError on unencrypted, foreign or misaligned input', (t) => {
  const pull1 = unhex(traceA.frames.find((f) => f.name === 'PULL1')?.wire ?? '')
  const iv = unhex(traceA.pullIv)
  const clear = unhex(traceA.frames[0]?.wire ?? '')
  t.throws(() => openMessage(saA, clear, iv), DecodeError, 'E flag not set')
  t.throws(() => openMessage({ ...saA, icookie: new Uint8Array(8) }, pull1, iv), DecodeError, 'cookies of another SA')
  const short = pull1.slice(0, pull1.length - 3)
  new DataView(short.buffer).setUint32(24, short.length)
  t.throws(() => openMessage(saA, short, iv), DecodeError, 'ciphertext not a multiple of the block')
  t.throws(() => sealMessage(saA, 32, 1, iv, []), RangeError)
  t.same(gdoiKeylogLines(saA)[0]?.split(' ').slice(0, 5), ['IKEV1', traceA.ckyI, traceA.ckyR, 'ENC=des-ede3-cbc', `KEY=${traceA.ka}`])
  t.end()
})
