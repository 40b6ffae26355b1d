import type { BreakerOptions } from '@tiercache/breaker'
import type { CacheOptions, Logger } from '@tiercache/core'
import type { RegistryLike } from '@tiercache/metrics-prometheus'

/**
 * The seed's `ssl_cert_reqs`: whether the Redis server's TLS certificate must verify.
 * `'required'` and `'optional'` verify it (for a client they are the same: the server always
 * sends a certificate), `'none'` accepts any certificate. Maps to TLS `rejectUnauthorized`.
 */
export type SslCertReqs = 'required' | 'optional' | 'none'

/**
 * Options of {@link createDistributedCache}: the seed document's configuration fields in
 * camelCase, plus a few of tiercache's own. Every field can also come from an environment
 * variable (see the README's table); a field given here wins over the environment.
 *
 * **Units.** The seed's fields keep the seed's units: `defaultTtl` as a number is **seconds**
 * (`3600` is one hour) and `maxMemorySize` as a number is **bytes**. Everywhere else in
 * tiercache (including `cacheOptions` and `breaker` below) a number of time is **milliseconds**.
 * Strings are unambiguous everywhere: `'1h'`, `'30s'`, `'100mb'`.
 */
export interface DistributedCacheConfig {
  /**
   * `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS). Environment:
   * `TIERCACHE_REDIS_URL`, then `REDIS_URL`. Give either this or `redisHost`/`redisPort`.
   * @default none: no Redis tier unless `redisUrl`, `redisHost` or `redisPort` is set
   */
  readonly redisUrl?: string
  /**
   * Redis host. Setting it (or `redisPort`) turns the Redis tier on. Environment:
   * `TIERCACHE_REDIS_HOST`.
   * @default '127.0.0.1' when `redisPort` is set, otherwise no Redis tier
   */
  readonly redisHost?: string
  /** Redis port. Environment: `TIERCACHE_REDIS_PORT`. @default 6379 */
  readonly redisPort?: number
  /** Redis database index (0-15 on a default server). Environment: `TIERCACHE_REDIS_DB`. @default 0 (or the URL's) */
  readonly redisDb?: number
  /** Redis ACL user name. Environment: `TIERCACHE_REDIS_USERNAME`. @default the URL's, else the `default` user */
  readonly redisUsername?: string
  /** Redis password (`requirepass` or ACL). Environment: `TIERCACHE_REDIS_PASSWORD`. @default the URL's, else none */
  readonly redisPassword?: string
  /** Connect to Redis over TLS. Environment: `TIERCACHE_REDIS_SSL`. @default false (true for `rediss://` URLs) */
  readonly redisSsl?: boolean
  /**
   * Whether the server certificate must verify: `'required'` (or `'optional'`) verify it,
   * `'none'` does not (TLS `rejectUnauthorized: false`; only for local experiments).
   * Environment: `TIERCACHE_REDIS_SSL_CERT_REQS`.
   * @default 'required'
   */
  readonly redisSslCertReqs?: SslCertReqs
  /**
   * Path of a PEM file with the CA certificate(s) to trust for Redis TLS instead of the system
   * store (the seed's `ssl_ca_certs`). Environment: `TIERCACHE_REDIS_SSL_CA_CERTS`.
   * @default the system CAs
   */
  readonly redisSslCaCerts?: string
  /**
   * Prefix of every Redis key and of the bus channel; instances that share a cache share it.
   * Environment: `TIERCACHE_REDIS_PREFIX`.
   * @default 'tc:'
   */
  readonly redisPrefix?: string
  /**
   * How long values stay fresh. **A number is seconds, as in the seed** (`3600` = 1 hour); a
   * string is a duration (`'1h'`, `'30m'`, `'forever'`), and a string of digits is seconds.
   * Environment: `TIERCACHE_DEFAULT_TTL`.
   * @default 3600 (seconds)
   */
  readonly defaultTtl?: number | string
  /**
   * Byte bound of the in-process L1 tier: a number of **bytes** or a string such as `'100mb'`
   * (powers of 1024). Environment: `TIERCACHE_MAX_MEMORY_SIZE`.
   * @default 104_857_600 (100 MiB)
   */
  readonly maxMemorySize?: number | string
  /** Track hot keys and keep them fresh in L1. Environment: `TIERCACHE_ENABLE_CACHE_WARMING`. @default true */
  readonly enableCacheWarming?: boolean
  /**
   * Reads within a minute that make a key hot (1-255). Environment:
   * `TIERCACHE_CACHE_WARMING_THRESHOLD`.
   * @default 10
   */
  readonly cacheWarmingThreshold?: number
  /** Export Prometheus metrics (see `registry` and `metricsHandler`). Environment: `TIERCACHE_ENABLE_METRICS`. @default true */
  readonly enableMetrics?: boolean
  /**
   * Keep a durable SQL tier below Redis (or below memory when there is no Redis), so values
   * survive restarts and Redis outages. Environment: `TIERCACHE_FALLBACK_TO_DB`.
   * @default true
   */
  readonly fallbackToDb?: boolean
  /**
   * Where the SQL tier lives: a SQLite file path (relative to the working directory),
   * `':memory:'`, or a `postgres://` / `mysql://` URL (install `pg` or `mysql2` for those).
   * Instances that share Redis must share this database too (one SQLite file on one host, or
   * PostgreSQL), or an instance could read a value another one deleted. Environment:
   * `TIERCACHE_FALLBACK_DB`.
   * @default './.tiercache/cache.db'
   */
  readonly fallbackDb?: string
  /**
   * Root namespace: every key lives under it, `clear()` touches nothing else. Environment:
   * `TIERCACHE_NAMESPACE`.
   * @default 'app'
   */
  readonly namespace?: string
  /**
   * Circuit breaker around the Redis tier (durations in **milliseconds** or strings). The
   * reset timeout also comes from `TIERCACHE_BREAKER_RESET_TIMEOUT`.
   * @default { failureThreshold: 5, resetTimeout: '10s', timeout: '500ms' }
   */
  readonly breaker?: BreakerOptions
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
   * Where warnings go (Redis unreachable, breaker open or closed again). `false` for silence.
   * @default warnings and errors to the console
   */
  readonly logger?: Logger | false
  /**
   * Registry for the Prometheus metrics, e.g. prom-client's global `register`.
   * @default a new private registry, available as `cache.registry`
   */
  readonly registry?: RegistryLike
  /**
   * More options for the engine (`grace`, `staleWhileRevalidate`, `plugins`, …): see
   * `createCache` in `@tiercache/core`. Durations here follow the project's rule: numbers are
   * **milliseconds**. `plugins` are added after the metrics plugin.
   */
  readonly cacheOptions?: Omit<
    CacheOptions,
    'tiers' | 'namespace' | 'ttl' | 'bus' | 'logger' | 'warming' | 'lock' | 'clock'
  >
  /**
   * Environment variables to read, or `false` to read none.
   * @default process.env
   */
  readonly env?: Readonly<Record<string, string | undefined>> | false
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
} as const

/** The fallback environment variable for `redisUrl` (read after `TIERCACHE_REDIS_URL`). */
export const REDIS_URL_ENV = 'REDIS_URL'
