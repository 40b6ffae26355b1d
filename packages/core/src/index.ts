/**
 * `@tiercache/core`: the cache engine for applications. `createCache` over any stores, the
 * options and event types, durations, serializers, the memoizing `wrap`/`@cached` helpers and
 * every error class with its stable code.
 *
 * Authors of stores, buses, locks and adapters import the building blocks they need (the `Store`
 * contract, the entry codec, glob patterns, `NEVER`, key and tag checks) from
 * `@tiercache/core/store`; tests import `ManualClock` and `chaosStore` from
 * `@tiercache/core/testing`.
 *
 * @module
 */
export type { Bus, BusStats, DistributedLock } from './bus.js'
export { channels, createCache } from './cache.js'
export { type Clock, systemClock } from './clock.js'
export {
  type Duration,
  type DurationUnit,
  FOREVER,
  parseDuration,
  type TimeUnit,
} from './duration.js'
export {
  CacheClosedError,
  DeserializationError,
  ERROR_CODES,
  type ErrorByCode,
  type ErrorCode,
  type ErrorContext,
  HardTimeoutError,
  InvalidDurationError,
  InvalidKeyError,
  InvalidOptionError,
  InvalidPatternError,
  InvalidValueError,
  isTierCacheError,
  LoaderFailedError,
  SerializationError,
  StoreError,
  StoreTimeoutError,
  TierCacheError,
  type TierCacheErrorOf,
  type TierCacheErrorShape,
  ValueTooLargeError,
} from './errors.js'
export { DEFAULT_MAX_KEY_BYTES } from './keys.js'
export { escapePattern } from './pattern.js'
export { defaultSerializer, jsonSerializer, MAX_SERIALIZE_DEPTH, type Serializer } from './serializer.js'
export type { Store, StoreStats } from './store.js'
export { MAX_TAG_LENGTH, MAX_TAGS_PER_ENTRY } from './tags.js'
export type {
  Cache,
  CacheEventName,
  CacheEvents,
  CacheListener,
  CacheOptions,
  CachePlugin,
  CacheStats,
  Defined,
  GetOrSetOptions,
  Loader,
  LoaderContext,
  Logger,
  ObservedOperation,
  ObservedOutcome,
  OperationObserver,
  PluginContext,
  SetManyItem,
  SetOptions,
  StaleReason,
  TierStats,
  WarmingOptions,
  WarmingStats,
  WarmOptions,
  WarmProgress,
  WarmSummary,
  WrapOptions,
  WrappedFunction,
} from './types.js'
export { type CachedDecorator, type CachedOptions, cached, getCache, setDefaultCache } from './wrap.js'
