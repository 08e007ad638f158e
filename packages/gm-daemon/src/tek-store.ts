// The TEKs this member holds (spec §4.3): each SAT + its TEK key packet becomes an ESP SA in the data
// plane's SaTable, which owns the rollover timing — inbound at once, outbound after the GAP
// ACTIVATION_TIME_DELAY, the replaced TEK kept for receiving until DEACTIVATION_TIME_DELAY after the
// new one arrived. Here we keep what the table does not: the SAT policy of each SPI (selectors,
// transform, lifetime) for `status`, SATs whose keys have not arrived yet (RFC 6407 §5.6.1), the
// downloaded ACL, the key log, and the log/diagnostics lines when a TEK is installed, starts being
// used for sending, or leaves the table (expired, deactivated, deleted).
import type { Logger } from 'pino'
import type { GroupKeys, GroupPolicy, SenderIds, TekKeys, TekPolicy, TrafficSelector } from '@gdoi/wire/exchange/index'
import { espSaLine, keylogEspLine } from '@gdoi/wire/crypto/index'
import { LogEvent, type Clock, type KeyLog } from '@gdoi/daemon-kit'
import type { SaTable, SaDirection, TekInstall } from './dataplane/sa-table.js'
import type { SenderId } from './dataplane/esp-fast.js'
import { selectorId } from './acl.js'
import { GmChannel, publishGm } from './diag.js'
import { spiHex, transformShowName, transformWire } from './show-names.js'

export interface TekRecord {
  readonly spi: number
  /** The first SAT with this SPI; `selectors` has all of them. */
  readonly policy: TekPolicy
  readonly selectors: readonly TrafficSelector[]
  readonly policyIds: readonly string[]
  readonly installedAtMs: number
  readonly expiresAtMs: number
  readonly source: 'registration' | 'rekey'
  readonly from: string
  readonly activationDelaySec?: number
  readonly deactivationDelaySec?: number
}

export interface TekInstallResult {
  readonly installed: readonly number[]
  /** SATs whose keys did not come with them (kept until a later KD brings the keys). */
  readonly awaitingKeys: readonly number[]
  readonly refused: readonly { readonly spi: number; readonly reason: string }[]
}

export interface TekStoreOptions {
  readonly sas: SaTable
  readonly clock: Clock
  readonly log: Logger
  readonly keylog?: KeyLog | undefined
  readonly diagId: string
  readonly groupName: string
  /** Something changed (installed, activated, removed): ACL and re-register timer need a look. */
  readonly onChange: () => void
}

const DIRECTION: Readonly<Record<number, SaDirection>> = { 1: 'outbound', 2: 'inbound', 3: 'both' }
/** Retired TEK SPIs remembered (a group has two or three live TEKs at a time). */
const RETIRED_KEPT = 64

export class TekStore {
  readonly #o: TekStoreOptions
  readonly #log: Logger
  readonly #records = new Map<number, TekRecord>()
  readonly #awaiting = new Map<number, { policies: TekPolicy[]; gap: GroupPolicy['gap']; source: TekRecord['source']; from: string }>()
  readonly #states = new Map<number, string>()
  /** SPIs of TEKs a newer one replaced (GAP deactivation; newest last, at most RETIRED_KEPT): a registration
   *  does not bring them back. A TEK the KS deleted, or one that expired here, may come back: the KS is the
   *  authority on what is live. */
  readonly #retired = new Set<number>()
  #sender: SenderId | undefined
  #sweepCancel: (() => void) | undefined

  constructor(o: TekStoreOptions) {
    this.#o = o
    this.#log = o.log.child({ c: 'tek' })
  }

  /** The RFC 6054 sender ID from the last registration (counter-mode TEKs). */
  setSenderIds(sids: SenderIds | undefined): void {
    const sid = sids?.values[0]
    this.#sender = sids === undefined || sid === undefined ? undefined : { sid, sidBits: sids.bits }
  }

  /** SATs of `policy` with keys from `keys` (or from an earlier message) → SaTable. */
  install(policy: GroupPolicy, keys: GroupKeys, source: TekRecord['source'], from: string): TekInstallResult {
    const keyBySpi = new Map<number, TekKeys>(keys.teks.map((k) => [k.spi, k]))
    const bySpi = new Map<number, TekPolicy[]>()
    for (const t of policy.teks) bySpi.set(t.spi, [...(bySpi.get(t.spi) ?? []), t])
    // Keys for SATs announced earlier (RFC 6407 §5.6.1).
    for (const [spi, w] of this.#awaiting) {
      if (!bySpi.has(spi) && keyBySpi.has(spi)) bySpi.set(spi, w.policies)
    }
    const installed: number[] = []
    const awaitingKeys: number[] = []
    const refused: { spi: number; reason: string }[] = []
    // A registration during a rollover brings the old TEK and the new one for the same selector. The
    // group already sends with (or, within ATD, at least accepts) the newest: send with it at once and
    // keep the older ones for receiving. The GAP delays count from a push's receipt, not from a PULL —
    // waiting for the old TEK's expiry would send with an SPI the other members may have retired (DTD).
    let order = [...bySpi]
    const sendNow = new Set<number>()
    const receiveOnly = new Set<number>()
    if (source === 'registration') {
      const life = (sats: readonly TekPolicy[]): number => sats[0]?.lifetimeSec ?? 0
      // A registration never changes the TEKs the member holds, never brings back one a newer TEK replaced
      // (GAP deactivation), and a TEK older than one held for its selectors only receives: the key server
      // lists the old TEK until it expires, and a PULL slowed by retransmissions carries the keys as they
      // were when the key server built it, before a push this member already took. Re-placing those as
      // the outbound SA would switch the member back to an SPI the group retired, and retire the newer one.
      const now = this.#o.clock.nowMs()
      const heldUntil = new Map<string, number>()
      for (const r of this.#records.values()) for (const id of r.policyIds) heldUntil.set(id, Math.max(heldUntil.get(id) ?? 0, r.expiresAtMs))
      order = order.filter(([spi]) => !this.#records.has(spi) && !this.#retired.has(spi)).sort((a, b) => life(a[1]) - life(b[1]))
      for (const [spi, sats] of order) {
        const expires = now + life(sats) * 1000
        if (sats.every((s) => (heldUntil.get(selectorId(s.selector)) ?? 0) >= expires)) receiveOnly.add(spi)
      }
      const newest = new Map<string, number>()
      for (const [spi, sats] of order) if (!receiveOnly.has(spi)) for (const s of sats) newest.set(selectorId(s.selector), spi)
      for (const spi of newest.values()) sendNow.add(spi)
    }
    for (const [spi, sats] of order) {
      const k = keyBySpi.get(spi)
      const w = this.#awaiting.get(spi)
      const gap0 = w !== undefined && sats === w.policies ? w.gap : policy.gap
      const gap = sendNow.has(spi) ? { ...gap0, activationDelaySec: 0 } : gap0
      if (k === undefined) {
        this.#awaiting.set(spi, { policies: sats, gap: policy.gap, source, from })
        awaitingKeys.push(spi)
        continue
      }
      this.#awaiting.delete(spi)
      const r = this.#installOne(sats, k, gap, source, from, receiveOnly.has(spi))
      if (r === undefined) installed.push(spi)
      else refused.push({ spi, reason: r })
    }
    this.sweep()
    return { installed, awaitingKeys, refused }
  }

  #installOne(sats: readonly TekPolicy[], k: TekKeys, gap: GroupPolicy['gap'], source: TekRecord['source'], from: string, receiveOnly = false): string | undefined {
    const first = sats[0]
    if (first === undefined) return 'no SAT'
    const policyIds = [...new Set(sats.map((s) => selectorId(s.selector)))]
    const t: TekInstall = {
      params: {
        spi: k.spi,
        ...transformWire(first.transform),
        encKey: k.encKey,
        ...(k.authKey !== undefined ? { authKey: k.authKey } : {}),
      },
      policyIds,
      lifetimeSec: first.lifetimeSec,
      ...(gap?.activationDelaySec !== undefined ? { activationDelaySec: gap.activationDelaySec } : {}),
      ...(gap?.deactivationDelaySec !== undefined ? { deactivationDelaySec: gap.deactivationDelaySec } : {}),
      direction: receiveOnly ? 'inbound' : DIRECTION[first.saDirection ?? 3] ?? 'both',
      ...(this.#sender !== undefined ? { sender: this.#sender } : {}),
    }
    let expiresAtMs: number
    try {
      expiresAtMs = this.#o.sas.install(t).expiresAtMs
    } catch (err) {
      const reason = (err as Error).message
      this.#log.warn({ spi: spiHex(k.spi), transform: transformShowName(first.transform), reason }, 'TEK refused by the SA table')
      return reason
    }
    const now = this.#o.clock.nowMs()
    const known = this.#records.get(k.spi)
    const rec: TekRecord = {
      spi: k.spi,
      policy: first,
      selectors: sats.map((s) => s.selector),
      policyIds,
      installedAtMs: known?.installedAtMs ?? now,
      expiresAtMs,
      source,
      from,
      ...(gap?.activationDelaySec !== undefined ? { activationDelaySec: gap.activationDelaySec } : {}),
      ...(gap?.deactivationDelaySec !== undefined ? { deactivationDelaySec: gap.deactivationDelaySec } : {}),
    }
    this.#records.set(k.spi, rec)
    if (known === undefined) {
      this.#writeKeylog(first, k)
      this.#log.info(
        {
          event: LogEvent.TEK_INSTALLED,
          group: this.#o.groupName,
          spi: spiHex(k.spi),
          transform: transformShowName(first.transform),
          lifetimeSec: first.lifetimeSec,
          activationDelaySec: gap?.activationDelaySec ?? null,
          deactivationDelaySec: gap?.deactivationDelaySec ?? null,
          selectors: policyIds,
          source,
        },
        'TEK installed',
      )
      publishGm(GmChannel.TEK_INSTALLED, { gm: this.#o.diagId, group: this.#o.groupName, spi: k.spi, source, lifetimeSec: first.lifetimeSec })
    } else {
      this.#log.debug({ spi: spiHex(k.spi), lifetimeSec: first.lifetimeSec }, 'TEK refreshed')
    }
    return undefined
  }

  #writeKeylog(p: TekPolicy, k: TekKeys): void {
    const kl = this.#o.keylog
    if (kl === undefined) return
    const w = transformWire(p.transform)
    const keys = { spi: k.spi, ...w, encKey: k.encKey, ...(k.authKey !== undefined ? { authKey: k.authKey } : {}) }
    const lines = [keylogEspLine(keys)]
    try {
      lines.unshift(espSaLine(keys))
    } catch {
      // Wireshark has no name for this transform: our record only
    }
    try {
      kl.writeLines(lines)
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'key log write failed')
    }
  }

  /** Push Delete: TEK SPIs (0 = all of them). Returns the SPIs removed. */
  remove(spis: readonly number[], reason: string): number[] {
    const all = spis.includes(0)
    const targets = all ? [...this.#records.keys()] : spis
    const removed: number[] = []
    for (const spi of targets) {
      this.#awaiting.delete(spi)
      if (this.#o.sas.remove(spi, reason)) removed.push(spi)
    }
    if (all) this.#awaiting.clear()
    this.sweep(reason)
    return removed
  }

  /** Everything (shutdown, group change). */
  clear(reason: string): void {
    for (const spi of [...this.#records.keys()]) this.#o.sas.remove(spi, reason)
    this.#awaiting.clear()
    this.sweep(reason)
    this.#retired.clear() // another group's SPIs
  }

  close(): void {
    this.#sweepCancel?.()
    this.#sweepCancel = undefined
  }

  /** Live TEK records (SAs still in the table), ordered by install time. */
  records(): TekRecord[] {
    return [...this.#records.values()].sort((a, b) => a.installedAtMs - b.installedAtMs || a.spi - b.spi)
  }

  get awaitingKeys(): number[] {
    return [...this.#awaiting.keys()]
  }

  /** Distinct selectors of the live TEKs, in order of first installation: the downloaded ACL. */
  selectors(): TrafficSelector[] {
    const seen = new Set<string>()
    const out: TrafficSelector[] = []
    for (const r of this.records()) {
      for (const s of r.selectors) {
        const id = selectorId(s)
        if (seen.has(id)) continue
        seen.add(id)
        out.push(s)
      }
    }
    return out
  }

  /**
   * When the TEKs run out if no push refreshes them: for each policy (selector) the newest TEK's expiry,
   * and the earliest of those. undefined when no TEK is held.
   */
  deadlineMs(): number | undefined {
    const perPolicy = new Map<string, number>()
    for (const r of this.#records.values()) {
      for (const id of r.policyIds) perPolicy.set(id, Math.max(perPolicy.get(id) ?? 0, r.expiresAtMs))
    }
    let min: number | undefined
    for (const v of perPolicy.values()) min = min === undefined ? v : Math.min(min, v)
    return min
  }

  #retire(spi: number): void {
    this.#retired.add(spi)
    for (const old of this.#retired) {
      if (this.#retired.size <= RETIRED_KEPT) break
      this.#retired.delete(old)
    }
  }

  /**
   * Reconciles records with the SA table: logs TEKs that left it and TEKs that became outbound, then
   * re-arms itself for the next activation/retire/expiry time the table has scheduled.
   */
  sweep(reason?: string): void {
    const now = this.#o.clock.nowMs()
    const live = new Map(this.#o.sas.list().map((sa) => [sa.spi, sa]))
    let changed = false
    for (const [spi, rec] of this.#records) {
      const sa = live.get(spi)
      if (sa === undefined) {
        this.#records.delete(spi)
        this.#states.delete(spi)
        changed = true
        const why = reason ?? (now >= rec.expiresAtMs ? 'expired' : 'deactivated')
        if (why === 'deactivated') this.#retire(spi) // the GAP replaced it (not its lifetime, not a Delete)
        this.#log.info({ event: LogEvent.TEK_EXPIRED, group: this.#o.groupName, spi: spiHex(spi), reason: why }, 'TEK removed')
        publishGm(GmChannel.TEK_EXPIRED, { gm: this.#o.diagId, group: this.#o.groupName, spi, reason: why })
        continue
      }
      const before = this.#states.get(spi)
      if (before !== sa.state) {
        this.#states.set(spi, sa.state)
        if (sa.state === 'current' && before !== undefined) {
          changed = true
          this.#log.info({ group: this.#o.groupName, spi: spiHex(spi) }, 'TEK now used for sending')
        }
        if (sa.state === 'current') publishGm(GmChannel.TEK_ACTIVATED, { gm: this.#o.diagId, group: this.#o.groupName, spi })
      }
    }
    this.#sweepCancel?.()
    this.#sweepCancel = undefined
    let next: number | undefined
    for (const sa of live.values()) {
      if (!this.#records.has(sa.spi)) continue
      for (const t of [sa.activateAtMs, sa.retireAtMs, sa.expiresAtMs]) {
        if (t !== undefined && t > now && (next === undefined || t < next)) next = t
      }
    }
    if (next !== undefined) this.#sweepCancel = this.#o.clock.setTimer(next - now + 1, () => this.sweep())
    if (changed) this.#o.onChange()
  }
}
