// Every piece of key-server state goes through KsStore (a file today, etcd later). `save()` resolves
// when the store says a snapshot taken at or after the call is durable; the rekey code awaits it before
// a push with a new SEQ leaves the host, and a registration before its PULL4 leaves. Group commit: while
// one write is in flight, every save() that comes in joins ONE next write, whose snapshot is taken when
// it starts (so it holds all their changes). A registration storm thus costs one write per write time,
// not one per member (bench/README.md, "storm"). `saveSoon()` coalesces routine updates (ACKs,
// members) into one save a moment later.
// A write for registrations only ('registration') is incremental when the store can (saveMembers: the
// file store's journal): just the members that changed since the last write (MemberMap's dirty keys),
// with the groups' senderIdNext. Every other reason writes the whole state, which also starts the
// journal over; so does a registration write once the store says its journal is large.
import type { Clock, Logger } from '@gdoi/daemon-kit'
import { DiagChannel, LogEvent, publish } from '@gdoi/daemon-kit'
import { KS_STATE_VERSION, type GroupState, type KsState, type KsStore, type MemberChange } from './store/index.js'
import type { GroupRuntime, GroupTable } from './groups.js'
import { Counter, type Counters } from './counters.js'

/** Delay of a coalesced save. */
export const SAVE_SOON_MS = 1000

/** The save() reason of a registration (main.ts): these writes may be incremental. */
export const REGISTRATION_REASON = 'registration'

export class StatePersister {
  readonly #store: KsStore
  readonly #groups: GroupTable
  readonly #clock: Clock
  readonly #log: Logger
  readonly #counters: Counters
  #cancelSoon: (() => void) | undefined
  #closed = false
  lastSavedMs: number | undefined
  /** savedAtMs of the last snapshot (each snapshot gets a later one: the journal names its state by it). */
  #lastSnapshotMs = -Infinity
  /** A write failed: the next one must be a full save (what failed may be more than the dirty members). */
  #needFull = true
  /** Incremental (member) writes done, for tests and status. */
  memberWrites = 0

  constructor(store: KsStore, groups: GroupTable, clock: Clock, log: Logger, counters: Counters) {
    this.#store = store
    this.#groups = groups
    this.#clock = clock
    this.#log = log
    this.#counters = counters
  }

  snapshot(): KsState {
    const groups: Record<string, GroupState> = {}
    for (const g of this.#groups.all()) groups[g.name] = g.toState()
    const savedAtMs = Math.max(this.#clock.nowMs(), Math.floor(this.#lastSnapshotMs) + 1)
    this.#lastSnapshotMs = savedAtMs
    return { version: KS_STATE_VERSION, savedAtMs, groups }
  }

  /**
   * Saves now, or — while a write is in flight — with the next write, which every caller meanwhile
   * shares. Resolves once a snapshot taken after this call is durable; rejects (after logging) when
   * the store fails.
   */
  save(reason: string): Promise<void> {
    this.#cancelSoon?.()
    this.#cancelSoon = undefined
    const next = this.#next
    if (next !== undefined) {
      if (!next.reasons.includes(reason)) next.reasons.push(reason)
      return next.done
    }
    if (this.#inFlight === undefined) return this.#write([reason])
    const reasons = [reason]
    const done = this.#inFlight.then(
      () => this.#startNext(reasons),
      () => this.#startNext(reasons),
    )
    this.#next = { reasons, done }
    return done
  }

  #next: { readonly reasons: string[]; readonly done: Promise<void> } | undefined
  #inFlight: Promise<void> | undefined

  #startNext(reasons: string[]): Promise<void> {
    this.#next = undefined
    return this.#write(reasons)
  }

  #write(reasons: readonly string[]): Promise<void> {
    const p = this.#writeNow(reasons)
    const settled = p.then(
      () => {},
      () => {},
    )
    this.#inFlight = settled
    void settled.then(() => {
      if (this.#inFlight === settled) this.#inFlight = undefined
    })
    return p
  }

  async #writeNow(reasons: readonly string[]): Promise<void> {
    const reason = reasons.join(', ')
    const store = this.#store
    const incremental = store.saveMembers !== undefined && !this.#needFull && reasons.every((r) => r === REGISTRATION_REASON) && store.membersJournalFull?.() !== true
    let savedAtMs = this.#clock.nowMs()
    const taken: Array<[GroupRuntime, Set<string>]> = []
    try {
      if (incremental && store.saveMembers !== undefined) {
        const changes: MemberChange[] = []
        for (const g of this.#groups.all()) {
          const dirty = g.members.takeDirty()
          if (dirty.size === 0) continue
          taken.push([g, dirty])
          for (const key of dirty) changes.push({ group: g.name, key, member: g.members.get(key) ?? null, senderIdNext: g.senderIdNext })
        }
        if (changes.length > 0) await store.saveMembers(changes)
        this.memberWrites++
      } else {
        for (const g of this.#groups.all()) g.members.markSaved()
        const state = this.snapshot()
        savedAtMs = state.savedAtMs
        await store.save(state)
        this.#needFull = false
      }
    } catch (err) {
      for (const [g, keys] of taken) g.members.restoreDirty(keys)
      this.#needFull = true
      this.#counters.inc(Counter.STATE_SAVE_FAILED)
      this.#log.error({ event: LogEvent.STATE_SAVED, ok: false, reason, err }, 'saving the key server state failed')
      throw err
    }
    this.lastSavedMs = savedAtMs
    this.#counters.inc(Counter.STATE_SAVED)
    this.#log.debug({ event: LogEvent.STATE_SAVED, reason }, 'state saved')
    for (const r of reasons) publish(DiagChannel.KS_STATE_SAVED, { reason: r })
  }

  /** A save a moment from now (several calls → one save). Failures are logged, never thrown. */
  saveSoon(reason: string): void {
    if (this.#closed || this.#cancelSoon !== undefined) return
    this.#cancelSoon = this.#clock.setTimer(SAVE_SOON_MS, () => {
      this.#cancelSoon = undefined
      this.save(reason).catch(() => {})
    })
  }

  /** Final save (SIGTERM); later saveSoon() calls are ignored. */
  async close(): Promise<void> {
    this.#closed = true
    await this.save('shutdown')
  }
}
