// Every datagram and decrypted plaintext of spec §7.3 traces A and B (plus the rest of the gdoid
// three-clients session) decodes and re-encodes byte for byte (the chain; padding after it is ignored).
import t from 'tap'
import { decodeChain, decodeMessage, encodeChain, encodeMessage, saKindFor } from '../../src/message.js'
import { checkRules, Rules, type MessageRule } from '../../src/rules.js'
import {
  allGdoidDatagrams,
  allGdoidPlaintexts,
  hex,
  traceADatagrams,
  traceAPlaintexts,
  traceBDatagrams,
  traceBPlaintexts,
  traceBPush,
  type PlaintextVector,
} from '../fixtures/gdoid-vectors.js'

function decodePlain(v: PlaintextVector) {
  const buf = hex(v.hex)
  return { buf, chain: decodeChain(buf, 0, buf.length, v.first, saKindFor(v.exchange)) }
}

t.test('unencrypted Main Mode datagrams MM1–MM4 decode and re-encode identically', (t) => {
  for (const [trace, dg] of [['A', traceADatagrams], ['B', traceBDatagrams]] as const) {
    for (const name of ['MM1', 'MM2', 'MM3', 'MM4'] as const) {
      const buf = hex(dg[name])
      const m = decodeMessage(buf)
      t.ok(m.chain, `${trace} ${name} has a chain`)
      const { nextPayload: _n, length: _l, ...h } = m.header
      t.same([...encodeMessage(h, m.chain!.payloads)], [...buf], `${trace} ${name} re-encodes byte for byte`)
      checkRules(Rules[name], m.chain!)
    }
  }
  t.end()
})

t.test('encrypted datagrams expose header and ciphertext', (t) => {
  for (const w of allGdoidDatagrams) {
    const buf = hex(w)
    const m = decodeMessage(buf)
    if (m.ciphertext !== undefined) t.equal(m.ciphertext.length, buf.length - 28)
    else t.ok(m.chain)
  }
  t.end()
})

const RULES: Record<string, MessageRule> = {
  MM5: Rules.MM5, MM6: Rules.MM6, PULL1: Rules.PULL1, PULL2: Rules.PULL2, PULL3: Rules.PULL3, PULL4: Rules.PULL4,
}

t.test('trace A and B plaintexts decode, obey the message rules and re-encode byte for byte', (t) => {
  for (const [trace, pts] of [['A', traceAPlaintexts], ['B', traceBPlaintexts]] as const) {
    for (const [name, v] of Object.entries(pts)) {
      const { buf, chain } = decodePlain(v)
      t.ok(buf.subarray(chain.end).every((b) => b === 0), `${trace} ${name}: only zero padding after the chain`)
      t.same([...encodeChain(chain.payloads)], [...buf.subarray(0, chain.end)], `${trace} ${name} re-encodes`)
      checkRules(RULES[name]!, chain)
    }
  }
  t.end()
})

t.test('trace B push plaintext decodes (SEQ, SA with two SATs, KD, SIG) and re-encodes', (t) => {
  const { buf, chain } = decodePlain(traceBPush.plaintext)
  t.same(chain.payloads.map((p) => p.type), [18, 1, 17, 9])
  checkRules(Rules.PUSH, chain)
  t.same([...encodeChain(chain.payloads)], [...buf.subarray(0, chain.end)])
  t.equal(chain.end, 400 - 28, 'unpadded payload length matches the signed header length (400)')
  t.end()
})

t.test('every gdoid plaintext of both sessions round-trips', (t) => {
  for (const v of allGdoidPlaintexts) {
    const { buf, chain } = decodePlain(v)
    t.same([...encodeChain(chain.payloads)], [...buf.subarray(0, chain.end)])
  }
  t.end()
})
