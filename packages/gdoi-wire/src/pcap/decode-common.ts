// Shared by the ISAKMP decoders: walking a (decrypted) chain into the result, and the phase-1 cipher/key.
import { toHex } from '../crypto/bytes.js'
import type { CbcCipher } from '../crypto/algorithms.js'
import { encryptionKey } from '../crypto/skeyid.js'
import { saKindFor } from '../message.js'
import type { IsakmpHeader, PayloadSpan } from '../payloads/types.js'
import type { Phase1State } from './key-chain.js'
import { recordError, type IsakmpResult } from './result.js'
import { walkPayloads } from './walk-payloads.js'

/** Walks the chain of buf[start, end) into `out`; returns the spans (offsets in buf). */
export function decodeInto(out: IsakmpResult, buf: Uint8Array, start: number, end: number, header: IsakmpHeader, shift: number): { spans: PayloadSpan[]; end: number; ok: boolean } {
  const w = walkPayloads(buf, start, end, header.nextPayload, saKindFor(header.exchange))
  out.payloads.push(...w.payloads)
  if (w.error) out.errors.push(recordError('isakmp', w.error, shift))
  return { spans: w.spans, end: w.end, ok: w.error === undefined }
}

/** Ka: from the key file, or expanded from SKEYID_e once the transform is known. */
export function phase1EncKey(p1: Phase1State, cipher: CbcCipher | undefined): Uint8Array | undefined {
  if (p1.encKey) return p1.encKey
  const k = p1.keys
  if (k === undefined) return undefined
  const hash = p1.hash ?? k.hash
  if (k.encKey) p1.encKey = k.encKey
  else if (k.skeyidE && hash && cipher) p1.encKey = encryptionKey(hash, k.skeyidE, cipher.keyBytes)
  return p1.encKey
}

export interface CipherSetup {
  readonly cipher: CbcCipher
  readonly encKey: Uint8Array
}

/** The phase-1 cipher and key, or a note saying what is missing. */
export function phase1Cipher(p1: Phase1State, out: IsakmpResult): CipherSetup | undefined {
  const cipher = p1.cipher ?? p1.keys?.cipher
  const encKey = phase1EncKey(p1, cipher)
  if (encKey === undefined) {
    out.notes.push(`no phase-1 key for icookie ${toHex(p1.icookie)}`)
    return undefined
  }
  if (cipher === undefined) {
    out.notes.push(`phase-1 cipher unknown (MM1/MM2 not in the capture and the key file does not name it)`)
    return undefined
  }
  if (encKey.length !== cipher.keyBytes) {
    out.errors.push({ layer: 'isakmp', code: 'ERR_KEY_LENGTH', detail: `phase-1 key for icookie ${toHex(p1.icookie)} is ${encKey.length} octets, ${cipher.name} needs ${cipher.keyBytes}` })
    return undefined
  }
  return { cipher, encKey }
}

