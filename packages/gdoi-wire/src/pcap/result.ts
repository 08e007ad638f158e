// The mutable per-datagram result the decoders fill in, and the conversion of thrown errors into
// record errors (only our typed errors; anything else is a bug and propagates).
import { CryptoError } from '../crypto/errors.js'
import { DecodeError } from '../errors.js'
import { EspSuiteError } from '../esp/suite.js'
import type { Payload } from '../payloads/types.js'
import type { Checks, ErrorLayer, IsakmpInfo, LearnedKey, RecordError } from './record.js'

export interface IsakmpResult {
  isakmp?: IsakmpInfo
  encrypted: boolean
  decrypted: boolean
  payloads: Payload[]
  checks: Checks
  learned: LearnedKey[]
  notes: string[]
  errors: RecordError[]
}

export function emptyResult(): IsakmpResult {
  return { encrypted: false, decrypted: false, payloads: [], checks: {}, learned: [], notes: [], errors: [] }
}

/** Turns a DecodeError / CryptoError / EspSuiteError into a record error; rethrows anything else. */
export function recordError(layer: ErrorLayer, e: unknown, shift = 0): RecordError {
  if (e instanceof DecodeError) return { layer, code: e.code, offset: e.offset + shift, detail: e.message.replace(/^\S+ at byte \d+: /, '') }
  if (e instanceof CryptoError || e instanceof EspSuiteError) return { layer, code: e.code, detail: e.message.replace(/^\S+: /, '') }
  throw e
}

export function isTypedError(e: unknown): boolean {
  return e instanceof DecodeError || e instanceof CryptoError || e instanceof EspSuiteError
}
