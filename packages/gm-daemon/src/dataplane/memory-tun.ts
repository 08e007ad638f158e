// In-memory TUN for tests (wireguard-go tun/tuntest): the `kernel` side injects packets the data plane
// will read and collects the packets it writes. Packets are copied at both edges, as a real TUN would.
import type { TunDevice } from './tun.js'
import { TunError } from './tun.js'

export interface MemoryTunKernel {
  /** Queue a packet for the device to read (as if the kernel routed it into the TUN). */
  send(packet: Uint8Array): void
  /** The next packet the device wrote (as if handed to the kernel); rejects after timeoutMs. */
  receive(timeoutMs?: number): Promise<Uint8Array>
  /** Packets written and not yet received. */
  readonly pendingWritten: number
  /** Packets queued by send() and not yet read. */
  readonly pendingRead: number
  /** When set, every written packet goes here instead of the receive queue (to wire two devices). */
  onWrite: ((packet: Uint8Array) => void) | undefined
}

export interface MemoryTun { readonly tun: TunDevice; readonly kernel: MemoryTunKernel }

export function createMemoryTun(opts: { name?: string; mtuBytes?: number } = {}): MemoryTun {
  const name = opts.name ?? 'memtun0'
  const mtu = opts.mtuBytes ?? 1500
  const toDevice: Uint8Array[] = []
  const fromDevice: Uint8Array[] = []
  let reader: (() => void) | undefined
  let receiver: ((p: Uint8Array) => void) | undefined
  let closed = false
  let closeReader: ((e: Error) => void) | undefined

  const deliver = (p: Uint8Array): void => {
    if (kernel.onWrite) { kernel.onWrite(p); return }
    if (receiver) { const r = receiver; receiver = undefined; r(p); return }
    fromDevice.push(p)
  }

  const kernel: MemoryTunKernel = {
    onWrite: undefined,
    send(packet) {
      toDevice.push(new Uint8Array(packet))
      const r = reader
      reader = undefined
      r?.()
    },
    receive(timeoutMs = 1000) {
      const p = fromDevice.shift()
      if (p) return Promise.resolve(p)
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => { receiver = undefined; reject(new Error(`${name}: nothing written within ${timeoutMs} ms`)) }, timeoutMs)
        receiver = (pkt) => { clearTimeout(t); resolve(pkt) }
      })
    },
    get pendingWritten() { return fromDevice.length },
    get pendingRead() { return toDevice.length },
  }

  const waitReadable = (): Promise<void> =>
    new Promise((resolve, reject) => {
      reader = resolve
      closeReader = reject
    })

  const tun: TunDevice = {
    name,
    mtu,
    async read(buf, offset) {
      const sizes = new Int32Array(1)
      await tun.readBatch(buf, Int32Array.of(offset), 1, buf.length - offset, sizes)
      return sizes[0] ?? 0
    },
    write(buf, offset, len) {
      if (closed) return Promise.reject(new TunError('ERR_TUN_CLOSED', name))
      deliver(new Uint8Array(buf.subarray(offset, offset + len)))
      return Promise.resolve()
    },
    async readBatch(buf, offsets, count, maxBytes, sizes) {
      if (closed) throw new TunError('ERR_TUN_CLOSED', name)
      if (reader) throw new TunError('ERR_TUN_BUSY', `${name}: a read is already pending`)
      while (toDevice.length === 0) {
        await waitReadable()
        if (closed) throw new TunError('ERR_TUN_CLOSED', name)
      }
      let n = 0
      while (n < count && toDevice.length > 0) {
        const p = toDevice.shift() as Uint8Array
        const len = Math.min(p.length, maxBytes) // a real TUN read truncates too
        buf.set(p.subarray(0, len), offsets[n] ?? 0)
        sizes[n] = len
        n++
      }
      return n
    },
    writeBatch(buf, offsets, sizes, count) {
      if (closed) return Promise.reject(new TunError('ERR_TUN_CLOSED', name))
      for (let i = 0; i < count; i++) {
        const off = offsets[i] ?? 0
        deliver(new Uint8Array(buf.subarray(off, off + (sizes[i] ?? 0))))
      }
      return Promise.resolve()
    },
    close() {
      if (!closed) {
        closed = true
        reader = undefined
        closeReader?.(new TunError('ERR_TUN_CLOSED', name))
      }
      return Promise.resolve()
    },
  }
  return { tun, kernel }
}
