// GM side of GROUPKEY-PUSH (exchange 33, spec §5.1–§5.4; RFC 6407 §4.4, §7.3.4, §7.3.5). A pure
// function of (state, datagram) → new state + outcome, checks in the RFC order, cheapest first:
//   0. duplicate of a recently accepted push (hash memory)         → 'duplicate'   (before any crypto)
//   1. header: exchange 33, E flag; cookies = a KEK SPI we hold    → 'malformed' / 'unknown-kek'
//   2. decrypt with the KEK's static IV; if the first block is not a SEQ payload, retry with the last
//      ciphertext block of the previous push under that KEK (tolerance, spec §5.1)
//   3. well formed: payload chain + PUSH rules                     → 'malformed'
//   4. SEQ > lastSeq of this KEK                                   → 'replay'
//   5. signature (RFC/DigestInfo and bare-hash forms, unpadded and on-wire Length) → 'bad-signature'
//   6. only now: lastSeq = SEQ; then SA/KD/D are interpreted       → accepted (or 'bad-policy')
// KEK rollover: a push whose SA carries a SAK with a new SPI installs that KEK (lastSeq 0, SEQ restarts
// at 1, RFC 6407 §4.3); the old KEK is dropped when the first push under the new one is accepted.
import { PayloadType, ExchangeType, Flags, KdType } from '../constants.js'
import { DecodeError } from '../errors.js'
import type { CbcCipherName, HashName } from '../crypto/algorithms.js'
import { cbcDecrypt } from '../crypto/cbc.js'
import { lastBlock } from '../crypto/iv-chain.js'
import { hash } from '../crypto/prf.js'
import { splitKekKey, verifyPush, type PushLengthVariant, type PushSigForm } from '../crypto/push.js'
import { decodeChain, decodeMessage } from '../message.js'
import { checkRules, Rules } from '../rules.js'
import type { KeyDownloadPayload } from '../payloads/types.js'
import { checkKeysForPolicy, keyDownloadToKeys, type GroupKeys } from './group-keys.js'
import { kekCipherName, saPayloadToPolicy, type GroupPolicy } from './group-policy.js'
import { payloadsOf, sameBytes, toHexString } from './pull-common.js'
import type { PullResult } from './pull-member.js'

/** One KEK a GM holds: what decrypts and authenticates pushes with its SPI as cookies. */
export interface MemberKek {
  readonly spi: Uint8Array
  readonly cipher: CbcCipherName
  readonly algorithmKey: Uint8Array // IV ‖ key
  readonly publicKey: Uint8Array // KS signing key, SPKI DER
  readonly sigHash: HashName
  /** Highest SEQ accepted under this KEK (PULL4 SEQ at registration; 0 for a KEK new from a rollover). */
  readonly lastSeq: number
  readonly lastCiphertextBlock?: Uint8Array
  /** RFC 8263 KEK_ACK_REQUESTED of the most recent SAK for this KEK. */
  readonly ackRequested?: number
  /** SPI of the KEK whose push announced this one; that KEK is retired on this KEK's first push. */
  readonly replaces?: Uint8Array
}

export interface PushMemberState {
  readonly keks: readonly MemberKek[]
  /** Hashes (hex SHA-256) of recently accepted push datagrams, newest last. */
  readonly recentHashes: readonly string[]
}

export const EMPTY_PUSH_MEMBER_STATE: PushMemberState = { keks: [], recentHashes: [] }

export type PushDeleteNotice =
  | { readonly kind: 'tek'; readonly protocolId: number; readonly spis: readonly number[] } // 0 = all
  | { readonly kind: 'kek'; readonly spis: readonly Uint8Array[] } // all-zero = all

export interface PushAccepted {
  /** The KEK that protected this push. */
  readonly kekSpi: Uint8Array
  readonly seq: number
  readonly policy?: GroupPolicy
  /** New keys; `sids` never comes from a push. TEKs for SATs of earlier messages are included as sent. */
  readonly keys?: GroupKeys
  readonly deletes: readonly PushDeleteNotice[]
  /** Present on a KEK rollover: the new KEK is already installed in the returned state. */
  readonly newKek?: MemberKek
  readonly sigForm: PushSigForm
  readonly lengthVariant: PushLengthVariant
  readonly ivVariant: 'static' | 'chained'
  /** RFC 8263: the most recent SAK asked for ACKs; build one with ack.ts buildAck(). */
  readonly ack?: { readonly ackRequested: number; readonly baseKey: Uint8Array }
}

export type PushRejection =
  | { readonly code: 'duplicate' }
  | { readonly code: 'malformed'; readonly detail: string }
  | { readonly code: 'unknown-kek' }
  | { readonly code: 'replay'; readonly seq: number; readonly lastSeq: number }
  | { readonly code: 'bad-signature' }
  /** Authentic and newer (lastSeq advanced) but its SA/KD cannot be used. */
  | { readonly code: 'bad-policy'; readonly detail: string }

export type PushOutcome =
  | { readonly state: PushMemberState; readonly accepted: PushAccepted }
  | { readonly state: PushMemberState; readonly rejected: PushRejection }

export interface PushMemberOptions {
  /** How many accepted-push hashes to remember (default 64). */
  readonly maxRecent?: number
  readonly strictAttributes?: boolean
}

/** The KEK of a finished registration, or undefined when the group has no rekey SA. */
export function kekFromPull(result: PullResult): MemberKek | undefined {
  const p = result.policy.kek
  const k = result.keys.kek
  if (p === undefined || k === undefined || k.signingPublicKey === undefined) return undefined
  return {
    spi: p.spi,
    cipher: kekCipherName(p),
    algorithmKey: k.algorithmKey,
    publicKey: k.signingPublicKey,
    sigHash: p.sigHash,
    lastSeq: result.seq ?? 0,
    ...(p.ackRequested !== undefined ? { ackRequested: p.ackRequested } : {}),
  }
}

/**
 * Installs the KEK of a (re-)registration. One PushMemberState per group: the PULL names the group's
 * current KEK, so any other KEK held is stale and dropped (none at all when the group has no rekey SA).
 * RFC 6407 §3.3: when the same KEK is already installed and a later push was accepted, a lower PULL4
 * SEQ is stale and the higher value is kept.
 */
export function installKekFromPull(state: PushMemberState, result: PullResult): PushMemberState {
  const kek = kekFromPull(result)
  if (kek === undefined) return { ...state, keks: [] }
  const old = state.keks.find((k) => sameBytes(k.spi, kek.spi))
  const merged: MemberKek =
    old === undefined
      ? kek
      : { ...kek, lastSeq: Math.max(old.lastSeq, kek.lastSeq), ...(old.lastCiphertextBlock !== undefined ? { lastCiphertextBlock: old.lastCiphertextBlock } : {}) }
  return { ...state, keks: [merged] }
}

export function retireKek(state: PushMemberState, spi: Uint8Array): PushMemberState {
  return { ...state, keks: state.keks.filter((k) => !sameBytes(k.spi, spi)) }
}

// SEQ payload as the first plaintext block: next ∈ {SA, SIG, D, KD, CERT}, RESERVED 0, length 8.
const AFTER_SEQ = new Set<number>([PayloadType.SA, PayloadType.SIG, PayloadType.DELETE, PayloadType.KEY_DOWNLOAD, PayloadType.CERT])
function looksLikeSeq(p: Uint8Array): boolean {
  return p.length >= 8 && AFTER_SEQ.has(p[0] ?? -1) && p[1] === 0 && p[2] === 0 && p[3] === 8
}

const reject = (state: PushMemberState, rejected: PushRejection): PushOutcome => ({ state, rejected })

export function processPush(state: PushMemberState, bytes: Uint8Array, opts: PushMemberOptions = {}): PushOutcome {
  // 0. duplicates before any crypto (the digest is only a memory key)
  const digest = toHexString(hash('sha256', bytes))
  if (state.recentHashes.includes(digest)) return reject(state, { code: 'duplicate' })

  // 1. header and cookies
  let msg
  try {
    msg = decodeMessage(bytes)
  } catch (e) {
    if (e instanceof DecodeError) return reject(state, { code: 'malformed', detail: e.message })
    throw e
  }
  const { header, ciphertext } = msg
  if (header.exchange !== ExchangeType.GROUPKEY_PUSH || (header.flags & Flags.ENCRYPTION) === 0 || ciphertext === undefined) {
    return reject(state, { code: 'malformed', detail: 'not an encrypted GROUPKEY-PUSH' })
  }
  const spi = new Uint8Array(16)
  spi.set(header.icookie, 0)
  spi.set(header.rcookie, 8)
  const kek = state.keks.find((k) => sameBytes(k.spi, spi))
  if (kek === undefined) return reject(state, { code: 'unknown-kek' })

  // 2. decrypt: static IV, fallback chained
  let plaintext: Uint8Array
  let ivVariant: 'static' | 'chained' = 'static'
  const { iv, key } = splitKekKey(kek.cipher, kek.algorithmKey)
  try {
    plaintext = cbcDecrypt(kek.cipher, key, iv, ciphertext)
    if (!looksLikeSeq(plaintext) && kek.lastCiphertextBlock !== undefined) {
      const again = cbcDecrypt(kek.cipher, key, kek.lastCiphertextBlock, ciphertext)
      if (looksLikeSeq(again)) {
        plaintext = again
        ivVariant = 'chained'
      }
    }
  } catch (e) {
    if (e instanceof DecodeError) return reject(state, { code: 'malformed', detail: e.message })
    throw e
  }

  // 3. well formed
  let chain
  try {
    chain = decodeChain(plaintext, 0, plaintext.length, header.nextPayload, 'gdoi')
    checkRules(Rules.PUSH, chain)
  } catch (e) {
    if (e instanceof DecodeError) return reject(state, { code: 'malformed', detail: e.message })
    throw e
  }
  const seq = payloadsOf.seq(chain.payloads)[0]?.seq ?? 0
  const sigIndex = chain.payloads.findIndex((p) => p.type === PayloadType.SIG)
  const sig = payloadsOf.sig(chain.payloads)[0]
  const sigSpan = chain.spans[sigIndex]
  if (sig === undefined || sigSpan === undefined) return reject(state, { code: 'malformed', detail: 'no SIG' })

  // 4. SEQ newer than the last accepted under this KEK
  if (seq <= kek.lastSeq) return reject(state, { code: 'replay', seq, lastSeq: kek.lastSeq })

  // 5. signature over "rekey" ‖ HDR' ‖ P
  const verdict = verifyPush(kek.sigHash, kek.publicKey, kek.spi, plaintext.subarray(0, sigSpan.start), sig.data, header.length)
  if (!verdict.ok) return reject(state, { code: 'bad-signature' })

  // 6. authentic and newer: consume it
  const updatedKek: MemberKek = { ...kek, lastSeq: seq, lastCiphertextBlock: lastBlock(ciphertext, iv.length) }
  let keks = state.keks.map((k) => (k === kek ? updatedKek : k))
  if (kek.replaces !== undefined) {
    const retired = kek.replaces
    keks = keks.filter((k) => !sameBytes(k.spi, retired)).map((k) => (k === updatedKek ? withoutReplaces(k) : k))
  }
  const maxRecent = opts.maxRecent ?? 64
  const recentHashes = [...state.recentHashes, digest].slice(-maxRecent)
  let next: PushMemberState = { keks, recentHashes }

  const deletes = readDeletes(chain.payloads)
  for (const d of deletes) {
    if (d.kind !== 'kek') continue
    for (const s of d.spis) next = s.every((b) => b === 0) ? { ...next, keks: [] } : retireKek(next, s)
  }

  const saPayload = payloadsOf.sa(chain.payloads)[0]
  const kd = payloadsOf.kd(chain.payloads)[0]
  let policy: GroupPolicy | undefined
  let keys: GroupKeys | undefined
  let newKek: MemberKek | undefined
  if (saPayload !== undefined || kd !== undefined) {
    if (saPayload === undefined || kd === undefined) return reject(next, { code: 'bad-policy', detail: 'SA without KD or KD without SA' })
    const p = saPayloadToPolicy(saPayload, opts.strictAttributes === true ? { strict: true } : {})
    if (!p.ok) return reject(next, { code: 'bad-policy', detail: p.reason })
    const k = keyDownloadToKeys(withoutSidPackets(kd))
    if (!k.ok) return reject(next, { code: 'bad-policy', detail: k.reason })
    policy = p.value
    keys = k.value
    if (policy.kek !== undefined) {
      const pk = policy.kek
      const existing = next.keks.find((x) => sameBytes(x.spi, pk.spi))
      // A SAK re-sent for a KEK we hold may come without its key packet; a new KEK needs one.
      const problem = checkKeysForPolicy(keys.kek === undefined && existing !== undefined ? { teks: policy.teks } : policy, keys)
      if (problem !== undefined) return reject(next, { code: 'bad-policy', detail: problem })
      // Without a key packet the held IV ‖ key is kept, so the cipher must stay (else the next push
      // under this KEK would split a key of the wrong size: found by fuzz/ push-signed).
      const cipher = kekCipherName(pk)
      if (keys.kek === undefined && existing !== undefined && cipher !== existing.cipher) {
        return reject(next, { code: 'bad-policy', detail: `SAK changes the KEK cipher to ${cipher} without a KEK key packet` })
      }
      const installed: MemberKek = {
        spi: pk.spi,
        cipher,
        algorithmKey: keys.kek?.algorithmKey ?? existing?.algorithmKey ?? kek.algorithmKey,
        // a new signing key is verified only by this (old-key) signature, spec §5.2
        publicKey: keys.kek?.signingPublicKey ?? existing?.publicKey ?? kek.publicKey,
        sigHash: pk.sigHash,
        lastSeq: existing?.lastSeq ?? 0,
        ...(existing?.lastCiphertextBlock !== undefined ? { lastCiphertextBlock: existing.lastCiphertextBlock } : {}),
        ...(pk.ackRequested !== undefined ? { ackRequested: pk.ackRequested } : {}),
        ...(sameBytes(pk.spi, kek.spi) ? {} : { replaces: kek.spi }),
      }
      next = { ...next, keks: [...next.keks.filter((x) => !sameBytes(x.spi, pk.spi)), installed] }
      if (!sameBytes(pk.spi, kek.spi) && existing === undefined) newKek = installed
    } else {
      const problem = checkKeysForPolicy(policy, keys.kek === undefined ? keys : { teks: keys.teks })
      if (problem !== undefined) return reject(next, { code: 'bad-policy', detail: problem })
    }
  }

  // RFC 8263 §4: the GM follows the most recently received SAK.
  const ackRequested = policy?.kek !== undefined ? policy.kek.ackRequested : kek.ackRequested
  const accepted: PushAccepted = {
    kekSpi: kek.spi,
    seq,
    ...(policy !== undefined ? { policy } : {}),
    ...(keys !== undefined ? { keys } : {}),
    deletes,
    ...(newKek !== undefined ? { newKek } : {}),
    sigForm: verdict.form,
    lengthVariant: verdict.lengthVariant,
    ivVariant,
    ...(ackRequested !== undefined ? { ack: { ackRequested, baseKey: key } } : {}),
  }
  return { state: next, accepted }
}

function withoutReplaces(k: MemberKek): MemberKek {
  const { replaces: _r, ...rest } = k
  return rest
}

function withoutSidPackets(kd: KeyDownloadPayload): KeyDownloadPayload {
  return { ...kd, packets: kd.packets.filter((p) => p.kdType !== KdType.SID) }
}

/** D payloads: GDOI numbering (TEK 1 ESP / 2 AH, KEK 0) and IPsec numbering (3 ESP, 1 ISAKMP) both accepted. */
function readDeletes(ps: Parameters<typeof payloadsOf.del>[0]): PushDeleteNotice[] {
  const out: PushDeleteNotice[] = []
  for (const d of payloadsOf.del(ps)) {
    if (d.spiSize === 16 && (d.protocolId === 0 || d.protocolId === 1)) out.push({ kind: 'kek', spis: d.spis.map((s) => s.slice()) })
    else if (d.spiSize === 4) {
      const protocolId = d.protocolId === 3 ? 1 : d.protocolId
      out.push({ kind: 'tek', protocolId, spis: d.spis.map((s) => new DataView(s.buffer, s.byteOffset, 4).getUint32(0)) })
    }
  }
  return out
}
