// Typed errors of the crypto layer. Match on `code`, never on the message text. Messages never
// contain key bytes. Wrong-size ciphertext is a DecodeError('ERR_BAD_BLOCK') (see cbc.ts), because
// it comes from the wire just like any other malformed datagram.

export type CryptoErrorCode =
  | 'ERR_UNSUPPORTED_ALGORITHM' // an algorithm number we do not implement (from a SA/SAK/SAT attribute)
  | 'ERR_BAD_KEY_LENGTH' // a key length attribute or delivered key that does not fit the algorithm
  | 'ERR_DH_UNKNOWN_GROUP' // a DH group other than MODP 2/5/14
  | 'ERR_DH_BAD_PUBLIC' // peer public value outside 1 < y < p-1, or longer than the prime
  | 'ERR_DH_BAD_PRIVATE' // private exponent empty, longer than the prime, or outside 1 <= x <= p-2
  | 'ERR_KEYLOG_SYNTAX' // a keylog line that does not parse

export class CryptoError extends Error {
  override name = 'CryptoError'
  readonly code: CryptoErrorCode
  constructor(code: CryptoErrorCode, detail: string) {
    super(`${code}: ${detail}`)
    this.code = code
  }
}

/** A Diffie-Hellman input was rejected. Peer values come from the wire: treat as a protocol failure. */
export class DhError extends CryptoError {
  override name = 'DhError'
}

/** A keylog line did not parse; `line` is 1-based. */
export class KeylogError extends CryptoError {
  override name = 'KeylogError'
  readonly line: number
  constructor(line: number, detail: string) {
    super('ERR_KEYLOG_SYNTAX', `line ${line}: ${detail}`)
    this.line = line
  }
}
