import {
  type Clock,
  type Duration,
  InvalidOptionError,
  parseDuration,
  systemClock,
} from '@tiercache/core/store'

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
   *
   * Not how long the breaker stays open: that is {@link BreakerOptions.resetTimeout} (a
   * `CacheCircuitBreaker(timeout=60)` elsewhere is `resetTimeout: '60s'` here).
   * @default '500ms' (500 milliseconds)
   */
  readonly callTimeout?: Duration
  /**
   * The former name of {@link BreakerOptions.callTimeout} (a per-call limit, **not** the
   * reset timeout). Giving both is an error.
   * @deprecated use `callTimeout` (per call) or `resetTimeout` (how long the breaker stays open)
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
   * How journaled writes reach the store once it answers again. `false`: as deletes of their
   * keys, so the store can never end up with a value older than one another instance wrote
   * meanwhile (the engine refills the keys from lower tiers or loaders); the engine's own records
   * (tag invalidation times, the warm snapshot) are still written. `true`: as the writes
   * themselves, which keeps the store warm but is only safe when this instance is the only
   * writer of the store. A store declaring `scope: 'local'` always gets the writes.
   * @default false
   */
  readonly replayWrites?: boolean
  /**
   * Decides whether an error thrown by the store counts as a failure. Errors that do not count
   * (for example a refused oversized value) are passed on without touching the breaker.
   * @default every error except input errors (`E_VALUE_TOO_LARGE`, `E_INVALID_*`)
   */
  readonly isFailure?: (error: unknown) => boolean
}

/** Default {@link BreakerOptions.failureThreshold}: 5 consecutive failures. */
export const DEFAULT_FAILURE_THRESHOLD = 5
/** Default {@link BreakerOptions.failureRatio}: half of the calls in the window. */
export const DEFAULT_FAILURE_RATIO = 0.5
/** Default {@link BreakerOptions.window}: 10,000 milliseconds. */
export const DEFAULT_WINDOW = 10_000
/** Default {@link BreakerOptions.minimumCalls}: 20 calls in the window. */
export const DEFAULT_MINIMUM_CALLS = 20
/** Default {@link BreakerOptions.resetTimeout}: 30,000 milliseconds. */
export const DEFAULT_RESET_TIMEOUT = 30_000
/** Default {@link BreakerOptions.halfOpenMaxCalls}: 1 probe. */
export const DEFAULT_HALF_OPEN_MAX_CALLS = 1
/** Default {@link BreakerOptions.callTimeout}: 500 milliseconds. */
export const DEFAULT_TIMEOUT = 500
/** Default {@link JournalOptions.maxEntries}: 10,000 intents. */
export const DEFAULT_JOURNAL_MAX_ENTRIES = 10_000
/** Default {@link JournalOptions.maxBytes}: 4 MiB of journaled writes. */
export const DEFAULT_JOURNAL_MAX_BYTES: number = 4 * 1024 * 1024
/** Default {@link JournalOptions.maxEntryBytes}: writes up to 1,024 bytes are journaled as writes. */
export const DEFAULT_JOURNAL_MAX_ENTRY_BYTES = 1024

/**
 * Default {@link BreakerOptions.isFailure}: every error except input errors
 * (`E_VALUE_TOO_LARGE`, `E_INVALID_*`), which say nothing about the store's health.
 *
 * @param error - what the store threw
 */
export function defaultIsFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null | undefined)?.code
  return !(typeof code === 'string' && (code === 'E_VALUE_TOO_LARGE' || code.startsWith('E_INVALID_')))
}

/** Options with every default applied and every duration in milliseconds. @internal */
export interface ResolvedOptions {
  readonly failureThreshold: number
  readonly failureRatio: number
  readonly window: number
  readonly minimumCalls: number
  readonly resetTimeout: number
  readonly halfOpenMaxCalls: number
  readonly timeout: number
  readonly clock: Clock
  readonly journal: Required<JournalOptions> | undefined
  readonly replayWrites: boolean
  readonly isFailure: (error: unknown) => boolean
}

function invalid(option: string, message: string): InvalidOptionError {
  return new InvalidOptionError(`withBreaker: ${option} ${message}`, { option })
}

function count(value: unknown, option: string, fallback: number, min: number, finite = false): number {
  if (value === undefined) return fallback
  if (
    typeof value !== 'number' ||
    !(value >= min) ||
    (Number.isFinite(value) ? !Number.isInteger(value) : finite)
  ) {
    throw invalid(option, `must be an integer >= ${min}${finite ? '' : ' or Infinity'}, got ${String(value)}`)
  }
  return value
}

function positive(value: unknown, option: string, fallback: number, allowForever: boolean): number {
  const ms = value === undefined ? fallback : parseDuration(value, option)
  if (!(ms > 0) || (!allowForever && !Number.isFinite(ms))) {
    throw invalid(option, `must be a positive ${allowForever ? '' : 'finite '}duration, got ${String(value)}`)
  }
  return ms
}

function callTimeout(options: BreakerOptions): number {
  if (options.callTimeout !== undefined && options.timeout !== undefined) {
    throw invalid(
      'timeout',
      'and callTimeout are the same per-call limit: give callTimeout only (how long the breaker stays open is resetTimeout)',
    )
  }
  return options.callTimeout !== undefined
    ? positive(options.callTimeout, 'callTimeout', DEFAULT_TIMEOUT, true)
    : positive(options.timeout, 'timeout', DEFAULT_TIMEOUT, true)
}

/**
 * Validates options and applies defaults.
 *
 * @param options - what the caller gave {@link withBreaker}
 * @throws InvalidOptionError or InvalidDurationError for a bad option
 * @internal
 */
export function resolveOptions(options: BreakerOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw invalid('options', 'must be an object')
  const clock = options.clock ?? systemClock
  if (typeof clock?.now !== 'function') throw invalid('clock', 'must have a now() method')
  const ratio = options.failureRatio ?? DEFAULT_FAILURE_RATIO
  if (typeof ratio !== 'number' || !(ratio > 0 && ratio <= 1)) {
    throw invalid('failureRatio', `must be a number in (0, 1], got ${String(options.failureRatio)}`)
  }
  const isFailure = options.isFailure ?? defaultIsFailure
  if (typeof isFailure !== 'function') throw invalid('isFailure', 'must be a function')
  const journal = options.journal
  if (journal !== undefined && journal !== false && (journal === null || typeof journal !== 'object')) {
    throw invalid('journal', 'must be an object or false')
  }
  const replayWrites = options.replayWrites ?? false
  if (typeof replayWrites !== 'boolean') throw invalid('replayWrites', 'must be true or false')
  return {
    failureThreshold: count(options.failureThreshold, 'failureThreshold', DEFAULT_FAILURE_THRESHOLD, 1),
    failureRatio: ratio,
    window: positive(options.window, 'window', DEFAULT_WINDOW, false),
    minimumCalls: count(options.minimumCalls, 'minimumCalls', DEFAULT_MINIMUM_CALLS, 1),
    resetTimeout: positive(options.resetTimeout, 'resetTimeout', DEFAULT_RESET_TIMEOUT, false),
    halfOpenMaxCalls: count(
      options.halfOpenMaxCalls,
      'halfOpenMaxCalls',
      DEFAULT_HALF_OPEN_MAX_CALLS,
      1,
      true,
    ),
    timeout: callTimeout(options),
    clock,
    isFailure,
    replayWrites,
    journal:
      journal === false
        ? undefined
        : {
            maxEntries: count(journal?.maxEntries, 'journal.maxEntries', DEFAULT_JOURNAL_MAX_ENTRIES, 1),
            maxBytes: count(journal?.maxBytes, 'journal.maxBytes', DEFAULT_JOURNAL_MAX_BYTES, 0),
            maxEntryBytes: count(
              journal?.maxEntryBytes,
              'journal.maxEntryBytes',
              DEFAULT_JOURNAL_MAX_ENTRY_BYTES,
              0,
            ),
          },
  }
}
