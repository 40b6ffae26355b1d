/**
 * What a cache reports: per-tier and overall counters (`getStats()`), warming counters and
 * progress, and the typed events (`cache.on`).
 *
 * @module
 */

/** Counters for one tier, plus what the store reports. */
export interface TierStats {
  /** Position, 0 for L1. */
  readonly index: number
  /** Level name used in metrics: `l<index+1>_<store name>`, e.g. `l2_redis`. */
  readonly level: string
  /** The store's name. */
  readonly name: string
  /** `memory` (live values, synchronous) or `remote` (bytes). */
  readonly kind: 'memory' | 'remote'
  /** `local` (this process or host only) or `shared` (every instance). */
  readonly scope: 'local' | 'shared'
  /** Reads answered fresh from this tier. */
  readonly hits: number
  /** Reads this tier could not answer fresh. */
  readonly misses: number
  /** `hits / (hits + misses)`, 0 when there were no reads. */
  readonly hitRatio: number
  /** Entries written. */
  readonly sets: number
  /** Keys deleted. */
  readonly deletes: number
  /** Operations that failed or timed out. */
  readonly errors: number
  /** Operations skipped because the tier refused them at once, without I/O (a `StoreError` marked `refused`, such as `E_CIRCUIT_OPEN` from an open breaker). */
  readonly skipped: number
  /**
   * Writes the tier refused (`E_VALUE_TOO_LARGE`: above its `maxEntryBytes`). The key was removed
   * from the tier instead, and an `error` event emitted for writes (not for back-fills).
   */
  readonly refused: number
  /** Entries held, when the store reports it. */
  readonly entries?: number
  /** Bytes held, when the store reports it. */
  readonly bytes?: number
  /** The store's byte bound, when it has one. */
  readonly maxBytes?: number
  /** Evictions, when the store reports them. */
  readonly evictions?: number
  /** Connection state, when the store reports it (otherwise: false after errors, true after successes). */
  readonly connected?: boolean
  /** Server memory in bytes (Redis `used_memory`), when reported. */
  readonly usedMemory?: number
}

/** Counters for the whole cache, from {@link Cache.getStats}. */
export interface CacheStats {
  /** Reads answered with a fresh value from any tier. */
  readonly hits: number
  /** Reads no tier could answer fresh. */
  readonly misses: number
  /** `hits / (hits + misses)`. */
  readonly hitRatio: number
  /** Writes. */
  readonly sets: number
  /** Deletes (keys, patterns, clears count once each). */
  readonly deletes: number
  /** Loader runs. */
  readonly loads: number
  /** Loader failures (thrown, `fail()`, or hard timeouts). */
  readonly loadErrors: number
  /** `getOrSet` calls that joined a load already in flight. */
  readonly collapsed: number
  /** Stale values served (fail-safe, soft timeout, stale-while-revalidate, backoff). */
  readonly staleServed: number
  /** Background refreshes started (refresh-ahead, stale-while-revalidate, warming). */
  readonly refreshes: number
  /** Tier operation failures. */
  readonly errors: number
  /** Tier operations skipped because a breaker was open. */
  readonly skipped: number
  /** Writes a tier refused as too large (the key was removed from that tier instead). */
  readonly refused: number
  /** Per tier, L1 first. */
  readonly tiers: readonly TierStats[]
  /** L1 at a glance, in snake_case: `size` in bytes, `hit_ratio`, `entries`. */
  readonly l1_cache: { readonly size: number; readonly hit_ratio: number; readonly entries: number }
  /** L2 (the first shared tier) at a glance, in snake_case: `connected`, `used_memory` in bytes. */
  readonly l2_cache: { readonly connected: boolean; readonly used_memory: number }
  /** Hot-key tracking counters, when warming is on. */
  readonly warming?: WarmingStats
}

/** Warming counters. */
export interface WarmingStats {
  /** Keys currently considered hot. */
  readonly hotKeys: number
  /** Hot-key refreshes started. */
  readonly refreshes: number
  /** Hot keys promoted into L1 from a lower tier. */
  readonly promotions: number
  /** Bytes used by the frequency sketch. */
  readonly sketchBytes: number
}

/** Progress of a {@link Cache.warm} run. */
export interface WarmProgress {
  /** Items processed so far (succeeded + failed). */
  readonly done: number
  /** Items in total, when known. */
  readonly total: number | undefined
  /** Items that failed so far. */
  readonly failed: number
}

/** Result of a {@link Cache.warm} run. */
export interface WarmSummary extends WarmProgress {
  /** Items loaded and cached. */
  readonly succeeded: number
  /** Each failed key with its error. */
  readonly failures: readonly { readonly key: string; readonly error: unknown }[]
  /** Wall time in milliseconds. */
  readonly duration: number
}

/** Why a stale value was served. */
export type StaleReason = 'loader-error' | 'soft-timeout' | 'hard-timeout' | 'revalidate' | 'backoff' | 'lock'

/** Events emitted by a cache. Subscribe with `cache.on(name, listener)`. */
export interface CacheEvents {
  /** A tier answered a read with a fresh value. */
  hit: { readonly key: string; readonly level: string; readonly tier: number }
  /** No tier had a fresh value. */
  miss: { readonly key: string }
  /** A value was written. */
  set: { readonly key: string }
  /** A key was deleted. */
  delete: { readonly key: string }
  /** Keys matching a pattern were deleted. */
  'delete:pattern': { readonly pattern: string }
  /** Tags were invalidated. */
  'invalidate:tags': { readonly tags: readonly string[] }
  /** A namespace was cleared. */
  clear: { readonly namespace: string }
  /** A stale value was served. */
  stale: { readonly key: string; readonly reason: StaleReason }
  /** A loader finished. `duration` in milliseconds. */
  load: { readonly key: string; readonly duration: number; readonly outcome: 'ok' | 'error' | 'skip' }
  /** A `getOrSet` joined a load in flight. */
  collapse: { readonly key: string }
  /** A background refresh started. */
  refresh: { readonly key: string; readonly reason: 'refresh-ahead' | 'revalidate' | 'warming' }
  /** A tier operation failed (the cache carried on). */
  error: {
    readonly error: unknown
    readonly operation: string
    readonly level?: string | undefined
    readonly key?: string | undefined
  }
  /**
   * Local tiers were flushed (bus reconnect, too many tracked tags, or `flushLocal()`): memory
   * tiers were cleared; after a bus reconnect, nothing a local file held before is served as
   * fresh any more either.
   */
  flush: { readonly reason: 'bus-reconnect' | 'tags-overflow' | 'manual' }
  /** A bus message was sent, received, or failed. */
  bus: { readonly direction: 'sent' | 'received' | 'failed'; readonly type: string }
  /** A tier's connection state changed. */
  'tier:status': { readonly level: string; readonly connected: boolean }
  /** A key became hot. */
  hot: { readonly key: string }
  /** `warm()` started. */
  'warm:start': { readonly total: number | undefined }
  /** `warm()` progressed. */
  'warm:progress': WarmProgress
  /** `warm()` finished. */
  'warm:done': WarmSummary
}

/** Name of a cache event. */
export type CacheEventName = keyof CacheEvents

/** A listener for event `E`. */
export type CacheListener<E extends CacheEventName> = (event: CacheEvents[E]) => void
