// The GM data plane: one loop reads batches of packets from the TUN into slab slots, transforms each in
// place and writes the batch back to the TUN, so the kernel routes the result:
//   plaintext (any protocol but 50) → policy → permit: ESP tunnel packet with address preservation
//                                            deny / no match / UDP 848: the packet unchanged
//   ESP (protocol 50)             → SA by SPI → [replay check] → verify+decrypt → inner policy check → inner packet
// Oversized packets: with DF an ICMP "fragmentation needed" goes back instead; without DF the inner packet
// is fragmented *before* encryption (RFC 4459 §5.1, Cisco's default `crypto ipsec fragmentation
// before-encryption`) and every fragment gets an ESP packet of its own that fits the path, so the far
// member never sees an ESP fragment (which it could not reassemble) and the destination host
// reassembles the inner packet. Per packet there are no closures,
// object literals or allocations; drops are counted by reason (globally and per SA), never logged.
// Routing (which packets the kernel hands to the TUN) is the lab's job: see README.md "Data plane".
import type { Clock } from './clock.js'
import { systemClock } from './clock.js'
import { PacketList, PacketSlab } from './buffers.js'
import { EspResult } from './esp-fast.js'
import {
  IPV4_DF, IPV4_HEADER_BYTES, IPV4_OFFSET_MASK, IpProto, buildIcmpFragNeeded, icmpFragNeededBytes, ipv4HeaderBytes, ipv4IsFragment,
  ipv4ToU32, ipv4TotalBytes, u16, u32, writeFragmentHeader, writeOuterIpv4,
} from './ipv4.js'
import { Policy, PolicyMatch } from './policy.js'
import type { DataSa, PolicySlot, SaTable } from './sa-table.js'
import type { PacketSink } from './esp-socket.js'
import type { TunDevice, TunOffloadState } from './tun.js'

export interface DataPlaneOptions {
  readonly tun: TunDevice
  readonly sas: SaTable
  readonly policy: Policy
  readonly clock?: Clock
  /**
   * MTU of the path between members. An inner packet whose ESP packet would not fit is fragmented
   * before encryption (DF clear) or refused with ICMP "fragmentation needed" (DF). Default tun.mtu.
   */
  readonly pathMtuBytes?: number
  /** Drop traffic a permit entry covers while its slot has no SA (Cisco "fail-close"). Default false: pass in clear. */
  readonly failClosed?: boolean
  /** Check decrypted packets against the SA's selectors (RFC 4301 §5.2). Default true. */
  readonly inboundPolicyCheck?: boolean
  /** Source of ICMP errors we originate; default the destination of the offending packet. */
  readonly icmpSourceAddress?: string
  /** ICMP "fragmentation needed" per second at most. Default 100. */
  readonly icmpPerSec?: number
  /**
   * Where sealed ESP packets go instead of the TUN (esp-socket.ts); setEspOut() attaches it later.
   * Packets it does not take are written to the TUN.
   */
  readonly espOut?: PacketSink
  /** Packets per TUN read/write call. Default 64. */
  readonly batchSize?: number
  /** Start the loop at once. Default true. */
  readonly autoStart?: boolean
}

export class DataPlaneCounters {
  rxPackets = 0
  txPackets = 0
  encryptedPackets = 0
  encryptedBytes = 0
  decryptedPackets = 0
  decryptedBytes = 0
  clearPackets = 0
  controlPackets = 0
  noSaClearPackets = 0
  icmpFragNeeded = 0
  dropAuth = 0
  dropUnknownSpi = 0
  dropReplay = 0
  dropPolicy = 0
  dropMalformed = 0
  dropNoSa = 0
  dropNoSenderId = 0
  dropSeqExhausted = 0
  dropTooBig = 0
  /** Inner packets fragmented before encryption (DF clear, too big for the path once encapsulated). */
  preFragmented = 0
  /** ESP packets those fragments became. */
  preFragments = 0
  /** Fragmentation needed more slab slots than a batch has spare. */
  dropNoBuffer = 0
  dropFragment = 0
  dropUnsupported = 0
  dropDummy = 0
  dropCrypto = 0
  readErrors = 0
  /** ESP packets sent on the ESP socket (the rest of txPackets went through the TUN). */
  espSocketPackets = 0
  /** ESP packets the ESP socket refused, written to the TUN instead. */
  espSocketFallbacks = 0
}

/** process() verdicts. */
export const Verdict = { DROP: 0, FORWARD: 1 } as const

export interface SaSnapshot {
  readonly spi: string
  readonly state: string
  readonly policyIds: readonly string[]
  readonly transformId: number
  readonly engine: string
  readonly seq: number
  readonly expiresInSec: number
  readonly packetsEncrypted: number
  readonly bytesEncrypted: number
  readonly packetsDecrypted: number
  readonly bytesDecrypted: number
  readonly drops: { readonly auth: number; readonly replay: number; readonly malformed: number; readonly policy: number; readonly seqExhausted: number }
}

export interface DataPlaneSnapshot {
  readonly running: boolean
  readonly tun: { readonly name: string; readonly mtuBytes: number; readonly offload?: TunOffloadState }
  readonly pathMtuBytes: number
  /** Where sealed ESP goes: the ESP socket (esp-socket.ts) or the TUN. */
  readonly espOut: 'socket' | 'tun'
  readonly counters: Readonly<DataPlaneCounters>
  readonly slots: readonly { readonly id: string; readonly current?: string; readonly pending?: string; readonly previous?: string }[]
  readonly sas: readonly SaSnapshot[]
}

const spiHex = (spi: number): string => `0x${spi.toString(16).padStart(8, '0')}`
const NO_SLOTS: readonly PolicySlot[] = []

export class DataPlane {
  readonly counters = new DataPlaneCounters()
  readonly tun: TunDevice
  readonly sas: SaTable
  readonly slab: PacketSlab
  readonly pathMtuBytes: number
  /** Where process() left the packet to write (valid after Verdict.FORWARD). */
  outOffset = 0
  outLength = 0
  /** That packet is ESP this member sealed (it may take the ESP socket). */
  outSealed = false
  readonly #clock: Clock
  readonly #failClosed: boolean
  readonly #inboundCheck: boolean
  readonly #icmpSrc: number | undefined
  readonly #icmpPerSec: number
  #icmpTokens: number
  #icmpRefillMs: number
  #policy: Policy
  #slotOfEntry: readonly (PolicySlot | undefined)[] = NO_SLOTS
  #ident = 0
  readonly #batch: number
  readonly #rxSlots: Int32Array
  readonly #rxOffsets: Int32Array
  readonly #rxSizes: Int32Array
  /** A batch's packets for the TUN, and the sealed ones for the ESP socket. */
  readonly #tx: PacketList
  readonly #espTx: PacketList
  #espOut: PacketSink | undefined
  // Fragments made before encryption beyond the first: their slots (spare slots of the slab, which a
  // TUN read never takes) and the ESP packets to write, kept until releaseFragments().
  readonly #fragSlots: Int32Array
  #fragSlotCount = 0
  readonly #fragOut: PacketList
  #running = false
  #closed = false
  #loop: Promise<void> | undefined
  /** The error that stopped the loop, if any. */
  error: Error | undefined

  constructor(o: DataPlaneOptions) {
    this.tun = o.tun
    this.sas = o.sas
    this.#clock = o.clock ?? systemClock
    this.pathMtuBytes = o.pathMtuBytes ?? o.tun.mtu
    this.#failClosed = o.failClosed ?? false
    this.#inboundCheck = o.inboundPolicyCheck ?? true
    this.#icmpSrc = o.icmpSourceAddress === undefined ? undefined : ipv4ToU32(o.icmpSourceAddress)
    this.#icmpPerSec = o.icmpPerSec ?? 100
    this.#icmpTokens = this.#icmpPerSec
    this.#icmpRefillMs = this.#clock.now()
    this.#batch = o.batchSize ?? 64
    // Two spare slots per read slot: a TUN-MTU packet split for a path MTU ≥ ⅓ of it.
    const spare = 2 * this.#batch
    this.slab = new PacketSlab(this.#batch + spare, Math.max(o.tun.mtu, 576))
    this.#rxSlots = new Int32Array(this.#batch)
    this.#rxOffsets = new Int32Array(this.#batch)
    this.#rxSizes = new Int32Array(this.#batch)
    this.#tx = new PacketList(this.#batch + spare)
    this.#espTx = new PacketList(this.#batch + spare)
    this.#espOut = o.espOut
    this.#fragSlots = new Int32Array(spare)
    this.#fragOut = new PacketList(spare)
    this.#policy = o.policy
    this.setPolicy(o.policy)
  }

  get policy(): Policy { return this.#policy }

  /** Sends sealed ESP through `sink` from the next batch on (undefined: through the TUN again). */
  setEspOut(sink: PacketSink | undefined): void { this.#espOut = sink }
  get running(): boolean { return this.#running }

  /** Replaces the ACL (new SATs from a rekey). Entries are bound to SaTable slots by policyId. */
  setPolicy(p: Policy): void {
    this.#policy = p
    this.#slotOfEntry = p.entries.map((e) => (e.action === 'permit' ? this.sas.slot(e.policyId ?? 'default') : undefined))
  }

  /** Starts the read → transform → write loop; the promise settles when it stops. */
  start(): Promise<void> {
    if (this.#loop === undefined) {
      this.#running = true
      this.#loop = this.#run().finally(() => { this.#running = false })
    }
    return this.#loop
  }

  /** Stops the loop and closes the TUN device (which wakes the pending read). */
  async close(): Promise<void> {
    this.#closed = true
    await this.tun.close()
    await this.#loop?.catch(() => undefined)
  }

  /**
   * Transforms the packet buf[off, off + len) in place (off must leave HEADROOM_BYTES in front and
   * TAILROOM_BYTES behind, as slab slots do). FORWARD: write buf[outOffset, outOffset + outLength).
   * A packet fragmented before encryption also leaves fragmentCount more ESP packets in spare slots of
   * `slab` (so buf must be slab.buf, and off in a slot allocated from it): write them after the first,
   * then releaseFragments().
   */
  process(buf: Uint8Array, off: number, len: number): number {
    const c = this.counters
    c.rxPackets++
    const ihl = ipv4HeaderBytes(buf, off, len)
    if (ihl < 0) {
      if (len > 0 && (buf[off] as number) >> 4 === 6) c.dropUnsupported++
      else c.dropMalformed++
      return Verdict.DROP
    }
    const total = ipv4TotalBytes(buf, off)
    return (buf[off + 9] as number) === IpProto.ESP ? this.#decrypt(buf, off, total, ihl) : this.#encrypt(buf, off, total, ihl)
  }

  /** ESP packets of later fragments that process() produced since the last releaseFragments(). */
  get fragmentCount(): number { return this.#fragOut.count }
  /** Where the i-th of them is in slab.buf (offset, length). */
  fragmentOffset(i: number): number { return this.#fragOut.offsets[i] ?? 0 }
  fragmentLength(i: number): number { return this.#fragOut.sizes[i] ?? 0 }
  /** Returns the fragments' slots to the slab; call once they are written (the loop does, per batch). */
  releaseFragments(): void {
    this.slab.freeBatch(this.#fragSlots, this.#fragSlotCount)
    this.#fragSlotCount = 0
    this.#fragOut.count = 0
  }

  #forward(off: number, len: number): number {
    this.outOffset = off
    this.outLength = len
    this.outSealed = false
    return Verdict.FORWARD
  }

  /** #forward for an ESP packet this member sealed. */
  #forwardSealed(off: number, len: number): number {
    this.#forward(off, len)
    this.outSealed = true
    return Verdict.FORWARD
  }

  #encrypt(buf: Uint8Array, off: number, len: number, ihl: number): number {
    const c = this.counters
    const entry = this.#policy.match(buf, off, ihl, len)
    if (entry === PolicyMatch.CONTROL) { c.controlPackets++; return this.#forward(off, len) }
    if (entry < 0 || !this.#policy.isPermit(entry)) { c.clearPackets++; return this.#forward(off, len) }
    const sa = this.#slotOfEntry[entry]?.current
    if (sa === undefined) {
      if (this.#failClosed) { c.dropNoSa++; return Verdict.DROP }
      c.noSaClearPackets++
      return this.#forward(off, len)
    }
    if (!sa.fast.canSeal) { c.dropNoSenderId++; return Verdict.DROP }
    const s = sa.fast.suite
    // Does the ESP packet fit the path? room = what is left for payload ‖ pad ‖ 2 after outer, ESP, IV, ICV.
    const room = this.pathMtuBytes - IPV4_HEADER_BYTES - s.headerBytes - s.icvBytes
    const maxInner = room - (room % s.blockBytes) - 2
    if (len > maxInner) {
      if ((u16(buf, off + 6) & IPV4_DF) !== 0) return this.#fragNeeded(buf, off, len, Math.max(maxInner, 68))
      return this.#sealFragments(buf, off, len, sa, maxInner)
    }
    return this.#seal(buf, off, len, sa)
  }

  /** Seals the inner packet buf[off, off + len) in place with sa, the outer header in front. */
  #seal(buf: Uint8Array, off: number, len: number, sa: DataSa): number {
    const c = this.counters
    const fast = sa.fast
    const s = fast.suite
    const r = (len + 2) % s.blockBytes
    const espLen = s.headerBytes + len + (r === 0 ? 0 : s.blockBytes - r) + 2 + s.icvBytes
    if (IPV4_HEADER_BYTES + espLen > 0xffff) { c.dropTooBig++; return Verdict.DROP }
    if (sa.seq >= 0xffffffff) { sa.dropSeqExhausted++; c.dropSeqExhausted++; return Verdict.DROP } // no ESN: rekey needed
    const espOff = off - s.headerBytes
    const outer = espOff - IPV4_HEADER_BYTES
    // The outer header copies fields of the inner one, so it is written before the inner is encrypted.
    writeOuterIpv4(buf, outer, off, IPV4_HEADER_BYTES + espLen, this.#ident)
    this.#ident = (this.#ident + 1) & 0xffff
    const seq = sa.seq + 1
    const n = fast.seal(buf, espOff, len, 4, seq)
    if (n !== espLen) { c.dropCrypto++; return Verdict.DROP }
    sa.seq = seq
    sa.packetsEncrypted++
    sa.bytesEncrypted += len
    c.encryptedPackets++
    c.encryptedBytes += len
    return this.#forwardSealed(outer, IPV4_HEADER_BYTES + espLen)
  }

  /**
   * Pre-fragmentation (RFC 4459 §5.1): splits the inner packet (DF clear) into fragments of at most
   * maxInner octets and seals each. The first stays in its slot; the others are copied into spare slab
   * slots first (sealing the first in place overwrites what follows it) and are listed for the loop to
   * write after the first (fragmentCount / releaseFragments).
   */
  #sealFragments(buf: Uint8Array, off: number, len: number, sa: DataSa, maxInner: number): number {
    const c = this.counters
    const slab = this.slab
    const ihl = ((buf[off] as number) & 0x0f) * 4
    const step = (maxInner - ihl) & ~7 // every fragment but the last carries a multiple of 8 octets
    const data = len - ihl
    if (step < 8) { c.dropTooBig++; return Verdict.DROP }
    // A fragment already (offset field set) whose pieces would run past offset 65535: not a valid datagram.
    if ((u16(buf, off + 6) & IPV4_OFFSET_MASK) * 8 + data > 0xffff) { c.dropMalformed++; return Verdict.DROP }
    const pieces = Math.ceil(data / step)
    if (buf !== slab.buf || pieces - 1 > slab.available || this.#fragSlotCount + pieces - 1 > this.#fragSlots.length) {
      c.dropNoBuffer++
      return Verdict.DROP
    }
    const firstSlot = this.#fragSlotCount
    for (let i = 1; i < pieces; i++) {
      const slot = slab.alloc()
      this.#fragSlots[this.#fragSlotCount++] = slot
      const at = slab.dataOffset(slot)
      const n = Math.min(step, data - i * step)
      writeFragmentHeader(buf, off, at, ihl, ihl + n, i * step, i === pieces - 1)
      buf.copyWithin(at + ihl, off + ihl + i * step, off + ihl + i * step + n)
    }
    writeFragmentHeader(buf, off, off, ihl, ihl + step, 0, false)
    c.preFragmented++
    if (this.#seal(buf, off, ihl + step, sa) !== Verdict.FORWARD) return Verdict.DROP
    c.preFragments++
    const outOff = this.outOffset
    const outLen = this.outLength
    for (let i = firstSlot; i < this.#fragSlotCount; i++) {
      const at = slab.dataOffset(this.#fragSlots[i] as number)
      if (this.#seal(buf, at, ipv4TotalBytes(buf, at), sa) !== Verdict.FORWARD) continue
      c.preFragments++
      this.#fragOut.push(this.outOffset, this.outLength)
    }
    return this.#forwardSealed(outOff, outLen)
  }

  #decrypt(buf: Uint8Array, off: number, total: number, ihl: number): number {
    const c = this.counters
    if (ipv4IsFragment(buf, off)) { c.dropFragment++; return Verdict.DROP } // no reassembly (README)
    const espOff = off + ihl
    const espLen = total - ihl
    if (espLen < 8) { c.dropMalformed++; return Verdict.DROP }
    const sa = this.sas.inbound(u32(buf, espOff))
    if (sa === undefined) { c.dropUnknownSpi++; return Verdict.DROP }
    const seq = u32(buf, espOff + 4)
    const replay = sa.replay
    let sender = 0
    if (replay.mode === 'sender') {
      sender = sa.replaySidBits > 0 && espLen >= 16 ? u32(buf, espOff + 8) >>> (32 - sa.replaySidBits) : u32(buf, off + 12)
    }
    if (replay.mode !== 'off' && !replay.check(sender, seq)) return this.#dropReplay(sa)
    const r = sa.fast.open(buf, espOff, espLen)
    if (r < 0) {
      if (r === EspResult.AUTH) { sa.dropAuth++; c.dropAuth++ } else if (r === EspResult.MALFORMED) { sa.dropMalformed++; c.dropMalformed++ } else c.dropCrypto++
      return Verdict.DROP
    }
    if (replay.mode !== 'off' && !replay.accept(sender, seq)) return this.#dropReplay(sa)
    const innerLen = r & 0xffff
    const nextHeader = r >>> 16
    if (nextHeader !== 4) {
      if (nextHeader === 59) c.dropDummy++ // RFC 4303 §2.6 dummy packet (TFC)
      else c.dropUnsupported++
      return Verdict.DROP
    }
    const inner = espOff + sa.fast.suite.headerBytes
    const iihl = ipv4HeaderBytes(buf, inner, innerLen)
    if (iihl < 0) { sa.dropMalformed++; c.dropMalformed++; return Verdict.DROP }
    const innerTotal = ipv4TotalBytes(buf, inner)
    if (this.#inboundCheck && !this.#policy.permits(buf, inner, iihl, innerTotal, sa.policyIds)) {
      sa.dropPolicy++
      c.dropPolicy++
      return Verdict.DROP
    }
    sa.packetsDecrypted++
    sa.bytesDecrypted += innerTotal
    c.decryptedPackets++
    c.decryptedBytes += innerTotal
    return this.#forward(inner, innerTotal)
  }

  #dropReplay(sa: DataSa): number {
    sa.dropReplay++
    this.counters.dropReplay++
    return Verdict.DROP
  }

  /** Replaces the packet by an ICMP "fragmentation needed" to its source (built in the slot's tailroom). */
  #fragNeeded(buf: Uint8Array, off: number, len: number, mtu: number): number {
    const c = this.counters
    c.dropTooBig++
    const now = this.#clock.now()
    if (now - this.#icmpRefillMs >= 1000) { this.#icmpTokens = this.#icmpPerSec; this.#icmpRefillMs = now }
    // Never answer an ICMP error with one (RFC 1122 §3.2.2): only echo/info types may trigger it.
    const proto = buf[off + 9] as number
    const ihl = ((buf[off] as number) & 0x0f) * 4
    const icmpType = proto === IpProto.ICMP ? (buf[off + ihl] as number) : -1
    const isError = icmpType === 3 || icmpType === 4 || icmpType === 5 || icmpType === 11 || icmpType === 12
    if (this.#icmpTokens <= 0 || isError || off + len + icmpFragNeededBytes(ihl) > buf.length) return Verdict.DROP
    this.#icmpTokens--
    const at = off + len
    const n = buildIcmpFragNeeded(buf, at, off, mtu, 64, this.#icmpSrc)
    c.icmpFragNeeded++
    return this.#forward(at, n)
  }

  async #run(): Promise<void> {
    const slab = this.slab
    const c = this.counters
    while (!this.#closed) {
      const k = slab.allocBatch(this.#rxSlots, this.#batch)
      for (let i = 0; i < k; i++) this.#rxOffsets[i] = slab.dataOffset(this.#rxSlots[i] as number)
      let n: number
      try {
        n = await this.tun.readBatch(slab.buf, this.#rxOffsets, k, slab.maxPacketBytes, this.#rxSizes)
      } catch (e) {
        slab.freeBatch(this.#rxSlots, k)
        if (this.#closed) return
        c.readErrors++
        this.error = e instanceof Error ? e : new Error(String(e))
        throw this.error
      }
      const esp = this.#espOut
      const tx = this.#tx
      const espTx = esp === undefined ? tx : this.#espTx
      const frags = this.#fragOut
      tx.count = 0
      espTx.count = 0
      for (let i = 0; i < n; i++) {
        const f0 = frags.count
        if (this.process(slab.buf, this.#rxOffsets[i] as number, this.#rxSizes[i] as number) === Verdict.FORWARD) {
          ;(this.outSealed ? espTx : tx).push(this.outOffset, this.outLength)
        }
        // fragments are sealed ESP, like their first
        for (let j = f0; j < frags.count; j++) espTx.push(frags.offsets[j] as number, frags.sizes[j] as number)
      }
      try {
        if (esp !== undefined && espTx.count > 0 && !this.#closed) {
          const sent = esp.send(slab.buf, espTx.offsets, espTx.sizes, espTx.count)
          c.espSocketPackets += sent
          c.txPackets += sent
          // What the socket refused (no route, buffer full) takes the TUN, as before the socket existed.
          for (let i = sent; i < espTx.count; i++) tx.push(espTx.offsets[i] as number, espTx.sizes[i] as number)
          c.espSocketFallbacks += espTx.count - sent
        }
        if (tx.count > 0 && !this.#closed) {
          c.txPackets += tx.count
          await this.tun.writeBatch(slab.buf, tx.offsets, tx.sizes, tx.count)
        }
      } finally {
        slab.freeBatch(this.#rxSlots, k)
        this.releaseFragments()
      }
    }
  }

  #tunSnapshot(): DataPlaneSnapshot['tun'] {
    const offload = this.tun.offload?.()
    return { name: this.tun.name, mtuBytes: this.tun.mtu, ...(offload ? { offload } : {}) }
  }

  snapshot(): DataPlaneSnapshot {
    const now = this.#clock.now()
    return {
      running: this.#running,
      tun: this.#tunSnapshot(),
      pathMtuBytes: this.pathMtuBytes,
      espOut: this.#espOut === undefined ? 'tun' : 'socket',
      counters: { ...this.counters },
      slots: this.sas.slots().map((s) => ({
        id: s.id,
        ...(s.current ? { current: spiHex(s.current.spi) } : {}),
        ...(s.pending ? { pending: spiHex(s.pending.spi) } : {}),
        ...(s.previous ? { previous: spiHex(s.previous.spi) } : {}),
      })),
      sas: this.sas.list().map((sa) => ({
        spi: spiHex(sa.spi),
        state: sa.state,
        policyIds: [...sa.policyIds],
        transformId: sa.fast.suite.transformId,
        engine: sa.fast.engine,
        seq: sa.seq,
        expiresInSec: Math.max(0, Math.round((sa.expiresAtMs - now) / 1000)),
        packetsEncrypted: sa.packetsEncrypted,
        bytesEncrypted: sa.bytesEncrypted,
        packetsDecrypted: sa.packetsDecrypted,
        bytesDecrypted: sa.bytesDecrypted,
        drops: { auth: sa.dropAuth, replay: sa.dropReplay, malformed: sa.dropMalformed, policy: sa.dropPolicy, seqExhausted: sa.dropSeqExhausted },
      })),
    }
  }
}

export function createDataPlane(o: DataPlaneOptions): DataPlane {
  const dp = new DataPlane(o)
  if (o.autoStart !== false) void dp.start().catch(() => undefined) // the error stays on dp.error
  return dp
}
