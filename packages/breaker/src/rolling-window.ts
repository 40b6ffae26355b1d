/** Number of buckets a window is split into. */
const BUCKETS = 10

/**
 * Counts finished calls and failures over the last `window` milliseconds, in 10 buckets, so the
 * oldest tenth of the window is dropped at once. Recording costs one clock read and two array
 * writes; totals are summed only when a failure asks for them.
 *
 * @internal
 */
export class RollingWindow {
  readonly #bucketMs: number
  readonly #index = new Float64Array(BUCKETS).fill(-1)
  readonly #calls = new Float64Array(BUCKETS)
  readonly #failures = new Float64Array(BUCKETS)

  /** @param windowMs - window length in milliseconds (at least 10) */
  constructor(windowMs: number) {
    this.#bucketMs = Math.max(1, windowMs / BUCKETS)
  }

  /**
   * Records one finished call.
   *
   * @param now - current time in epoch ms
   * @param failed - whether the call failed
   */
  record(now: number, failed: boolean): void {
    const index = Math.floor(now / this.#bucketMs)
    const slot = index % BUCKETS
    if (this.#index[slot] !== index) {
      this.#index[slot] = index
      this.#calls[slot] = 0
      this.#failures[slot] = 0
    }
    this.#calls[slot]!++
    if (failed) this.#failures[slot]!++
  }

  /**
   * Calls and failures finished within the window ending at `now`.
   *
   * @param now - current time in epoch ms
   */
  totals(now: number): { calls: number; failures: number } {
    const current = Math.floor(now / this.#bucketMs)
    let calls = 0
    let failures = 0
    for (let slot = 0; slot < BUCKETS; slot++) {
      const index = this.#index[slot]!
      if (index > current - BUCKETS && index <= current) {
        calls += this.#calls[slot]!
        failures += this.#failures[slot]!
      }
    }
    return { calls, failures }
  }

  /** Forgets every recorded call. */
  reset(): void {
    this.#index.fill(-1)
  }
}
