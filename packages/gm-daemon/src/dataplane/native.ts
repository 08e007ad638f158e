// Typed view of the N-API addon (native/tun.c, native/esp.c → build/Release/gdoi_native.node).
// Loaded lazily, once; the data plane falls back to node:crypto when it is missing (see esp-fast.ts).
import { createRequire } from 'node:module'

export interface NativeAddon {
  /**
   * Creates/attaches TUN `name` (IFF_TUN|IFF_NO_PI); with netnsPath the device is created in that namespace.
   * offload: IFF_VNET_HDR + TUNSETOFFLOAD(CSUM|TSO4); `offloads` is what the kernel took (TUN_F_* bits).
   */
  tunOpen(name: string, nonBlocking: boolean, netnsPath: string | null, mtuBytes: number, offload: boolean): [fd: number, name: string, mtuBytes: number, offloads: number]
  fdClose(fd: number): number
  /** bytes read, or −errno (−11 EAGAIN). */
  fdRead(fd: number, buf: Uint8Array, offset: number, maxBytes: number): number
  fdWrite(fd: number, buf: Uint8Array, offset: number, bytes: number): number
  fdReadBatch(fd: number, slab: Uint8Array, offsets: Int32Array, count: number, maxBytes: number, sizes: Int32Array): number
  fdWriteBatch(fd: number, slab: Uint8Array, offsets: Int32Array, sizes: Int32Array, count: number): number
  /** Segmentation offload state of a TUN opened with offload (native/offload.c). */
  gsoNew(fd: number, maxSlotBytes: number): NativeHandle
  /** fdReadBatch for an offload TUN: super-packets are cut into segments, one per slot. */
  gsoReadBatch(h: NativeHandle, slab: Uint8Array, offsets: Int32Array, count: number, maxBytes: number, sizes: Int32Array): number
  /** fdWriteBatch for an offload TUN: runs of one TCP/UDP flow go out as one GSO packet. */
  gsoWriteBatch(h: NativeHandle, slab: Uint8Array, offsets: Int32Array, sizes: Int32Array, count: number): number
  /** Segments cut but not yet handed out (the fd need not be readable for them). */
  gsoPending(h: NativeHandle): number
  /** Fills `out` with the counters (OFFLOAD_COUNTERS order); returns their number. */
  gsoStats(h: NativeHandle, out: Float64Array): number
  /** Raw IPv4 socket (IPPROTO_RAW) with SO_MARK `mark`, in netnsPath if given: fd or −errno. */
  espSocketOpen(netnsPath: string | null, mark: number): number
  /** sendmmsg of complete IPv4 packets to their destination addresses: packets sent or −errno. */
  espSocketSend(fd: number, slab: Uint8Array, offsets: Int32Array, sizes: Int32Array, count: number): number
  pollNew(fd: number, onReadable: (status: number) => void): NativeHandle
  pollArm(h: NativeHandle): number
  pollClose(h: NativeHandle): number
  espNew(mode: number, cipher: string | null, encKey: Uint8Array, saltBytes: number, ivBytes: number,
    blockBytes: number, icvBytes: number, hmacAlg: number, authKey: Uint8Array): NativeHandle
  espFree(h: NativeHandle): number
  espSeal(h: NativeHandle, buf: Uint8Array, espOffset: number, payloadBytes: number, nextHeader: number, ivRandom: number): number
  espOpen(h: NativeHandle, buf: Uint8Array, espOffset: number, espBytes: number): number
  espSealBatch(h: NativeHandle, slab: Uint8Array, espOffsets: Int32Array, payloadBytes: Int32Array, count: number, nextHeader: number, ivRandom: number): number
  espOpenBatch(h: NativeHandle, slab: Uint8Array, espOffsets: Int32Array, espBytes: Int32Array, count: number): number
}

/** An opaque native object (napi_external). */
export type NativeHandle = { readonly __native: unique symbol }

export const ERRNO = { EAGAIN: 11, EBADF: 9, EINVAL: 22, EIO: 5 } as const

export class NativeUnavailableError extends Error {
  override name = 'NativeUnavailableError'
  readonly code = 'ERR_NATIVE_UNAVAILABLE'
  constructor(detail: string) {
    super(`ERR_NATIVE_UNAVAILABLE: gdoi_native addon not loadable (${detail}); run \`node native/build.mjs\` in packages/gm-daemon`)
  }
}

let cached: NativeAddon | Error | undefined

function load(): NativeAddon | Error {
  if (cached !== undefined) return cached
  try {
    // src/dataplane/native.ts and dist/dataplane/native.js are both two levels below the package root.
    const require = createRequire(import.meta.url)
    cached = require('../../build/Release/gdoi_native.node') as NativeAddon
  } catch (e) {
    cached = new NativeUnavailableError(e instanceof Error ? e.message.split('\n')[0] ?? e.message : String(e))
  }
  return cached
}

/** The addon; throws NativeUnavailableError if it was not built. */
export function loadNative(): NativeAddon {
  const m = load()
  if (m instanceof Error) throw m
  return m
}

/** A network namespace for the addon: a name under /var/run/netns or an absolute path; null: this one. */
export function netnsPath(netns: string | undefined): string | null {
  return netns === undefined ? null : netns.startsWith('/') ? netns : `/var/run/netns/${netns}`
}

/** The addon, or undefined if it was not built. */
export function tryLoadNative(): NativeAddon | undefined {
  const m = load()
  return m instanceof Error ? undefined : m
}
