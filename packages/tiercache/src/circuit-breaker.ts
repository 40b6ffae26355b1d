import { CircuitOpenError } from '@tiercache/breaker'
import { InvalidOptionError, parseDuration } from '@tiercache/core'

/** The breaker states, in capitals. */
export type CircuitState = 'CLOSED' | 'OPEN' | 'HALF_OPEN'

/** Options of {@link CacheCircuitBreaker} beyond its two arguments. */
export interface CacheCircuitBreakerOptions {
  /** Time source in epoch milliseconds (tests pass a manual clock). @default Date.now */
  readonly now?: () => number
}

/**
 * `CacheCircuitBreaker`, for guarding any call (a database, an HTTP API) the way
 * `withBreaker` guards Redis: after `failureThreshold` failures in a row it opens, and every call fails at
 * once with `CircuitOpenError` (`E_CIRCUIT_OPEN`, message "Circuit breaker is OPEN") until
 * `timeout` **seconds** have passed since the last failure; then it half-opens and lets calls
 * through: a success closes it, a failure opens it again.
 *
 * The Redis tier of {@link createDistributedCache} already has a breaker (`withBreaker`, with the
 * same 5 failures / 60 s by default, plus per-call timeouts and a replay journal); this class is
 * for the caller's own dependencies.
 *
 * A success while closed resets `failureCount`, on purpose: the breaker opens on
 * `failureThreshold` failures **in a row** (with a count kept forever, five failures spread
 * over a week would open it).
 *
 * @example
 * ```ts
 * const breaker = new CacheCircuitBreaker(5, 60) // 5 failures in a row, open for 60 s
 * const rows = await breaker.call(db.query, 'select 1')
 * ```
 */
export class CacheCircuitBreaker {
  /** Failures in a row that open the breaker. */
  readonly failureThreshold: number
  /** Seconds the breaker stays open after the last failure before it half-opens. */
  readonly timeout: number
  /** Failures since the last success. */
  failureCount = 0
  /** When the last failure happened, in epoch **seconds** (as Python's `time.time()`); 0 before any. */
  lastFailureTime = 0
  /** `'CLOSED'` (calls go through), `'OPEN'` (calls fail at once) or `'HALF_OPEN'` (probing). */
  state: CircuitState = 'CLOSED'
  readonly #now: () => number

  /**
   * @param failureThreshold - failures in a row that open the breaker @default 5
   * @param timeout - how long it stays open: **seconds** or a duration string
   *   such as `'60s'` @default 60
   * @param options - a clock for tests
   * @throws InvalidOptionError (`E_INVALID_OPTION`) for a threshold that is not a positive
   *   integer, or a timeout that is not a positive duration
   */
  constructor(failureThreshold = 5, timeout: number | string = 60, options: CacheCircuitBreakerOptions = {}) {
    if (!Number.isInteger(failureThreshold) || failureThreshold < 1) {
      throw new InvalidOptionError(
        `CacheCircuitBreaker: failureThreshold must be a positive integer, got ${String(failureThreshold)}`,
        { option: 'failureThreshold' },
      )
    }
    const ms = parseDuration(timeout, 'timeout', 's')
    if (!(ms > 0 && Number.isFinite(ms))) {
      throw new InvalidOptionError(
        `CacheCircuitBreaker: timeout must be a positive duration, got ${String(timeout)}`,
        {
          option: 'timeout',
        },
      )
    }
    this.failureThreshold = failureThreshold
    this.timeout = ms / 1000
    this.#now = options.now ?? Date.now
  }

  /**
   * Calls `func(...args)` through the breaker.
   *
   * @param func - the guarded call (sync or async)
   * @param args - its arguments
   * @returns what `func` returns (awaited)
   * @throws CircuitOpenError (`E_CIRCUIT_OPEN`, message "Circuit breaker is OPEN") while open;
   *   otherwise whatever `func` throws (counted as a failure)
   */
  async call<A extends unknown[], R>(func: (...args: A) => R, ...args: A): Promise<Awaited<R>> {
    if (this.state === 'OPEN') {
      if (this.#now() / 1000 - this.lastFailureTime > this.timeout) {
        this.state = 'HALF_OPEN'
      } else {
        const error = new CircuitOpenError(
          'CacheCircuitBreaker',
          'call',
          (this.lastFailureTime + this.timeout) * 1000,
        )
        error.message = 'Circuit breaker is OPEN'
        throw error
      }
    }
    try {
      const result = await func(...args)
      if (this.state === 'HALF_OPEN') this.state = 'CLOSED'
      this.failureCount = 0
      return result
    } catch (e) {
      this.failureCount += 1
      this.lastFailureTime = this.#now() / 1000
      if (this.failureCount >= this.failureThreshold || this.state === 'HALF_OPEN') this.state = 'OPEN'
      throw e
    }
  }
}
