// The TUN device seam (wireguard-go tun/tun.go shape): the caller owns the buffers; batch calls move
// many packets per promise. The real device is a non-blocking /dev/net/tun fd read and written from the
// main thread by the addon (no exceptions, −errno returns) and woken by a libuv poll handle; see
// memory-tun.ts for the in-memory double and bench/README.md for why poll beats fs.read on a thread pool.
import { ERRNO, loadNative, NativeUnavailableError, netnsPath, type NativeAddon, type NativeHandle } from './native.js'

export interface TunDevice {
  readonly name: string
  readonly mtu: number
  /** Reads one packet into buf[offset…]; resolves with its length. */
  read(buf: Uint8Array, offset: number): Promise<number>
  /** Writes buf[offset, offset + len) as one packet. */
  write(buf: Uint8Array, offset: number, len: number): Promise<void>
  /**
   * Reads up to `count` packets, packet i into buf[offsets[i], offsets[i] + maxBytes); waits for at least
   * one. Resolves with how many were read; their lengths are in sizes[0…n).
   */
  readBatch(buf: Uint8Array, offsets: Int32Array, count: number, maxBytes: number, sizes: Int32Array): Promise<number>
  /** Writes `count` packets buf[offsets[i], offsets[i] + sizes[i]). Packets the device refuses are counted, not thrown. */
  writeBatch(buf: Uint8Array, offsets: Int32Array, sizes: Int32Array, count: number): Promise<void>
  /** Rejects a pending read with ERR_TUN_CLOSED and releases the device. */
  close(): Promise<void>
  /** Segmentation offloads, if the device was opened with them. */
  offload?(): TunOffloadState | undefined
}

export type TunErrorCode =
  | 'ERR_TUN_UNAVAILABLE' // no /dev/net/tun (container without the device, module not loaded)
  | 'ERR_TUN_PERMISSION' // CAP_NET_ADMIN missing
  | 'ERR_TUN_BUSY' // name in use by a device of another kind / owner, or a second concurrent read
  | 'ERR_TUN_OPEN' // anything else while creating the device
  | 'ERR_TUN_CLOSED'
  | 'ERR_TUN_IO'
  | 'ERR_NATIVE_UNAVAILABLE'

export class TunError extends Error {
  override name = 'TunError'
  readonly code: TunErrorCode
  readonly errno: number | undefined
  constructor(code: TunErrorCode, detail: string, errno?: number) {
    super(`${code}: ${detail}`)
    this.code = code
    this.errno = errno
  }
}

export interface OpenTunOptions {
  /** Interface name; a `%d` is filled in by the kernel. Default 'gdoi%d'. */
  readonly name?: string
  /** Set the interface MTU (bytes) when opening; default: leave the kernel's (1500). */
  readonly mtuBytes?: number
  /** Create the device inside this network namespace: a name under /var/run/netns or an absolute path. */
  readonly netns?: string
  /** Non-blocking reads before yielding to the event loop through the poll handle (fairness). Default 8. */
  readonly readsBeforeYield?: number
  /**
   * Segmentation offloads (native/offload.c): the kernel hands over 64 KB TCP packets, cut into segments
   * here, and runs of one flow are written back as one GSO packet. Default false. When the kernel
   * refuses TUNSETOFFLOAD the device still works, packet by packet (offloads() says which).
   */
  readonly offload?: boolean
}

/** The offload counters (native/offload.c), in the addon's order. */
export const OFFLOAD_COUNTERS = [
  'superPacketsRead', 'segmentsCut', 'checksumsCompleted', 'readDrops',
  'coalescedWrites', 'coalescedPackets', 'singleWrites', 'coalesceRefused',
] as const
export type OffloadStats = Record<(typeof OFFLOAD_COUNTERS)[number], number>

/** What a TUN opened with `offload` does. */
export interface TunOffloadState {
  /** TUNSETOFFLOAD accepted: TCP/IPv4 super-packets come whole (TUN_F_TSO4) with partial checksums (TUN_F_CSUM). */
  readonly tso: boolean
  readonly stats: OffloadStats
}

export interface TunStats { readErrors: number; writeErrors: number; packetsRead: number; packetsWritten: number }

/** The device openTun returns: the seam plus its fd and I/O counters. */
export interface KernelTunDevice extends TunDevice {
  readonly fd: number
  readonly stats: TunStats
  /** Undefined when opened without `offload`. */
  offload(): TunOffloadState | undefined
}

const RESOLVED: Promise<void> = Promise.resolve()
const EMPTY = new Uint8Array(0)

function openError(e: unknown, name: string): TunError {
  const err = e as { code?: string; errno?: number; message?: string; stage?: string }
  const detail = `${name}: ${err.message ?? String(e)}`
  if (err.stage === 'enter network namespace') {
    return err.code === 'EPERM' ? new TunError('ERR_TUN_PERMISSION', `${detail} (needs CAP_SYS_ADMIN)`, err.errno) : new TunError('ERR_TUN_OPEN', detail, err.errno)
  }
  switch (err.code ?? '') {
    case 'ENOENT':
    case 'ENODEV':
    case 'ENXIO':
      return new TunError('ERR_TUN_UNAVAILABLE', `${detail} (is /dev/net/tun present? in a container: --device /dev/net/tun)`, err.errno)
    case 'EPERM':
    case 'EACCES':
      return new TunError('ERR_TUN_PERMISSION', `${detail} (needs CAP_NET_ADMIN)`, err.errno)
    case 'EBUSY':
    case 'EEXIST':
      return new TunError('ERR_TUN_BUSY', detail, err.errno)
    default:
      return new TunError('ERR_TUN_OPEN', detail, err.errno)
  }
}

/** Opens (creates) a TUN device. Throws TunError. */
export function openTun(opts: OpenTunOptions = {}): KernelTunDevice {
  let native: NativeAddon
  try {
    native = loadNative()
  } catch (e) {
    throw new TunError('ERR_NATIVE_UNAVAILABLE', e instanceof NativeUnavailableError ? e.message : String(e))
  }
  const wanted = opts.name ?? 'gdoi%d'
  let opened: [number, string, number, number]
  try {
    opened = native.tunOpen(wanted, true, netnsPath(opts.netns), opts.mtuBytes ?? 0, opts.offload === true)
  } catch (e) {
    throw openError(e, wanted)
  }
  const [fd, name, mtu, offloads] = opened
  const io = opts.offload === true ? new OffloadIo(native, fd, offloads) : new PlainIo(native, fd)
  return new NativeTun(native, io, fd, name, mtu, opts.readsBeforeYield ?? 8)
}

/** The device's batch I/O: plain reads and writes, or through the offload handle. */
interface TunIo {
  readBatch(buf: Uint8Array, offsets: Int32Array, count: number, maxBytes: number, sizes: Int32Array): number
  writeBatch(buf: Uint8Array, offsets: Int32Array, sizes: Int32Array, count: number): number
  /** Packets ready without reading the fd. */
  pending(): number
  offload(): TunOffloadState | undefined
}

class PlainIo implements TunIo {
  readonly n: NativeAddon
  readonly fd: number
  constructor(n: NativeAddon, fd: number) {
    this.n = n
    this.fd = fd
  }
  readBatch(buf: Uint8Array, offsets: Int32Array, count: number, maxBytes: number, sizes: Int32Array): number {
    return this.n.fdReadBatch(this.fd, buf, offsets, count, maxBytes, sizes)
  }
  writeBatch(buf: Uint8Array, offsets: Int32Array, sizes: Int32Array, count: number): number {
    return this.n.fdWriteBatch(this.fd, buf, offsets, sizes, count)
  }
  pending(): number { return 0 }
  offload(): undefined { return undefined }
}

const TUN_F_TSO4 = 0x02

class OffloadIo implements TunIo {
  readonly #h: NativeHandle
  readonly #raw = new Float64Array(OFFLOAD_COUNTERS.length)
  readonly n: NativeAddon
  readonly offloads: number
  constructor(n: NativeAddon, fd: number, offloads: number) {
    this.n = n
    this.offloads = offloads
    this.#h = n.gsoNew(fd, 65535) // any slot size: slabs round theirs up
  }
  readBatch(buf: Uint8Array, offsets: Int32Array, count: number, maxBytes: number, sizes: Int32Array): number {
    return this.n.gsoReadBatch(this.#h, buf, offsets, count, Math.min(maxBytes, 65535), sizes) // no packet is longer; the addon refuses larger slots
  }
  writeBatch(buf: Uint8Array, offsets: Int32Array, sizes: Int32Array, count: number): number {
    return this.n.gsoWriteBatch(this.#h, buf, offsets, sizes, count)
  }
  pending(): number { return this.n.gsoPending(this.#h) }
  offload(): TunOffloadState {
    this.n.gsoStats(this.#h, this.#raw)
    const stats = {} as Record<string, number>
    OFFLOAD_COUNTERS.forEach((k, i) => { stats[k] = this.#raw[i] ?? 0 })
    return { tso: (this.offloads & TUN_F_TSO4) !== 0, stats: stats as OffloadStats }
  }
}

class NativeTun implements KernelTunDevice {
  readonly name: string
  readonly mtu: number
  readonly fd: number
  readonly stats: TunStats = { readErrors: 0, writeErrors: 0, packetsRead: 0, packetsWritten: 0 }
  readonly #n: NativeAddon
  readonly #io: TunIo
  readonly #poll: NativeHandle
  readonly #readsBeforeYield: number
  #budget: number
  #closed = false
  // The one pending read (a batch of 1 for read()).
  #pending = false
  #buf: Uint8Array = EMPTY
  #offsets: Int32Array = new Int32Array(1)
  #sizes: Int32Array = new Int32Array(1)
  #count = 0
  #maxBytes = 0
  #resolve: ((n: number) => void) | undefined
  #reject: ((e: Error) => void) | undefined
  readonly #one = new Int32Array(1)
  readonly #oneSize = new Int32Array(1)
  #wakeScheduled = false

  constructor(n: NativeAddon, io: TunIo, fd: number, name: string, mtu: number, readsBeforeYield: number) {
    this.#n = n
    this.#io = io
    this.fd = fd
    this.name = name
    this.mtu = mtu
    this.#readsBeforeYield = Math.max(0, readsBeforeYield)
    this.#budget = this.#readsBeforeYield
    this.#poll = n.pollNew(fd, (status) => this.#onReadable(status))
  }

  async read(buf: Uint8Array, offset: number): Promise<number> {
    this.#one[0] = offset
    await this.readBatch(buf, this.#one, 1, buf.length - offset, this.#oneSize)
    return this.#oneSize[0] ?? 0
  }

  offload(): TunOffloadState | undefined { return this.#io.offload() }

  write(buf: Uint8Array, offset: number, len: number): Promise<void> {
    if (this.#closed) return Promise.reject(new TunError('ERR_TUN_CLOSED', this.name))
    this.#one[0] = offset
    this.#oneSize[0] = len
    const r = this.#io.writeBatch(buf, this.#one, this.#oneSize, 1)
    if (r < 0) {
      this.stats.writeErrors++
      return Promise.reject(new TunError('ERR_TUN_IO', `write ${len} bytes to ${this.name}: errno ${-r}`, -r))
    }
    this.stats.packetsWritten++
    return RESOLVED
  }

  readBatch(buf: Uint8Array, offsets: Int32Array, count: number, maxBytes: number, sizes: Int32Array): Promise<number> {
    if (this.#closed) return Promise.reject(new TunError('ERR_TUN_CLOSED', this.name))
    if (this.#pending) return Promise.reject(new TunError('ERR_TUN_BUSY', `${this.name}: a read is already pending`))
    if (this.#budget > 0) {
      // Fast path: data is often already queued. Spend the budget, then yield through the poll handle
      // so timers and sockets get their turn even when the TUN never runs dry.
      this.#budget--
      const r = this.#io.readBatch(buf, offsets, count, maxBytes, sizes)
      if (r > 0) {
        this.stats.packetsRead += r
        return Promise.resolve(r)
      }
      if (r !== -ERRNO.EAGAIN) return this.#fail(r)
    }
    this.#pending = true
    this.#buf = buf
    this.#offsets = offsets
    this.#count = count
    this.#maxBytes = maxBytes
    this.#sizes = sizes
    return new Promise<number>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
      if (this.#io.pending() > 0) {
        // Segments of a super-packet are waiting in the addon: the fd may never become readable for
        // them, so yield once and take them.
        if (!this.#wakeScheduled) {
          this.#wakeScheduled = true
          setImmediate(() => { this.#wakeScheduled = false; this.#onReadable(0) })
        }
        return
      }
      const rc = this.#n.pollArm(this.#poll)
      if (rc < 0) this.#settle(new TunError('ERR_TUN_IO', `poll ${this.name}: ${rc}`))
    })
  }

  writeBatch(buf: Uint8Array, offsets: Int32Array, sizes: Int32Array, count: number): Promise<void> {
    if (this.#closed) return Promise.reject(new TunError('ERR_TUN_CLOSED', this.name))
    let r = this.#io.writeBatch(buf, offsets, sizes, count)
    if (r === count) {
      this.stats.packetsWritten += r
      return RESOLVED
    }
    let done = 0
    while (done < count) {
      if (done > 0) r = this.#io.writeBatch(buf, offsets.subarray(done), sizes.subarray(done), count - done)
      if (r > 0) {
        done += r
        this.stats.packetsWritten += r
      } else {
        // A packet the kernel refused (EINVAL for a malformed one, EIO when the link is down): skip it.
        this.stats.writeErrors++
        done++
      }
    }
    return RESOLVED
  }

  close(): Promise<void> {
    if (this.#closed) return RESOLVED
    this.#closed = true
    this.#n.pollClose(this.#poll)
    this.#n.fdClose(this.fd)
    if (this.#pending) this.#settle(new TunError('ERR_TUN_CLOSED', this.name))
    return RESOLVED
  }

  #onReadable(status: number): void {
    if (!this.#pending) return
    if (status < 0) {
      this.#settle(new TunError('ERR_TUN_IO', `poll ${this.name}: ${status}`))
      return
    }
    const r = this.#io.readBatch(this.#buf, this.#offsets, this.#count, this.#maxBytes, this.#sizes)
    if (r === -ERRNO.EAGAIN) {
      this.#n.pollArm(this.#poll) // spurious wake-up
      return
    }
    this.#budget = this.#readsBeforeYield
    if (r > 0) this.stats.packetsRead += r
    this.#settle(r > 0 ? r : new TunError('ERR_TUN_IO', `read ${this.name}: errno ${-r}`, -r))
  }

  #settle(v: number | Error): void {
    const resolve = this.#resolve
    const reject = this.#reject
    this.#pending = false
    this.#resolve = undefined
    this.#reject = undefined
    this.#buf = EMPTY
    if (typeof v === 'number') resolve?.(v)
    else reject?.(v)
  }

  #fail(r: number): Promise<number> {
    this.stats.readErrors++
    return Promise.reject(new TunError('ERR_TUN_IO', `read ${this.name}: errno ${-r}`, -r))
  }
}
