// The I/O boundary for datagrams (STYLE.md "The I/O boundary"). Daemons only ever see this interface;
// `udp.ts` wraps node:dgram and `memory.ts` is the deterministic in-process network for tests.

export interface Endpoint {
  readonly address: string
  readonly port: number
}

export type DatagramHandler = (bytes: Uint8Array, from: Endpoint) => void

export interface Transport {
  /** Fire and forget. `bytes` may be reused by the caller as soon as send returns. Errors are not thrown
   *  (UDP gives no delivery guarantee anyway); transports that can observe them report through `onError`. */
  send(bytes: Uint8Array, to: Endpoint): void
  /** Replaces the receive handler. `bytes` is only valid during the call: copy (`slice()`) what you keep. */
  onDatagram(h: DatagramHandler): void
  close(): Promise<void>
  /** The bound local address/port (after binding port 0, the port the OS picked). */
  readonly local: Endpoint
}

/** Transports that can carry multicast rekeys (GROUPKEY-PUSH to a SAK DST address). */
export interface MulticastTransport extends Transport {
  joinGroup(group: string): void
  leaveGroup(group: string): void
}

export function formatEndpoint(e: Endpoint): string {
  return `${e.address}:${e.port}`
}

export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.address === b.address && a.port === b.port
}
