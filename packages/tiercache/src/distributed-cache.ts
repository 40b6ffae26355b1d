import { announceReplays, type BreakerOptions, type BreakerStore, withBreaker } from '@tiercache/breaker'
import {
  type Cache,
  type CacheEventName,
  type CacheListener,
  type CachePlugin,
  type CacheStats,
  createCache,
  type Defined,
  type Duration,
  type GetOrSetOptions,
  InvalidOptionError,
  type Loader,
  type Logger,
  type SetManyItem,
  type SetOptions,
  type Store,
  type TimeUnit,
  type WarmOptions,
  type WarmSummary,
  type WrapOptions,
  type WrappedFunction,
} from '@tiercache/core'
import { kyselyStore } from '@tiercache/fallback-kysely'
import {
  type PrometheusMetricsPlugin,
  prometheusMetrics,
  type RegistryLike,
} from '@tiercache/metrics-prometheus'
import { memoryStore } from '@tiercache/store-memory'
import {
  type RedisBus,
  type RedisConnectionOptions,
  type RedisStreamBus,
  type RedisTlsOptions,
  type RegionRelay,
  redisBus,
  redisStore,
  regionRelay,
} from '@tiercache/store-redis'
import { type ResolvedConfig, type ResolvedRedisConfig, resolveConfig } from './config.js'
import { normalizeFields } from './fields.js'
import { consoleLogger, silentLogger } from './logger.js'
import type { CacheConfigFields } from './options.js'
import { formatSize } from './size.js'
import { assertSqlDriver, describeDb, sqlConnection } from './sql-driver.js'

/**
 * Breaker settings of the Redis tier unless `breaker` says otherwise, as a
 * `CacheCircuitBreaker(failure_threshold=5, timeout=60)` (5 failures in a row open it, it stays
 * open 60 seconds), plus a 500 ms limit per Redis call.
 */
export const DEFAULT_BREAKER_OPTIONS: Readonly<BreakerOptions> = Object.freeze({
  failureThreshold: 5,
  resetTimeout: '60s',
  callTimeout: '500ms',
})

/** Longest a write waits for Redis to take its bus message, in milliseconds. */
const BUS_WAIT = 250

/** Connection state of one tier, from {@link DistributedCache.health}. */
export interface TierHealth {
  /** Level name, e.g. `l1_memory`, `l2_redis`, `l3_sql`. */
  readonly level: string
  /** Whether the tier answers (L1 always does). */
  readonly connected: boolean
}

/** What {@link DistributedCache.health} reports. */
export interface DistributedCacheHealth {
  /**
   * `'ok'` when every tier answers; `'degraded'` when a tier is down but the cache still serves
   * (for example Redis down with the breaker open: memory and SQL keep answering).
   */
  readonly status: 'ok' | 'degraded'
  /** `'embedded'` (memory + SQL) or `'redis'` (memory + Redis + SQL). */
  readonly mode: 'embedded' | 'redis'
  /** Every tier, L1 first. */
  readonly tiers: readonly TierHealth[]
  /** The Redis breaker's state, when there is a Redis tier. */
  readonly breaker?: 'closed' | 'open' | 'half-open'
}

function redisConnection(r: ResolvedRedisConfig): RedisConnectionOptions {
  let tls: boolean | RedisTlsOptions | undefined
  if (r.tls) {
    tls =
      r.ca === undefined && r.rejectUnauthorized
        ? true
        : {
            rejectUnauthorized: r.rejectUnauthorized,
            ...(r.ca === undefined ? {} : { ca: r.ca }),
          }
  }
  return {
    ...(r.url === undefined
      ? { redisOptions: { host: r.host as string, port: r.port as number } }
      : { url: r.url }),
    ...(r.db === undefined ? {} : { db: r.db }),
    ...(r.username === undefined ? {} : { username: r.username }),
    ...(r.password === undefined ? {} : { password: r.password }),
    ...(tls === undefined ? {} : { tls }),
  }
}

/** What every view of one distributed cache shares. */
interface Parts {
  readonly config: ResolvedConfig
  readonly breaker: BreakerStore | undefined
  readonly bus: RedisBus | RedisStreamBus | undefined
  readonly relay: RegionRelay | undefined
  readonly metrics: PrometheusMetricsPlugin | undefined
  readonly startup: Promise<void>
}

/** Set by {@link DistributedCache.namespace} for the constructor of the child view it makes. */
let adopting: { readonly cache: Cache; readonly parts: Parts } | undefined

/**
 * True when `key` holds `*` or `?`, so `delete(key)` deletes by pattern (a glob where `\`
 * escapes the next character: `delete(escapePattern('a*b'))` deletes the one key `a*b`).
 *
 * @param key - a key or a glob pattern
 */
export function isPattern(key: string): boolean {
  return key.includes('*') || key.includes('?')
}

/** One line naming the tiers and their settings, never credentials. */
function describeConfig(c: ResolvedConfig): string {
  const parts = [`L1 memory ${formatSize(c.maxMemorySize)}`]
  if (c.redis !== undefined) {
    parts.push(`L2 redis ${c.redis.where}${c.redis.tls ? ' (TLS)' : ''} behind a circuit breaker`)
  }
  if (c.fallbackToDb) parts.push(`L${parts.length + 1} ${describeDb(c.fallbackDb)}`)
  const ttl = Number.isFinite(c.defaultTtlMs)
    ? c.timeUnit === 's'
      ? `${c.defaultTtlMs / 1000} s`
      : `${c.defaultTtlMs} ms`
    : 'forever'
  const extras = [
    `namespace ${c.namespace}`,
    `ttl ${ttl}`,
    `numbers of time in ${c.timeUnit === 's' ? 'seconds' : 'milliseconds'}`,
    c.redis === undefined ? 'no bus' : 'redis bus',
    c.enableCacheWarming ? `warming at ${c.cacheWarmingThreshold} reads/min` : 'no warming',
    c.enableMetrics ? 'metrics' : 'no metrics',
  ]
  return `${parts.join(' -> ')} (${extras.join(', ')})`
}

/** A number of time in `unit` as a duration string the breaker reads the same way. */
function inUnit(value: unknown, unit: TimeUnit): unknown {
  if (typeof value !== 'number' || unit === 'ms' || !(value >= 0)) return value
  return value === Number.POSITIVE_INFINITY ? 'forever' : `${value * 1000}ms`
}

function breakerOptions(given: BreakerOptions | undefined, config: ResolvedConfig): BreakerOptions {
  if (given !== undefined && (given === null || typeof given !== 'object')) {
    throw new InvalidOptionError('createDistributedCache: breaker must be an object', { option: 'breaker' })
  }
  if (given?.timeout !== undefined) {
    throw new InvalidOptionError(
      "createDistributedCache: breaker.timeout is ambiguous: CacheCircuitBreaker(timeout=60) is how long the breaker stays open, which is resetTimeout; withBreaker's timeout is a limit per Redis call, which is callTimeout. Give resetTimeout or callTimeout",
      { option: 'breaker.timeout' },
    )
  }
  const unit = config.timeUnit
  const converted: Record<string, unknown> = { ...given }
  for (const name of ['window', 'resetTimeout', 'callTimeout'] as const) {
    if (converted[name] !== undefined) converted[name] = inUnit(converted[name], unit)
  }
  return {
    ...DEFAULT_BREAKER_OPTIONS,
    ...(config.breakerResetTimeoutMs === undefined
      ? {}
      : { resetTimeout: `${config.breakerResetTimeoutMs}ms` }),
    ...(converted as BreakerOptions),
  }
}

/** Builds the tiers, bus, breaker, metrics and engine of a new distributed cache. */
function compose(input: CacheConfigFields): { cache: Cache; parts: Parts } {
  const resolved = resolveConfig(input)
  const config = normalizeFields(input)
  const logger: Logger = config.logger === false ? silentLogger : (config.logger ?? consoleLogger('info'))
  const waitForBus = config.waitForBus ?? true
  if (typeof waitForBus !== 'boolean') {
    throw new InvalidOptionError('createDistributedCache: waitForBus must be true or false', {
      option: 'waitForBus',
    })
  }
  const extra = config.cacheOptions ?? {}
  if (typeof extra !== 'object') {
    throw new InvalidOptionError('createDistributedCache: cacheOptions must be an object', {
      option: 'cacheOptions',
    })
  }
  if ((extra as { timeUnit?: unknown }).timeUnit !== undefined) {
    throw new InvalidOptionError(
      'createDistributedCache: give timeUnit at the top level, not in cacheOptions',
      {
        option: 'cacheOptions.timeUnit',
      },
    )
  }
  const r = resolved.redis
  const breakerConfig = r === undefined ? undefined : breakerOptions(config.breaker ?? undefined, resolved)
  if (resolved.fallbackToDb) assertSqlDriver(resolved.fallbackDb)

  const tiers: Store<any>[] = [memoryStore({ maxBytes: resolved.maxMemorySize })]
  let breaker: BreakerStore | undefined
  let bus: RedisBus | RedisStreamBus | undefined
  let relay: RegionRelay | undefined
  if (resolved.relay !== undefined && r === undefined) {
    throw new InvalidOptionError('createDistributedCache: relay needs a Redis tier (redisUrl or redisHost)', {
      option: 'relay',
    })
  }
  if (r !== undefined && breakerConfig !== undefined) {
    const connection = redisConnection(r)
    breaker = withBreaker(redisStore({ ...connection, prefix: r.prefix }), breakerConfig)
    const where = r.where
    breaker.on('state:change', (e) => {
      if (e.to === 'open') {
        logger.warn(
          { where, reason: e.reason, err: e.error },
          `tiercache: Redis at ${where} is not answering; circuit open, serving from ${resolved.fallbackToDb ? 'memory + SQL' : 'memory'} until it does`,
        )
      } else if (e.to === 'closed') {
        logger.info({ where }, `tiercache: Redis at ${where} answers again; circuit closed`)
      }
    })
    tiers.push(breaker)
    bus =
      resolved.busMode === 'stream'
        ? redisBus({
            ...connection,
            prefix: r.prefix,
            mode: 'stream',
            retention: { maxLen: resolved.busRetention },
          })
        : redisBus({ ...connection, prefix: r.prefix })
    // What the breaker journaled during an outage reaches Redis only at the replay: tell the
    // other instances again then, so none keeps a value it read from Redis in between.
    announceReplays(breaker, bus, resolved.namespace)
    if (resolved.relay !== undefined) {
      relay = regionRelay({
        region: resolved.relay.region,
        to: connection,
        prefix: r.prefix,
        retention: { maxLen: resolved.busRetention },
        from: resolved.relay.from.map((f) => ({ region: f.region, url: f.url })),
      })
    }
  }
  if (resolved.fallbackToDb) {
    tiers.push(kyselyStore(sqlConnection(resolved.fallbackDb)))
  }

  const plugins: CachePlugin[] = []
  let metrics: PrometheusMetricsPlugin | undefined
  if (resolved.enableMetrics) {
    metrics = prometheusMetrics({
      ...(config.registry === undefined ? {} : { registry: config.registry }),
      ...(breaker === undefined ? {} : { breakers: [breaker] }),
      ...(bus === undefined ? {} : { bus }),
    })
    plugins.push(metrics)
  }
  plugins.push(...(extra.plugins ?? []))

  let cache: Cache
  try {
    cache = createCache({
      ...extra,
      namespace: resolved.namespace,
      tiers,
      timeUnit: resolved.timeUnit,
      ttl: Number.isFinite(resolved.defaultTtlMs) ? `${resolved.defaultTtlMs}ms` : 'forever',
      logger,
      plugins,
      ...(bus === undefined ? {} : { bus, busWait: waitForBus ? BUS_WAIT : 0 }),
      ...(resolved.enableCacheWarming ? { warming: { threshold: resolved.cacheWarmingThreshold } } : {}),
    })
  } catch (error) {
    for (const tier of tiers) void Promise.resolve(tier.close?.()).catch(() => {})
    void Promise.resolve(bus?.close()).catch(() => {})
    void Promise.resolve(relay?.close()).catch(() => {})
    throw error
  }

  const line = describeConfig(resolved)
  if (r === undefined) {
    logger.info(
      { mode: 'embedded' },
      `tiercache: embedded mode (no Redis configured; set REDIS_URL or redisHost to add it): ${line}`,
    )
  } else {
    logger.info({ mode: 'redis' }, `tiercache: ${line}`)
  }

  const failureThreshold = breakerConfig?.failureThreshold ?? 5
  const startup =
    breaker === undefined
      ? Promise.resolve()
      : probeRedis(breaker, `${resolved.namespace}#probe`, Math.min(failureThreshold, 20))
  return {
    cache,
    parts: {
      config: resolved,
      breaker,
      bus,
      relay,
      metrics,
      startup,
    },
  }
}

/**
 * The whole tiercache stack from one configuration (`new DistributedCache(config)` is the same):
 *
 * - **L1** in-process memory, bounded by `maxMemorySize`;
 * - **L2** Redis, when `redisUrl`, `redisHost` or `redisPort` is set (in code or the
 *   environment), wrapped in a circuit breaker (5 failures open it for 60 s), with a Redis bus
 *   that drops other instances' L1 copies on every write and delete;
 * - **L3** a durable SQL table, SQLite at `./.tiercache/cache.db` by default (`fallbackToDb`;
 *   needs the `better-sqlite3` package);
 * - Prometheus metrics (`enableMetrics`) and hot-key warming (`enableCacheWarming`).
 *
 * With no Redis configured it runs embedded on memory + SQLite, and says so in one log line at
 * start (tiers and file). With Redis configured but not answering it starts anyway: the first
 * check fails, the breaker opens, a warning is logged, and the cache serves from memory + SQLite
 * until Redis answers a probe (every `breaker.resetTimeout`, 60 s by default).
 *
 * **Units:** a bare number of time is **seconds** (`timeUnit: 's'`):
 * `defaultTtl: 3600`, `set(key, value, 3600)`, `breaker: { resetTimeout: 60 }`. A number for
 * `maxMemorySize` is **bytes**. Strings (`'1h'`, `'250ms'`, `'100mb'`) say their unit.
 *
 * **`delete(key)`** deletes by pattern when `key` holds `*` or `?`:
 * `cache.delete('user:*')` removes every user; `escapePattern(key)` deletes a key
 * that holds them literally. A full `Cache` otherwise (pass it to `setDefaultCache`, `@cached`, the HTTP
 * middleware), plus what it was composed of.
 *
 * @example
 * ```ts
 * const cache = new DistributedCache(new CacheConfig({ redisHost: 'localhost', defaultTtl: 3600 }))
 * await cache.set('user:123', { name: 'João' }, 3600) // one hour
 * await cache.delete('user:*') // every user
 * ```
 */
export class DistributedCache implements Cache {
  readonly #cache: Cache
  readonly #parts: Parts
  /** The configuration in effect, every default applied (TTL in milliseconds). */
  readonly config: ResolvedConfig
  /** The Redis tier's circuit breaker, when there is a Redis tier. */
  readonly breaker: BreakerStore | undefined
  /** The invalidation bus, when there is a Redis tier (a `RedisStreamBus` with `busMode: 'stream'`). */
  readonly bus: RedisBus | RedisStreamBus | undefined
  /** This instance's region relay, when `relay` is configured. */
  readonly relay: RegionRelay | undefined
  /** The metrics plugin, when `enableMetrics` is on. */
  readonly metrics: PrometheusMetricsPlugin | undefined
  /** The metrics registry (serve it with `metricsHandler(cache.registry)`), when `enableMetrics` is on. */
  readonly registry: RegistryLike | undefined
  /** Root namespace plus child path, e.g. `app` or `app:users`. */
  readonly namespacePath: string

  /**
   * @param config - the configuration fields (camelCase or snake_case), or a
   *   {@link CacheConfig}; missing fields come from `TIERCACHE_*` environment variables and
   *   `REDIS_URL`, then from the defaults
   * @throws InvalidOptionError (`E_INVALID_OPTION`) naming the field when a value is wrong, or
   *   the valid fields when one is unknown
   * @throws DriverNotInstalledError (`E_DRIVER_MISSING`) when the SQL tier is on and its driver
   *   (`better-sqlite3` by default) is not installed
   */
  constructor(config: CacheConfigFields = {}) {
    const made = adopting ?? compose(config)
    adopting = undefined
    this.#cache = made.cache
    this.#parts = made.parts
    this.config = made.parts.config
    this.breaker = made.parts.breaker
    this.bus = made.parts.bus
    this.relay = made.parts.relay
    this.metrics = made.parts.metrics
    this.registry = made.parts.metrics?.registry
    this.namespacePath = made.cache.namespacePath
  }

  /** Reads a fresh value from the first tier that has it; `undefined` on a miss. */
  get<T = unknown>(key: string): Promise<T | undefined> {
    return this.#cache.get<T>(key)
  }
  /** Synchronous L1-only read of a fresh value. */
  peek<T = unknown>(key: string): T | undefined {
    return this.#cache.peek<T>(key)
  }
  /** Writes through every tier; a bare number `ttl` is in the cache's `timeUnit` (seconds by default). */
  set<T>(key: string, value: Defined<T>, options?: SetOptions | Duration): Promise<void> {
    return this.#cache.set(key, value, options)
  }
  /** Reads, or loads once (single-flight) and caches. */
  getOrSet<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions | Duration): Promise<T> {
    return this.#cache.getOrSet(key, loader, options)
  }
  /** Reads many keys; results align with `keys`. */
  getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]> {
    return this.#cache.getMany<T>(keys)
  }
  /** Writes many entries. */
  setMany(items: readonly SetManyItem[]): Promise<void> {
    return this.#cache.setMany(items)
  }
  /** Deletes many keys (literally, no patterns). */
  deleteMany(keys: readonly string[]): Promise<number> {
    return this.#cache.deleteMany(keys)
  }
  /** True when a fresh value exists. */
  has(key: string): Promise<boolean> {
    return this.#cache.has(key)
  }
  /**
   * Deletes a key from every tier, or, when `key` holds `*` or `?`, every key matching it as a
   * glob (`delete('user:*')` removes every user). Resolves whether anything was
   * deleted. For a key that holds `*` or `?` itself: `delete(escapePattern(key))` or
   * `deleteMany([key])`.
   */
  async delete(key: string): Promise<boolean> {
    if (typeof key === 'string' && isPattern(key)) return (await this.deleteByPattern(key)) > 0
    return this.#cache.delete(key)
  }
  /** Deletes keys matching a glob (`*`, `?`, `\` escapes) in every tier. */
  deleteByPattern(pattern: string): Promise<number> {
    return this.#cache.deleteByPattern(pattern)
  }
  /** Invalidates every entry carrying any of the tags, in every tier and instance. */
  invalidateTags(tags: readonly string[]): Promise<void> {
    return this.#cache.invalidateTags(tags)
  }
  /** Deletes every key of this namespace in every tier. */
  clear(): Promise<void> {
    return this.#cache.clear()
  }
  /** A child view (keys prefixed `name:`), with the same composition and the same wait for the bus. */
  namespace(name: string): DistributedCache {
    adopting = { cache: this.#cache.namespace(name), parts: this.#parts }
    try {
      return new DistributedCache()
    } finally {
      adopting = undefined
    }
  }
  /** Counters per tier and overall, with `l1_cache` and `l2_cache` at a glance. */
  getStats(): CacheStats {
    return this.#cache.getStats()
  }
  /** Counters with fresh store stats (entries, memory, connection). */
  refreshStats(): Promise<CacheStats> {
    return this.#cache.refreshStats()
  }
  /** Subscribes to an event. */
  on<E extends CacheEventName>(event: E, listener: CacheListener<E>): this {
    this.#cache.on(event, listener)
    return this
  }
  /** Unsubscribes. */
  off<E extends CacheEventName>(event: E, listener: CacheListener<E>): this {
    this.#cache.off(event, listener)
    return this
  }
  /** Memoizes a function under `name:<args>` (`name:123` for one primitive argument). */
  wrap<A extends unknown[], R>(
    name: string,
    fn: (...args: A) => R,
    options?: WrapOptions<A> | Duration,
  ): WrappedFunction<A, R> {
    return this.#cache.wrap(name, fn, options)
  }
  /** Preloads values. */
  warm<T>(
    source: readonly string[] | Iterable<string> | AsyncIterable<string | SetManyItem<T>>,
    options?: WarmOptions<T>,
  ): Promise<WarmSummary> {
    return this.#cache.warm(source, options)
  }
  /**
   * Resolves when start-up work is done: the warm restore, the first Redis check, and a first
   * read of every tier's stats (so `getStats()` reports Redis's `used_memory` from then on).
   */
  async ready(): Promise<void> {
    await Promise.all([this.#cache.ready(), this.#parts.startup])
    await this.#cache.refreshStats()
  }
  /** Drops every local (L1) copy. */
  flushLocal(): void {
    this.#cache.flushLocal()
  }
  /** Closes every tier, the bus, the relay and the metrics. */
  async close(): Promise<void> {
    await Promise.all([this.#cache.close(), this.#parts.relay?.close()])
  }

  /** One line for start-up logs: the tiers and their settings, never credentials. */
  describe(): string {
    return describeConfig(this.config)
  }

  /** Connection state of every tier: a `redis-cli ping` from inside the process. */
  async health(): Promise<DistributedCacheHealth> {
    const stats = await this.#cache.refreshStats()
    const breakerState = this.breaker?.state
    const tiers = stats.tiers.map((t) => ({
      level: t.level,
      connected:
        t.index === 0 ||
        (t.connected !== false &&
          !(t.index === 1 && breakerState !== undefined && breakerState !== 'closed')),
    }))
    return {
      status: tiers.every((t) => t.connected) ? 'ok' : 'degraded',
      mode: this.config.redis === undefined ? 'embedded' : 'redis',
      tiers,
      ...(breakerState === undefined ? {} : { breaker: breakerState }),
    }
  }
}

/** Checks Redis once at start-up so an outage opens the breaker (and is logged) before traffic does. */
async function probeRedis(breaker: BreakerStore, key: string, attempts: number): Promise<void> {
  for (let i = 0; i < attempts && breaker.state === 'closed'; i++) {
    try {
      await breaker.get(key)
      return
    } catch {
      // Counted by the breaker; the state-change listener logs when it opens.
    }
  }
}

/**
 * Creates the whole tiercache stack from one configuration: `new DistributedCache(config)`.
 * See {@link DistributedCache} for the tiers, the units (a bare number of time is seconds) and
 * what happens when Redis is down.
 *
 * @param config - the configuration fields (camelCase or snake_case); missing
 *   fields come from `TIERCACHE_*` environment variables and `REDIS_URL`, then the defaults
 * @returns the cache; `await cache.ready()` to wait for the first Redis check, `await cache.close()` to close every tier
 * @throws InvalidOptionError (`E_INVALID_OPTION`) naming the field when a value is wrong
 * @throws DriverNotInstalledError (`E_DRIVER_MISSING`) when the SQL tier's driver is missing
 * @example
 * ```ts
 * const cache = createDistributedCache({ redisHost: 'localhost', defaultTtl: 3600, maxMemorySize: '100mb' })
 * const user = await cache.getOrSet('user:1', () => db.loadUser(1))
 * ```
 */
export function createDistributedCache(config: CacheConfigFields = {}): DistributedCache {
  return new DistributedCache(config)
}
