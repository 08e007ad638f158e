// Compact storage for the key server's idle established phase-1 SAs: one per registered member, kept for
// the SA lifetime (24 h by default) and used a few times a day (a PULL, an Informational). A Phase1Sa
// object holds nine Uint8Arrays (nine ArrayBuffers, each with a malloc'd backing store), plus the entry
// that holds it (peer object, boxed timestamps): ≈ 1 KiB per member, and the backing stores, scattered
// among the storm's short-lived buffers, keep malloc pages from being returned. Here the SA becomes ONE
// latin1 string (V8 heap, compacted by the GC, no per-SA ArrayBuffer): what a later exchange needs —
// cookies, SKEYID_a, SKEYID_e, the cipher key, the IV seed (last MM6 block), the peer's identity, the
// peer's address and the timestamps. What is the same for every SA of one configuration (role, hash,
// cipher, our identity) is shared (SaProfiles). SKEYID and SKEYID_d are not kept: after Main Mode they
// only go to the key log, which is written when the SA is established (GDOI takes no keys from
// SKEYID_d: the KEK and TEKs come in the KD payload). See bench/README.md ("storm", KS memory per GM).
import type { Endpoint } from '@gdoi/daemon-kit'
import type { IdPayload } from '@gdoi/wire'
import { PayloadType } from '@gdoi/wire/constants'
import type { Phase1Sa } from '@gdoi/wire/exchange/index'

/** What is the same for every SA negotiated under one configuration. */
interface SaProfile {
  readonly role: Phase1Sa['role']
  readonly hash: Phase1Sa['hash']
  readonly cipher: Phase1Sa['cipher']
  readonly localId: IdPayload
}

/** Interned SaProfiles (a handful per configuration; a reload may add some). */
export class SaProfiles {
  readonly #list: SaProfile[] = []
  readonly #index = new Map<string, number>()

  /** The profile's number, or undefined when 65,535 exist already (the SA is then kept unpacked). */
  intern(sa: Phase1Sa): number | undefined {
    const l = sa.localId
    const k = `${sa.role}|${sa.hash}|${sa.cipher.name}|${sa.cipher.keyBytes}|${sa.cipher.blockBytes}|${l.idType}|${l.protocol}|${l.port}|${Buffer.from(l.data).toString('hex')}`
    let i = this.#index.get(k)
    if (i === undefined) {
      if (this.#list.length >= 0xffff) return undefined
      i = this.#list.length
      this.#list.push({ role: sa.role, hash: sa.hash, cipher: sa.cipher, localId: sa.localId })
      this.#index.set(k, i)
    }
    return i
  }

  get(i: number): SaProfile {
    const p = this.#list[i]
    if (p === undefined) throw new Error(`unknown SA profile ${i}`)
    return p
  }
}

/** An idle established SA: the packed string and what it unpacks to. */
export interface IdleSa {
  readonly sa: Phase1Sa
  readonly peer: Endpoint
  readonly createdMs: number
  readonly establishedMs: number
  /** End of the SA lifetime (its deadline). */
  readonly expireAtMs: number
}

const VERSION = 1
// Fixed header: version u8, profile u16, createdMs f64, establishedMs f64, expireAtMs f64,
// sa.establishedAtMs f64, lifetimeSec u32, port u16, then the variable part.
const OFF_EXPIRE = 1 + 2 + 8 + 8
const HEADER = 1 + 2 + 8 + 8 + 8 + 8 + 4 + 2
let scratch = Buffer.alloc(512)

/** Packs an established SA, or returns undefined when its fields do not have the usual shape (then the
 *  caller keeps it as it is). */
export function packSa(profiles: SaProfiles, x: IdleSa): string | undefined {
  const { sa, peer } = x
  const prfLen = sa.skeyidA.length
  if (sa.icookie.length !== 8 || sa.rcookie.length !== 8 || sa.skeyidE.length !== prfLen || prfLen > 255) return undefined
  if (sa.encKey.length > 255 || sa.lastBlock.length > 255 || sa.peerId.data.length > 0xffff || (sa.peerPublicKey?.length ?? 0) >= 0xffff) return undefined
  const addr = Buffer.from(peer.address, 'utf8')
  if (addr.length > 255 || !Number.isInteger(sa.lifetimeSec) || sa.lifetimeSec < 0 || sa.lifetimeSec > 0xffffffff) return undefined
  const profile = profiles.intern(sa)
  if (profile === undefined) return undefined
  const pk = sa.peerPublicKey
  const n = HEADER + 1 + addr.length + 1 + 1 + 2 + 2 + sa.peerId.data.length + 2 + (pk?.length ?? 0) + 16 + 1 + 2 * prfLen + 1 + sa.encKey.length + 1 + sa.lastBlock.length
  if (scratch.length < n) scratch = Buffer.alloc(n * 2)
  const b = scratch
  let o = 0
  o = b.writeUInt8(VERSION, o)
  o = b.writeUInt16BE(profile, o)
  o = b.writeDoubleBE(x.createdMs, o)
  o = b.writeDoubleBE(x.establishedMs, o)
  o = b.writeDoubleBE(x.expireAtMs, o)
  o = b.writeDoubleBE(sa.establishedAtMs, o)
  o = b.writeUInt32BE(sa.lifetimeSec, o)
  o = b.writeUInt16BE(peer.port, o)
  o = b.writeUInt8(addr.length, o)
  o += addr.copy(b, o)
  o = b.writeUInt8(sa.peerId.idType, o)
  o = b.writeUInt8(sa.peerId.protocol, o)
  o = b.writeUInt16BE(sa.peerId.port, o)
  o = b.writeUInt16BE(sa.peerId.data.length, o)
  b.set(sa.peerId.data, o)
  o += sa.peerId.data.length
  o = b.writeUInt16BE(pk === undefined ? 0 : pk.length + 1, o)
  if (pk !== undefined) {
    b.set(pk, o)
    o += pk.length
  }
  b.set(sa.icookie, o)
  b.set(sa.rcookie, o + 8)
  o += 16
  o = b.writeUInt8(prfLen, o)
  b.set(sa.skeyidA, o)
  b.set(sa.skeyidE, o + prfLen)
  o += 2 * prfLen
  o = b.writeUInt8(sa.encKey.length, o)
  b.set(sa.encKey, o)
  o += sa.encKey.length
  o = b.writeUInt8(sa.lastBlock.length, o)
  b.set(sa.lastBlock, o)
  o += sa.lastBlock.length
  const s = b.toString('latin1', 0, o)
  b.fill(0, 0, o) // key material does not stay in the scratch buffer
  return s
}

/** The end of the packed SA's lifetime, without unpacking it (the lifetime deadline's staleness check). */
export function packedExpireAtMs(s: string): number {
  return Buffer.from(s.slice(OFF_EXPIRE, OFF_EXPIRE + 8), 'latin1').readDoubleBE(0)
}

/** The SA and its entry's fields again. The byte fields are views of one fresh buffer (the exchanges
 *  only read them); SKEYID and SKEYID_d are empty (see above). */
export function unpackSa(profiles: SaProfiles, s: string): IdleSa {
  const b = Buffer.from(s, 'latin1')
  if (b.readUInt8(0) !== VERSION) throw new Error('packed SA of another version')
  let o = 1
  const profile = profiles.get(b.readUInt16BE(o))
  o += 2
  const createdMs = b.readDoubleBE(o)
  const establishedMs = b.readDoubleBE(o + 8)
  const expireAtMs = b.readDoubleBE(o + 16)
  const saEstablishedAtMs = b.readDoubleBE(o + 24)
  o += 32
  const lifetimeSec = b.readUInt32BE(o)
  const port = b.readUInt16BE(o + 4)
  o += 6
  const take = (n: number): Uint8Array => {
    const v = new Uint8Array(b.buffer, b.byteOffset + o, n)
    o += n
    return v
  }
  const addrLen = b.readUInt8(o++)
  const address = b.toString('utf8', o, o + addrLen)
  o += addrLen
  const idType = b.readUInt8(o)
  const idProtocol = b.readUInt8(o + 1)
  const idPort = b.readUInt16BE(o + 2)
  const idLen = b.readUInt16BE(o + 4)
  o += 6
  const peerId: IdPayload = { type: PayloadType.ID, idType, protocol: idProtocol, port: idPort, data: take(idLen) }
  const pkLen = b.readUInt16BE(o)
  o += 2
  const peerPublicKey = pkLen === 0 ? undefined : take(pkLen - 1)
  const icookie = take(8)
  const rcookie = take(8)
  const prfLen = b.readUInt8(o++)
  const skeyidA = take(prfLen)
  const skeyidE = take(prfLen)
  const encKey = take(b.readUInt8(o++))
  const lastBlock = take(b.readUInt8(o++))
  const empty = new Uint8Array(0)
  const sa: Phase1Sa = {
    role: profile.role,
    icookie,
    rcookie,
    hash: profile.hash,
    cipher: profile.cipher,
    skeyid: empty,
    skeyidD: empty,
    skeyidA,
    skeyidE,
    encKey,
    lastBlock,
    localId: profile.localId,
    peerId,
    ...(peerPublicKey !== undefined ? { peerPublicKey } : {}),
    lifetimeSec,
    establishedAtMs: saEstablishedAtMs,
  }
  return { sa, peer: { address, port }, createdMs, establishedMs, expireAtMs }
}
