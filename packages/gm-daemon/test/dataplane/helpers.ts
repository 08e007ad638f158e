// Shared test helpers for the data plane: a manual clock, SA parameter sets, packet builders.
import { randomBytes } from 'node:crypto'
import type { EspSaParams } from '@gdoi/wire/esp/index'
import type { Clock } from '../../src/dataplane/clock.js'
import { buildIcmpEcho, buildIpv4, buildUdp, IpProto } from '../../src/dataplane/ipv4.js'
import { tryLoadNative } from '../../src/dataplane/native.js'

export const hasNative = tryLoadNative() !== undefined

/** A clock tests advance by hand; timers fire in due order inside advance(). */
export class ManualClock implements Clock {
  #now: number
  #seq = 0
  readonly #timers = new Map<number, { due: number; fn: () => void }>()
  constructor(startMs = 1_000_000) { this.#now = startMs }
  now(): number { return this.#now }
  setTimer(ms: number, fn: () => void): () => void {
    const id = ++this.#seq
    this.#timers.set(id, { due: this.#now + Math.max(0, ms), fn })
    return () => { this.#timers.delete(id) }
  }
  get pending(): number { return this.#timers.size }
  advance(ms: number): void {
    const end = this.#now + ms
    for (;;) {
      let next: [number, { due: number; fn: () => void }] | undefined
      for (const e of this.#timers) if (e[1].due <= end && (next === undefined || e[1].due < next[1].due)) next = e
      if (next === undefined) break
      this.#timers.delete(next[0])
      this.#now = next[1].due
      next[1].fn()
    }
    this.#now = end
  }
}

export function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/^0x/, ''), 'hex'))
}

export const KLIPS_AES256_SHA1: EspSaParams = {
  spi: 0xd1234567, transformId: 12, authAlgorithm: 2,
  encKey: hex('aaaabbbbccccdddd4043434545464649494a4a4c4c4f4f515152525454575758'),
  authKey: hex('8765876587658765876587658765876587658765'),
}
export const KLIPS_3DES_MD5: EspSaParams = {
  spi: 0x12345678, transformId: 3, authAlgorithm: 1,
  encKey: hex('4043434545464649494a4a4c4c4f4f515152525454575758'),
  authKey: hex('87658765876587658765876587658765'),
}

export function aesCbc(keyBits: 128 | 192 | 256, auth: 1 | 2 | 5 | 6 | 7, spi = 0x1000_0001): EspSaParams {
  const authBytes = { 1: 16, 2: 20, 5: 32, 6: 48, 7: 64 }[auth]
  return { spi, transformId: 12, authAlgorithm: auth, keyLengthBits: keyBits, encKey: randomBytes(keyBits / 8), authKey: randomBytes(authBytes) }
}

export function aesGcm(keyBits: 128 | 192 | 256, transformId: 18 | 19 | 20 = 20, spi = 0x2000_0001): EspSaParams {
  return { spi, transformId, keyLengthBits: keyBits, encKey: randomBytes(keyBits / 8 + 4) }
}

/** An ICMP echo request packet of exactly totalBytes (≥ 28). */
export function ping(src: string, dst: string, totalBytes = 84, opts: { dontFragment?: boolean; tos?: number; ttl?: number; seq?: number } = {}): Uint8Array {
  const data = new Uint8Array(Math.max(0, totalBytes - 28))
  for (let i = 0; i < data.length; i++) data[i] = i & 0xff
  return buildIpv4({
    src, dst, protocol: IpProto.ICMP, payload: buildIcmpEcho(8, 0x4242, opts.seq ?? 1, data),
    ...(opts.dontFragment !== undefined ? { dontFragment: opts.dontFragment } : {}),
    ...(opts.tos !== undefined ? { tos: opts.tos } : {}),
    ...(opts.ttl !== undefined ? { ttl: opts.ttl } : {}),
  })
}

export function udp(src: string, dst: string, sport: number, dport: number, data: Uint8Array = new Uint8Array(8)): Uint8Array {
  return buildIpv4({ src, dst, protocol: IpProto.UDP, payload: buildUdp(sport, dport, data) })
}

export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
