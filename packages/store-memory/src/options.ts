import type { Clock, Duration } from '@tiercache/core/store'

/**
 * Eviction policy of the memory store:
 * - `'lru'`: least recently used ([lru-cache](https://github.com/isaacs/node-lru-cache));
 * - `'tinylfu'`: adaptive Window TinyLFU (as in Caffeine): a small LRU admission window, then a
 *   segmented LRU whose entries are kept by how often they were used recently (a count-min sketch
 *   with aging), with the window size tuned online by hill climbing on the hit ratio.
 */
export type MemoryStorePolicy = 'lru' | 'tinylfu'

/** Options for {@link memoryStore}. At least one of `maxBytes` and `maxEntries` must be finite. */
export interface MemoryStoreOptions {
  /**
   * Upper bound on the total serialized size of the entries, in bytes. The least recently used
   * entries are evicted to stay under it. (`maxMemorySize` of the `tiercache` package.)
   * Pass `Infinity` to bound by `maxEntries` only.
   * @default 104_857_600 (100 MiB)
   */
  readonly maxBytes?: number
  /**
   * Upper bound on the number of entries.
   * @default unbounded (only `maxBytes` applies)
   */
  readonly maxEntries?: number
  /**
   * Eviction policy. `'tinylfu'` keeps frequently used entries against scans and one-off keys
   * (higher hit ratios on most workloads, see the README's table); `'lru'` evicts by recency only.
   * Both keep `maxBytes` and `maxEntries` exactly.
   * @default 'lru'
   */
  readonly policy?: MemoryStorePolicy
  /**
   * Largest single entry, in bytes. A larger entry is refused with `ValueTooLargeError`; the
   * engine then skips this tier for that key (the lower tiers still store it).
   * @default maxBytes / 4, or unlimited when maxBytes is Infinity
   */
  readonly maxEntryBytes?: number
  /**
   * Longest lifetime an entry may have in this tier, as a duration (milliseconds or `'5m'`).
   * The engine caps writes and backfills to it.
   * @default no cap
   */
  readonly maxTtl?: Duration
  /**
   * Time source for expiry checks (epoch ms).
   * @default the core's coarse system clock (about 1 ms resolution)
   */
  readonly clock?: Clock
  /**
   * Name of the tier in stats and metrics (the level becomes `l1_<name>`).
   * @default 'memory'
   */
  readonly name?: string
}
