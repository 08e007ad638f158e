// Main Mode replayed against real datagrams from independent implementations:
//  * gdoid traces A and B (spec §7.3; Cisco's GDOI reference implementation, DOI 2, 3DES/SHA-1/MODP-1024, PSK)
//  * strongSwan 5.9.8 (the lab policy: DOI 1, AES-256/SHA-1/MODP-1536, PSK "MYISAKMPKEY")
// The traces print g^xi, g^xr and g^xy but not the DH private exponents, so the DH engine is a double
// (fakeDh) that returns the trace's public value and shared secret; everything else (cookies, nonces)
// comes from the injected rng in the order the state machines document. Every message our side builds
// is compared byte for byte with the trace, MM5/MM6 (encrypted, hash-authenticated) included, except the
// strongSwan MM3/MM4 which carry NAT-D payloads we do not send (KE and Nonce are compared instead).
import t from 'tap'
import { decodeMessage } from '../../src/message.js'
import {
  buildInformational,
  createInitiator,
  createResponder,
  deletePhase1Payload,
  keylogLines,
  notifyPayload,
  openInformational,
  stepInitiator,
  stepResponder,
  type InitiatorConfig,
  type MainModeInitiator,
  type MainModeResponder,
  type Phase1Proposal,
  type ResponderConfig,
} from '../../src/exchange/index.js'
import { traceA, traceB, strongswan, type Phase1Trace } from '../crypto/fixtures.js'
import { strongswanDatagrams } from '../fixtures/ikev1-vectors.js'
import { ctx, fakeDh, hex, idIpv4, onlySend, queueRng, unhex } from './mm-helpers.js'

const DUMMY_PRIV = new Uint8Array(4).fill(7)

function wire(trace: Phase1Trace, name: string): Uint8Array {
  const f = trace.frames.find((x) => x.name === name)
  if (f === undefined) throw new Error(`no frame ${name}`)
  return unhex(f.wire)
}

function gdoidSuite(lifetimeSec: number): Phase1Proposal {
  return { encryption: '3des', hash: 'sha1', auth: 'psk', group: 2, lifetimeSec }
}

interface GdoidCase {
  readonly name: string
  readonly trace: Phase1Trace
  readonly lifetimeSec: number
  readonly gm: string
  readonly ks: string
}

const gdoidCases: readonly GdoidCase[] = [
  { name: 'trace A (gdoid loopback)', trace: traceA, lifetimeSec: 3600, gm: '127.0.0.1', ks: '127.0.0.2' },
  { name: 'trace B (gdoid three-clients, client 1)', trace: traceB, lifetimeSec: 60, gm: '10.0.224.37', ks: '10.0.224.44' },
]

for (const c of gdoidCases) {
  const tr = c.trace
  t.test(`${c.name}: our initiator reproduces MM1, MM3, MM5 byte for byte and accepts MM2/MM4/MM6`, (t) => {
    const cfg: InitiatorConfig = {
      proposals: [gdoidSuite(c.lifetimeSec)],
      psk: unhex(tr.psk),
      localId: idIpv4(c.gm),
      doi: 2,
      initialContact: true, // gdoid sends N(INITIAL-CONTACT) after the HASH
      nonceBytes: 16,
      firstTransformNumber: 0, // gdoid numbers transforms from 0
      dh: fakeDh(unhex(tr.gxi), unhex(tr.gxy)),
    }
    const rng = queueRng([unhex(tr.ckyI), DUMMY_PRIV, unhex(tr.niB)])
    const x = ctx(rng, () => 42)
    let st: MainModeInitiator = createInitiator(cfg)
    let actions
    // MM1 HDR, SA -->
    ;[st, actions] = stepInitiator(st, { type: 'start' }, x)
    t.equal(hex(onlySend(actions)), hex(wire(tr, 'MM1')), 'MM1')
    t.same(actions.filter((a) => a.type === 'arm').map((a) => a.type === 'arm' && a.timer), ['retransmit', 'expire'])
    // MM2 HDR, SA <--   MM3 HDR, KE, Ni -->
    ;[st, actions] = stepInitiator(st, { type: 'datagram', bytes: wire(tr, 'MM2') }, x)
    t.equal(st.s, 'awaitMm4')
    t.equal(hex(onlySend(actions)), hex(wire(tr, 'MM3')), 'MM3')
    // MM4 HDR, KE, Nr <--   MM5 HDR*, IDii, HASH_I, N(INITIAL-CONTACT) -->
    ;[st, actions] = stepInitiator(st, { type: 'datagram', bytes: wire(tr, 'MM4') }, x)
    t.equal(st.s, 'awaitMm6')
    t.equal(hex(onlySend(actions)), hex(wire(tr, 'MM5')), 'MM5 (encrypted, HASH_I) byte for byte')
    // MM6 HDR*, IDir, HASH_R, N <--
    ;[st, actions] = stepInitiator(st, { type: 'datagram', bytes: wire(tr, 'MM6') }, x)
    t.equal(st.s, 'done')
    t.same(actions, [{ type: 'cancel', timer: 'retransmit' }, { type: 'cancel', timer: 'expire' }])
    if (st.s !== 'done') return t.end()
    const sa = st.sa
    t.equal(sa.role, 'initiator')
    t.equal(hex(sa.icookie), tr.ckyI)
    t.equal(hex(sa.rcookie), tr.ckyR)
    t.equal(hex(sa.skeyid), tr.skeyid, 'SKEYID kept in the SA (keylog: HASH_I/HASH_R checks)')
    t.equal(hex(sa.skeyidD), tr.skeyidD)
    t.equal(hex(sa.skeyidA), tr.skeyidA)
    t.equal(hex(sa.skeyidE), tr.skeyidE)
    t.equal(hex(sa.encKey), tr.ka)
    t.equal(hex(sa.lastBlock), tr.lastPhase1Block)
    t.same(sa.cipher, { name: 'des-ede3-cbc', keyBytes: 24, blockBytes: 8 })
    t.equal(sa.hash, 'sha1')
    t.equal(sa.lifetimeSec, c.lifetimeSec)
    t.equal(sa.establishedAtMs, 42)
    t.same([...sa.peerId.data], c.ks.split('.').map(Number))
    t.equal(st.peerInitialContact, true)
    t.equal(rng.left(), 0, 'every rng value consumed, in the documented order')
    t.end()
  })

  t.test(`${c.name}: our responder reproduces MM2, MM4, MM6 byte for byte`, (t) => {
    const cfg: ResponderConfig = {
      proposals: [gdoidSuite(86400)],
      pskFor: (addr) => (addr === c.gm ? unhex(tr.psk) : undefined),
      localId: idIpv4(c.ks),
      initialContact: true,
      nonceBytes: 16,
      dh: fakeDh(unhex(tr.gxr), unhex(tr.gxy)),
    }
    const rng = queueRng([unhex(tr.ckyR), DUMMY_PRIV, unhex(tr.nrB)])
    const x = ctx(rng)
    let st: MainModeResponder = createResponder(cfg, c.gm)
    let actions
    // MM1 HDR, SA -->   MM2 HDR, SA <--
    ;[st, actions] = stepResponder(st, { type: 'datagram', bytes: wire(tr, 'MM1') }, x)
    t.equal(st.s, 'awaitMm3')
    t.equal(hex(onlySend(actions)), hex(wire(tr, 'MM2')), 'MM2 echoes the chosen transform (number 0, lifetime as offered)')
    // MM3 HDR, KE, Ni -->   MM4 HDR, KE, Nr <--
    ;[st, actions] = stepResponder(st, { type: 'datagram', bytes: wire(tr, 'MM3') }, x)
    t.equal(st.s, 'awaitMm5')
    t.equal(hex(onlySend(actions)), hex(wire(tr, 'MM4')), 'MM4')
    // MM5 HDR*, IDii, HASH_I, N -->   MM6 HDR*, IDir, HASH_R, N <--
    ;[st, actions] = stepResponder(st, { type: 'datagram', bytes: wire(tr, 'MM5') }, x)
    t.equal(st.s, 'done')
    t.equal(hex(onlySend(actions)), hex(wire(tr, 'MM6')), 'MM6 (encrypted, HASH_R) byte for byte')
    if (st.s !== 'done') return t.end()
    t.equal(hex(st.sa.encKey), tr.ka)
    t.equal(hex(st.sa.skeyid), tr.skeyid, 'responder SA carries SKEYID too')
    t.equal(hex(st.sa.skeyidA), tr.skeyidA)
    t.equal(hex(st.sa.lastBlock), tr.lastPhase1Block)
    t.equal(st.sa.lifetimeSec, c.lifetimeSec, 'the shorter of offered and configured lifetimes')
    t.same([...st.sa.peerId.data], c.gm.split('.').map(Number))
    t.equal(st.peerInitialContact, true)
    t.equal(rng.left(), 0)
    t.end()
  })
}

t.test('keylogLines gives the Wireshark ikev1_decryption_table line of the trace', (t) => {
  // /work/shared/captures/gdoid.ikev1_decryption_table, first line
  t.same(keylogLines({ icookie: unhex(traceA.ckyI), encKey: unhex(traceA.ka) }), [
    'a91b9d5035d8fc4f,80cdab03c1105d2b48ab436dde73f5b1bbbe55449c1efe69',
  ])
  t.end()
})

// ---- strongSwan ---------------------------------------------------------------------------------------

/** strongSwan capture frames 1-10: MM1..MM6, Quick Mode 1/2, Informational N, Informational D. */
const SS_FRAMES = { MM1: 1, MM2: 2, MM3: 3, MM4: 4, MM5: 5, MM6: 6, INFO_N: 9, INFO_D: 10 } as const
const ss = (name: keyof typeof SS_FRAMES): Uint8Array => {
  const d = strongswanDatagrams.find((x) => x.frame === SS_FRAMES[name])
  if (d === undefined) throw new Error(`no strongSwan datagram ${name}`)
  return unhex(d.hex)
}
/** Vendor IDs of strongSwan's MM1 (the responder sends the first four of them in MM2). */
const ssVids = (name: 'MM1' | 'MM2'): Uint8Array[] => {
  const m = decodeMessage(ss(name))
  return (m.chain?.payloads ?? []).flatMap((p) => (p.type === 13 && 'data' in p ? [p.data.slice()] : []))
}
const labSuite: Phase1Proposal = { encryption: 'aes256', hash: 'sha1', auth: 'psk', group: 5, lifetimeSec: 15840 }

t.test('strongSwan: our initiator reproduces MM1 and MM5, and its Informationals, byte for byte', (t) => {
  const cfg: InitiatorConfig = {
    proposals: [labSuite],
    psk: unhex(strongswan.psk),
    localId: idIpv4('10.231.0.1'),
    doi: 1,
    nonceBytes: 32,
    // strongSwan's attribute order: enc, key length, hash, group, auth, life type, life
    attributeOrder: [1, 14, 2, 4, 3, 11, 12],
    vendorIds: ssVids('MM1'),
    dh: fakeDh(unhex(strongswan.gxi), unhex(strongswan.gxy)),
  }
  const rng = queueRng([unhex(strongswan.ckyI), DUMMY_PRIV, unhex(strongswan.niB)])
  const x = ctx(rng)
  let st: MainModeInitiator = createInitiator(cfg)
  let actions
  // MM1 HDR, SA, VID×5 -->
  ;[st, actions] = stepInitiator(st, { type: 'start' }, x)
  t.equal(hex(onlySend(actions)), hex(ss('MM1')), 'MM1 (SA DOI 1 + five VIDs)')
  // MM2 HDR, SA, VID×4 <--   MM3 HDR, KE, Ni -->
  ;[st, actions] = stepInitiator(st, { type: 'datagram', bytes: ss('MM2') }, x)
  const mm3 = decodeMessage(onlySend(actions))
  const theirs = decodeMessage(ss('MM3'))
  const keNonce = (m: typeof mm3) => (m.chain?.payloads ?? []).flatMap((p) => (p.type === 4 || p.type === 10) && 'data' in p ? [hex(p.data)] : [])
  t.same(keNonce(mm3), keNonce(theirs), 'MM3 KE and Nonce equal strongSwan’s (it adds NAT-D payloads)')
  if (st.s === 'done' || st.s === 'failed' || st.s === 'idle') return t.fail(st.s)
  t.equal(st.s, 'awaitMm4')
  if (st.s === 'awaitMm4') t.same(st.peerVendorIds.map(hex), ssVids('MM2').map(hex))
  // MM4 HDR, KE, Nr, NAT-D×2 <--   MM5 HDR*, IDii, HASH_I -->
  ;[st, actions] = stepInitiator(st, { type: 'datagram', bytes: ss('MM4') }, x)
  t.equal(hex(onlySend(actions)), strongswan.mm5, 'MM5 byte for byte (AES-256, 12 zero pad octets)')
  // MM6 HDR*, IDir, HASH_R <--
  ;[st, actions] = stepInitiator(st, { type: 'datagram', bytes: ss('MM6') }, x)
  if (st.s !== 'done') return t.fail(`expected done, got ${st.s}`)
  t.equal(hex(st.sa.encKey), strongswan.ka)
  t.equal(hex(st.sa.skeyidD), strongswan.skeyidD)
  t.equal(hex(st.sa.skeyidA), strongswan.skeyidA)
  t.equal(hex(st.sa.lastBlock), strongswan.lastPhase1Block)
  t.equal(st.peerInitialContact, false)
  // /work/shared/captures/strongswan-mm-aes256-sha1-modp1536.ikev1_decryption_table
  t.same(keylogLines(st.sa), ['f372158c720e7822,e3958776c7f62d6e1e457b525f1ff8d7cdf3016b03a1eabd8a621e1ac0cbfd15'])

  // INFORMATIONAL HDR*, HASH(1), N(NO-PROPOSAL-CHOSEN, ESP SPI cdc5f077) -->
  const info1 = buildInformational(st.sa, parseInt(strongswan.info1Mid, 16), [
    notifyPayload(14, { doi: 1, protocolId: 3, spi: unhex('cdc5f077') }),
  ])
  t.equal(hex(info1), strongswan.info1, 'Informational N byte for byte')
  // INFORMATIONAL HDR*, HASH(1), D(ISAKMP, CKY-I‖CKY-R) -->
  const info2 = buildInformational(st.sa, parseInt(strongswan.info2Mid, 16), [deletePhase1Payload(st.sa)])
  t.equal(hex(info2), strongswan.info2, 'Informational D byte for byte')
  t.end()
})

t.test('strongSwan: our responder reproduces MM2 and MM6 byte for byte and opens its Informationals', (t) => {
  const cfg: ResponderConfig = {
    proposals: [{ ...labSuite, lifetimeSec: 86400 }],
    pskFor: () => unhex(strongswan.psk), // the lab: one key for any address
    localId: idIpv4('10.231.0.2'),
    doi: 1,
    nonceBytes: 32,
    vendorIds: ssVids('MM2'),
    dh: fakeDh(unhex(strongswan.gxr), unhex(strongswan.gxy)),
  }
  const rng = queueRng([unhex(strongswan.ckyR), DUMMY_PRIV, unhex(strongswan.nrB)])
  const x = ctx(rng)
  let st: MainModeResponder = createResponder(cfg, '10.231.0.1')
  let actions
  // MM1 HDR, SA, VID×5 -->   MM2 HDR, SA, VID×4 <--
  ;[st, actions] = stepResponder(st, { type: 'datagram', bytes: ss('MM1') }, x)
  t.equal(hex(onlySend(actions)), hex(ss('MM2')), 'MM2 byte for byte')
  // MM3 HDR, KE, Ni, NAT-D×2 -->   MM4 HDR, KE, Nr <--
  ;[st, actions] = stepResponder(st, { type: 'datagram', bytes: ss('MM3') }, x)
  const mm4 = decodeMessage(onlySend(actions))
  t.same(
    (mm4.chain?.payloads ?? []).map((p) => ('data' in p ? hex(p.data) : p.type)),
    [strongswan.gxr, strongswan.nrB],
  )
  // MM5 HDR*, IDii, HASH_I -->   MM6 HDR*, IDir, HASH_R <--
  ;[st, actions] = stepResponder(st, { type: 'datagram', bytes: ss('MM5') }, x)
  t.equal(hex(onlySend(actions)), strongswan.mm6, 'MM6 byte for byte')
  if (st.s !== 'done') return t.fail(st.s)
  t.equal(st.sa.lifetimeSec, 15840)
  t.equal(hex(st.sa.lastBlock), strongswan.lastPhase1Block)

  // INFORMATIONAL HDR*, HASH(1), N -->   and   HDR*, HASH(1), D -->
  const n = openInformational(st.sa, ss('INFO_N'))
  t.ok(n.ok, 'N verifies')
  if (n.ok) {
    t.equal(n.messageId, 0x8b665de5)
    const p = n.payloads[0]
    t.ok(p !== undefined && 'notifyType' in p && p.notifyType === 14 && hex(p.spi) === 'cdc5f077')
  }
  const d = openInformational(st.sa, ss('INFO_D'))
  t.ok(d.ok, 'D verifies')
  if (d.ok) {
    const p = d.payloads[0]
    t.ok(p !== undefined && 'spis' in p && p.protocolId === 1 && hex(p.spis[0] ?? new Uint8Array()) === strongswan.ckyI + strongswan.ckyR)
  }
  // the same datagram with one ciphertext bit flipped no longer authenticates
  const bad = ss('INFO_D')
  bad[bad.length - 20] = (bad[bad.length - 20] ?? 0) ^ 1
  const r = openInformational(st.sa, bad)
  t.equal(r.ok, false)
  t.end()
})
