export { createHttpCache, HttpCache } from './http-cache.js'
export { type MethodClass, primaryKey, sortQuery } from './key.js'
export { captureBody, captureNodeResponse, syntheticRequest, teeStream, writeNodeResponse } from './node.js'
export { DEFAULT_STATUSES, type HttpCacheOptions } from './options.js'
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
