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
