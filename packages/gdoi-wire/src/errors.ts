// Typed errors of the codec. Only DecodeError may escape a decode function; anything else is a bug
// (the fuzz targets fail on it). Match on `code`, never on the message text.

export type DecodeErrorCode =
  | 'ERR_TRUNCATED' // fewer bytes than a field or length needs
  | 'ERR_BAD_LENGTH' // a length field is impossible (too small, past the enclosing buffer, wrong for the type)
  | 'ERR_RESERVED_NONZERO' // a RESERVED field that must be zero is not
  | 'ERR_TRAILING_BYTES' // bytes left inside a payload after its body was read
  | 'ERR_BAD_VALUE' // a field holds a value the protocol does not allow
  | 'ERR_UNEXPECTED_PAYLOAD' // a payload type where the message rules do not allow it
  | 'ERR_BAD_VERSION' // ISAKMP version is not 1.x
  | 'ERR_BAD_BLOCK' // ciphertext is not a non-zero multiple of the cipher block

export class DecodeError extends Error {
  override name = 'DecodeError'
  readonly code: DecodeErrorCode
  /** Absolute offset in the datagram (or in the decrypted plaintext for encrypted bodies). */
  readonly offset: number
  constructor(code: DecodeErrorCode, offset: number, detail: string) {
    super(`${code} at byte ${offset}: ${detail}`)
    this.code = code
    this.offset = offset
  }
}

export type EncodeErrorCode = 'ERR_OUT_OF_RANGE' | 'ERR_TOO_LONG' | 'ERR_BAD_VALUE' | 'ERR_BUFFER_TOO_SMALL'

export class EncodeError extends Error {
  override name = 'EncodeError'
  readonly code: EncodeErrorCode
  constructor(code: EncodeErrorCode, detail: string) {
    super(`${code}: ${detail}`)
    this.code = code
  }
}
