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
  /** The current bucket: its slot and the time range it covers (empty until the first call). */
  #slot = 0
  #start = 0
  #end = 0

  /** @param windowMs - window length in milliseconds */
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
    if (!(now >= this.#start && now < this.#end)) this.#roll(now)
    this.#calls[this.#slot]!++
    if (failed) this.#failures[this.#slot]!++
  }

  /** Moves the current bucket to the one holding `now`, emptying it if it held older calls. */
  #roll(now: number): void {
    const index = Math.floor(now / this.#bucketMs)
    const slot = index % BUCKETS
    if (this.#index[slot] !== index) {
      this.#index[slot] = index
      this.#calls[slot] = 0
      this.#failures[slot] = 0
    }
    this.#slot = slot
    this.#start = index * this.#bucketMs
    this.#end = this.#start + this.#bucketMs
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
    this.#start = 0
    this.#end = 0
  }
}
