// KsState ⇄ the JSON persisted by the stores. Key material is base64, SPIs hex; everything is checked
// on the way in (lengths of SPIs and keys, counters in range), so a damaged file is reported as
// such instead of turning into a KS that hands out broken keys.
import { z } from 'zod'
import { asKey, formatPath, type EspTransformConfig, type KeyBytes } from '@gdoi/daemon-kit'
import { KS_STATE_VERSION, StoreError, type GroupState, type KsState, type MemberChange, type MemberState, type TekState } from './types.js'

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

const keyB64 = z.string().transform((s, ctx): KeyBytes => {
  if (!B64.test(s)) {
    ctx.issues.push({ code: 'custom', message: 'not base64', input: undefined })
    return z.NEVER
  }
  return asKey(new Uint8Array(Buffer.from(s, 'base64')))
})

const hexBytes = (len: number) =>
  z.string().transform((s, ctx): Uint8Array => {
    if (!/^[0-9a-f]*$/i.test(s) || s.length !== len * 2) {
      ctx.issues.push({ code: 'custom', message: `expected ${len} bytes of hex`, input: undefined })
      return z.NEVER
    }
    return new Uint8Array(Buffer.from(s, 'hex'))
  })

const u32 = z.int().min(0).max(0xffffffff)
const ms = z.number().int().min(0)

const transform = z.strictObject({
  cipher: z.enum(['aes-cbc', 'aes-gcm', '3des-cbc']),
  keyBits: z.literal([128, 192, 256]),
  integrity: z.enum(['hmac-sha1', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512']).nullable(),
})

const KEK_KEY_BYTES = { 'aes-256-cbc': 16 + 32, 'aes-128-cbc': 16 + 16, '3des': 8 + 24 } as const
const AUTH_KEY_BYTES = { 'hmac-sha1': 20, 'hmac-sha256': 32, 'hmac-sha384': 48, 'hmac-sha512': 64 } as const

/** TEK_ALGORITHM_KEY length for a transform (GCM adds the 4-byte salt). */
export function tekEncKeyBytes(t: EspTransformConfig): number {
  if (t.cipher === '3des-cbc') return 24
  return t.keyBits / 8 + (t.cipher === 'aes-gcm' ? 4 : 0)
}

const kek = z
  .strictObject({
    spi: hexBytes(16),
    algorithm: z.enum(['aes-256-cbc', 'aes-128-cbc', '3des']),
    algorithmKey: keyB64,
    createdMs: ms,
    expiresMs: ms,
    seq: u32,
  })
  .check((ctx) => {
    const want = KEK_KEY_BYTES[ctx.value.algorithm]
    if (ctx.value.algorithmKey.length !== want) {
      ctx.issues.push({ code: 'custom', message: `expected ${want} bytes (IV ‖ key) for ${ctx.value.algorithm}`, input: undefined, path: ['algorithmKey'] })
    }
  })

const tek = z
  .strictObject({
    spi: u32,
    transform,
    encKey: keyB64,
    authKey: keyB64.nullable(),
    createdMs: ms,
    expiresMs: ms,
  })
  .check((ctx) => {
    const v = ctx.value
    const enc = tekEncKeyBytes(v.transform)
    if (v.encKey.length !== enc) ctx.issues.push({ code: 'custom', message: `expected ${enc} bytes`, input: undefined, path: ['encKey'] })
    const ai = v.transform.integrity
    if (ai === null ? v.authKey !== null : v.authKey?.length !== AUTH_KEY_BYTES[ai]) {
      const message = ai === null ? 'must be null for esp-gcm' : `expected ${AUTH_KEY_BYTES[ai]} bytes`
      ctx.issues.push({ code: 'custom', message, input: undefined, path: ['authKey'] })
    }
  })

const member = z.strictObject({
  address: z.string().min(1),
  port: z.int().min(0).max(65535),
  identity: z.string(),
  registeredAtMs: ms,
  missedPushes: z.int().min(0),
  lastAckSeq: u32.nullable(),
  senderIds: z.array(z.int().min(0).max(0xffff)),
})

const signingKey = z.strictObject({
  label: z.string().min(1),
  path: z.string().min(1),
  bits: z.int().min(1024),
  spkiSha256: z.string().regex(/^[0-9a-f]{64}$/),
})

const group = z.strictObject({
  kek: kek.nullable(),
  teks: z.array(tek),
  members: z.array(member),
  senderIdNext: z.int().min(0),
  signingKey: signingKey.nullable(),
})

const stateSchema = z.strictObject({
  version: z.literal(KS_STATE_VERSION),
  savedAtMs: ms,
  groups: z.record(z.string().min(1), group),
})

const memberChangeSchema = z.strictObject({ g: z.string().min(1), k: z.string().min(1), m: member.nullable(), sid: z.int().min(0) })

/** One journal record (file store) for a member change. */
export function encodeMemberChange(c: MemberChange): string {
  return JSON.stringify({ g: c.group, k: c.key, m: c.member && { ...c.member, senderIds: [...c.member.senderIds] }, sid: c.senderIdNext })
}

/** Checks one journal record; throws StoreError ERR_STATE_CORRUPT naming the damaged field. */
export function decodeMemberChange(json: unknown, source: string): MemberChange {
  const r = memberChangeSchema.safeParse(json, { reportInput: false })
  if (!r.success) {
    const detail = r.error.issues
      .slice(0, 5)
      .map((i) => `${formatPath(i.path) || '(top)'}: ${i.message}`)
      .join('; ')
    throw new StoreError('ERR_STATE_CORRUPT', `${source} is corrupt: ${detail}`)
  }
  return { group: r.data.g, key: r.data.k, member: r.data.m, senderIdNext: r.data.sid }
}

/** `state` with the changes applied (members replaced/removed by key, senderIdNext raised). Changes for
 *  groups the state does not have are dropped (the group went from the configuration). */
export function applyMemberChanges(state: KsState, changes: readonly MemberChange[]): KsState {
  if (changes.length === 0) return state
  const groups: Record<string, GroupState> = {}
  for (const [name, g] of Object.entries(state.groups)) {
    const mine = changes.filter((c) => c.group === name)
    if (mine.length === 0) {
      groups[name] = g
      continue
    }
    const members = new Map<string, MemberState>(g.members.map((m) => [`${m.address}:${m.port}`, m]))
    let sid = g.senderIdNext
    for (const c of mine) {
      if (c.member === null) members.delete(c.key)
      else members.set(c.key, c.member)
      sid = Math.max(sid, c.senderIdNext)
    }
    groups[name] = { ...g, members: [...members.values()], senderIdNext: sid }
  }
  return { ...state, groups }
}

/** JSON-ready object for a state (keys as base64). */
export function encodeState(s: KsState): unknown {
  const b64 = (k: Uint8Array): string => Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('base64')
  const hex = (k: Uint8Array): string => Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('hex')
  const groups: Record<string, unknown> = {}
  for (const [name, g] of Object.entries(s.groups)) {
    groups[name] = {
      kek: g.kek && {
        spi: hex(g.kek.spi),
        algorithm: g.kek.algorithm,
        algorithmKey: b64(g.kek.algorithmKey),
        createdMs: g.kek.createdMs,
        expiresMs: g.kek.expiresMs,
        seq: g.kek.seq,
      },
      teks: g.teks.map((t: TekState) => ({
        spi: t.spi,
        transform: { cipher: t.transform.cipher, keyBits: t.transform.keyBits, integrity: t.transform.integrity },
        encKey: b64(t.encKey),
        authKey: t.authKey && b64(t.authKey),
        createdMs: t.createdMs,
        expiresMs: t.expiresMs,
      })),
      members: g.members.map((m) => ({ ...m, senderIds: [...m.senderIds] })),
      senderIdNext: g.senderIdNext,
      signingKey: g.signingKey && { ...g.signingKey },
    }
  }
  return { version: s.version, savedAtMs: s.savedAtMs, groups }
}

/** Checks and converts persisted JSON; throws StoreError naming every damaged field. */
export function decodeState(json: unknown, source: string): KsState {
  if (typeof json === 'object' && json !== null && 'version' in json && json.version !== KS_STATE_VERSION) {
    throw new StoreError(
      'ERR_STATE_VERSION',
      `${source}: state version ${String(json.version)} is not ${KS_STATE_VERSION}; it was written by another gdoi-ks version`,
    )
  }
  const r = stateSchema.safeParse(json, { reportInput: false })
  if (!r.success) {
    const detail = r.error.issues
      .slice(0, 10)
      .map((i) => `${formatPath(i.path) || '(top)'}: ${i.message}`)
      .join('; ')
    throw new StoreError('ERR_STATE_CORRUPT', `${source} is corrupt: ${detail}${r.error.issues.length > 10 ? '; …' : ''}`)
  }
  return r.data as { version: 1; savedAtMs: number; groups: Record<string, GroupState> }
}
