/**
 * Time source for the engine and stores. Inject one in tests (see `ManualClock` in
 * `@tiercache/core/testing`) so TTL behaviour needs no sleeps.
 */
export interface Clock {
  /** Current time in epoch milliseconds. */
  now(): number
  /**
   * Schedules `fn` after `ms` milliseconds. The engine uses it for timeouts and background
   * timers; returned handles are passed back to {@link Clock.clearTimeout}.
   * @default globalThis.setTimeout (unref'd)
   */
  setTimeout?(fn: () => void, ms: number): unknown
  /** Cancels a handle returned by {@link Clock.setTimeout}. */
  clearTimeout?(handle: unknown): void
}

let cachedNow = 0
let calls = 0
let resetTimer: ReturnType<typeof setTimeout> | undefined

function resetCachedNow(): void {
  cachedNow = 0
  resetTimer = undefined
}

/**
 * A cheap clock for hot paths: `Date.now()` is read at most once per millisecond (an unref'd
 * 1 ms timer invalidates it) and at least every 1,024 calls, so a long synchronous loop
 * cannot freeze time. Resolution: about 1 ms.
 *
 * @returns epoch milliseconds
 */
export function coarseNow(): number {
  if (cachedNow !== 0 && ++calls < 1024) return cachedNow
  calls = 0
  cachedNow = Date.now()
  if (resetTimer === undefined) {
    resetTimer = setTimeout(resetCachedNow, 1)
    resetTimer.unref?.()
  }
  return cachedNow
}

/** The default clock: {@link coarseNow} and unref'd Node timers. */
export const systemClock: Clock = {
  now: coarseNow,
  setTimeout(fn: () => void, ms: number): unknown {
    const t = setTimeout(fn, ms)
    t.unref?.()
    return t
  },
  clearTimeout(handle: unknown): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>)
  },
}

/** Internal: timer functions of a clock, falling back to the system's. */
export function clockTimers(clock: Clock): {
  set: (fn: () => void, ms: number) => unknown
  clear: (h: unknown) => void
} {
  const set = clock.setTimeout ? clock.setTimeout.bind(clock) : systemClock.setTimeout!
  const clear = clock.clearTimeout ? clock.clearTimeout.bind(clock) : systemClock.clearTimeout!
  return { set, clear }
}
