import type { Clock, Duration } from '@tiercache/core'

/**
 * Bounds of the journal: the deletes, clears, pattern deletes and small writes that could not
 * reach the store, kept so they can be replayed when it answers again.
 */
export interface JournalOptions {
  /**
   * Most intents kept: one per key (the latest wins) plus one per clear or pattern delete. Past
   * it the journal collapses to clears of the namespaces it touched (or `clear('')`), which also
   * removes every value written during the outage.
   * @default 10_000
   */
  readonly maxEntries?: number
  /**
   * Most bytes of journaled writes (serialized entry sizes plus key lengths). Past it the
   * journal collapses like {@link JournalOptions.maxEntries}.
   * @default 4_194_304 (4 MiB)
   */
  readonly maxBytes?: number
  /**
   * Largest write, in bytes, journaled as a write. A larger failed write is journaled as a
   * delete of its key: the store must not keep the old value, and the engine refills the key
   * on the next read. The small entries the engine writes for tag invalidations stay writes.
   * Entries whose size is unknown (no `size` and a value that is not a `Uint8Array`) are
   * journaled as deletes.
   * @default 1024
   */
  readonly maxEntryBytes?: number
}

/**
 * Options for {@link withBreaker}. Every duration is a number of **milliseconds** or a string
 * such as `'500ms'`, `'30s'`, `'1m'`.
 */
export interface BreakerOptions {
  /**
   * Consecutive failures that open the breaker. `Infinity` turns this rule off (then only
   * {@link BreakerOptions.failureRatio} opens it).
   * @default 5
   */
  readonly failureThreshold?: number
  /**
   * Share of failed calls, between 0 (exclusive) and 1, that opens the breaker once at least
   * {@link BreakerOptions.minimumCalls} calls finished within {@link BreakerOptions.window}.
   * The breaker opens when `failures / calls >= failureRatio`.
   * @default 0.5
   */
  readonly failureRatio?: number
  /**
   * Length of the rolling window for {@link BreakerOptions.failureRatio} (kept in 10 buckets).
   * @default '10s' (10_000 milliseconds)
   */
  readonly window?: Duration
  /**
   * Calls that must have finished within the window before the ratio rule applies.
   * `Infinity` turns the ratio rule off.
   * @default 20
   */
  readonly minimumCalls?: number
  /**
   * How long the breaker stays open before it half-opens and lets probes through.
   * @default '30s' (30_000 milliseconds)
   */
  readonly resetTimeout?: Duration
  /**
   * Probe calls let through while half-open. The breaker closes once that many probes
   * succeeded (a journal replay counts as one probe); any failed probe reopens it. Other calls
   * fail fast with `CircuitOpenError` while the probes run.
   * @default 1
   */
  readonly halfOpenMaxCalls?: number
  /**
   * Longest a single store call may take. A slower call rejects with `StoreTimeoutError`
   * (`E_STORE_TIMEOUT`) at this point, even if the store never answers, and counts as a
   * failure. `'forever'` turns timeouts off (not advised for remote stores).
   * @default '500ms' (500 milliseconds)
   */
  readonly timeout?: Duration
  /**
   * Time source for the window, the reset timeout and operation timeouts (its `setTimeout` and
   * `clearTimeout` are used for timers when present). Pass `ManualClock` from
   * `@tiercache/core/testing` in tests.
   * @default systemClock from @tiercache/core (unref'd Node timers)
   */
  readonly clock?: Clock
  /**
   * Bounds of the replay journal, or `false` to keep no journal (writes made while the store is
   * unreachable are then simply lost, and the store may serve values deleted in the meantime).
   * @default { maxEntries: 10_000, maxBytes: 4 MiB, maxEntryBytes: 1024 }
   */
  readonly journal?: JournalOptions | false
  /**
   * Decides whether an error thrown by the store counts as a failure. Errors that do not count
   * (for example a refused oversized value) are passed on without touching the breaker.
   * @default every error except input errors (`E_VALUE_TOO_LARGE`, `E_INVALID_*`)
   */
  readonly isFailure?: (error: unknown) => boolean
}
