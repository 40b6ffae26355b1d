/**
 * Records one cache's operations into the weighted operation histogram. It is the
 * `OperationObserver` the plugin registers with `context.observe()` at install, so it sees the
 * operations of its own cache only, and unregisters when the cache closes.
 *
 * Core calls `observe()` for every operation that leaves L1 (weight 1) and for one L1 hit of
 * `get` / `getOrSet` in `l1SampleEvery` (weight `l1SampleEvery`). The path is three `Map` lookups
 * of constant strings to a series handle, then a bucket search over a `Float64Array`.
 *
 * @module
 */
import type { ObservedOperation, ObservedOutcome, OperationObserver } from '@tiercache/core'
import type { Labels, WeightedHistogram, WeightedSeries } from './weighted-histogram.js'

/** Every operation core reports: their lookup maps are built up front. */
const OPERATIONS: readonly ObservedOperation[] = [
  'get',
  'getOrSet',
  'getMany',
  'has',
  'set',
  'setMany',
  'delete',
  'deleteMany',
  'deleteByPattern',
  'invalidateTags',
  'clear',
]

/** An `OperationObserver` writing one cache's operations into a {@link WeightedHistogram}. */
export class OperationRecorder implements OperationObserver {
  readonly #histogram: WeightedHistogram
  /** `{ namespace }`, or `{}` without the namespace label. */
  readonly #base: Labels
  /** Series handles by operation, then level, then outcome. */
  readonly #series = new Map<string, Map<string, Map<string, WeightedSeries>>>()
  /** Every series this cache used, to remove them when it closes. */
  readonly #used: WeightedSeries[] = []

  /**
   * @param histogram - the operation histogram of the registry
   * @param base - labels every series of this cache carries (`{ namespace }` or `{}`)
   * @param levels - the cache's levels, L1 first
   */
  constructor(histogram: WeightedHistogram, base: Labels, levels: readonly string[]) {
    this.#histogram = histogram
    this.#base = base
    for (const operation of OPERATIONS) {
      const byLevel = new Map<string, Map<string, WeightedSeries>>()
      for (const level of levels) byLevel.set(level, new Map())
      this.#series.set(operation, byLevel)
    }
  }

  /**
   * Called by core: `weight` operations of `operation` that took `seconds` each, answered by
   * `level` with `outcome`.
   *
   * @param operation - the cache operation
   * @param level - the level that answered a read, else the last level
   * @param outcome - `hit`, `stale`, `miss`, `ok` or `error`
   * @param seconds - the measured duration, in seconds
   * @param weight - operations this observation stands for (1, or `l1SampleEvery` for L1 hits)
   */
  observe(
    operation: ObservedOperation,
    level: string,
    outcome: ObservedOutcome,
    seconds: number,
    weight: number,
  ): void {
    const series = this.#series.get(operation)?.get(level)?.get(outcome)
    if (series !== undefined) series.observe(seconds, weight)
    else this.#create(operation, level, outcome).observe(seconds, weight)
  }

  /** The first observation of a label set: its series handle, remembered. */
  #create(operation: string, level: string, outcome: string): WeightedSeries {
    let byLevel = this.#series.get(operation)
    if (byLevel === undefined) {
      byLevel = new Map()
      this.#series.set(operation, byLevel)
    }
    let byOutcome = byLevel.get(level)
    if (byOutcome === undefined) {
      byOutcome = new Map()
      byLevel.set(level, byOutcome)
    }
    const series = this.#histogram.series({ ...this.#base, operation, level, outcome })
    byOutcome.set(outcome, series)
    this.#used.push(series)
    return series
  }

  /** Removes this cache's series from the histogram. */
  removeSeries(): void {
    for (const series of this.#used) this.#histogram.removeSeries(series)
    this.#used.length = 0
    for (const byLevel of this.#series.values()) for (const byOutcome of byLevel.values()) byOutcome.clear()
  }
}
