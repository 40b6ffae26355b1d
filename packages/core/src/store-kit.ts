/**
 * `@tiercache/core/store`: the kit for authors of stores, buses, locks and adapters. The `Store`
 * contract and its capability names, the binary entry codec remote stores keep, glob patterns
 * (parse, match, SQL/Redis-friendly tokens), the `NEVER` sentinel for entries without expiry,
 * clock and duration helpers, key, namespace and tag checks, and the errors a store throws.
 *
 * Applications import from `@tiercache/core`; nothing here is needed to use a cache.
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
export { type Clock, coarseNow, preciseNow, systemClock } from './clock.js'
export {
  addDuration,
  type Duration,
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
  DeserializationError,
  type ErrorContext,
  InvalidOptionError,
  isTierCacheError,
  StoreError,
  StoreTimeoutError,
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
export { defaultSerializer, type Serializer } from './serializer.js'
export {
  type MaybePromise,
  type RemoteEntry,
  type SetCondition,
  STORE_CAPABILITIES,
  type Store,
  type StoreCapabilities,
  type StoreEntry,
  type StoreKind,
  type StoreScope,
  type StoreSetItem,
  type StoreStats,
} from './store.js'
export { MAX_TAG_LENGTH, MAX_TAGS_PER_ENTRY, normalizeTags } from './tags.js'
