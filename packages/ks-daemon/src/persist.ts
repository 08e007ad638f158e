// Every piece of key-server state goes through KsStore (a file today, etcd later). `save()` snapshots
// all groups at call time and resolves when the store says the state is durable; the rekey code awaits
// it before a push with a new SEQ leaves the host. `saveSoon()` coalesces routine updates (ACKs,
// members) into one save a moment later.
import type { Clock, Logger } from '@gdoi/daemon-kit'
import { DiagChannel, LogEvent, publish } from '@gdoi/daemon-kit'
import { KS_STATE_VERSION, type GroupState, type KsState, type KsStore } from './store/index.js'
import type { GroupTable } from './groups.js'
import { Counter, type Counters } from './counters.js'

/** Delay of a coalesced save. */
export const SAVE_SOON_MS = 1000

export class StatePersister {
  readonly #store: KsStore
  readonly #groups: GroupTable
  readonly #clock: Clock
  readonly #log: Logger
  readonly #counters: Counters
  #cancelSoon: (() => void) | undefined
  #closed = false
  lastSavedMs: number | undefined

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
    return { version: KS_STATE_VERSION, savedAtMs: this.#clock.nowMs(), groups }
  }

  /** Saves now; rejects (after logging) when the store fails. */
  async save(reason: string): Promise<void> {
    this.#cancelSoon?.()
    this.#cancelSoon = undefined
    const state = this.snapshot()
    try {
      await this.#store.save(state)
    } catch (err) {
      this.#counters.inc(Counter.STATE_SAVE_FAILED)
      this.#log.error({ event: LogEvent.STATE_SAVED, ok: false, reason, err }, 'saving the key server state failed')
      throw err
    }
    this.lastSavedMs = state.savedAtMs
    this.#counters.inc(Counter.STATE_SAVED)
    this.#log.debug({ event: LogEvent.STATE_SAVED, reason }, 'state saved')
    publish(DiagChannel.KS_STATE_SAVED, { reason })
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
