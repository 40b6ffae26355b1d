import type { Bus, DistributedLock } from './bus.js'
import type { Clock } from './clock.js'
import type { Duration, TimeUnit } from './duration.js'
import type { CacheEventName, CacheListener, CacheStats, WarmProgress, WarmSummary } from './report-types.js'
import type { Serializer } from './serializer.js'
import type { Store } from './store.js'

/** A pino-compatible logger (`logger.warn(obj, msg)`). tiercache is silent unless you pass one. */
export interface Logger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

/**
 * A value the cache can hold: anything but `undefined` (`null` is a value and is cached).
 * `set(key, undefined)` does not compile, and throws `InvalidValueError` (`E_INVALID_VALUE`)
 * from JavaScript.
 */
export type Defined<T> = T & ({} | null)

/** Options for a write (`set`, `setMany`) and the defaults for `getOrSet`. */
export interface SetOptions {
  /**
   * How long the value is fresh: a number in the cache's {@link CacheOptions.timeUnit}
   * (milliseconds unless the cache says seconds) or a duration string; `'forever'` never expires.
   * @default the cache's `ttl` (1 hour)
   */
  readonly ttl?: Duration
  /**
   * How long after `ttl` a stale value is kept to serve when the loader fails or is slow
   * (fail-safe). `0` disables.
   * @default the cache's `grace` (0)
   */
  readonly grace?: Duration
  /** Tags for `invalidateTags`. */
  readonly tags?: readonly string[]
}

/** Options for {@link Cache.getOrSet}; the cache's options give the defaults. */
export interface GetOrSetOptions extends SetOptions {
  /**
   * After a loader failure served a stale value, wait this long before calling the loader again
   * (the stale value keeps being served meanwhile), so a failing source is not hammered.
   * @default the cache's `graceBackoff` (5 seconds)
   */
  readonly graceBackoff?: Duration
  /**
   * For this long after `ttl` has passed, a stale value is served at once and refreshed in the
   * background (once, however many callers); later in the `grace` window, callers wait for the
   * loader and the stale value is only the fail-safe. The same option, and the same type, as
   * `staleWhileRevalidate` of `@tiercache/http` (the `stale-while-revalidate` of RFC 5861).
   * Stale values exist only within `grace`, so a window longer than `grace` acts as `grace`;
   * `'forever'` means the whole grace window. `0` disables.
   * @default the cache's `staleWhileRevalidate` (0)
   */
  readonly staleWhileRevalidate?: Duration
  /**
   * When a stale value exists and producing a fresh one takes longer than this, return the stale
   * value; the loader keeps running and its result is cached when it lands.
   * @default the cache's `softTimeout` (none)
   */
  readonly softTimeout?: Duration
  /**
   * Give up after this long: serve a stale value if one exists, otherwise reject with
   * `HardTimeoutError` (`E_HARD_TIMEOUT`). The loader's `ctx.signal` is aborted.
   * @default the cache's `hardTimeout` (none)
   */
  readonly hardTimeout?: Duration
  /**
   * A fraction of the TTL (0 < f < 1): a read after `f × ttl` has elapsed triggers one background
   * refresh, so hot keys never expire under traffic. `0` disables.
   * @default the cache's `refreshAhead` (0)
   */
  readonly refreshAhead?: number
  /** Ignore cached values and run the loader (a stale value still backs fail-safe). */
  readonly forceFresh?: boolean
  /**
   * With a distributed `lock`, how long to wait for another instance's loader, in ms or a
   * duration string, before running the loader anyway.
   * @default the cache's `lockTimeout` (10 seconds)
   */
  readonly lockTimeout?: Duration
}

/** What a loader receives. */
export interface LoaderContext<T = unknown> {
  /** The key being loaded (as the caller gave it, without namespace prefixes). */
  readonly key: string
  /** The stale value, if one is held (within grace). */
  readonly stale: T | undefined
  /** True when {@link LoaderContext.stale} holds a value (values are never `undefined`). */
  readonly hasStale: boolean
  /** Aborted when `hardTimeout` elapses or the cache closes. */
  readonly signal: AbortSignal
  /** Return this value to the caller without caching it: `return ctx.skip(value)`. */
  skip<V extends T | undefined>(value?: V): V
  /** Fail the load (like throwing): the stale value is served when grace allows. */
  fail(reason?: string | Error): never
  /** Overrides the TTL for this result. */
  setTtl(ttl: Duration): void
  /** Overrides the grace period for this result. */
  setGrace(grace: Duration): void
  /** Sets the tags for this result. */
  setTags(tags: readonly string[]): void
}

/** A value producer for {@link Cache.getOrSet}. */
export type Loader<T> = (ctx: LoaderContext<T>) => T | Promise<T>

/** An operation the engine times for {@link OperationObserver}s. */
export type ObservedOperation =
  | 'get'
  | 'getOrSet'
  | 'getMany'
  | 'has'
  | 'set'
  | 'setMany'
  | 'delete'
  | 'deleteMany'
  | 'deleteByPattern'
  | 'invalidateTags'
  | 'clear'

/**
 * How an observed operation ended. Reads: `hit` (a fresh value from a tier), `stale` (a stale
 * value served), `miss` (no value, or `getOrSet` ran the loader), `error` (rejected). Writes and
 * invalidations: `ok` or `error`.
 */
export type ObservedOutcome = 'hit' | 'stale' | 'miss' | 'ok' | 'error'

/**
 * Receives the duration of cache operations, for metrics (see `prometheusMetrics`). Register it
 * with {@link PluginContext.observe}. Every operation that leaves L1 is timed. L1 hits of `get`
 * and `getOrSet` are timed one in `l1SampleEvery` (default 64) and reported with that weight, so
 * summing weights counts every operation while an L1 hit pays only a counter decrement.
 */
export interface OperationObserver {
  /**
   * @param operation - the operation
   * @param level - reads: the level of the tier that answered (`l1_memory`, `l2_redis`, …); misses,
   *   loads, writes and invalidations: the level of the last tier
   * @param outcome - see {@link ObservedOutcome}
   * @param seconds - how long the operation took, in seconds
   * @param weight - how many operations this observation stands for (1, or the L1 sampling interval)
   */
  observe(
    operation: ObservedOperation,
    level: string,
    outcome: ObservedOutcome,
    seconds: number,
    weight: number,
  ): void
}

/** What a plugin learns about the cache it is installed into. */
export interface PluginContext {
  /** The tiers, L1 first, with their level names (`l1_memory`, `l2_redis`, …). */
  readonly tiers: readonly { readonly level: string; readonly store: Store<any> }[]
  /** The bus, when the cache has one. */
  readonly bus: Bus | undefined
  /** The root namespace. */
  readonly namespace: string
  /** Registers an operation observer; returns the function that unregisters it. */
  observe(observer: OperationObserver): () => void
  /** How many L1 hits one timed L1 hit stands for (the `weight` of those observations). */
  readonly l1SampleEvery: number
}

/** A plugin hooks into a cache when it is created; see `prometheusMetrics()`. */
export interface CachePlugin {
  /** Plugin name, for diagnostics. */
  readonly name: string
  /**
   * Called once by `createCache`. May return a function called on `close()`. If a later plugin's
   * `install` throws, the disposers of the plugins installed before it run and `createCache`
   * rethrows.
   */
  install(cache: Cache, context: PluginContext): void | (() => void | Promise<void>)
}

/** Options for {@link createCache}. */
export interface CacheOptions extends Omit<GetOrSetOptions, 'forceFresh' | 'tags'> {
  /**
   * The ordered tiers, fastest first: e.g. `[memoryStore(), redisStore(), kyselyStore()]`.
   * A `kind: 'memory'` store belongs to one cache only.
   */
  readonly tiers: readonly Store<any>[]
  /**
   * Root namespace: every key lives under it in shared tiers, and `clear()` touches nothing else.
   * 1-64 characters of `A-Z a-z 0-9 _ . -`.
   * @default 'cache'
   */
  readonly namespace?: string
  /**
   * What a bare number of time means in this cache's options and in every call on it (`ttl`,
   * `grace`, timeouts, `warming.window`, `ctx.setTtl`, `set(key, value, 3600)`): `'ms'`
   * milliseconds, or `'s'` seconds (the `tiercache` package sets `'s'`).
   * Duration strings (`'30s'`, `'1h'`) mean the same under both. Outputs (event durations, stats)
   * stay in milliseconds.
   * @default 'ms'
   */
  readonly timeUnit?: TimeUnit
  /** Serializer for remote tiers and byte accounting. @default defaultSerializer */
  readonly serializer?: Serializer
  /** Time source (epoch ms) and timers. @default the coarse system clock */
  readonly clock?: Clock
  /** Maximum key length in UTF-8 bytes. @default 1024 */
  readonly maxKeyBytes?: number
  /**
   * Throw when a write or delete fails in any tier, instead of emitting `error` and carrying on.
   * @default false
   */
  readonly strict?: boolean
  /**
   * Longest wait for one remote tier operation before treating it as failed (a miss for reads),
   * in ms or a duration string. `'forever'` disables.
   * @default 5000
   */
  readonly tierTimeout?: Duration
  /**
   * Cross-instance invalidation of local tiers, e.g. `redisBus({ url })`: every mutation tells
   * the other instances to drop their local copies (memory and local files).
   */
  readonly bus?: Bus
  /**
   * With a `bus`: how long a mutation (`set`, `delete`, `deleteByPattern`, `clear`,
   * `invalidateTags`, …) waits for the bus to take its message before it resolves, so that once
   * it resolves the other instances have been told. Skipped while the bus reports itself
   * disconnected. `0` does not wait. In ms or a duration string.
   * @default 250
   */
  readonly busWait?: Duration
  /** Cross-instance single-flight for `getOrSet`, e.g. `redisLock({ url })`. */
  readonly lock?: DistributedLock
  /** Plugins, e.g. `prometheusMetrics()`. */
  readonly plugins?: readonly CachePlugin[]
  /** pino-compatible logger. @default silent */
  readonly logger?: Logger
  /**
   * How long a tag invalidation time read from a shared tier is trusted locally, in ms, when no
   * bus keeps instances in sync. With a bus it is trusted until the bus reconnects.
   * @default 1000 without a bus, forever with one
   */
  readonly tagSyncInterval?: Duration
  /**
   * Most tag invalidation times kept in memory. When exceeded, old ones are dropped and, if
   * needed for safety, the local tiers are flushed.
   * @default 50_000
   */
  readonly maxTrackedTags?: number
  /** Access tracking and hot-key refresh; see the README's warming section. */
  readonly warming?: WarmingOptions
  /**
   * While an {@link OperationObserver} is registered, one L1 hit of `get` and of `getOrSet` in this
   * many is timed (and reported with this weight). Operations that leave L1 are always timed.
   * @default 64
   */
  readonly l1SampleEvery?: number
}

/** Hot-key tracking options (`warming`). */
export interface WarmingOptions {
  /** Turn tracking on. @default true when `warming` is given */
  readonly enabled?: boolean
  /** Reads within `window` that make a key hot (1-255). @default 10 */
  readonly threshold?: number
  /** The counting window. @default '1m' */
  readonly window?: Duration
  /**
   * Refresh hot keys whose loader is known after this fraction of their TTL.
   * @default 0.8
   */
  readonly refreshAhead?: number
  /** Most background refreshes at a time. @default 4 */
  readonly concurrency?: number
  /** Restore L1 from the last hot-key snapshot before `ready()` resolves. @default false */
  readonly restore?: boolean
  /** Snapshot the top hot keys into the shared tiers this often. `0` disables. @default '1m' */
  readonly snapshotInterval?: Duration
  /** How many hot keys a snapshot holds. @default 1000 */
  readonly snapshotSize?: number
  /**
   * Width of the frequency sketch. Memory is fixed at `12 × sketchWidth` bytes whatever the number
   * of distinct keys (768 KiB at the default). Wider means fewer false "hot" keys at high cardinality.
   * @default 65_536
   */
  readonly sketchWidth?: number
}

/** An entry for {@link Cache.setMany}. */
export interface SetManyItem<T = unknown> extends SetOptions {
  /** The key. */
  readonly key: string
  /** The value (never `undefined`). */
  readonly value: T
}

/** Options for {@link Cache.warm}. */
export interface WarmOptions<T> extends SetOptions {
  /** Loads a key's value (needed when the source gives keys). */
  readonly loader?: (key: string) => T | Promise<T>
  /** Items in flight at once. @default 16 */
  readonly concurrency?: number
  /** Draw a progress bar on stderr when it is a terminal. @default false */
  readonly progress?: boolean
  /** Called after each item. */
  readonly onProgress?: (progress: WarmProgress) => void
}

/**
 * A memoized function made by {@link Cache.wrap} (or `cached(name)(fn)`), with its key and its
 * invalidation for given arguments.
 */
export type WrappedFunction<A extends unknown[], R> = ((...args: A) => Promise<Awaited<R>>) & {
  /**
   * Drops the cached result for these arguments: `getUserProfile.invalidate('123')` deletes
   * `user_profile:123`.
   */
  invalidate(...args: A): Promise<void>
  /** The cache key these arguments map to: `getUserProfile.key('123')` is `'user_profile:123'`. */
  key(...args: A): string
  /** Same as {@link WrappedFunction.key}. */
  keyFor(...args: A): string
}

/** Options for {@link Cache.wrap} and `@cached`. */
export interface WrapOptions<A extends unknown[] = unknown[]> extends GetOrSetOptions {
  /**
   * Builds the key suffix from the arguments (the key is `name:<suffix>`).
   * @default one string, number, boolean or bigint argument as its text (`user_profile:123`,
   *   so `cache.delete(`user_profile:${id}`)` reaches it); any other arguments as stable JSON
   *   (`sum:[1,2]`, object keys sorted); hashed when longer than 200 characters
   */
  readonly key?: (...args: A) => string
}

/** The cache. Every method validates its input before touching any tier. */
export interface Cache {
  /** Root namespace plus child path, e.g. `app` or `app:users`. */
  readonly namespacePath: string
  /** Reads a fresh value from the first tier that has it; `undefined` on a miss. */
  get<T = unknown>(key: string): Promise<T | undefined>
  /** Synchronous L1-only read of a fresh value (no lower tiers, no loader). */
  peek<T = unknown>(key: string): T | undefined
  /**
   * Writes through every tier. `ttl` may be given directly: `set(key, value, 3600)` is 3600 of
   * the cache's {@link CacheOptions.timeUnit} (milliseconds unless it says seconds). `value`
   * cannot be `undefined` (see {@link Defined}).
   */
  set<T>(key: string, value: Defined<T>, options?: SetOptions | Duration): Promise<void>
  /** Reads, or loads once (single-flight) and caches. */
  getOrSet<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions | Duration): Promise<T>
  /** Reads many keys; results align with `keys`. */
  getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]>
  /** Writes many entries. */
  setMany(items: readonly SetManyItem[]): Promise<void>
  /** Deletes many keys from every tier; resolves how many keys existed in the lowest tier that says. */
  deleteMany(keys: readonly string[]): Promise<number>
  /** True when a fresh value exists. */
  has(key: string): Promise<boolean>
  /** Deletes a key from every tier. */
  delete(key: string): Promise<boolean>
  /** Deletes keys matching a glob (`*`, `?`, `\` escapes) in every tier. */
  deleteByPattern(pattern: string): Promise<number>
  /** Invalidates every entry carrying any of the tags, in every tier and instance. */
  invalidateTags(tags: readonly string[]): Promise<void>
  /** Deletes every key of this namespace (and its children) in every tier. */
  clear(): Promise<void>
  /** A child cache whose keys are prefixed with `name:`. */
  namespace(name: string): Cache
  /** Counters per tier and overall. */
  getStats(): CacheStats
  /** Counters with fresh store stats (entries, memory, connection). */
  refreshStats(): Promise<CacheStats>
  /** Subscribes to an event. */
  on<E extends CacheEventName>(event: E, listener: CacheListener<E>): this
  /** Unsubscribes. */
  off<E extends CacheEventName>(event: E, listener: CacheListener<E>): this
  /** Memoizes a function under `name:<args>`. */
  wrap<A extends unknown[], R>(
    name: string,
    fn: (...args: A) => R,
    options?: WrapOptions<A> | Duration,
  ): WrappedFunction<A, R>
  /** Preloads values; see {@link WarmOptions}. */
  warm<T>(
    source: readonly string[] | Iterable<string> | AsyncIterable<string | SetManyItem<T>>,
    options?: WarmOptions<T>,
  ): Promise<WarmSummary>
  /** Resolves when start-up work (warm restore) is done. */
  ready(): Promise<void>
  /** Drops every in-memory local copy (the memory tiers), keeping local files and shared tiers. */
  flushLocal(): void
  /** Stops timers, closes the bus, lock, plugins and every tier. */
  close(): Promise<void>
}

export type {
  CacheEventName,
  CacheEvents,
  CacheListener,
  CacheStats,
  StaleReason,
  TierStats,
  WarmingStats,
  WarmProgress,
  WarmSummary,
} from './report-types.js'
