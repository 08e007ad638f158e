// Transport shims for the loopback end-to-end tests: record every datagram (to write a pcap) and drop
// a share of them at random (seeded, so a failing run can be replayed).
import type { DatagramHandler, Endpoint, Transport } from '@gdoi/daemon-kit'
import { seededRandom } from '@gdoi/daemon-kit'
import type { UdpDatagram } from '@gdoi/wire/pcap/index'

/** Datagrams as sent, shared by every recorded transport of a test (one capture). */
export class Recorder {
  readonly datagrams: UdpDatagram[] = []
  record(from: Endpoint, to: Endpoint, bytes: Uint8Array): void {
    this.datagrams.push({ src: from.address, sport: from.port, dst: to.address, dport: to.port, payload: Uint8Array.from(bytes), timeSec: Date.now() / 1000 })
  }
}

export interface ShimOptions {
  /** Record sent datagrams here. */
  readonly recorder?: Recorder
  /** Probability that a datagram this transport sends is lost (after recording: the capture shows it). */
  readonly drop?: number
  readonly seed?: number
  /** Source address to record when the socket is bound to 0.0.0.0. */
  readonly address?: string
}

export interface ShimStats {
  sent: number
  dropped: number
}

/** Wraps a transport: `send` records and maybe drops; everything else passes through. */
export function shim(inner: Transport, o: ShimOptions): Transport & { readonly shimStats: ShimStats } {
  const rand = seededRandom(o.seed ?? 1)
  const stats: ShimStats = { sent: 0, dropped: 0 }
  return {
    shimStats: stats,
    get local() {
      return inner.local
    },
    send(bytes: Uint8Array, to: Endpoint): void {
      stats.sent++
      if (o.drop !== undefined && rand() < o.drop) {
        stats.dropped++
        return
      }
      o.recorder?.record({ address: o.address ?? inner.local.address, port: inner.local.port }, to, bytes)
      inner.send(bytes, to)
    },
    onDatagram: (h: DatagramHandler) => inner.onDatagram(h),
    close: () => inner.close(),
  }
}
