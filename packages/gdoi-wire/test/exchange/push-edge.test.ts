// GROUPKEY-PUSH contents that our KS does not build through buildPush() but other key servers send
// (spec §2.11, §2.19, §5.2–§5.4): IPsec-numbered deletes, a CERT payload (RFC 3547), a SID packet in a
// push, a SAK re-announced without its key packet, a new signing key on KEK rollover, SA without KD.
import t from 'tap'
import { createPrivateKey, createPublicKey } from 'node:crypto'
import { Doi, PayloadType } from '../../src/constants.js'
import { tv } from '../../src/attributes.js'
import {
  EMPTY_PUSH_MEMBER_STATE,
  keysToKeyDownload,
  policyToSaPayload,
  processPush,
  sealPush,
  type KekPolicy,
  type MemberKek,
  type PushMemberState,
  type PushOutcome,
  type TekPolicy,
} from '../../src/exchange/index.js'
import type { Payload } from '../../src/payloads/types.js'
import { toHex } from './exchange-helpers.js'
import { KS_SIGNING_KEY_PEM, OTHER_KEY_PEM } from './test-keys.js'

const ksKey = createPrivateKey(KS_SIGNING_KEY_PEM)
const otherKey = createPrivateKey(OTHER_KEY_PEM)
const spkiOf = (k: typeof ksKey) => new Uint8Array(createPublicKey(k).export({ type: 'spki', format: 'der' }))
const spi1 = new Uint8Array(16).fill(0x61)
const spi2 = new Uint8Array(16).fill(0x62)
const algKey1 = Uint8Array.from({ length: 32 }, (_, i) => i) // AES-128 KEK: 16-octet IV ‖ 16-octet key
const kek1 = { spi: spi1, cipher: 'aes-128-cbc' as const, algorithmKey: algKey1 }
const signer = { signingKey: ksKey, sigHash: 'sha1' as const }

const member: MemberKek = { spi: spi1, cipher: 'aes-128-cbc', algorithmKey: kek1.algorithmKey, publicKey: spkiOf(ksKey), sigHash: 'sha1', lastSeq: 10 }
const state: PushMemberState = { ...EMPTY_PUSH_MEMBER_STATE, keks: [member] }

const sak = (spi: Uint8Array, extra: Partial<KekPolicy> = {}): KekPolicy => ({
  spi,
  algorithm: 'aes',
  keyBits: 128,
  sigHash: 'sha1',
  sigAlgorithm: 'rsa',
  transport: { protocol: 17, src: { address: '192.0.2.1', port: 848 }, dst: { address: '239.1.1.1', port: 848 } },
  ...extra,
})
const sat: TekPolicy = {
  spi: 0x7000,
  selector: { protocol: 0, src: { address: { kind: 'prefix', address: '10.0.0.0', prefixLength: 8 }, port: 0 }, dst: { address: { kind: 'prefix', address: '10.0.0.0', prefixLength: 8 }, port: 0 } },
  transform: { cipher: '3des', integrity: 'md5' },
  lifetimeSec: 600,
  encapsulation: 'tunnel',
}
const satKey = { spi: 0x7000, encKey: new Uint8Array(24).fill(3), authKey: new Uint8Array(16).fill(4) }
const seq = (n: number): Payload => ({ type: PayloadType.SEQ, seq: n })

const rejectedCode = (r: PushOutcome) => ('rejected' in r ? r.rejected.code : 'accepted')

t.test('IPsec-numbered deletes (ESP 3, ISAKMP 1) are understood as TEK and KEK deletes', (t) => {
  const r = processPush(
    state,
    sealPush(
      kek1,
      [
        seq(11),
        { type: PayloadType.DELETE, doi: Doi.IPSEC, protocolId: 3, spiSize: 4, spis: [Uint8Array.of(0, 0, 0x70, 0)] },
        { type: PayloadType.DELETE, doi: Doi.IPSEC, protocolId: 1, spiSize: 16, spis: [spi1] },
      ],
      signer,
    ),
  )
  if (!('accepted' in r)) throw new Error(JSON.stringify(r.rejected))
  t.same(r.accepted.deletes.map((d) => (d.kind === 'tek' ? [d.kind, d.protocolId, d.spis] : [d.kind, d.spis.map(toHex)])), [
    ['tek', 1, [0x7000]],
    ['kek', [toHex(spi1)]],
  ])
  t.same(r.state.keks, [], 'the KEK delete removed it')
  t.end()
})

t.test('CERT payload (RFC 3547) skipped; SID packet in a push ignored', (t) => {
  const kd = keysToKeyDownload({ teks: [satKey], sids: { bits: 8, values: [5] } })
  const r = processPush(
    state,
    sealPush(kek1, [seq(11), policyToSaPayload({ teks: [sat] }), kd, { type: PayloadType.CERT, encoding: 4, data: new Uint8Array(10) }], signer),
  )
  if (!('accepted' in r)) throw new Error(JSON.stringify(r.rejected))
  t.equal(r.accepted.keys?.sids, undefined)
  t.same(r.accepted.keys?.teks.map((k) => k.spi), [0x7000])
  t.end()
})

t.test('SAK re-announced for the current KEK without a key packet: attributes refreshed, no new KEK', (t) => {
  const r = processPush(state, sealPush(kek1, [seq(11), policyToSaPayload({ kek: sak(spi1, { ackRequested: 3, lifetimeSec: 100 }), teks: [sat] }), keysToKeyDownload({ teks: [satKey] })], signer))
  if (!('accepted' in r)) throw new Error(JSON.stringify(r.rejected))
  t.equal(r.accepted.newKek, undefined)
  t.equal(r.state.keks.length, 1)
  t.equal(r.state.keks[0]?.ackRequested, 3)
  t.equal(r.state.keks[0]?.lastSeq, 11)
  t.equal(r.accepted.ack?.ackRequested, 3)
  t.equal(r.accepted.ack?.baseKey.length, 16, 'base key = KEK key without its IV')
  t.end()
})

t.test('KEK rollover that also changes the signing key; later pushes need the new key', (t) => {
  const algKey2 = Uint8Array.from({ length: 32 }, (_, i) => 0x90 + i)
  const r = processPush(
    state,
    sealPush(kek1, [seq(11), policyToSaPayload({ kek: sak(spi2), teks: [sat] }), keysToKeyDownload({ kek: { spi: spi2, algorithmKey: algKey2, signingPublicKey: spkiOf(otherKey) }, teks: [satKey] })], signer),
  )
  if (!('accepted' in r)) throw new Error(JSON.stringify(r.rejected))
  t.equal(toHex(r.accepted.newKek?.publicKey ?? new Uint8Array()), toHex(spkiOf(otherKey)))
  const kek2 = { spi: spi2, cipher: 'aes-128-cbc' as const, algorithmKey: algKey2 }
  const body = [seq(1), policyToSaPayload({ teks: [sat] }), keysToKeyDownload({ teks: [satKey] })]
  t.equal(rejectedCode(processPush(r.state, sealPush(kek2, body, signer))), 'bad-signature', 'old key no longer valid for KEK 2')
  t.equal(rejectedCode(processPush(r.state, sealPush(kek2, body, { signingKey: otherKey, sigHash: 'sha1' }))), 'accepted')
  // a new KEK announced without its key packet cannot be installed
  const noKey = processPush(state, sealPush(kek1, [seq(11), policyToSaPayload({ kek: sak(spi2), teks: [sat] }), keysToKeyDownload({ teks: [satKey] })], signer))
  t.equal(rejectedCode(noKey), 'bad-policy')
  t.equal(noKey.state.keks[0]?.lastSeq, 11, 'authentic and newer: consumed even though unusable')
  t.end()
})

t.test('SA without KD, unknown attributes under strict mode, wrong key sizes → bad-policy', (t) => {
  t.equal(rejectedCode(processPush(state, sealPush(kek1, [seq(11), policyToSaPayload({ teks: [sat] })], signer))), 'bad-policy')
  const sa = policyToSaPayload({ teks: [sat] })
  const satPayload = sa.attributePayloads[0]
  if (satPayload === undefined || !('ipsec' in satPayload) || satPayload.ipsec === undefined) throw new Error('SAT')
  const odd = { ...sa, attributePayloads: [{ ...satPayload, ipsec: { ...satPayload.ipsec, attributes: [...satPayload.ipsec.attributes, tv(250, 1)] } }] }
  const bytes = sealPush(kek1, [seq(11), odd, keysToKeyDownload({ teks: [satKey] })], signer)
  t.equal(rejectedCode(processPush(state, bytes)), 'accepted', 'lenient by default')
  t.equal(rejectedCode(processPush(state, bytes, { strictAttributes: true })), 'bad-policy')
  t.equal(rejectedCode(processPush(state, sealPush(kek1, [seq(11), sa, keysToKeyDownload({ teks: [{ ...satKey, encKey: new Uint8Array(16) }] })], signer))), 'bad-policy')
  t.end()
})

t.test('recent-hash memory is bounded', (t) => {
  let st = state
  for (let n = 11; n < 15; n++) {
    const r = processPush(st, sealPush(kek1, [seq(n), { type: PayloadType.DELETE, doi: Doi.GDOI, protocolId: 1, spiSize: 4, spis: [Uint8Array.of(0, 0, 0, n)] }], signer), { maxRecent: 2 })
    st = r.state
  }
  t.equal(st.recentHashes.length, 2)
  t.equal(st.keks[0]?.lastSeq, 14)
  t.end()
})
