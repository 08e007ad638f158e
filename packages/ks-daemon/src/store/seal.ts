// Key material on its way to a shared store (etcd) is sealed with AES-256-GCM under the cluster's
// key-encryption key (`store.keyEncryptionKey`), so etcd — its disks, snapshots, backups and anyone
// who can read its keys — never holds a plaintext KEK, TEK or RSA signing key.
//
//   sealed = "gdoi-seal-v1." base64( nonce(12) ‖ ciphertext ‖ tag(16) )
//
// The additional authenticated data is the etcd key the value is stored under: a sealed value moved
// to another key (another group, another prefix) does not open.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'

export const SEAL_PREFIX = 'gdoi-seal-v1.'
export const KEY_ENCRYPTION_KEY_BYTES = 32

export class SealError extends Error {
  override name = 'SealError'
  readonly code = 'ERR_SEAL'
}

/**
 * A key-encryption key as written in a key file or an environment variable: 64 hex digits, or 44
 * base64 characters, or exactly 32 raw bytes. Surrounding whitespace is ignored. Returns undefined
 * for anything else.
 */
export function parseKeyEncryptionKey(raw: Uint8Array): Uint8Array | undefined {
  const text = Buffer.from(raw).toString('latin1').trim()
  if (/^[0-9a-fA-F]{64}$/.test(text)) return new Uint8Array(Buffer.from(text, 'hex'))
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) {
    const b = Buffer.from(text, 'base64')
    if (b.length === KEY_ENCRYPTION_KEY_BYTES) return new Uint8Array(b)
  }
  if (raw.length === KEY_ENCRYPTION_KEY_BYTES) return Uint8Array.from(raw)
  return undefined
}

export interface Sealer {
  seal(plaintext: Uint8Array, aad: string): string
  /** Throws SealError when the value was sealed under another key, for another etcd key, or damaged. */
  open(sealed: string, aad: string): Uint8Array
  /** A short public fingerprint of the key (SHA-256 of a label and the key, 8 bytes hex): which key a
   *  cluster uses, without revealing it. */
  readonly fingerprint: string
}

export function createSealer(key: Uint8Array): Sealer {
  if (key.length !== KEY_ENCRYPTION_KEY_BYTES) throw new SealError(`the key-encryption key must be ${KEY_ENCRYPTION_KEY_BYTES} bytes`)
  const k = Buffer.from(key) // our own copy
  const fingerprint = createHash('sha256').update('gdoi-ks store key fingerprint').update(k).digest('hex').slice(0, 16)
  return {
    fingerprint,
    seal(plaintext, aad) {
      const nonce = randomBytes(12)
      const c = createCipheriv('aes-256-gcm', k, nonce)
      c.setAAD(Buffer.from(aad, 'utf8'))
      const body = Buffer.concat([c.update(plaintext), c.final()])
      return SEAL_PREFIX + Buffer.concat([nonce, body, c.getAuthTag()]).toString('base64')
    },
    open(sealed, aad) {
      if (!sealed.startsWith(SEAL_PREFIX)) throw new SealError(`value at ${aad} is not sealed (${SEAL_PREFIX}…)`)
      const b = Buffer.from(sealed.slice(SEAL_PREFIX.length), 'base64')
      if (b.length < 12 + 16) throw new SealError(`sealed value at ${aad} is truncated`)
      const d = createDecipheriv('aes-256-gcm', k, b.subarray(0, 12))
      d.setAAD(Buffer.from(aad, 'utf8'))
      d.setAuthTag(b.subarray(b.length - 16))
      try {
        return new Uint8Array(Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]))
      } catch {
        throw new SealError(`sealed value at ${aad} does not open: another keyEncryptionKey, or damaged`)
      }
    },
  }
}
