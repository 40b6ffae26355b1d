import type { Clock } from '../clock.js'

interface Timer {
  readonly id: number
  readonly at: number
  readonly fn: () => void
}

/**
 * A clock for tests: time moves only when you call {@link ManualClock.advance}, which also fires
 * the timers that fall due, in order. Pass it as `clock` to the engine, memory store and breaker.
 *
 * @example
 * ```ts
 * const clock = new ManualClock()
 * const cache = createCache({ tiers: [memoryStore({ clock })], clock })
 * await cache.set('k', 1, '1s'); await clock.advance(1001); await cache.get('k') // undefined
 * ```
 */
export class ManualClock implements Clock {
  #now: number
  #timers: Timer[] = []
  #nextId = 1

  /**
   * @param start - initial time in epoch ms
   * @default start 1_700_000_000_000
   */
  constructor(start = 1_700_000_000_000) {
    this.#now = start
  }

  /** Current simulated time (epoch ms). */
  now(): number {
    return this.#now
  }

  /** Schedules `fn` at simulated `now() + ms` (`keepAlive` has no meaning for simulated time). */
  setTimeout(fn: () => void, ms: number, _keepAlive?: boolean): unknown {
    const timer = { id: this.#nextId++, at: this.#now + Math.max(0, ms), fn }
    this.#timers.push(timer)
    return timer.id
  }

  /** Cancels a timer. */
  clearTimeout(handle: unknown): void {
    this.#timers = this.#timers.filter((t) => t.id !== handle)
  }

  /** Number of pending timers. */
  get pendingTimers(): number {
    return this.#timers.length
  }

  /**
   * Moves time forward by `ms`, firing due timers in time order, and lets promise callbacks run
   * between timers so async work scheduled by a timer can progress.
   *
   * @param ms - milliseconds to advance
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms
    for (;;) {
      await flushMicrotasks()
      this.#timers.sort((a, b) => a.at - b.at || a.id - b.id)
      const next = this.#timers[0]
      if (!next || next.at > target) break
      this.#timers.shift()
      this.#now = Math.max(this.#now, next.at)
      next.fn()
    }
    this.#now = target
    await flushMicrotasks()
  }

  /** Sets the time without firing timers (use {@link ManualClock.advance} to fire them). */
  set(now: number): void {
    this.#now = now
  }
}

/** Lets queued promise callbacks (and one macrotask turn) run. */
export async function flushMicrotasks(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve))
}
