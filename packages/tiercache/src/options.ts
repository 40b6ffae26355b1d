import type { BreakerOptions } from '@tiercache/breaker'
import type { CacheOptions, Logger, TimeUnit } from '@tiercache/core'
import type { RegistryLike } from '@tiercache/metrics-prometheus'

/**
 * `redis_ssl_cert_reqs`: whether the Redis server's TLS certificate must verify.
 * `'required'` and `'optional'` verify it (for a client they are the same: the server always
 * sends a certificate), `'none'` accepts any certificate. Maps to TLS `rejectUnauthorized`.
 */
export type SslCertReqs = 'required' | 'optional' | 'none'

/**
 * Options of {@link createDistributedCache} and `new CacheConfig(...)`: the
 * configuration fields in camelCase (their snake_case spellings are accepted too, see
 * {@link SnakeCaseConfigFields}), plus a few of tiercache's own. Every field can also come from an
 * environment variable (see the README's table); a field given here wins over the environment.
 * `null` (Python's `None`) means "not set". A field this package does not know is an
 * `InvalidOptionError` (`E_INVALID_OPTION`) that names the valid ones.
 *
 * **Units.** A bare number of time is **seconds** everywhere in this package:
 * `defaultTtl: 3600`, `cache.set(key, value, 3600)`, `@cacheDecorator('user_profile', 3600)`,
 * `breaker: { resetTimeout: 60 }` and `cacheOptions` are all seconds (`timeUnit: 's'`, shown by
 * `describe()`). `maxMemorySize` as a number is **bytes**. Strings are unambiguous everywhere:
 * `'1h'`, `'30s'`, `'250ms'`, `'100mb'`.
 */
export interface DistributedCacheConfig {
  /**
   * `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS). Environment:
   * `TIERCACHE_REDIS_URL`, then `REDIS_URL`. Give either this or `redisHost`/`redisPort`.
   * @default none: no Redis tier unless `redisUrl`, `redisHost` or `redisPort` is set
   */
  readonly redisUrl?: string | null
  /**
   * Redis host. Setting it (or `redisPort`) turns the Redis tier on. Environment:
   * `TIERCACHE_REDIS_HOST`.
   * @default '127.0.0.1' when `redisPort` is set, otherwise no Redis tier
   */
  readonly redisHost?: string | null
  /** Redis port. Environment: `TIERCACHE_REDIS_PORT`. @default 6379 */
  readonly redisPort?: number | null
  /** Redis database index (0-15 on a default server). Environment: `TIERCACHE_REDIS_DB`. @default 0 (or the URL's) */
  readonly redisDb?: number | null
  /** Redis ACL user name. Environment: `TIERCACHE_REDIS_USERNAME`. @default the URL's, else the `default` user */
  readonly redisUsername?: string | null
  /** Redis password (`requirepass` or ACL). Environment: `TIERCACHE_REDIS_PASSWORD`. @default the URL's, else none */
  readonly redisPassword?: string | null
  /** Connect to Redis over TLS. Environment: `TIERCACHE_REDIS_SSL`. @default false (true for `rediss://` URLs) */
  readonly redisSsl?: boolean | null
  /**
   * Whether the server certificate must verify: `'required'` (or `'optional'`) verify it,
   * `'none'` does not (TLS `rejectUnauthorized: false`; only for local experiments).
   * Environment: `TIERCACHE_REDIS_SSL_CERT_REQS`.
   * @default 'required'
   */
  readonly redisSslCertReqs?: SslCertReqs | null
  /**
   * Path of a PEM file with the CA certificate(s) to trust for Redis TLS instead of the system
   * store (`redis_ssl_ca_certs`). Environment: `TIERCACHE_REDIS_SSL_CA_CERTS`.
   * @default the system CAs
   */
  readonly redisSslCaCerts?: string | null
  /**
   * Prefix of every Redis key and of the bus channel; instances that share a cache share it.
   * Environment: `TIERCACHE_REDIS_PREFIX`.
   * @default 'tc:'
   */
  readonly redisPrefix?: string | null
  /**
   * How long values stay fresh. **A number is seconds** (`3600` = 1 hour); a
   * string is a duration (`'1h'`, `'30m'`, `'forever'`), and a string of digits is seconds.
   * Environment: `TIERCACHE_DEFAULT_TTL`.
   * @default 3600 (seconds)
   */
  readonly defaultTtl?: number | string | null
  /**
   * Byte bound of the in-process L1 tier: a number of **bytes** or a string such as `'100mb'`
   * (powers of 1024). Environment: `TIERCACHE_MAX_MEMORY_SIZE`.
   * @default 104_857_600 (100 MiB)
   */
  readonly maxMemorySize?: number | string | null
  /** Track hot keys and keep them fresh in L1. Environment: `TIERCACHE_ENABLE_CACHE_WARMING`. @default true */
  readonly enableCacheWarming?: boolean | null
  /**
   * Reads within a minute that make a key hot (1-255). Environment:
   * `TIERCACHE_CACHE_WARMING_THRESHOLD`.
   * @default 10
   */
  readonly cacheWarmingThreshold?: number | null
  /** Export Prometheus metrics (see `registry` and `metricsHandler`). Environment: `TIERCACHE_ENABLE_METRICS`. @default true */
  readonly enableMetrics?: boolean | null
  /**
   * Keep a durable SQL tier below Redis (or below memory when there is no Redis), so values
   * survive restarts and Redis outages. Environment: `TIERCACHE_FALLBACK_TO_DB`.
   * @default true
   */
  readonly fallbackToDb?: boolean | null
  /**
   * Where the SQL tier lives: a SQLite file path (relative to the working directory),
   * `':memory:'`, or a `postgres://` / `mysql://` URL (install `pg` or `mysql2` for those).
   * Instances that share Redis must share this database too (one SQLite file on one host, or
   * PostgreSQL), or an instance could read a value another one deleted. Environment:
   * `TIERCACHE_FALLBACK_DB`.
   * @default './.tiercache/cache.db'
   */
  readonly fallbackDb?: string | null
  /**
   * Root namespace: every key lives under it, `clear()` touches nothing else. Environment:
   * `TIERCACHE_NAMESPACE`.
   * @default 'app'
   */
  readonly namespace?: string | null
  /**
   * What a bare number of time means in this cache: `'s'` seconds, or `'ms'`
   * milliseconds as in `@tiercache/core`. It applies to `defaultTtl`, to every call
   * (`set(key, value, 3600)`, `getOrSet`, `wrap`, `cacheDecorator`), to `breaker` and to
   * `cacheOptions`. Environment: `TIERCACHE_TIME_UNIT`.
   * @default 's'
   */
  readonly timeUnit?: TimeUnit | null
  /**
   * Circuit breaker around the Redis tier: `withBreaker`'s options, with numbers of time in
   * this cache's {@link DistributedCacheConfig.timeUnit} (seconds by default). A
   * `CacheCircuitBreaker(failure_threshold=5, timeout=60)` is `{ failureThreshold: 5,
   * resetTimeout: 60 }`; `timeout` is refused here because that class and `withBreaker` mean
   * different things by it (use `resetTimeout`, or `callTimeout` for the per-call limit). The
   * reset timeout also comes from `TIERCACHE_BREAKER_RESET_TIMEOUT`.
   * @default { failureThreshold: 5, resetTimeout: 60, callTimeout: '500ms' }
   */
  readonly breaker?: BreakerOptions | null
  /**
   * With Redis: `set`, `setMany`, `delete`, `deleteMany`, `deleteByPattern`,
   * `invalidateTags` and `clear` resolve only once Redis has taken the bus message that tells
   * the other instances to drop their L1 copies (Redis delivers it to every subscriber before it
   * answers), so a read on another instance right after the call returns sees the change. Costs
   * one Redis round trip per write; waits at most 250 ms, and not at all while the breaker is
   * open.
   * @default true
   */
  readonly waitForBus?: boolean
  /**
   * How the invalidation bus travels: `'pubsub'` (Redis pub/sub: a message published while an
   * instance is disconnected is lost, so the instance flushes its L1 when it reconnects) or
   * `'stream'` (a Redis stream, `{<prefix>bus}`: the instance replays what it missed and keeps
   * its L1, unless it was away longer than `busRetention` entries). Environment:
   * `TIERCACHE_BUS_MODE`. `relay` needs `'stream'`.
   * @default 'pubsub' ('stream' when `relay` is set)
   */
  readonly busMode?: 'pubsub' | 'stream' | null
  /**
   * With `busMode: 'stream'`: entries the stream keeps (approximately, `MAXLEN ~`). Environment:
   * `TIERCACHE_BUS_RETENTION`.
   * @default 100_000
   */
  readonly busRetention?: number | null
  /**
   * Makes this instance also a relay of its region: it copies invalidations (never values) from
   * the other regions' streams into this region's Redis and stream (see `regionRelay` in
   * `@tiercache/store-redis` and docs/multi-region.md). Several instances of a region may take
   * the role; copies are conditional, so each message is applied once. Environment:
   * `TIERCACHE_REGION` and `TIERCACHE_RELAY_FROM` (`us=redis://us-cache:6379,ap=redis://…`).
   * @default none
   */
  readonly relay?: RelayConfig | null
  /**
   * Where the start-up line (the tiers and files in use), warnings (Redis unreachable, breaker
   * open) and notices (breaker closed again) go. `false` for silence.
   * @default `consoleLogger('info')`: one line at start, then warnings and errors, on stdout/stderr
   */
  readonly logger?: Logger | false | null
  /**
   * Registry for the Prometheus metrics, e.g. prom-client's global `register`.
   * @default a new private registry, available as `cache.registry`
   */
  readonly registry?: RegistryLike
  /**
   * More options for the engine (`grace`, `staleWhileRevalidate`, `plugins`, …): see
   * `createCache` in `@tiercache/core`. Numbers of time are in this cache's `timeUnit`
   * (seconds by default). `plugins` are added after the metrics plugin.
   */
  readonly cacheOptions?: Omit<
    CacheOptions,
    'tiers' | 'namespace' | 'ttl' | 'bus' | 'logger' | 'warming' | 'lock' | 'clock' | 'timeUnit'
  > | null
  /**
   * Environment variables to read, or `false` to read none.
   * @default process.env
   */
  readonly env?: Readonly<Record<string, string | undefined>> | false | null
}

/**
 * The snake_case spellings of the configuration fields (`CacheConfig(redis_host=…)`),
 * accepted beside the camelCase ones so Python-style configuration works as written. Giving both
 * spellings of one field is an error.
 */
export interface SnakeCaseConfigFields {
  /** Same as {@link DistributedCacheConfig.redisHost}. */
  readonly redis_host?: string | null
  /** Same as {@link DistributedCacheConfig.redisPort}. */
  readonly redis_port?: number | null
  /** Same as {@link DistributedCacheConfig.redisDb}. */
  readonly redis_db?: number | null
  /** Same as {@link DistributedCacheConfig.redisPassword}. */
  readonly redis_password?: string | null
  /** Same as {@link DistributedCacheConfig.redisSsl}. */
  readonly redis_ssl?: boolean | null
  /** Same as {@link DistributedCacheConfig.redisSslCertReqs}. */
  readonly redis_ssl_cert_reqs?: SslCertReqs | null
  /** Same as {@link DistributedCacheConfig.redisSslCaCerts}. */
  readonly redis_ssl_ca_certs?: string | null
  /** Same as {@link DistributedCacheConfig.defaultTtl} (seconds). */
  readonly default_ttl?: number | string | null
  /** Same as {@link DistributedCacheConfig.maxMemorySize} (bytes). */
  readonly max_memory_size?: number | string | null
  /** Same as {@link DistributedCacheConfig.enableCacheWarming}. */
  readonly enable_cache_warming?: boolean | null
  /** Same as {@link DistributedCacheConfig.cacheWarmingThreshold}. */
  readonly cache_warming_threshold?: number | null
  /** Same as {@link DistributedCacheConfig.enableMetrics}. */
  readonly enable_metrics?: boolean | null
  /** Same as {@link DistributedCacheConfig.fallbackToDb}. */
  readonly fallback_to_db?: boolean | null
}

/** What {@link createDistributedCache} and `new CacheConfig(...)` accept: camelCase fields, or their snake_case spellings. */
export type CacheConfigFields = DistributedCacheConfig & SnakeCaseConfigFields

/** This instance's region and the regions it copies invalidations from. */
export interface RelayConfig {
  /** This region's name (1-64 characters of `A-Z a-z 0-9 _ . -`). */
  readonly region: string
  /** Every other region: its name and its Redis URL (`redis://` or `rediss://`). */
  readonly from: readonly { readonly region: string; readonly url: string }[]
}

/** Names of the environment variables {@link createDistributedCache} reads. */
export const ENV = {
  redisUrl: 'TIERCACHE_REDIS_URL',
  redisHost: 'TIERCACHE_REDIS_HOST',
  redisPort: 'TIERCACHE_REDIS_PORT',
  redisDb: 'TIERCACHE_REDIS_DB',
  redisUsername: 'TIERCACHE_REDIS_USERNAME',
  redisPassword: 'TIERCACHE_REDIS_PASSWORD',
  redisSsl: 'TIERCACHE_REDIS_SSL',
  redisSslCertReqs: 'TIERCACHE_REDIS_SSL_CERT_REQS',
  redisSslCaCerts: 'TIERCACHE_REDIS_SSL_CA_CERTS',
  redisPrefix: 'TIERCACHE_REDIS_PREFIX',
  defaultTtl: 'TIERCACHE_DEFAULT_TTL',
  maxMemorySize: 'TIERCACHE_MAX_MEMORY_SIZE',
  enableCacheWarming: 'TIERCACHE_ENABLE_CACHE_WARMING',
  cacheWarmingThreshold: 'TIERCACHE_CACHE_WARMING_THRESHOLD',
  enableMetrics: 'TIERCACHE_ENABLE_METRICS',
  fallbackToDb: 'TIERCACHE_FALLBACK_TO_DB',
  fallbackDb: 'TIERCACHE_FALLBACK_DB',
  namespace: 'TIERCACHE_NAMESPACE',
  breakerResetTimeout: 'TIERCACHE_BREAKER_RESET_TIMEOUT',
  timeUnit: 'TIERCACHE_TIME_UNIT',
  busMode: 'TIERCACHE_BUS_MODE',
  busRetention: 'TIERCACHE_BUS_RETENTION',
  region: 'TIERCACHE_REGION',
  relayFrom: 'TIERCACHE_RELAY_FROM',
} as const

/** The fallback environment variable for `redisUrl` (read after `TIERCACHE_REDIS_URL`). */
export const REDIS_URL_ENV = 'REDIS_URL'
