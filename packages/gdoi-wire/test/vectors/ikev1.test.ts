// IKEv1 from independent implementations: strongSwan (decrypted Main Mode, Quick Mode, Informationals),
// Cisco IOS (payload 15 used as NAT-D outside GDOI) and Openswan with NAT-T. Keys for the last two are
// unknown, so only their unencrypted messages are decoded beyond the header.
import t from 'tap'
import { PayloadType } from '../../src/constants.js'
import { decodeChain, decodeMessage, encodeChain, encodeMessage, saKindFor } from '../../src/message.js'
import type { IkeSaPayload } from '../../src/payloads/types.js'
import { checkRules, Rules } from '../../src/rules.js'
import { hex } from '../fixtures/gdoid-vectors.js'
import { ciscoIkev1Datagrams, openswanNattDatagrams, strongswanDatagrams, strongswanPlaintexts } from '../fixtures/ikev1-vectors.js'

t.test('every captured datagram decodes; unencrypted ones re-encode byte for byte', (t) => {
  for (const d of [...strongswanDatagrams, ...ciscoIkev1Datagrams, ...openswanNattDatagrams]) {
    const buf = hex(d.hex)
    const m = decodeMessage(buf)
    if (m.chain === undefined) {
      t.equal(m.ciphertext?.length, buf.length - 28, `frame ${d.frame}: ciphertext view`)
      continue
    }
    const { nextPayload: _n, length: _l, ...h } = m.header
    t.same([...encodeMessage(h, m.chain.payloads)], [...buf], `frame ${d.frame} re-encodes`)
  }
  t.end()
})

t.test('Cisco MM3/MM4 payload 15 stays opaque (pre-RFC NAT-D, not an SA KEK) and passes the MM rules', (t) => {
  for (const [i, rule] of [[2, Rules.MM3], [3, Rules.MM4]] as const) {
    const m = decodeMessage(hex(ciscoIkev1Datagrams[i]!.hex))
    const p15 = m.chain!.payloads.find((p) => p.type === PayloadType.SA_KEK)
    t.ok(p15 && 'unknown' in p15, 'type 15 decoded as opaque bytes')
    checkRules(rule, m.chain!)
  }
  const mm1 = decodeMessage(hex(ciscoIkev1Datagrams[0]!.hex))
  checkRules(Rules.MM1, mm1.chain!)
  t.end()
})

t.test('strongSwan decrypted messages decode and re-encode byte for byte', (t) => {
  const json = { HASH_I: '94134cd97c7edf3ad61c4c4bcd41bf187f311570', HASH_R: '5e29f9a778a45f24af78eed602c612dd360591c4' }
  for (const [name, v] of Object.entries(strongswanPlaintexts)) {
    const buf = hex(v.hex)
    const chain = decodeChain(buf, 0, buf.length, v.first, saKindFor(v.exchange))
    t.ok(buf.subarray(chain.end).every((b) => b === 0), `${name}: zero padding after the chain`)
    t.same([...encodeChain(chain.payloads)], [...buf.subarray(0, chain.end)], `${name} re-encodes`)
    if (name === 'MM5' || name === 'MM6') {
      checkRules(name === 'MM5' ? Rules.MM5 : Rules.MM6, chain)
      const h = chain.payloads.find((p) => p.type === PayloadType.HASH)
      t.equal(Buffer.from((h as { data: Uint8Array }).data).toString('hex'), name === 'MM5' ? json.HASH_I : json.HASH_R)
    }
    if (name.startsWith('INFO')) checkRules(Rules.INFORMATIONAL, chain)
  }
  t.end()
})

t.test('a Quick Mode SA in exchange 32 with DOI 1 decodes in the IKE/IPsec layout', (t) => {
  const v = strongswanPlaintexts.QM1
  const buf = hex(v.hex)
  const chain = decodeChain(buf, 0, buf.length, v.first, saKindFor(v.exchange))
  const sa = chain.payloads.find((p) => p.type === PayloadType.SA) as IkeSaPayload
  t.equal(sa.kind, 'ike')
  t.equal(sa.doi, 1)
  t.equal(sa.proposals[0]?.protocolId, 3, 'ESP proposal')
  t.equal(sa.proposals[0]?.spi.length, 4)
  t.equal(sa.proposals[0]?.transforms[0]?.transformId, 12, 'ESP_AES')
  t.end()
})
