/**
 * Time source for the engine and stores. Inject one in tests (see `ManualClock` in
 * `@tiercache/core/testing`) so TTL behaviour needs no sleeps.
 */
export interface Clock {
  /** Current time in epoch milliseconds. */
  now(): number
  /**
   * Schedules `fn` after `ms` milliseconds. The engine uses it for timeouts and background
   * timers; returned handles are passed back to {@link Clock.clearTimeout}. `keepAlive` is true
   * for timers that settle a caller's promise (`softTimeout`, `hardTimeout`): those must keep the
   * process alive; background timers must not.
   * @default globalThis.setTimeout (unref'd unless `keepAlive`)
   */
  setTimeout?(fn: () => void, ms: number, keepAlive?: boolean): unknown
  /** Cancels a handle returned by {@link Clock.setTimeout}. */
  clearTimeout?(handle: unknown): void
}

let cachedNow = 0
let resetTimer: ReturnType<typeof setTimeout> | undefined

function resetCachedNow(): void {
  cachedNow = 0
  resetTimer = undefined
}

/**
 * The precise time, `Date.now()`, which also refreshes {@link coarseNow}. Writes use it, so every
 * write advances the coarse clock too.
 *
 * @returns epoch milliseconds
 */
export function preciseNow(): number {
  cachedNow = Date.now()
  if (resetTimer === undefined) {
    resetTimer = setTimeout(resetCachedNow, 1)
    resetTimer.unref?.()
  }
  return cachedNow
}

/**
 * A cheap clock for hot paths (a read of a cached value instead of a 45 ns `Date.now()` call).
 * The cached time is dropped by an unref'd 1 ms timer and refreshed by every {@link preciseNow}
 * call (every write). Like Node's own timers, which measure from the time cached at the start of
 * an event-loop turn, it does not advance inside one long synchronous task; resolution is about
 * 1 ms between tasks.
 *
 * @returns epoch milliseconds
 */
export function coarseNow(): number {
  return cachedNow !== 0 ? cachedNow : preciseNow()
}

/** The default clock: {@link coarseNow} and Node timers (unref'd unless `keepAlive`). */
export const systemClock: Clock = {
  now: coarseNow,
  setTimeout(fn: () => void, ms: number, keepAlive?: boolean): unknown {
    const t = setTimeout(fn, ms)
    if (keepAlive !== true) t.unref?.()
    return t
  },
  clearTimeout(handle: unknown): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>)
  },
}

/** Internal: timer functions of a clock, falling back to the system's. */
export function clockTimers(clock: Clock): {
  set: (fn: () => void, ms: number, keepAlive?: boolean) => unknown
  clear: (h: unknown) => void
} {
  const set = clock.setTimeout ? clock.setTimeout.bind(clock) : systemClock.setTimeout!
  const clear = clock.clearTimeout ? clock.clearTimeout.bind(clock) : systemClock.clearTimeout!
  return { set, clear }
}
