import type { Clock, Duration } from '@tiercache/core/store'

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
