import { decodeMessage } from '../src/message.js'
import { checkRules, Rules } from '../src/rules.js'
const dg = (chain: Uint8Array, first: number, exchange = 32) => { const b = new Uint8Array(28 + chain.length); b.fill(0x11, 0, 16); b[16] = first; b[17] = 0x10; b[18] = exchange; new DataView(b.buffer).setUint32(24, b.length); b.set(chain, 28); return b }
for (const type of [200, 13]) {
  const n = 16369
  const empties = new Uint8Array(n * 4); for (let i = 0; i < empties.length; i += 4) { empties[i] = i + 4 < empties.length ? type : 0; empties[i + 3] = 4 }
  const m = decodeMessage(dg(empties, type, 2))
  for (const rule of [Rules.MM1, Rules.PUSH]) {
    const times: number[] = []
    for (let rep = 0; rep < 30; rep++) { const t0 = performance.now(); try { checkRules(rule, m.chain!) } catch {} ; times.push(performance.now() - t0) }
    times.sort((a, b) => a - b)
    console.log('type', type, rule.name, 'min', times[0]!.toFixed(3), 'median', times[15]!.toFixed(3), 'ms')
  }
}
