/**
 * tiercache in one package, with one configuration object: `new DistributedCache(new
 * CacheConfig({...}))` (or `createDistributedCache(config)`) composes memory → Redis (behind a
 * circuit breaker, with a cross-instance bus) → SQL, with Prometheus metrics and hot-key
 * warming, from `CacheConfig` fields (camelCase or snake_case) or `TIERCACHE_*` environment variables;
 * `getCache()` is the self-initialising global cache and `cacheDecorator` its decorator. A bare
 * number of time is seconds here. The building blocks are re-exported for
 * everything else (they keep `@tiercache/core`'s milliseconds).
 *
 * @module
 */

export {
  announceReplays,
  type BreakerOptions,
  BreakerStore,
  CircuitOpenError,
  withBreaker,
} from '@tiercache/breaker'
export {
  type Cache,
  CacheClosedError,
  type CachedDecorator,
  type CachedOptions,
  type CacheEvents,
  type CacheOptions,
  type CachePlugin,
  type CacheStats,
  createCache,
  type Defined,
  type Duration,
  escapePattern,
  FOREVER,
  type GetOrSetOptions,
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
  type TimeUnit,
  type WrapOptions,
  type WrappedFunction,
} from '@tiercache/core'
export { DriverNotInstalledError, type KyselyStoreOptions, kyselyStore } from '@tiercache/fallback-kysely'
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
export { CacheConfig } from './cache-config.js'
export { CacheCircuitBreaker, type CacheCircuitBreakerOptions, type CircuitState } from './circuit-breaker.js'
export { type ResolvedConfig, type ResolvedRedisConfig, resolveConfig } from './config.js'
export { cacheDecorator, cached, getCache } from './default-cache.js'
export {
  createDistributedCache,
  DEFAULT_BREAKER_OPTIONS,
  DistributedCache,
  type DistributedCacheHealth,
  isPattern,
  type TierHealth,
} from './distributed-cache.js'
export { CONFIG_FIELDS } from './fields.js'
export { consoleLogger, type LogLevel, silentLogger } from './logger.js'
export {
  type CacheConfigFields,
  type DistributedCacheConfig,
  ENV,
  REDIS_URL_ENV,
  type SnakeCaseConfigFields,
  type SslCertReqs,
} from './options.js'
export { formatSize, parseSize } from './size.js'
