// Named one-shot timers on the injected Clock, so an exchange's 'arm'/'cancel' actions and the rekey
// schedule can be cancelled as a set when an SA, a group or the daemon goes away.
import type { Clock } from '@gdoi/daemon-kit'

export class TimerSet {
  readonly #clock: Clock
  readonly #timers = new Map<string, () => void>()

  constructor(clock: Clock) {
    this.#clock = clock
  }

  /** (Re)arms `name`: an armed timer of the same name is replaced. */
  arm(name: string, ms: number, fn: () => void): void {
    this.cancel(name)
    const cancel = this.#clock.setTimer(Math.max(0, ms), () => {
      this.#timers.delete(name)
      fn()
    })
    this.#timers.set(name, cancel)
  }

  /** Arms `name` to fire at the absolute clock time `atMs` (now if it is in the past). */
  armAt(name: string, atMs: number, fn: () => void): void {
    this.arm(name, atMs - this.#clock.nowMs(), fn)
  }

  cancel(name: string): void {
    const c = this.#timers.get(name)
    if (c === undefined) return
    this.#timers.delete(name)
    c()
  }

  has(name: string): boolean {
    return this.#timers.has(name)
  }

  get size(): number {
    return this.#timers.size
  }

  cancelAll(): void {
    for (const c of this.#timers.values()) c()
    this.#timers.clear()
  }
}
