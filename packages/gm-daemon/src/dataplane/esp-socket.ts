// The ESP socket (native/esp-socket.c): sealed ESP packets leave on a raw IPv4 socket with sendmmsg
// instead of going back through the TUN, which saves each packet the kernel's input path (policy rules,
// forwarding). The socket's packets carry a firewall mark; the routing (routing.ts) sends marked packets
// to the normal routes, so they never loop back into the TUN. Without that rule the socket must not be
// used: tun-data-plane.ts attaches it only once the routing is installed.
import { loadNative, NativeUnavailableError, netnsPath, type NativeAddon } from './native.js'

/** Where the data plane sends sealed ESP packets when not through the TUN. */
export interface PacketSink {
  /** Sends buf[offsets[i], offsets[i] + sizes[i]) for i < count; returns how many went (the rest: caller's). */
  send(buf: Uint8Array, offsets: Int32Array, sizes: Int32Array, count: number): number
  close(): void
}

export class EspSocketError extends Error {
  override name = 'EspSocketError'
  readonly code = 'ERR_ESP_SOCKET'
  readonly errno: number
  constructor(detail: string, errno: number) {
    super(`ERR_ESP_SOCKET: ${detail}`)
    this.errno = errno
  }
}

export interface EspSocketStats { packetsSent: number; sendErrors: number; lastErrno: number }

export class EspSocket implements PacketSink {
  readonly mark: number
  readonly stats: EspSocketStats = { packetsSent: 0, sendErrors: 0, lastErrno: 0 }
  readonly #n: NativeAddon
  #fd: number

  private constructor(n: NativeAddon, fd: number, mark: number) {
    this.#n = n
    this.#fd = fd
    this.mark = mark
  }

  /** Opens the raw socket (CAP_NET_RAW, and CAP_NET_ADMIN for the mark). Throws EspSocketError. */
  static open(o: { readonly mark: number; readonly netns?: string }): EspSocket {
    let n: NativeAddon
    try {
      n = loadNative()
    } catch (e) {
      throw new EspSocketError(e instanceof NativeUnavailableError ? e.message : String(e), 0)
    }
    const fd = n.espSocketOpen(netnsPath(o.netns), o.mark | 0)
    if (fd < 0) throw new EspSocketError(`raw socket with mark 0x${(o.mark >>> 0).toString(16)}: errno ${-fd}`, -fd)
    return new EspSocket(n, fd, o.mark)
  }

  send(buf: Uint8Array, offsets: Int32Array, sizes: Int32Array, count: number): number {
    if (this.#fd < 0) return 0
    const r = this.#n.espSocketSend(this.#fd, buf, offsets, sizes, count)
    if (r < count) {
      this.stats.sendErrors++
      if (r < 0) this.stats.lastErrno = -r
    }
    const sent = Math.max(r, 0)
    this.stats.packetsSent += sent
    return sent
  }

  close(): void {
    if (this.#fd >= 0) this.#n.fdClose(this.#fd)
    this.#fd = -1
  }
}
