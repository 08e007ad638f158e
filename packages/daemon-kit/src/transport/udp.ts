// UDP (IPv4) transport over node:dgram for the GDOI control plane on port 848.
//
// Multicast rekeys: a socket bound to a unicast address does not receive datagrams addressed to a
// multicast group on Linux. A GM that wants multicast pushes opens a second transport bound to the
// group address itself (`{ address: '239.1.1.1', port: 848, reuseAddr: true, multicast: { groups:
// ['239.1.1.1'], interface: <its WAN address> } }`), or binds 0.0.0.0. The KS sends to the group
// from its normal transport after `multicast.interface`/`ttl` are set.
import { createSocket, type Socket } from 'node:dgram'
import type { Endpoint, MulticastTransport, DatagramHandler } from './types.js'

export const GDOI_UDP_PORT = 848

export interface UdpMulticastOptions {
  /** Local IPv4 address of the interface multicast is sent from and joined on. */
  readonly interface?: string
  /** TTL of outgoing multicast datagrams (default 1: one subnet; raise it for routed rekeys). */
  readonly ttl?: number
  /** Whether this host receives its own multicast datagrams (default true: useful on one machine). */
  readonly loopback?: boolean
  /** Groups joined right after binding (more with `joinGroup`). */
  readonly groups?: readonly string[]
}

export interface UdpTransportOptions {
  /** Local address to bind (default 0.0.0.0). IPv4 only. */
  readonly address?: string
  /** Local port (default 848; 0 lets the OS pick, see `local.port`). */
  readonly port?: number
  /** SO_REUSEADDR (needed when several sockets bind the same multicast group/port). */
  readonly reuseAddr?: boolean
  readonly multicast?: UdpMulticastOptions
  readonly recvBufferBytes?: number
  readonly sendBufferBytes?: number
}

export interface UdpTransportStats {
  readonly received: number
  readonly sent: number
  readonly sendErrors: number
}

export interface UdpTransport extends MulticastTransport {
  /** Errors the socket reports after binding (a failed send, ICMP unreachable); `to` when known. */
  onError(h: (err: Error, to?: Endpoint) => void): void
  stats(): UdpTransportStats
}

/** Binds a UDP socket; rejects with the bind error (EADDRINUSE, EACCES for port 848 without privilege…). */
export async function createUdpTransport(opts: UdpTransportOptions = {}): Promise<UdpTransport> {
  const address = opts.address ?? '0.0.0.0'
  const port = opts.port ?? GDOI_UDP_PORT
  const socket = createSocket({ type: 'udp4', reuseAddr: opts.reuseAddr ?? false })

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close()
      reject(err)
    }
    socket.once('error', onError)
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', onError)
      resolve()
    })
  })

  try {
    if (opts.recvBufferBytes !== undefined) socket.setRecvBufferSize(opts.recvBufferBytes)
    if (opts.sendBufferBytes !== undefined) socket.setSendBufferSize(opts.sendBufferBytes)
    const mc = opts.multicast
    if (mc !== undefined) {
      if (mc.interface !== undefined) socket.setMulticastInterface(mc.interface)
      socket.setMulticastTTL(mc.ttl ?? 1)
      socket.setMulticastLoopback(mc.loopback ?? true)
      for (const g of mc.groups ?? []) socket.addMembership(g, mc.interface)
    }
  } catch (err) {
    socket.close()
    throw err
  }
  return new UdpTransportImpl(socket, opts.multicast?.interface)
}

class UdpTransportImpl implements UdpTransport {
  readonly local: Endpoint
  #socket: Socket
  #handler: DatagramHandler = () => {}
  #errorHandler: (err: Error, to?: Endpoint) => void = () => {}
  #closed = false
  #closing: Promise<void> | undefined
  #iface: string | undefined
  #received = 0
  #sent = 0
  #sendErrors = 0

  constructor(socket: Socket, iface: string | undefined) {
    this.#socket = socket
    this.#iface = iface
    const a = socket.address()
    this.local = { address: a.address, port: a.port }
    socket.on('message', (msg, rinfo) => {
      this.#received++
      this.#handler(msg, { address: rinfo.address, port: rinfo.port })
    })
    socket.on('error', (err) => this.#errorHandler(err))
  }

  send(bytes: Uint8Array, to: Endpoint): void {
    if (this.#closed) {
      this.#sendErrors++
      return
    }
    // Copy: dgram may keep a reference until the send completes, and callers reuse their buffers.
    const copy = Buffer.from(bytes)
    const done = (err: Error | null): void => {
      if (err) {
        this.#sendErrors++
        this.#errorHandler(err, to)
      } else {
        this.#sent++
      }
    }
    try {
      this.#socket.send(copy, to.port, to.address, done)
    } catch (err) {
      // Bad port/address arguments throw synchronously; the contract is that send never throws.
      done(err instanceof Error ? err : new Error(String(err)))
    }
  }

  onDatagram(h: DatagramHandler): void {
    this.#handler = h
  }

  onError(h: (err: Error, to?: Endpoint) => void): void {
    this.#errorHandler = h
  }

  joinGroup(group: string): void {
    this.#socket.addMembership(group, this.#iface)
  }

  leaveGroup(group: string): void {
    this.#socket.dropMembership(group, this.#iface)
  }

  stats(): UdpTransportStats {
    return { received: this.#received, sent: this.#sent, sendErrors: this.#sendErrors }
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing
    this.#closed = true
    this.#handler = () => {}
    this.#closing = new Promise<void>((resolve) => this.#socket.close(() => resolve()))
    return this.#closing
  }
}
