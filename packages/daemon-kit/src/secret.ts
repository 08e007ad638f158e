// Key material that must never reach a log line, a status answer or an error message.
//
// Two shapes, because the protocol code wants plain bytes:
// - `KeyBytes`: a Uint8Array branded at the type level and registered at run time (`asKey`). The wire
//   code keeps working with Uint8Array; `hex()`, the log sanitizer and the control socket refuse it.
// - `Secret`: an opaque holder for configuration secrets (pre-shared keys). `toJSON`, `toString` and
//   `util.inspect` all print a placeholder; `reveal()` is the only way to the bytes.
import { timingSafeEqual, KeyObject } from 'node:crypto'
import { inspect } from 'node:util'

declare const keyBrand: unique symbol
/** Bytes that are key material. Create with `asKey()`; a plain Uint8Array is not assignable to `hex()`'s refusal. */
export type KeyBytes = Uint8Array & { readonly [keyBrand]: true }

const keys = new WeakSet<Uint8Array>()

/** Marks `bytes` as key material (the same object, not a copy) and brands its type. */
export function asKey(bytes: Uint8Array): KeyBytes {
  keys.add(bytes)
  return bytes as KeyBytes
}

/** True for bytes marked with `asKey`, for `Secret`s and for node:crypto `KeyObject`s. */
export function isKeyMaterial(value: unknown): boolean {
  if (value instanceof Secret || value instanceof KeyObject) return true
  return value instanceof Uint8Array && keys.has(value)
}

/** Zeroes key bytes in place (the STYLE rule for deleted SAs). */
export function wipe(bytes: Uint8Array): void {
  bytes.fill(0)
}

export const SECRET_PLACEHOLDER = '[secret]'
export const KEY_PLACEHOLDER = '[key]'

/** A configuration secret (PSK). Never printable; compare with `equals` (constant time). */
export class Secret {
  readonly #bytes: Uint8Array
  constructor(bytes: Uint8Array) {
    this.#bytes = asKey(Uint8Array.from(bytes))
  }
  static fromString(s: string): Secret {
    return new Secret(new TextEncoder().encode(s))
  }
  /** The bytes themselves (marked as key material). Do not keep references longer than needed. */
  reveal(): KeyBytes {
    return this.#bytes as KeyBytes
  }
  get byteLength(): number {
    return this.#bytes.length
  }
  equals(other: Secret): boolean {
    const a = this.#bytes
    const b = other.#bytes
    return a.length === b.length && timingSafeEqual(a, b)
  }
  toJSON(): string {
    return SECRET_PLACEHOLDER
  }
  toString(): string {
    return SECRET_PLACEHOLDER
  }
  [inspect.custom](): string {
    return `Secret(${SECRET_PLACEHOLDER})`
  }
}

/** Lower-case hex of at most `maxBytes` bytes (STYLE: trace dumps are capped at 256), with a
 *  `…(+N bytes)` suffix when cut. Throws TypeError for key material, at compile time too
 *  (a `KeyBytes` argument does not type-check). */
export function hex(bytes: Uint8Array & { readonly [keyBrand]?: never }, maxBytes = 256): string {
  if (isKeyMaterial(bytes)) throw new TypeError('hex(): refusing to format key material')
  const n = Math.min(bytes.length, maxBytes)
  let s = Buffer.from(bytes.buffer, bytes.byteOffset, n).toString('hex')
  if (bytes.length > n) s += `…(+${bytes.length - n} bytes)`
  return s
}
