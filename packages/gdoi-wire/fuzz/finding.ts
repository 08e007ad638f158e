// What a fuzz target reports besides DecodeError: FuzzFinding (a receive path that must not throw did,
// or an invariant broke), and the small helpers the targets share.
import { DecodeError } from '../src/errors.js'

/** A receive path broke its contract (threw, or accepted what it must not). Always a bug. */
export class FuzzFinding extends Error {
  override name = 'FuzzFinding'
  /** The constructor name of what the code under test threw, or 'invariant'. */
  readonly kind: string
  constructor(kind: string, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.kind = kind
  }
}

/** Calls a function that must not throw at all; anything thrown becomes a FuzzFinding. */
export function mustReturn<T>(what: string, fn: () => T): T {
  try {
    return fn()
  } catch (e) {
    const kind = e instanceof Error ? e.constructor.name : typeof e
    throw new FuzzFinding(kind, `${what} threw ${kind}: ${e instanceof Error ? e.message : String(e)}`, e)
  }
}

/** Harness-side work (building a sealed input); undefined when the harness cannot build it. */
export function harness<T>(fn: () => T): T | undefined {
  try {
    return fn()
  } catch {
    return undefined
  }
}

export function invariant(ok: boolean, message: string): void {
  if (!ok) throw new FuzzFinding('invariant', message)
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

export const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex')

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

export function stateLabel(step: readonly [{ readonly s: string }, readonly { readonly type: string }[]]): string {
  const [st, actions] = step
  invariant(typeof st.s === 'string' && Array.isArray(actions), 'step did not return [state, actions]')
  return st.s
}

/** Classifies what a target threw: undefined for an allowed rejection, else the bug's kind. */
export function bugKind(e: unknown): string | undefined {
  if (e instanceof DecodeError) return undefined
  if (e instanceof FuzzFinding) return e.kind === 'invariant' ? 'invariant' : `escaped ${e.kind}`
  return e instanceof Error ? e.constructor.name : typeof e
}
