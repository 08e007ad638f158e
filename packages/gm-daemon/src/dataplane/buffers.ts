// Packet buffers: one slab, fixed-size slots, a free list of slot indices (wireguard-go's pooled
// elements + the `offset` trick of send.go). A TUN read lands at dataOffset(slot) = slot start + HEADROOM,
// so the outer IPv4 header, ESP header and IV are written in front of the inner packet and the padding,
// pad length, next header and ICV behind it, with no copy. Decryption is in place as well: the inner
// packet is written back to the TUN from inside the slot. Nothing here allocates after construction.
import { ESP_HEADER_BYTES } from '@gdoi/wire/esp/index'

export const OUTER_IPV4_BYTES = 20
export const MAX_IV_BYTES = 16
/** Outer IPv4 (20) + ESP header (8) + IV (≤ 16) = 44, rounded up to 48. */
export const HEADROOM_BYTES = 48
/** Pad (≤ 15) + pad length + next header + ICV (≤ 32) = 49, plus room for an ICMP error (56): 64. */
export const TAILROOM_BYTES = 64

const SLOT_ALIGN = 64

export class PacketSlab {
  readonly buf: Uint8Array
  readonly slots: number
  readonly slotBytes: number
  /** Largest packet a slot holds at dataOffset (the TUN MTU it was sized for). */
  readonly maxPacketBytes: number
  readonly #free: Int32Array
  readonly #inUse: Uint8Array
  #top: number

  constructor(slots: number, maxPacketBytes: number) {
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`slots ${slots}`)
    if (!Number.isInteger(maxPacketBytes) || maxPacketBytes < 68 || maxPacketBytes > 65535) throw new RangeError(`maxPacketBytes ${maxPacketBytes}`)
    const raw = HEADROOM_BYTES + maxPacketBytes + TAILROOM_BYTES
    this.slotBytes = Math.ceil(raw / SLOT_ALIGN) * SLOT_ALIGN
    this.slots = slots
    this.maxPacketBytes = this.slotBytes - HEADROOM_BYTES - TAILROOM_BYTES
    this.buf = new Uint8Array(slots * this.slotBytes)
    this.#free = new Int32Array(slots)
    this.#inUse = new Uint8Array(slots)
    for (let i = 0; i < slots; i++) this.#free[i] = slots - 1 - i // slot 0 is handed out first
    this.#top = slots
  }

  get available(): number { return this.#top }

  /** A free slot index, or −1 when the slab is exhausted. */
  alloc(): number {
    if (this.#top === 0) return -1
    const slot = this.#free[--this.#top] as number
    this.#inUse[slot] = 1
    return slot
  }

  /** Up to max slots into out[0…); returns how many. */
  allocBatch(out: Int32Array, max: number): number {
    let n = 0
    while (n < max && this.#top > 0) {
      const slot = this.#free[--this.#top] as number
      this.#inUse[slot] = 1
      out[n++] = slot
    }
    return n
  }

  free(slot: number): void {
    if (slot < 0 || slot >= this.slots || this.#inUse[slot] === 0) throw new RangeError(`slot ${slot} is not allocated`)
    this.#inUse[slot] = 0
    this.#free[this.#top++] = slot
  }

  freeBatch(slots: Int32Array, n: number): void {
    for (let i = 0; i < n; i++) this.free(slots[i] as number)
  }

  /** Start of the slot in buf. */
  slotOffset(slot: number): number { return slot * this.slotBytes }
  /** Where a packet read from the TUN starts. */
  dataOffset(slot: number): number { return slot * this.slotBytes + HEADROOM_BYTES }
  /** End of the slot in buf (exclusive). */
  slotEnd(slot: number): number { return (slot + 1) * this.slotBytes }
  /** Slot that contains buf offset `at`. */
  slotOf(at: number): number { return Math.floor(at / this.slotBytes) }
}

/** Packets in a slab to hand on in one call (offset and length each), refilled batch after batch. */
export class PacketList {
  readonly offsets: Int32Array
  readonly sizes: Int32Array
  count = 0
  constructor(capacity: number) {
    this.offsets = new Int32Array(capacity)
    this.sizes = new Int32Array(capacity)
  }
  push(offset: number, length: number): void {
    this.offsets[this.count] = offset
    this.sizes[this.count] = length
    this.count++
  }
}

export { ESP_HEADER_BYTES }
