// Fuzz targets for the decoders: datagrams, payload chains (re-encoded), the GM's interpretation of
// decoded GDOI chains, capture files and ESP packets. See targets.ts for the contract.
import { ExchangeType, PayloadType } from '../src/constants.js'
import { checkRules, Rules, type MessageRule } from '../src/rules.js'
import { decodeChain, decodeMessage, encodeChain, saKindFor } from '../src/message.js'
import {
  checkKeysForPolicy,
  choosePhase1Transform,
  idPayloadToGroupId,
  kekCipherName,
  keyDownloadToKeys,
  parsePhase1Transform,
  saPayloadToPolicy,
} from '../src/exchange/index.js'
import { openEsp } from '../src/esp/esp.js'
import { CaptureError } from '../src/pcap/capture-error.js'
import { decodeCapture } from '../src/pcap/decode-capture.js'
import { formatJsonLines } from '../src/pcap/format-json.js'
import { formatText } from '../src/pcap/format-text.js'
import { parseKeyFile } from '../src/pcap/key-file.js'
import { readCapture } from '../src/pcap/read-capture.js'
import type { Payload } from '../src/payloads/types.js'
import { ESP_SAS } from './corpus.js'
import { equal, FuzzFinding, hexOf, invariant, mustReturn } from './finding.js'
import { LAB, session } from './session.js'

const RULES_BY_EXCHANGE: Readonly<Record<number, readonly MessageRule[]>> = {
  [ExchangeType.IDENTITY_PROTECTION]: [Rules.MM1, Rules.MM2, Rules.MM3, Rules.MM4, Rules.MM5, Rules.MM6],
  [ExchangeType.INFORMATIONAL]: [Rules.INFORMATIONAL],
  [ExchangeType.GROUPKEY_PULL]: [Rules.PULL1, Rules.PULL2, Rules.PULL3, Rules.PULL4],
  [ExchangeType.GROUPKEY_PUSH]: [Rules.PUSH],
  [ExchangeType.GROUPKEY_PUSH_ACK]: [Rules.ACK],
}
const ALL_RULES: readonly MessageRule[] = Object.values(Rules)

/**
 * The one message rule a receiver would check (receivers know which message they expect): one of the
 * exchange's rules picked by `which`; any rule for other exchanges. Passes or throws DecodeError.
 */
function oneRule(exchange: number | undefined, which: number, chain: Parameters<typeof checkRules>[1]): string {
  const rules = (exchange === undefined ? undefined : RULES_BY_EXCHANGE[exchange]) ?? ALL_RULES
  const rule = rules[which % rules.length] ?? Rules.MM1
  checkRules(rule, chain)
  return rule.name
}

// ---- codec targets ----------------------------------------------------------------------------------

/** decodeMessage on a datagram; an encrypted body is also decoded as if it were the plaintext. */
export function fuzzDatagram(data: Uint8Array): string {
  const m = decodeMessage(data)
  if (m.chain !== undefined) return `chain/${oneRule(m.header.exchange, m.header.messageId, m.chain)}`
  const ct = m.ciphertext ?? new Uint8Array(0)
  decodeChain(ct, 0, ct.length, m.header.nextPayload, saKindFor(m.header.exchange))
  return 'ciphertext-as-chain'
}

/**
 * | first payload type | selector (bit 0: SA kind gdoi; the rest picks a message rule) | chain |: decode,
 * re-encode byte for byte, then one message rule.
 */
export function fuzzChain(data: Uint8Array): string {
  const first = data[0] ?? 0
  const sel = data[1] ?? 0
  const kind = (sel & 1) === 1 ? 'gdoi' : 'ike'
  const c = decodeChain(data, Math.min(2, data.length), data.length, first, kind)
  const again = mustReturn('encodeChain of a decoded chain', () => encodeChain(c.payloads))
  invariant(equal(again, data.subarray(2, c.end)), `decoded ${kind} chain re-encodes differently: ${hexOf(data.subarray(2, c.end))} → ${hexOf(again)}`)
  return `ok/${kind}/${oneRule(undefined, sel >> 1, c)}`
}

/** A decoded GDOI chain interpreted as a GM interprets PULL2/PULL4/push contents, plus phase-1 SA offers. */
export function fuzzPolicy(data: Uint8Array): string {
  const c = decodeChain(data, Math.min(2, data.length), data.length, data[0] ?? 0, ((data[1] ?? 0) & 1) === 1 ? 'gdoi' : 'ike')
  let label = 'no-policy'
  const policies = []
  const keys = []
  for (const p of c.payloads as Payload[]) {
    if ('unknown' in p) continue
    if (p.type === PayloadType.SA && p.kind === 'gdoi') {
      const strict = mustReturn('saPayloadToPolicy (strict)', () => saPayloadToPolicy(p, { strict: true }))
      const r = mustReturn('saPayloadToPolicy', () => saPayloadToPolicy(p))
      invariant(!strict.ok || r.ok, 'strict policy accepted what the lenient one refused')
      if (r.ok) {
        policies.push(r.value)
        if (r.value.kek !== undefined) {
          const k = r.value.kek
          mustReturn('kekCipherName of an accepted SAK', () => kekCipherName(k))
        }
        label = 'policy'
      }
    } else if (p.type === PayloadType.SA && p.kind === 'ike') {
      for (const pr of p.proposals) for (const t of pr.transforms) mustReturn('parsePhase1Transform', () => parsePhase1Transform(t))
      mustReturn('choosePhase1Transform', () => choosePhase1Transform(p, [LAB, { ...LAB, encryption: '3des', hash: 'md5', group: 2 }], () => true))
    } else if (p.type === PayloadType.KEY_DOWNLOAD) {
      const k = mustReturn('keyDownloadToKeys', () => keyDownloadToKeys(p))
      if (k.ok) keys.push(k.value)
    } else if (p.type === PayloadType.ID) {
      mustReturn('idPayloadToGroupId', () => idPayloadToGroupId(p))
    }
  }
  for (const pol of policies) {
    for (const k of keys) {
      mustReturn('checkKeysForPolicy', () => checkKeysForPolicy(pol, k, { requireSigningKey: true }))
      if (mustReturn('checkKeysForPolicy', () => checkKeysForPolicy(pol, k)) === undefined) label = 'policy+keys'
    }
  }
  return label
}

// ---- captures, ESP ----------------------------------------------------------------------------------

let captureKeys: ReturnType<typeof parseKeyFile> | undefined
function keysForCaptures(): ReturnType<typeof parseKeyFile> {
  const s = session()
  const line = `IKEV1 ${hexOf(s.gmSa.icookie)} ${hexOf(s.gmSa.rcookie)} ENC=aes-256-cbc KEY=${hexOf(s.gmSa.encKey)} HASH=sha1 SKEYID_A=${hexOf(s.gmSa.skeyidA)}`
  captureKeys ??= parseKeyFile(`${line}\n`)
  return captureKeys
}

export function fuzzPcap(data: Uint8Array): string {
  let packets
  try {
    packets = readCapture(data)
  } catch (e) {
    if (e instanceof CaptureError) return `capture-error/${e.code}`
    throw new FuzzFinding(e instanceof Error ? e.constructor.name : typeof e, `readCapture threw ${String(e)}`, e)
  }
  const records = mustReturn('decodeCapture', () => decodeCapture(packets, keysForCaptures()))
  mustReturn('formatText', () => formatText(records))
  mustReturn('formatJsonLines', () => formatJsonLines(records))
  return records.length > 0 ? 'records' : 'no-records'
}

export function fuzzEsp(data: Uint8Array): string {
  return ESP_SAS.map((p) => {
    const r = mustReturn('openEsp', () => openEsp(p, data))
    return r.ok ? 'ok' : r.reason
  }).join(',')
}
