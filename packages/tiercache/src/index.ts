/**
 * tiercache in one package: `createDistributedCache(config)` composes memory → Redis (behind a
 * circuit breaker, with a cross-instance bus) → SQL, with Prometheus metrics and hot-key
 * warming, from the seed's configuration fields or `TIERCACHE_*` environment variables. The
 * building blocks are re-exported for everything else.
 *
 * @module
 */

export { type BreakerOptions, BreakerStore, CircuitOpenError, withBreaker } from '@tiercache/breaker'
export {
  type Cache,
  CacheClosedError,
  type CachedOptions,
  type CacheEvents,
  type CacheOptions,
  type CachePlugin,
  type CacheStats,
  cached,
  createCache,
  type Duration,
  escapePattern,
  FOREVER,
  type GetOrSetOptions,
  getCache,
  HardTimeoutError,
  InvalidDurationError,
  InvalidKeyError,
  InvalidOptionError,
  InvalidValueError,
  isTierCacheError,
  type Loader,
  type LoaderContext,
  LoaderFailedError,
  type Logger,
  parseDuration,
  type SetOptions,
  StoreError,
  StoreTimeoutError,
  setDefaultCache,
  TierCacheError,
  type WrapOptions,
  type WrappedFunction,
} from '@tiercache/core'
export { type KyselyStoreOptions, kyselyStore } from '@tiercache/fallback-kysely'
export {
  metricsHandler,
  type PrometheusMetricsOptions,
  type PrometheusMetricsPlugin,
  prometheusMetrics,
  type RegistryLike,
} from '@tiercache/metrics-prometheus'
export { type MemoryStoreOptions, memoryStore } from '@tiercache/store-memory'
export {
  type RedisBusOptions,
  type RedisStoreOptions,
  redisBus,
  redisLock,
  redisStore,
} from '@tiercache/store-redis'
export { type ResolvedConfig, type ResolvedRedisConfig, resolveConfig } from './config.js'
export {
  createDistributedCache,
  DEFAULT_BREAKER_OPTIONS,
  type DistributedCache,
  type DistributedCacheHealth,
  type TierHealth,
} from './distributed-cache.js'
export { consoleLogger, type LogLevel, silentLogger } from './logger.js'
export { type DistributedCacheConfig, ENV, REDIS_URL_ENV, type SslCertReqs } from './options.js'
export { formatSize, parseSize } from './size.js'
