/**
 * Framework-neutral HTTP response caching over any tiercache instance (`createHttpCache`),
 * following RFC 9111 and RFC 5861: Vary variants, conditional requests, collapsing,
 * stale-while-revalidate, stale-if-error, purge by URL and by tag. The express and koa packages
 * are thin adapters over it.
 *
 * @module
 */
export { createHttpCache, HttpCache } from './http-cache.js'
export {
  canonicalTarget,
  keyTarget,
  type MethodClass,
  primaryKey,
  type QueryRules,
  sortQuery,
} from './key.js'
export {
  captureBody,
  captureNodeResponse,
  settleNodeResponse,
  syntheticRequest,
  teeStream,
  writeNodeResponse,
} from './node.js'
export { DEFAULT_STATUSES, HEURISTIC_STATUSES, type HttpCacheOptions, type QueryOptions } from './options.js'
export { type PurgeOptions, purge, purgeKeys, purgeUrl } from './purge.js'
export type {
  Capture,
  HeadDecision,
  Plan,
  Reply,
  RequestInfo,
  Revalidation,
  StoredHeader,
  StoredResponse,
  VariantIndex,
} from './types.js'
