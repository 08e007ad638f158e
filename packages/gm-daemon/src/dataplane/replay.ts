// Anti-replay: the RFC 6479 bitmap window (a port of wireguard-go replay/replay.go with 32-bit blocks),
// and the group policy around it (spec §4.3). A group SA has many senders that each count their own ESP
// sequence numbers from 1, so one window per SA would reject everything but the fastest sender: replay
// checking is OFF by default. When enabled it is either
//   'sa'     — one window per SA (only meaningful for two-member groups, Cisco's count-based window), or
//   'sender' — one window per (SPI, sender): the RFC 6054 SID from the IV for counter-mode SAs with
//              sender IDs, otherwise the outer source address (= the inner source under address preservation).

const BLOCK_BITS_LOG = 5
const BLOCK_BITS = 1 << BLOCK_BITS_LOG
const BIT_MASK = BLOCK_BITS - 1

function nextPow2(n: number): number {
  let p = 1
  while (p < n) p <<= 1
  return p
}

/** RFC 6479 window over 32-bit ESP sequence numbers (no ESN); seq 0 is never valid. */
export class ReplayWindow {
  readonly windowBits: number
  readonly #ring: Uint32Array
  readonly #blockMask: number
  #last = 0

  constructor(windowBits = 64) {
    if (!Number.isInteger(windowBits) || windowBits < 1 || windowBits > 1 << 20) throw new RangeError(`windowBits ${windowBits}`)
    this.windowBits = windowBits
    const blocks = nextPow2(Math.ceil(windowBits / BLOCK_BITS) + 1)
    this.#ring = new Uint32Array(blocks)
    this.#blockMask = blocks - 1
  }

  /** Highest sequence number accepted so far. */
  get last(): number { return this.#last }

  /** Would `seq` be accepted? (No state change; use before authenticating.) */
  check(seq: number): boolean {
    if (seq === 0) return false
    if (seq > this.#last) return true
    if (this.#last - seq >= this.windowBits) return false
    const block = (seq >>> BLOCK_BITS_LOG) & this.#blockMask
    return ((this.#ring[block] as number) & (1 << (seq & BIT_MASK))) === 0
  }

  /** Marks `seq` as seen; false if it is a replay or too old. Call after the ICV verified. */
  accept(seq: number): boolean {
    if (seq === 0) return false
    const indexBlock = seq >>> BLOCK_BITS_LOG
    if (seq > this.#last) {
      const current = this.#last >>> BLOCK_BITS_LOG
      const diff = Math.min(indexBlock - current, this.#ring.length)
      for (let i = current + 1; i <= current + diff; i++) this.#ring[i & this.#blockMask] = 0
      this.#last = seq
    } else if (this.#last - seq >= this.windowBits) {
      return false
    }
    const block = indexBlock & this.#blockMask
    const old = this.#ring[block] as number
    const bit = 1 << (seq & BIT_MASK)
    if ((old & bit) !== 0) return false
    this.#ring[block] = old | bit
    return true
  }

  reset(): void {
    this.#ring.fill(0)
    this.#last = 0
  }
}

export type ReplayMode = 'off' | 'sa' | 'sender'

export interface ReplayOptions {
  readonly mode?: ReplayMode
  /** Window size in packets (Cisco's count-based default: 64). */
  readonly windowBits?: number
  /** 'sender' mode: most windows kept per SA; the oldest is dropped beyond this. */
  readonly maxSenders?: number
}

/** The replay state of one inbound SA. */
export class ReplayGuard {
  readonly mode: ReplayMode
  readonly windowBits: number
  readonly maxSenders: number
  /** Windows dropped because maxSenders was reached (each one reopens a replay gap for that sender). */
  evictions = 0
  readonly #single: ReplayWindow | undefined
  readonly #perSender = new Map<number, ReplayWindow>()

  constructor(opts: ReplayOptions = {}) {
    this.mode = opts.mode ?? 'off'
    this.windowBits = opts.windowBits ?? 64
    this.maxSenders = opts.maxSenders ?? 4096
    this.#single = this.mode === 'sa' ? new ReplayWindow(this.windowBits) : undefined
  }

  get senders(): number { return this.mode === 'sender' ? this.#perSender.size : this.mode === 'sa' ? 1 : 0 }

  check(sender: number, seq: number): boolean {
    switch (this.mode) {
      case 'off': return true
      case 'sa': return (this.#single as ReplayWindow).check(seq)
      case 'sender': return this.#perSender.get(sender)?.check(seq) ?? seq !== 0
    }
  }

  accept(sender: number, seq: number): boolean {
    switch (this.mode) {
      case 'off': return true
      case 'sa': return (this.#single as ReplayWindow).accept(seq)
      case 'sender': {
        let w = this.#perSender.get(sender)
        if (w === undefined) {
          if (this.#perSender.size >= this.maxSenders) {
            const oldest = this.#perSender.keys().next()
            if (oldest.done !== true) this.#perSender.delete(oldest.value)
            this.evictions++
          }
          w = new ReplayWindow(this.windowBits)
          this.#perSender.set(sender, w)
        }
        return w.accept(seq)
      }
    }
  }
}
