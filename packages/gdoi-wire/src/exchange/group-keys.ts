// Group keying material and its Key Download payload form both ways (spec §2.16, §4.1, §4.5, §5.1).
// The octets in a TEK key packet *are* the ESP keys; the KEK key is IV ‖ key; SIDs travel only in PULL4.
import { attrBytes, attrNumber, tlv, tv } from '../attributes.js'
import { KdType, KekKeyAttr, PayloadType, SidAttr, TekKeyAttr } from '../constants.js'
import { keyHolder } from '../crypto/key-holder.js'
import type { KeyDownloadPayload, KeyPacket } from '../payloads/types.js'
import type { GroupPolicy, PolicyResult } from './group-policy.js'
import { ESP_CIPHERS, ESP_INTEGRITY, KEK_CIPHERS } from './policy-tables.js'

export interface KekKeys {
  readonly spi: Uint8Array // 16
  /** KEK_ALGORITHM_KEY as on the wire: IV ‖ key (spec §5.1). */
  readonly algorithmKey: Uint8Array
  /** SIG_ALGORITHM_KEY: the KS push-signing public key, DER SubjectPublicKeyInfo. */
  readonly signingPublicKey?: Uint8Array
}

export interface TekKeys {
  readonly spi: number
  readonly encKey: Uint8Array // TEK_ALGORITHM_KEY (key ‖ salt for counter modes)
  readonly authKey?: Uint8Array // TEK_INTEGRITY_KEY
}

export interface SenderIds {
  readonly bits: number // NUMBER_OF_SID_BITS
  readonly values: readonly number[]
}

export interface GroupKeys {
  readonly kek?: KekKeys
  readonly teks: readonly TekKeys[]
  readonly sids?: SenderIds
}

/** SID_VALUE width on the wire (the reference implementation uses 4 octets, spec §2.16). */
const SID_VALUE_BYTES = 4

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, v >>> 0)
  return b
}

/** KD payload: KEK packet first (as the reference KS), then one TEK packet per distinct SPI, then the SID packet. */
export function keysToKeyDownload(keys: GroupKeys): KeyDownloadPayload {
  const packets: KeyPacket[] = []
  if (keys.kek !== undefined) {
    const attributes = [tlv(KekKeyAttr.KEK_ALGORITHM_KEY, keys.kek.algorithmKey)]
    if (keys.kek.signingPublicKey !== undefined) attributes.push(tlv(KekKeyAttr.SIG_ALGORITHM_KEY, keys.kek.signingPublicKey))
    packets.push({ kdType: KdType.KEK, spi: keys.kek.spi, attributes })
  }
  const seen = new Set<number>()
  for (const t of keys.teks) {
    if (seen.has(t.spi)) continue
    seen.add(t.spi)
    const attributes = []
    if (t.encKey.length > 0) attributes.push(tlv(TekKeyAttr.TEK_ALGORITHM_KEY, t.encKey))
    if (t.authKey !== undefined) attributes.push(tlv(TekKeyAttr.TEK_INTEGRITY_KEY, t.authKey))
    packets.push({ kdType: KdType.TEK, spi: u32(t.spi), attributes })
  }
  if (keys.sids !== undefined && keys.sids.values.length > 0) {
    packets.push({
      kdType: KdType.SID,
      spi: new Uint8Array(0),
      attributes: [tv(SidAttr.NUMBER_OF_SID_BITS, keys.sids.bits), ...keys.sids.values.map((v) => tlv(SidAttr.SID_VALUE, u32(v).subarray(4 - SID_VALUE_BYTES)))],
    })
  }
  return { type: PayloadType.KEY_DOWNLOAD, packets }
}

const fail = <T>(reason: string): PolicyResult<T> => ({ ok: false, reason })

/** KD payload → keys (copied out of the datagram). LKH and unknown KD types are skipped. */
export function keyDownloadToKeys(kd: KeyDownloadPayload): PolicyResult<GroupKeys> {
  let kek: KekKeys | undefined
  const teks: TekKeys[] = []
  let sids: SenderIds | undefined
  // Linear in the packets (a Set, one growing SID list): a KD holds up to ~7 K packets (fuzz/worst-case.ts).
  const tekSpis = new Set<number>()
  const sidValues: number[] = []
  for (const p of kd.packets) {
    switch (p.kdType) {
      case KdType.TEK: {
        if (p.spi.length !== 4) return fail(`TEK key packet with a ${p.spi.length}-octet SPI`)
        const spi = new DataView(p.spi.buffer, p.spi.byteOffset, 4).getUint32(0)
        if (tekSpis.has(spi)) return fail(`two TEK key packets for SPI ${spi}`)
        tekSpis.add(spi)
        const encKey = attrBytes(p.attributes, TekKeyAttr.TEK_ALGORITHM_KEY)
        const authKey = attrBytes(p.attributes, TekKeyAttr.TEK_INTEGRITY_KEY)
        teks.push(keyHolder({ spi, encKey: (encKey ?? new Uint8Array(0)).slice(), ...(authKey !== undefined ? { authKey: authKey.slice() } : {}) }))
        break
      }
      case KdType.KEK: {
        if (kek !== undefined) return fail('more than one KEK key packet')
        if (p.spi.length !== 16) return fail(`KEK key packet with a ${p.spi.length}-octet SPI`)
        const algorithmKey = attrBytes(p.attributes, KekKeyAttr.KEK_ALGORITHM_KEY)
        if (algorithmKey === undefined) return fail('KEK key packet without KEK_ALGORITHM_KEY')
        const pub = attrBytes(p.attributes, KekKeyAttr.SIG_ALGORITHM_KEY)
        kek = keyHolder({ spi: p.spi.slice(), algorithmKey: algorithmKey.slice(), ...(pub !== undefined ? { signingPublicKey: pub.slice() } : {}) })
        break
      }
      case KdType.SID: {
        const bits = attrNumber(p.attributes, SidAttr.NUMBER_OF_SID_BITS)
        if (bits === undefined || bits < 1 || bits > 63) return fail('SID key packet without a valid NUMBER_OF_SID_BITS')
        for (const a of p.attributes) {
          if (a.type !== SidAttr.SID_VALUE) continue
          const v = attrNumber([a], a.type)
          if (v === undefined || v >= 2 ** bits) return fail(`SID value does not fit ${bits} bits`)
          sidValues.push(v)
        }
        if (sids !== undefined && sids.bits !== bits) return fail('SID packets with different widths')
        sids = { bits, values: sidValues }
        break
      }
      default:
        break
    }
  }
  return {
    ok: true,
    value: keyHolder({ ...(kek !== undefined ? { kek } : {}), teks, ...(sids !== undefined ? { sids } : {}) }),
  }
}

/**
 * Checks keys against the policy they were delivered with: the KEK packet matches the SAK SPI and
 * holds IV ‖ key of the right size, every TEK packet's key sizes match its SAT transform. A SAT
 * without a key packet is not an error (its TEK may follow by push, spec §1.7 step 10).
 */
export function checkKeysForPolicy(policy: GroupPolicy, keys: GroupKeys, opts: { readonly requireSigningKey?: boolean } = {}): string | undefined {
  if (policy.kek !== undefined) {
    const k = keys.kek
    if (k === undefined) return 'SAK without a KEK key packet'
    if (!equal(k.spi, policy.kek.spi)) return 'KEK key packet SPI does not match the SAK'
    const c = KEK_CIPHERS[policy.kek.algorithm]
    const need = c.blockBytes + policy.kek.keyBits / 8
    if (k.algorithmKey.length !== need) return `KEK_ALGORITHM_KEY of ${k.algorithmKey.length} octets, need ${need} (IV ‖ key)`
    if (opts.requireSigningKey === true && k.signingPublicKey === undefined) return 'KEK key packet without SIG_ALGORITHM_KEY'
  } else if (keys.kek !== undefined) {
    return 'KEK key packet without a SAK'
  }
  const satBySpi = new Map<number, GroupPolicy['teks'][number]>()
  for (const p of policy.teks) if (!satBySpi.has(p.spi)) satBySpi.set(p.spi, p)
  for (const t of keys.teks) {
    const sat = satBySpi.get(t.spi)
    if (sat === undefined) continue // keys for a TEK announced earlier (push) or not for us: ignored by the caller
    const c = ESP_CIPHERS[sat.transform.cipher]
    const encBytes = c.encKeyBytes(sat.transform.keyBits)
    if (t.encKey.length !== encBytes) return `TEK ${t.spi}: algorithm key of ${t.encKey.length} octets, need ${encBytes}`
    const integ = sat.transform.integrity
    if (integ !== undefined && t.authKey?.length !== ESP_INTEGRITY[integ].keyBytes) return `TEK ${t.spi}: integrity key of ${t.authKey?.length ?? 0} octets, need ${ESP_INTEGRITY[integ].keyBytes}`
  }
  return undefined
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}
