/**
 * The tiercache engine: a cache over an ordered list of tiers (`createCache`), with stampede
 * protection, grace and stale-while-revalidate, tags, namespaces, warming, a cross-instance bus and
 * typed errors with stable codes; the `Store` contract every tier implements. Test helpers (a manual
 * clock, a chaos store) are in `@tiercache/core/testing`.
 *
 * @module
 */
export type {
  Bus,
  BusHandlers,
  BusMessage,
  BusMessageType,
  BusStats,
  DistributedLock,
  LockAcquireOptions,
  LockHandle,
} from './bus.js'
export { channels, createCache } from './cache.js'
export { type Clock, coarseNow, preciseNow, systemClock } from './clock.js'
export {
  addDuration,
  type Duration,
  type DurationUnit,
  FOREVER,
  MAX_TIMER_DELAY,
  NEVER,
  optionalDuration,
  parseDuration,
  resolveTimeUnit,
  type TimeUnit,
  timerDelay,
} from './duration.js'
export { decodeEntry, encodeEntry } from './entry-codec.js'
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
export { DEFAULT_MAX_KEY_BYTES, isPortableText, validateKey, validateNamespace } from './keys.js'
export {
  compilePattern,
  escapePattern,
  formatPattern,
  type PatternToken,
  parsePattern,
  patternPrefix,
  patternToRegExp,
} from './pattern.js'
export { defaultSerializer, jsonSerializer, MAX_SERIALIZE_DEPTH, type Serializer } from './serializer.js'
export { FrequencySketch } from './sketch.js'
export type {
  MaybePromise,
  RemoteEntry,
  SetCondition,
  Store,
  StoreCapabilities,
  StoreEntry,
  StoreKind,
  StoreScope,
  StoreSetItem,
  StoreStats,
} from './store.js'
export { MAX_TAG_LENGTH, MAX_TAGS_PER_ENTRY, normalizeTags } from './tags.js'
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
export {
  argsKey,
  type CachedDecorator,
  type CachedOptions,
  cached,
  getCache,
  setDefaultCache,
} from './wrap.js'
