// The RSA key that signs GROUPKEY-PUSH messages (IOS `crypto key generate rsa … label L modulus N`
// + `rekey authentication mypubkey rsa L`).
//
// `generate`: on first start a key is generated into the state directory as rekey-<label>.pem
// (PKCS#8 PEM, mode 0600, atomic write) and loaded from there afterwards. `file`: loaded from the
// given PEM. Either way the file must not be readable by group/others, must be RSA ≥ 2048 bits.
// A second key server (the same group served from two machines) uses the first one's key:
// `exportSigningKeyPem()` (`gdoi-ks export-key`) → copy (0600) → `signingKey: { file: … }`.
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto'
import { promises as fsp } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ensurePrivateDir, writeFileAtomic } from '@gdoi/daemon-kit'
import type { SigningKeyConfig } from '../config/types.js'
import type { SigningKeyRef } from './types.js'

const generateKeyPairAsync = promisify(generateKeyPair)

export const MIN_RSA_BITS = 2048

export interface SigningKey {
  readonly label: string
  readonly privateKey: KeyObject
  /** DER SubjectPublicKeyInfo: the KD payload's SIG_ALGORITHM_KEY. Its length is what IOS shows as
   *  "sig key length". */
  readonly publicKeySpkiDer: Uint8Array
  readonly bits: number
  readonly path: string
  /** SHA-256 of publicKeySpkiDer, hex. */
  readonly spkiSha256: string
  /** True when this call generated the key. */
  readonly created: boolean
}

export class SigningKeyError extends Error {
  override name = 'SigningKeyError'
  readonly code = 'ERR_SIGNING_KEY'
}

/** rekey-<label>.pem in the state directory. */
export function signingKeyPath(stateDir: string, label: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(label)) throw new SigningKeyError(`bad key label ${JSON.stringify(label)}`)
  return join(stateDir, `rekey-${label}.pem`)
}

export function describeSigningKey(privateKey: KeyObject, label: string, path: string, created: boolean): SigningKey {
  if (privateKey.asymmetricKeyType !== 'rsa') throw new SigningKeyError(`${path}: not an RSA key (${privateKey.asymmetricKeyType ?? 'unknown'})`)
  const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0
  if (bits < MIN_RSA_BITS) throw new SigningKeyError(`${path}: ${bits}-bit RSA is too weak; use ${MIN_RSA_BITS} bits or more`)
  const spki = new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }))
  const key: SigningKey = {
    label,
    privateKey,
    publicKeySpkiDer: spki,
    bits,
    path,
    spkiSha256: createHash('sha256').update(spki).digest('hex'),
    created,
  }
  // A SigningKey logged by accident shows its reference, not the key.
  Object.defineProperty(key, 'toJSON', { value: () => signingKeyRef(key), enumerable: false })
  return key
}

/** Loads a PEM private key file; refuses files readable by group/others. */
export async function loadSigningKey(path: string, label: string): Promise<SigningKey> {
  let pem: Buffer
  try {
    const st = await fsp.stat(path)
    if (!st.isFile()) throw new SigningKeyError(`${path}: not a regular file`)
    if ((st.mode & 0o077) !== 0) {
      throw new SigningKeyError(`${path} is readable by other users (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); chmod 600 it`)
    }
    pem = await fsp.readFile(path)
  } catch (err) {
    if (err instanceof SigningKeyError) throw err
    throw new SigningKeyError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err })
  }
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey(pem)
  } catch (err) {
    throw new SigningKeyError(`${path}: not a readable private key (PEM; encrypted keys are not supported)`, { cause: err })
  } finally {
    pem.fill(0)
  }
  return describeSigningKey(privateKey, label, path, false)
}

const inflight = new Map<string, Promise<SigningKey>>()

/** The key a group's `rekey.signingKey` names: loaded, or generated on first start. Concurrent calls for
 *  the same file share one generation. */
export function loadOrCreateSigningKey(cfg: SigningKeyConfig, stateDir: string): Promise<SigningKey> {
  if (cfg.source === 'file') return loadSigningKey(cfg.path, cfg.label)
  const path = signingKeyPath(stateDir, cfg.label)
  const pending = inflight.get(path)
  if (pending) return pending
  const p = (async (): Promise<SigningKey> => {
    try {
      await fsp.access(path)
      const k = await loadSigningKey(path, cfg.label)
      if (k.bits !== cfg.bits) {
        throw new SigningKeyError(
          `${path} holds a ${k.bits}-bit key but the configuration asks for ${cfg.bits} bits; delete the file to generate a new key (group members must then re-register)`,
        )
      }
      return k
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    await ensurePrivateDir(stateDir)
    const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: cfg.bits, publicExponent: 0x10001 })
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' })
    await writeFileAtomic(path, pem, { mode: 0o600 })
    return describeSigningKey(privateKey, cfg.label, path, true)
  })().finally(() => inflight.delete(path))
  inflight.set(path, p)
  return p
}

/** PKCS#8 PEM of the private key, to install on a second key server (`signingKey: { file }`, 0600). */
export function exportSigningKeyPem(key: SigningKey): string {
  return key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
}

/** SubjectPublicKeyInfo PEM of the public key (what GMs verify pushes with; safe to publish). */
export function exportPublicKeyPem(key: SigningKey): string {
  return createPublicKey(key.privateKey).export({ format: 'pem', type: 'spki' }).toString()
}

/** What the state remembers about the key (never the key). */
export function signingKeyRef(key: SigningKey): SigningKeyRef {
  return { label: key.label, path: key.path, bits: key.bits, spkiSha256: key.spkiSha256 }
}
