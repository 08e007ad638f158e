// Main Mode with RSA signatures (auth method 3): CR in MM3/MM4, CERT (encoding 4, DER) + SIG_I/SIG_R
// (PKCS#1 v1.5 type 1 over the bare HASH_I/HASH_R) in MM5/MM6, ID_DER_ASN1_DN or ID_IPV4_ADDR.
// Keys and self-signed certificates are generated here with node:crypto (see mm-helpers.ts).
import t from 'tap'
import { constants, createPublicKey, publicDecrypt } from 'node:crypto'
import { CertEncoding, ExchangeType, NotifyType, PayloadType } from '../../src/constants.js'
import { decodeMessage } from '../../src/message.js'
import {
  openMessage,
  openPlainInformational,
  proofHash,
  type InitiatorConfig,
  type Phase1Proposal,
  type ResponderConfig,
} from '../../src/exchange/index.js'
import { GM_ADDRESS, handshake, newPair, run, start, toInitiator, toResponder } from './mm-driver.js'
import { ascii, hex, idIpv4, makeIdentity, trustStore, type TestIdentity } from './mm-helpers.js'

const gm = makeIdentity('gm-1.example')
const ks = makeIdentity('keys-1.example')
const stranger = makeIdentity('mallory.example', 1024)

function rsaSuite(over: Partial<Phase1Proposal> = {}): Phase1Proposal {
  return { encryption: 'aes256', hash: 'sha1', auth: 'rsa', group: 5, lifetimeSec: 86400, ...over }
}

function gmConfig(me: TestIdentity, trusts: TestIdentity[], extra: Partial<InitiatorConfig> = {}): InitiatorConfig {
  return {
    proposals: [rsaSuite()],
    localId: me.id,
    rsa: { privateKey: me.privateKey, certDer: me.certDer },
    verifyPeerCert: trustStore(trusts),
    ...extra,
  }
}
function ksConfig(me: TestIdentity, trusts: TestIdentity[], extra: Partial<ResponderConfig> = {}): ResponderConfig {
  return {
    proposals: [rsaSuite()],
    localId: me.id,
    rsa: { privateKey: me.privateKey, certDer: me.certDer },
    verifyPeerCert: trustStore(trusts),
    ...extra,
  }
}

t.test('RSA signatures: both sides authenticate each other and derive the same keys', (t) => {
  const suites: Phase1Proposal[] = [
    rsaSuite(),
    rsaSuite({ encryption: '3des', group: 2 }),
    rsaSuite({ encryption: 'aes128', hash: 'sha256', group: 14 }),
  ]
  for (const suite of suites) {
    t.test(`${suite.encryption}/${suite.hash}/group ${suite.group}`, (t) => {
      const p = handshake(gmConfig(gm, [ks], { proposals: [suite] }), ksConfig(ks, [gm], { proposals: [suite] }), suite.encryption)
      t.equal(p.i.s, 'done', p.i.s === 'failed' ? p.i.detail : '')
      t.equal(p.r.s, 'done', p.r.s === 'failed' ? p.r.detail : '')
      if (p.i.s !== 'done' || p.r.s !== 'done') return t.end()
      const [i, r] = [p.i.sa, p.r.sa]
      for (const k of ['skeyid', 'skeyidD', 'skeyidA', 'skeyidE', 'encKey', 'lastBlock'] as const) t.equal(hex(i[k]), hex(r[k]), k)
      t.equal(hex(i.peerPublicKey ?? new Uint8Array()), hex(ks.spki), 'GM learned the KS public key from its certificate')
      t.equal(hex(r.peerPublicKey ?? new Uint8Array()), hex(gm.spki))
      t.equal(r.peerId.idType, 9, 'ID_DER_ASN1_DN')
      t.equal(hex(r.peerId.data), hex(gm.subjectDer))

      // MM3 HDR, KE, Ni, CR -->   MM4 HDR, KE, Nr, CR <--
      for (const k of [2, 3]) {
        const m = decodeMessage(p.transcript[k]?.bytes ?? new Uint8Array())
        const cr = m.chain?.payloads.find((x) => x.type === PayloadType.CR)
        t.ok(cr !== undefined && 'certType' in cr && cr.certType === CertEncoding.X509_SIGNATURE && cr.authority.length === 0, `CR in MM${k + 1}`)
      }
      t.end()
    })
  }
  t.end()
})

t.test('MM5 carries ID, CERT(4), SIG = RSA-sign(HASH_I) with no DigestInfo', (t) => {
  const p = newPair(gmConfig(gm, [ks]), ksConfig(ks, [gm]))
  const [mm1] = start(p)
  const [mm2] = toResponder(p, mm1 ?? new Uint8Array())
  const [mm3] = toInitiator(p, mm2 ?? new Uint8Array())
  const [mm4] = toResponder(p, mm3 ?? new Uint8Array())
  const [mm5] = toInitiator(p, mm4 ?? new Uint8Array())
  if (p.i.s !== 'awaitMm6') return t.fail(p.i.s)
  const keys = p.i.keys
  const opened = openMessage(keys, mm5 ?? new Uint8Array(), keys.iv)
  t.same(opened.chain.payloads.map((x) => x.type), [PayloadType.ID, PayloadType.CERT, PayloadType.SIG])
  const cert = opened.chain.payloads[1]
  t.ok(cert !== undefined && 'encoding' in cert && cert.encoding === 4 && hex(cert.data) === hex(gm.certDer))
  const sig = opened.chain.payloads[2]
  const recovered = publicDecrypt({ key: createPublicKey({ key: Buffer.from(gm.spki), format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_PADDING }, sig !== undefined && 'data' in sig ? sig.data : new Uint8Array())
  const idB = opened.plaintext.subarray((opened.chain.spans[0]?.start ?? 0) + 4, opened.chain.spans[0]?.end)
  t.equal(hex(recovered), hex(proofHash(keys, true, idB)), 'the signature block holds exactly HASH_I')
  t.equal(recovered.length, 20)
  run(p, [mm5 ?? new Uint8Array()])
  t.equal(p.i.s, 'done')
  t.end()
})

t.test('RSA with ID_IPV4_ADDR identities', (t) => {
  const p = handshake(gmConfig(gm, [ks], { localId: idIpv4(GM_ADDRESS) }), ksConfig(ks, [gm], { localId: idIpv4('10.0.0.1') }))
  t.equal(p.i.s, 'done')
  t.equal(p.r.s, 'done')
  t.end()
})

t.test('untrusted certificate → untrusted-cert + INVALID-CERTIFICATE; the GM refuses an untrusted KS too', (t) => {
  const p = handshake(gmConfig(gm, [ks]), ksConfig(ks, [stranger]))
  t.equal(p.r.s === 'failed' && p.r.reason, 'untrusted-cert')
  const last = p.transcript[p.transcript.length - 1]
  t.equal(last?.dir, '<--')
  const info = openPlainInformational(last?.bytes ?? new Uint8Array())
  t.ok(info.ok && info.payloads[0] !== undefined && 'notifyType' in info.payloads[0] && info.payloads[0].notifyType === 20)
  t.equal(p.i.s === 'failed' && p.i.reason, 'peer-notify')

  const q = handshake(gmConfig(gm, [stranger]), ksConfig(ks, [gm]))
  t.equal(q.r.s, 'done', 'KS accepted the GM')
  t.equal(q.i.s === 'failed' && q.i.reason, 'untrusted-cert', 'GM refused the KS certificate')
  t.end()
})

t.test('signature by a key that does not match the certificate → bad-signature + INVALID-SIGNATURE', (t) => {
  const forger = gmConfig(gm, [ks], { rsa: { privateKey: stranger.privateKey, certDer: gm.certDer } })
  const p = handshake(forger, ksConfig(ks, [gm]))
  t.equal(p.r.s === 'failed' && p.r.reason, 'bad-signature')
  const info = openPlainInformational(p.transcript[p.transcript.length - 1]?.bytes ?? new Uint8Array())
  t.ok(info.ok && info.payloads[0] !== undefined && 'notifyType' in info.payloads[0] && info.payloads[0].notifyType === NotifyType.INVALID_SIGNATURE)
  t.equal(info.ok && info.header.exchange, ExchangeType.INFORMATIONAL)
  t.end()
})

t.test('mixed policies: rsa offered first, the KS only has PSK → psk chosen', (t) => {
  const psk = ascii('MYISAKMPKEY')
  const p = handshake(
    gmConfig(gm, [ks], { proposals: [rsaSuite(), { ...rsaSuite(), auth: 'psk' }], psk }),
    { proposals: [{ ...rsaSuite(), auth: 'psk' }], pskFor: () => psk, localId: idIpv4('10.0.0.1') },
  )
  t.equal(p.i.s, 'done')
  t.equal(p.i.s === 'done' && p.i.sa.peerPublicKey, undefined, 'no public key with PSK')
  t.equal(decodeMessage(p.transcript[2]?.bytes ?? new Uint8Array()).chain?.payloads.some((x) => x.type === PayloadType.CR), false, 'no CR with PSK')
  t.end()
})
