// What a decrypted PULL2/PULL4 or push teaches the key chain (spec §1.3 "What the GM does after
// PULL4", §5.4): SA KEK / SA TEK policies from a GDOI SA, then the key packets of a Key Download
// matched to them by SPI. Key bytes are copied out of the datagram (they outlive it).
import { attrBytes, attrNumber } from '../attributes.js'
import { IpsecAttr, KdType, KekAttr, KekKeyAttr, PayloadType, TekKeyAttr } from '../constants.js'
import { kekCipher, sigHashName } from '../crypto/algorithms.js'
import { copyBytes, toHex } from '../crypto/bytes.js'
import { splitKekKey } from '../crypto/push.js'
import { espSuite } from '../esp/suite.js'
import type { GdoiSaPayload, KeyDownloadPayload, Payload, SaKekPayload } from '../payloads/types.js'
import type { EspKeyEntry, KeyChain, KekState } from './key-chain.js'
import type { LearnedKey } from './record.js'
import { isTypedError, recordError, type IsakmpResult } from './result.js'

export function gdoiSa(payloads: readonly Payload[]): GdoiSaPayload | undefined {
  for (const p of payloads) if (p.type === PayloadType.SA && 'kind' in p && p.kind === 'gdoi') return p
  return undefined
}

export function keyDownload(payloads: readonly Payload[]): KeyDownloadPayload | undefined {
  for (const p of payloads) if (p.type === PayloadType.KEY_DOWNLOAD && 'packets' in p) return p
  return undefined
}

export function seqOf(payloads: readonly Payload[]): number | undefined {
  for (const p of payloads) if (p.type === PayloadType.SEQ && 'seq' in p) return p.seq
  return undefined
}

/** Remembers the SAK/SAT policies of a GDOI SA; returns the SAK (the KEK this SA announces), if any. */
export function noteSaPolicies(chain: KeyChain, sa: GdoiSaPayload): SaKekPayload | undefined {
  let sak: SaKekPayload | undefined
  for (const a of sa.attributePayloads) {
    if ('unknown' in a) continue
    if (a.type === PayloadType.SA_KEK) {
      sak = a
      chain.noteSak({ ...a, spi: copyBytes(a.spi), attributes: a.attributes.map(copyAttr) })
    } else if (a.type === PayloadType.SA_TEK && a.ipsec !== undefined) {
      chain.noteSat({ ...a.ipsec, attributes: a.ipsec.attributes.map(copyAttr) })
    }
  }
  return sak
}

function copyAttr<T extends { readonly tv: boolean; readonly value: number | Uint8Array }>(a: T): T {
  return a.value instanceof Uint8Array ? { ...a, value: copyBytes(a.value) } : a
}

function be32(b: Uint8Array): number {
  return (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0
}

/**
 * Installs the keys of a Key Download: TEKs as ESP SAs, a KEK (with the KS public key; a KEK packet
 * without SIG_ALGORITHM_KEY keeps the key of `signingKek`, the KEK that protected the message).
 */
export function learnKeyDownload(chain: KeyChain, kd: KeyDownloadPayload, out: IsakmpResult, signingKek?: KekState): void {
  for (const packet of kd.packets) {
    try {
      switch (packet.kdType) {
        case KdType.TEK: {
          if (packet.spi.length !== 4) {
            out.notes.push(`TEK key packet with a ${packet.spi.length}-octet SPI ignored`)
            break
          }
          const spi = be32(packet.spi)
          const sat = chain.sat(spi)
          if (sat === undefined) {
            out.notes.push(`TEK key packet for SPI 0x${toHex(packet.spi)} has no SA TEK policy in the capture: not installed`)
            break
          }
          const encKey = attrBytes(packet.attributes, TekKeyAttr.TEK_ALGORITHM_KEY)
          const authKey = attrBytes(packet.attributes, TekKeyAttr.TEK_INTEGRITY_KEY)
          const authAlgorithm = attrNumber(sat.attributes, IpsecAttr.AUTH_ALGORITHM)
          const keyLengthBits = attrNumber(sat.attributes, IpsecAttr.KEY_LENGTH)
          const params: EspKeyEntry = {
            spi,
            transformId: sat.transformId,
            encKey: encKey === undefined ? new Uint8Array(0) : copyBytes(encKey),
            ...(authKey === undefined ? {} : { authKey: copyBytes(authKey) }),
            ...(authAlgorithm === undefined ? {} : { authAlgorithm }),
            ...(keyLengthBits === undefined ? {} : { keyLengthBits }),
          }
          espSuite(params) // throws EspSuiteError for a transform/key the ESP code cannot use
          chain.addEsp(params)
          const learned: LearnedKey = { kind: 'tek', ...params }
          out.learned.push(learned)
          break
        }
        case KdType.KEK: {
          const sak = chain.sak(packet.spi)
          if (sak === undefined) {
            out.notes.push(`KEK key packet for SPI ${toHex(packet.spi)} has no SA KEK policy in the capture: not installed`)
            break
          }
          const alg = attrNumber(sak.attributes, KekAttr.KEK_ALGORITHM) ?? 0
          const cipher = kekCipher(alg, attrNumber(sak.attributes, KekAttr.KEK_KEY_LENGTH))
          const algKey = attrBytes(packet.attributes, KekKeyAttr.KEK_ALGORITHM_KEY) ?? new Uint8Array(0)
          const { iv, key } = splitKekKey(cipher.name, algKey)
          const sigHashAttr = attrNumber(sak.attributes, KekAttr.SIG_HASH_ALGORITHM)
          const sigHash = sigHashAttr === undefined ? undefined : sigHashName(sigHashAttr)
          const pub = attrBytes(packet.attributes, KekKeyAttr.SIG_ALGORITHM_KEY)
          const publicKey = pub === undefined ? signingKek?.publicKey : copyBytes(pub)
          const old = chain.kek(packet.spi)
          const same = old !== undefined && toHex(old.key) === toHex(key) && toHex(old.iv) === toHex(iv)
          const kek: KekState = {
            spi: copyBytes(packet.spi),
            cipher,
            iv: new Uint8Array(iv),
            key: new Uint8Array(key),
            ...(sigHash === undefined ? {} : { sigHash }),
            ...(publicKey === undefined ? {} : { publicKey }),
            lastSeq: same ? old.lastSeq : 0,
            ...(same && old.lastBlock !== undefined ? { lastBlock: old.lastBlock } : {}),
            accepted: same ? old.accepted : new Set(),
          }
          chain.setKek(kek)
          out.learned.push({
            kind: 'kek',
            spi: kek.spi,
            cipher: cipher.name,
            iv: kek.iv,
            key: kek.key,
            ...(sigHash === undefined ? {} : { sigHash }),
            ...(publicKey === undefined ? {} : { publicKey }),
          })
          break
        }
        case KdType.SID:
          break // sender IDs: shown in the payload, nothing to install for decryption
        default:
          out.notes.push(`key packet type ${packet.kdType} not used for decryption`)
      }
    } catch (e) {
      if (!isTypedError(e)) throw e
      out.errors.push(recordError('isakmp', e))
    }
  }
}
