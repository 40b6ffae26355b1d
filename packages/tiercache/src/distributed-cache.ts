import { type BreakerOptions, type BreakerStore, withBreaker } from '@tiercache/breaker'
import {
  type Cache,
  type CacheEventName,
  type CacheListener,
  type CachePlugin,
  type CacheStats,
  createCache,
  type Duration,
  type GetOrSetOptions,
  InvalidOptionError,
  type Loader,
  type Logger,
  type SetManyItem,
  type SetOptions,
  type Store,
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
  type RedisTlsOptions,
  redisBus,
  redisStore,
} from '@tiercache/store-redis'
import { type ResolvedConfig, type ResolvedRedisConfig, resolveConfig } from './config.js'
import { consoleLogger, silentLogger } from './logger.js'
import type { DistributedCacheConfig } from './options.js'
import { formatSize } from './size.js'

/** Breaker settings of the Redis tier unless `breaker` says otherwise. */
export const DEFAULT_BREAKER_OPTIONS: Readonly<BreakerOptions> = Object.freeze({
  failureThreshold: 5,
  resetTimeout: '10s',
  timeout: '500ms',
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

/**
 * The cache made by {@link createDistributedCache}: a full `Cache` (pass it to
 * `setDefaultCache`, `@cached`, the HTTP middleware) plus what it was composed of.
 */
export interface DistributedCache extends Cache {
  /** The configuration in effect, every default applied (TTL in milliseconds). */
  readonly config: ResolvedConfig
  /** The Redis tier's circuit breaker, when there is a Redis tier. */
  readonly breaker: BreakerStore | undefined
  /** The invalidation bus, when there is a Redis tier. */
  readonly bus: RedisBus | undefined
  /** The metrics plugin, when `enableMetrics` is on. */
  readonly metrics: PrometheusMetricsPlugin | undefined
  /** The metrics registry (serve it with `metricsHandler(cache.registry)`), when `enableMetrics` is on. */
  readonly registry: RegistryLike | undefined
  /** A child view (keys prefixed `name:`), with the same composition. */
  namespace(name: string): DistributedCache
  /** One line for start-up logs: the tiers and their settings, never credentials. */
  describe(): string
  /** Connection state of every tier. */
  health(): Promise<DistributedCacheHealth>
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

function sqlConnection(db: string): { sqlite: string } | { postgres: string } | { mysql: string } {
  if (/^postgres(ql)?:\/\//i.test(db)) return { postgres: db }
  if (/^(mysql|mariadb):\/\//i.test(db)) return { mysql: db.replace(/^mariadb:/i, 'mysql:') }
  return { sqlite: db.replace(/^sqlite:(\/\/)?/i, '') }
}

function describeDb(db: string): string {
  const c = sqlConnection(db)
  if ('sqlite' in c) return `sqlite ${c.sqlite}`
  const u = new URL('postgres' in c ? c.postgres : c.mysql)
  return `${u.protocol.replace(':', '')} ${u.hostname}:${u.port}${u.pathname}`
}

/** What every view of one distributed cache shares. */
interface Parts {
  readonly config: ResolvedConfig
  readonly breaker: BreakerStore | undefined
  readonly bus: RedisBus | undefined
  readonly metrics: PrometheusMetricsPlugin | undefined
  readonly startup: Promise<void>
}

/**
 * A `Cache` that forwards to the engine's and carries the composition. Writes and deletes
 * resolve once Redis has taken their bus message (see `waitForBus`).
 */
class ComposedCache implements DistributedCache {
  readonly #cache: Cache
  readonly #parts: Parts
  readonly config: ResolvedConfig
  readonly breaker: BreakerStore | undefined
  readonly bus: RedisBus | undefined
  readonly metrics: PrometheusMetricsPlugin | undefined
  readonly registry: RegistryLike | undefined
  readonly namespacePath: string

  constructor(cache: Cache, parts: Parts) {
    this.#cache = cache
    this.#parts = parts
    this.config = parts.config
    this.breaker = parts.breaker
    this.bus = parts.bus
    this.metrics = parts.metrics
    this.registry = parts.metrics?.registry
    this.namespacePath = cache.namespacePath
  }

  get<T = unknown>(key: string): Promise<T | undefined> {
    return this.#cache.get<T>(key)
  }
  peek<T = unknown>(key: string): T | undefined {
    return this.#cache.peek<T>(key)
  }
  set<T>(key: string, value: T, options?: SetOptions | Duration): Promise<void> {
    return this.#cache.set(key, value, options)
  }
  getOrSet<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions | Duration): Promise<T> {
    return this.#cache.getOrSet(key, loader, options)
  }
  getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]> {
    return this.#cache.getMany<T>(keys)
  }
  setMany(items: readonly SetManyItem[]): Promise<void> {
    return this.#cache.setMany(items)
  }
  deleteMany(keys: readonly string[]): Promise<number> {
    return this.#cache.deleteMany(keys)
  }
  has(key: string): Promise<boolean> {
    return this.#cache.has(key)
  }
  delete(key: string): Promise<boolean> {
    return this.#cache.delete(key)
  }
  deleteByPattern(pattern: string): Promise<number> {
    return this.#cache.deleteByPattern(pattern)
  }
  invalidateTags(tags: readonly string[]): Promise<void> {
    return this.#cache.invalidateTags(tags)
  }
  clear(): Promise<void> {
    return this.#cache.clear()
  }
  /** A child view, with the same composition and the same wait for the bus. */
  namespace(name: string): DistributedCache {
    return new ComposedCache(this.#cache.namespace(name), this.#parts)
  }
  getStats(): CacheStats {
    return this.#cache.getStats()
  }
  refreshStats(): Promise<CacheStats> {
    return this.#cache.refreshStats()
  }
  on<E extends CacheEventName>(event: E, listener: CacheListener<E>): this {
    this.#cache.on(event, listener)
    return this
  }
  off<E extends CacheEventName>(event: E, listener: CacheListener<E>): this {
    this.#cache.off(event, listener)
    return this
  }
  wrap<A extends unknown[], R>(
    name: string,
    fn: (...args: A) => R,
    options?: WrapOptions<A> | Duration,
  ): WrappedFunction<A, R> {
    return this.#cache.wrap(name, fn, options)
  }
  warm<T>(
    source: readonly string[] | Iterable<string> | AsyncIterable<string | SetManyItem<T>>,
    options?: WarmOptions<T>,
  ): Promise<WarmSummary> {
    return this.#cache.warm(source, options)
  }
  /** Resolves when start-up work is done: the warm restore, and the first Redis check. */
  async ready(): Promise<void> {
    await Promise.all([this.#cache.ready(), this.#parts.startup])
  }
  flushLocal(): void {
    this.#cache.flushLocal()
  }
  close(): Promise<void> {
    return this.#cache.close()
  }

  describe(): string {
    const c = this.config
    const parts = [`L1 memory ${formatSize(c.maxMemorySize)}`]
    if (c.redis !== undefined) {
      parts.push(`L2 redis ${c.redis.where}${c.redis.tls ? ' (TLS)' : ''} behind a circuit breaker`)
    }
    if (c.fallbackToDb) parts.push(`L${parts.length + 1} ${describeDb(c.fallbackDb)}`)
    const ttl = Number.isFinite(c.defaultTtlMs) ? `${c.defaultTtlMs / 1000} s` : 'forever'
    const extras = [
      `namespace ${c.namespace}`,
      `ttl ${ttl}`,
      c.redis === undefined ? 'no bus' : 'redis bus',
      c.enableCacheWarming ? `warming at ${c.cacheWarmingThreshold} reads/min` : 'no warming',
      c.enableMetrics ? 'metrics' : 'no metrics',
    ]
    return `${parts.join(' -> ')} (${extras.join(', ')})`
  }

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
 * Creates the whole tiercache stack from one configuration (or environment variables):
 *
 * - **L1** in-process memory, bounded by `maxMemorySize`;
 * - **L2** Redis, when `redisUrl`, `redisHost` or `redisPort` is set (in code or the
 *   environment), wrapped in a circuit breaker, with a Redis bus that drops other instances'
 *   L1 copies on every write and delete;
 * - **L3** a durable SQL table, SQLite at `./.tiercache/cache.db` by default (`fallbackToDb`);
 * - Prometheus metrics (`enableMetrics`) and hot-key warming (`enableCacheWarming`).
 *
 * With no Redis configured it runs embedded on memory + SQLite. With Redis configured but not
 * answering it starts anyway: the first check fails, the breaker opens, a warning is logged,
 * and the cache serves from memory + SQLite until Redis answers a probe (every
 * `breaker.resetTimeout`, 10 s by default); then the breaker closes and Redis is used again.
 *
 * **Units:** `defaultTtl` as a number is **seconds** (the seed's unit), `maxMemorySize` as a
 * number is **bytes**; durations in `breaker` and `cacheOptions` are **milliseconds**, as
 * everywhere else in tiercache.
 *
 * @param config - the seed's fields in camelCase plus tiercache's own; missing fields come
 *   from `TIERCACHE_*` environment variables and `REDIS_URL`, then from the defaults
 * @returns the cache; `await cache.ready()` to wait for the first Redis check, `await cache.close()` to close every tier
 * @throws InvalidOptionError (`E_INVALID_OPTION`) naming the field when a value is wrong
 * @example
 * ```ts
 * const cache = createDistributedCache({ redisHost: 'localhost', defaultTtl: 3600, maxMemorySize: '100mb' })
 * const user = await cache.getOrSet('user:1', () => db.loadUser(1))
 * ```
 */
export function createDistributedCache(config: DistributedCacheConfig = {}): DistributedCache {
  const resolved = resolveConfig(config)
  const logger: Logger = config.logger === false ? silentLogger : (config.logger ?? consoleLogger('warn'))
  const waitForBus = config.waitForBus ?? true
  if (typeof waitForBus !== 'boolean') {
    throw new InvalidOptionError('createDistributedCache: waitForBus must be true or false', {
      option: 'waitForBus',
    })
  }
  const extra = config.cacheOptions ?? {}
  if (extra === null || typeof extra !== 'object') {
    throw new InvalidOptionError('createDistributedCache: cacheOptions must be an object', {
      option: 'cacheOptions',
    })
  }

  const tiers: Store<any>[] = [memoryStore({ maxBytes: resolved.maxMemorySize })]
  let breaker: BreakerStore | undefined
  let bus: RedisBus | undefined
  const r = resolved.redis
  if (r !== undefined) {
    const connection = redisConnection(r)
    const breakerOptions: BreakerOptions = {
      ...DEFAULT_BREAKER_OPTIONS,
      ...(resolved.breakerResetTimeoutMs === undefined
        ? {}
        : { resetTimeout: resolved.breakerResetTimeoutMs }),
      ...config.breaker,
    }
    breaker = withBreaker(redisStore({ ...connection, prefix: r.prefix }), breakerOptions)
    const where = r.where
    breaker.on('stateChange', (e) => {
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
    bus = redisBus({ ...connection, prefix: r.prefix })
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
      ttl: resolved.defaultTtlMs,
      logger,
      plugins,
      ...(bus === undefined ? {} : { bus, busWait: waitForBus ? BUS_WAIT : 0 }),
      ...(resolved.enableCacheWarming ? { warming: { threshold: resolved.cacheWarmingThreshold } } : {}),
    })
  } catch (error) {
    for (const tier of tiers) void Promise.resolve(tier.close?.()).catch(() => {})
    void Promise.resolve(bus?.close()).catch(() => {})
    throw error
  }

  const failureThreshold = config.breaker?.failureThreshold ?? DEFAULT_BREAKER_OPTIONS.failureThreshold ?? 5
  const startup =
    breaker === undefined
      ? Promise.resolve()
      : probeRedis(breaker, `${resolved.namespace}#probe`, Math.min(failureThreshold, 20))
  return new ComposedCache(cache, {
    config: resolved,
    breaker,
    bus,
    metrics,
    startup,
  })
}
