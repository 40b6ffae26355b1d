import { type Clock, systemClock, timerDelay } from '@tiercache/core/store'

/** The timer functions of a clock. @internal */
export interface Timers {
  /** Schedules `fn` after `ms` milliseconds (clamped to what Node timers accept). */
  set(fn: () => void, ms: number): unknown
  /** Cancels a handle from {@link Timers.set}. */
  clear(handle: unknown): void
}

/**
 * The timers of `clock`, falling back to the system's unref'd timers when it has none.
 *
 * @internal
 */
export function timersOf(clock: Clock): Timers {
  const fallback = systemClock as Required<Clock>
  const set = clock.setTimeout ? clock.setTimeout.bind(clock) : fallback.setTimeout
  const clear = clock.clearTimeout ? clock.clearTimeout.bind(clock) : fallback.clearTimeout
  return { set: (fn, ms) => set(fn, timerDelay(ms)), clear }
}

/**
 * Settles like `promise`, or rejects with `onTimeout()` after `ms` milliseconds if `promise`
 * has not settled by then, even if it never does. `promise` always gets a rejection handler, so
 * a late rejection is swallowed rather than unhandled. `onSettle` runs once, just before the
 * returned promise settles.
 *
 * @param promise - the pending call
 * @param ms - the deadline in milliseconds (`Infinity`: none)
 * @param timers - where the deadline timer comes from
 * @param onTimeout - builds the timeout error
 * @param onSettle - told whether the call failed and why
 * @internal
 */
export function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  timers: Timers,
  onTimeout: () => unknown,
  onSettle?: (failed: boolean, error: unknown) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false
    const timer =
      ms === Number.POSITIVE_INFINITY
        ? undefined
        : timers.set(() => {
            if (done) return
            done = true
            const error = onTimeout()
            onSettle?.(true, error)
            reject(error)
          }, ms)
    promise.then(
      (value) => {
        if (done) return
        done = true
        if (timer !== undefined) timers.clear(timer)
        onSettle?.(false, undefined)
        resolve(value)
      },
      (error: unknown) => {
        if (done) return
        done = true
        if (timer !== undefined) timers.clear(timer)
        onSettle?.(true, error)
        reject(error)
      },
    )
  })
}
