// Compact storage for the key server's established phase-1 SAs (one per registered member, kept for the
// SA lifetime, 24 h by default). A Phase1Sa object holds nine Uint8Arrays, each with its own
// ArrayBuffer: ≈2 KiB of heap per member. Packed, the byte fields share one buffer and the SA is
// rebuilt (views, no copies) only when a message under it arrives — a PULL or an Informational, a few
// times a day per member. See bench/README.md ("storm", KS memory per GM).
import type { IdPayload } from '@gdoi/wire'
import { PayloadType } from '@gdoi/wire/constants'
import type { Phase1Sa } from '@gdoi/wire/exchange/index'

export interface PackedSa {
  /** icookie ‖ rcookie ‖ skeyid ‖ skeyidD ‖ skeyidA ‖ skeyidE ‖ encKey ‖ lastBlock ‖ peerId.data ‖ peerPublicKey */
  readonly bytes: Uint8Array
  readonly prfLen: number
  readonly encLen: number
  readonly blockLen: number
  readonly idLen: number
  readonly pkLen: number
  readonly role: Phase1Sa['role']
  readonly hash: Phase1Sa['hash']
  readonly cipher: Phase1Sa['cipher']
  readonly localId: IdPayload
  readonly peerIdType: number
  readonly peerIdProtocol: number
  readonly peerIdPort: number
  readonly lifetimeSec: number
  readonly establishedAtMs: number
}

/** Packs `sa`, or returns undefined when its fields do not have the usual shape (then keep it as is). */
export function packSa(sa: Phase1Sa): PackedSa | undefined {
  const prfLen = sa.skeyid.length
  if (sa.icookie.length !== 8 || sa.rcookie.length !== 8 || sa.skeyidD.length !== prfLen || sa.skeyidA.length !== prfLen || sa.skeyidE.length !== prfLen) return undefined
  const pk = sa.peerPublicKey
  const parts = [sa.icookie, sa.rcookie, sa.skeyid, sa.skeyidD, sa.skeyidA, sa.skeyidE, sa.encKey, sa.lastBlock, sa.peerId.data, ...(pk !== undefined ? [pk] : [])]
  let n = 0
  for (const p of parts) n += p.length
  const bytes = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    bytes.set(p, o)
    o += p.length
  }
  return {
    bytes,
    prfLen,
    encLen: sa.encKey.length,
    blockLen: sa.lastBlock.length,
    idLen: sa.peerId.data.length,
    pkLen: pk === undefined ? -1 : pk.length,
    role: sa.role,
    hash: sa.hash,
    cipher: sa.cipher,
    localId: sa.localId,
    peerIdType: sa.peerId.idType,
    peerIdProtocol: sa.peerId.protocol,
    peerIdPort: sa.peerId.port,
    lifetimeSec: sa.lifetimeSec,
    establishedAtMs: sa.establishedAtMs,
  }
}

/** The Phase1Sa again; its byte fields are views of the packed buffer (the exchanges only read them). */
export function unpackSa(p: PackedSa): Phase1Sa {
  const b = p.bytes
  let o = 0
  const take = (n: number): Uint8Array => {
    const v = b.subarray(o, o + n)
    o += n
    return v
  }
  const icookie = take(8)
  const rcookie = take(8)
  const skeyid = take(p.prfLen)
  const skeyidD = take(p.prfLen)
  const skeyidA = take(p.prfLen)
  const skeyidE = take(p.prfLen)
  const encKey = take(p.encLen)
  const lastBlock = take(p.blockLen)
  const peerId: IdPayload = { type: PayloadType.ID, idType: p.peerIdType, protocol: p.peerIdProtocol, port: p.peerIdPort, data: take(p.idLen) }
  return {
    role: p.role,
    icookie,
    rcookie,
    hash: p.hash,
    cipher: p.cipher,
    skeyid,
    skeyidD,
    skeyidA,
    skeyidE,
    encKey,
    lastBlock,
    localId: p.localId,
    peerId,
    ...(p.pkLen >= 0 ? { peerPublicKey: take(p.pkLen) } : {}),
    lifetimeSec: p.lifetimeSec,
    establishedAtMs: p.establishedAtMs,
  }
}
