import type { Clock } from '@tiercache/core'
import { systemClock } from '@tiercache/core'

/** A scheduled prune: a handle of the store's clock, or a Node timer. */
type Handle = { readonly clock: unknown } | { readonly node: ReturnType<typeof setTimeout> }

/**
 * Runs a store's prune every `interval` milliseconds, one run at a time: on the store's clock when
 * it schedules timers, else on an unref'd Node timer that never keeps the process alive. The next
 * run is scheduled when the previous one ends, so slow prunes never overlap.
 */
export class PruneTimer {
  readonly #clock: Clock
  readonly #interval: number
  readonly #prune: () => Promise<number>
  readonly #closed: () => boolean
  #handle: Handle | undefined
  #running: Promise<number> | undefined

  /**
   * @param clock - the store's clock
   * @param interval - milliseconds between the end of one run and the start of the next (0: never)
   * @param prune - one run; its failure is ignored (the next tick tries again)
   * @param closed - true once the store is closed: nothing more is scheduled or run
   */
  constructor(clock: Clock, interval: number, prune: () => Promise<number>, closed: () => boolean) {
    this.#clock = clock
    this.#interval = interval
    this.#prune = prune
    this.#closed = closed
  }

  /** The run in progress, if any (it never rejects). */
  get running(): Promise<number> | undefined {
    return this.#running
  }

  /** Schedules the first run, unless pruning is off, the store is closed or a run is scheduled. */
  start(): void {
    if (this.#interval <= 0 || this.#closed() || this.#handle !== undefined) return
    const tick = (): void => {
      this.#handle = undefined
      if (this.#closed()) return
      const run = this.#prune().catch(() => 0)
      this.#running = run
      void run.then(() => {
        if (this.#running === run) this.#running = undefined
        this.#schedule(tick)
      })
    }
    this.#schedule(tick)
  }

  /** Cancels the scheduled run (a run in progress finishes; see {@link PruneTimer.running}). */
  stop(): void {
    const handle = this.#handle
    this.#handle = undefined
    if (handle === undefined) return
    if ('node' in handle) clearTimeout(handle.node)
    else this.#clock.clearTimeout?.(handle.clock)
  }

  #schedule(tick: () => void): void {
    if (this.#closed()) return
    const clock = this.#clock
    if (clock !== systemClock && clock.setTimeout !== undefined) {
      this.#handle = { clock: clock.setTimeout(tick, this.#interval) }
      return
    }
    const timer = setTimeout(tick, this.#interval)
    timer.unref()
    this.#handle = { node: timer }
  }
}
