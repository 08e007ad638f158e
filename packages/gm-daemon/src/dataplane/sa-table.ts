// The GM's data SAs (spec §4.2, §4.3): inbound SAs by SPI alone (all GMs share the SPI, the sender is any
// member), outbound SA per policy slot (one slot per SAT selector / ACL policyId), and TEK rollover:
//   * a new TEK is installed inbound at once;
//   * it becomes the slot's outbound SA after GAP ACTIVATION_TIME_DELAY (no ATD: `switchLeadSec` before
//     the current TEK expires; no current TEK: at once);
//   * the TEK it replaces keeps receiving until DEACTIVATION_TIME_DELAY after the new TEK was received
//     (RFC 6407 §5.4.1; never before the switch), or its own expiry, or a push Delete — whichever is first.
// Like wireguard-go's keypairs (current/previous/next), each slot holds current, pending and previous.
// Removing an SA zeroes its key bytes and the native key schedule.
import { channel } from 'node:diagnostics_channel'
import type { EspSaParams } from '@gdoi/wire/esp/index'
import type { Clock } from './clock.js'
import { createFastSa, type EspEngineName, type FastEspSa, type SenderId } from './esp-fast.js'
import { ReplayGuard, type ReplayOptions } from './replay.js'

/** diagnostics_channel events: { event, spi, policyIds } (never key material). */
export const saChannel = channel('gdoi:gm:sa')

export type SaDirection = 'both' | 'inbound' | 'outbound'

export interface TekInstall {
  /** SPI, transform and the TEK key packet's keys (copied; the caller may wipe its own). */
  readonly params: EspSaParams
  /** Slots (SAT selectors / ACL policyIds) this TEK protects. Default ['default']. */
  readonly policyIds?: readonly string[]
  /** SA life remaining when the KS sent it (SAT SA Life Duration). */
  readonly lifetimeSec: number
  /** GAP ACTIVATION_TIME_DELAY. */
  readonly activationDelaySec?: number
  /** GAP DEACTIVATION_TIME_DELAY. */
  readonly deactivationDelaySec?: number
  /** SAT SA_DIRECTION; default both (symmetric). */
  readonly direction?: SaDirection
  /** This GM's RFC 6054 sender ID for counter-mode TEKs (overrides the table's). */
  readonly sender?: SenderId
}

export type SaState = 'pending' | 'current' | 'previous' | 'inbound' | 'removed'

export class DataSa {
  readonly spi: number
  readonly policyIds: string[]
  readonly direction: SaDirection
  readonly fast: FastEspSa
  readonly installedAtMs: number
  readonly expiresAtMs: number
  activateAtMs: number | undefined
  retireAtMs: number | undefined
  state: SaState = 'inbound'
  /** Last ESP sequence number sent (this GM's own counter on this SA). */
  seq = 0
  readonly replay: ReplayGuard
  /** NUMBER_OF_SID_BITS when replay windows are keyed by the sender's SID (counter modes); else 0. */
  readonly replaySidBits: number
  packetsEncrypted = 0
  bytesEncrypted = 0
  packetsDecrypted = 0
  bytesDecrypted = 0
  dropAuth = 0
  dropReplay = 0
  dropMalformed = 0
  dropPolicy = 0
  dropSeqExhausted = 0
  readonly cancels: (() => void)[] = []
  readonly keys: Uint8Array[]

  constructor(t: TekInstall, fast: FastEspSa, keys: Uint8Array[], nowMs: number, replay: ReplayGuard, replaySidBits: number) {
    this.spi = t.params.spi
    this.policyIds = [...(t.policyIds ?? ['default'])]
    this.direction = t.direction ?? 'both'
    this.fast = fast
    this.keys = keys
    this.installedAtMs = nowMs
    this.expiresAtMs = nowMs + t.lifetimeSec * 1000
    this.replay = replay
    this.replaySidBits = replaySidBits
  }

  get inbound(): boolean { return this.direction !== 'outbound' }
  get outbound(): boolean { return this.direction !== 'inbound' }
  toJSON(): object { return { spi: this.spi, state: this.state, policyIds: this.policyIds } } // never the keys
}

export interface PolicySlot {
  readonly id: string
  current: DataSa | undefined
  pending: DataSa | undefined
  previous: DataSa | undefined
}

export interface SaTableOptions {
  readonly clock: Clock
  readonly engine?: EspEngineName | 'auto'
  /** This GM's sender ID for counter-mode TEKs (KD SID packet, PULL4). */
  readonly sender?: SenderId
  /** The group's NUMBER_OF_SID_BITS, to key per-sender replay windows by SID. */
  readonly sidBits?: number
  readonly replay?: ReplayOptions
  /** Without GAP ATD, switch to a new TEK this many seconds before the current one expires. Default 0. */
  readonly switchLeadSec?: number
}

function sameKeys(a: EspSaParams, keys: readonly Uint8Array[]): boolean {
  const [enc, auth] = keys
  const eq = (x: Uint8Array | undefined, y: Uint8Array | undefined): boolean =>
    (x?.length ?? 0) === (y?.length ?? 0) && (x ?? []).every((v, i) => v === y?.[i])
  return eq(a.encKey, enc) && eq(a.authKey, auth)
}

export class SaTable {
  readonly #opts: SaTableOptions
  readonly #inbound = new Map<number, DataSa>()
  readonly #slots = new Map<string, PolicySlot>()
  readonly #all = new Set<DataSa>()
  #closed = false

  constructor(opts: SaTableOptions) {
    this.#opts = opts
  }

  /** Inbound SA by SPI (hot path). */
  inbound(spi: number): DataSa | undefined { return this.#inbound.get(spi) }

  /** The slot for a policy id, created empty on first use (the data plane binds ACL entries to slots). */
  slot(id: string): PolicySlot {
    let s = this.#slots.get(id)
    if (s === undefined) {
      s = { id, current: undefined, pending: undefined, previous: undefined }
      this.#slots.set(id, s)
    }
    return s
  }

  outbound(id: string): DataSa | undefined { return this.#slots.get(id)?.current }
  list(): DataSa[] { return [...this.#all] }
  slots(): PolicySlot[] { return [...this.#slots.values()] }

  install(t: TekInstall): DataSa {
    if (this.#closed) throw new Error('SaTable is closed')
    const clock = this.#opts.clock
    const now = clock.now()
    const existing = this.#findBySpi(t.params.spi)
    if (existing !== undefined) {
      if (existing.fast.suite.transformId === t.params.transformId && sameKeys(t.params, existing.keys)) {
        // The same TEK for one more SAT selector (one SPI shared by several SATs).
        for (const id of t.policyIds ?? ['default']) if (!existing.policyIds.includes(id)) existing.policyIds.push(id)
        this.#placeOutbound(existing, t, now)
        return existing
      }
      this.remove(existing.spi, 'replaced')
    }
    // Copies owned (and wiped) by the table: new Uint8Array(x), since Buffer#slice would be a view into the caller's memory.
    const keys = [new Uint8Array(t.params.encKey), ...(t.params.authKey ? [new Uint8Array(t.params.authKey)] : [])]
    const params: EspSaParams = { ...t.params, encKey: keys[0] as Uint8Array, ...(t.params.authKey ? { authKey: keys[1] as Uint8Array } : {}) }
    const sender = t.sender ?? this.#opts.sender
    const fast = createFastSa(params, { engine: this.#opts.engine ?? 'auto', ...(sender ? { sender } : {}) })
    const counterMode = fast.suite.mode !== 'cbc' && fast.suite.mode !== 'null'
    const sidBits = counterMode ? this.#opts.sidBits ?? sender?.sidBits ?? 0 : 0
    const sa = new DataSa(t, fast, keys, now, new ReplayGuard(this.#opts.replay), sidBits)
    this.#all.add(sa)
    if (sa.inbound) this.#inbound.set(sa.spi, sa)
    sa.cancels.push(clock.setTimer(sa.expiresAtMs - now, () => this.#drop(sa, 'expired')))
    this.#placeOutbound(sa, t, now)
    saChannel.publish({ event: 'installed', spi: sa.spi, policyIds: sa.policyIds, state: sa.state })
    return sa
  }

  /** Deletes an SA (push Delete payload, or replaced); zeroes its keys. */
  remove(spi: number, reason = 'deleted'): boolean {
    const sa = this.#findBySpi(spi)
    if (sa === undefined) return false
    this.#drop(sa, reason)
    return true
  }

  /** Removes every SA (daemon shutdown, re-registration). */
  close(): void {
    for (const sa of [...this.#all]) this.#drop(sa, 'closed')
    this.#closed = true
  }

  #findBySpi(spi: number): DataSa | undefined {
    const sa = this.#inbound.get(spi)
    if (sa) return sa
    for (const s of this.#all) if (s.spi === spi) return s
    return undefined
  }

  #placeOutbound(sa: DataSa, t: TekInstall, now: number): void {
    if (!sa.outbound) return
    const clock = this.#opts.clock
    for (const id of sa.policyIds) {
      const slot = this.slot(id)
      if (slot.current === sa || slot.pending === sa) continue
      const old = slot.current
      if (old === undefined) {
        this.#activate(slot, sa)
        continue
      }
      const activateAt = t.activationDelaySec !== undefined
        ? now + t.activationDelaySec * 1000
        : Math.max(now, old.expiresAtMs - (this.#opts.switchLeadSec ?? 0) * 1000)
      // The replaced TEK keeps receiving until DTD after this one arrived, never before the switch.
      const retireAt = Math.max(activateAt, t.deactivationDelaySec !== undefined ? now + t.deactivationDelaySec * 1000 : old.expiresAtMs)
      if (retireAt < old.expiresAtMs) {
        old.retireAtMs = retireAt
        old.cancels.push(clock.setTimer(retireAt - now, () => this.#drop(old, 'deactivated')))
      }
      if (activateAt <= now) {
        this.#activate(slot, sa)
      } else {
        if (slot.pending !== undefined && slot.pending.state === 'pending') slot.pending.state = 'inbound'
        slot.pending = sa
        sa.state = 'pending'
        sa.activateAtMs = activateAt
        sa.cancels.push(clock.setTimer(activateAt - now, () => { if (slot.pending === sa) this.#activate(slot, sa) }))
      }
    }
  }

  #activate(slot: PolicySlot, sa: DataSa): void {
    const old = slot.current
    if (old !== undefined && old !== sa) {
      old.state = 'previous'
      slot.previous = old
    }
    if (slot.pending === sa) slot.pending = undefined
    slot.current = sa
    sa.state = 'current'
    sa.activateAtMs = this.#opts.clock.now()
    saChannel.publish({ event: 'activated', spi: sa.spi, policyIds: sa.policyIds, state: sa.state })
  }

  #drop(sa: DataSa, reason: string): void {
    if (sa.state === 'removed') return
    for (const c of sa.cancels) c()
    sa.cancels.length = 0
    if (this.#inbound.get(sa.spi) === sa) this.#inbound.delete(sa.spi)
    this.#all.delete(sa)
    for (const slot of this.#slots.values()) {
      if (slot.previous === sa) slot.previous = undefined
      if (slot.pending === sa) slot.pending = undefined
      if (slot.current === sa) {
        slot.current = undefined
        // Losing the current TEK early (Delete, or it expired before the switch): use the pending one now.
        const next = slot.pending
        if (next !== undefined) this.#activate(slot, next)
      }
    }
    sa.state = 'removed'
    sa.fast.destroy()
    for (const k of sa.keys) k.fill(0)
    saChannel.publish({ event: reason, spi: sa.spi, policyIds: sa.policyIds, state: sa.state })
  }
}
