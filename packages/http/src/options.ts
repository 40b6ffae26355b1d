import { type Clock, type Duration, InvalidOptionError, parseDuration, systemClock } from '@tiercache/core'
import { normalizeTags, validateNamespace } from '@tiercache/core/store'
import type { RequestInfo } from './types.js'

/**
 * Statuses stored on the route `ttl` or a `Last-Modified` heuristic when `statuses` is not given.
 * A response that states its own freshness (`max-age`, `s-maxage`, `Expires`, a targeted field)
 * is stored whatever its final status (RFC 9111 §3), except 206 and 304.
 */
export const DEFAULT_STATUSES: readonly number[] = Object.freeze([200, 203, 204, 300, 301, 308])

/**
 * The statuses RFC 9110 §15.1 calls heuristically cacheable: `statuses` for a cache that applies
 * the route `ttl` and `Last-Modified` heuristics as far as the RFC allows (the "RFC profile").
 */
export const HEURISTIC_STATUSES: readonly number[] = Object.freeze([
  200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501,
])

/** Statuses that are never stored, whatever `statuses` says. */
const NEVER_STORED = new Set([206, 304])

/** Bounds on the query strings that make cache entries, per route (see {@link HttpCacheOptions.query}). */
export interface QueryOptions {
  /**
   * The query parameters the route's responses depend on. A request with any other parameter
   * (not listed in `ignore` either) bypasses the cache: it is neither served from nor stored.
   * @default undefined (every parameter is part of the key)
   */
  readonly allow?: readonly string[]
  /**
   * Parameters left out of the key (tracking parameters such as `utm_source`). The handler still
   * sees them, so it must not answer differently because of them.
   * @default []
   */
  readonly ignore?: readonly string[]
  /**
   * Most distinct query strings stored at once per path, per process; further query strings of
   * that path run the handler and are not stored until stored ones expire. Bounds how many
   * entries a client sending random parameters can make. `Infinity` disables the bound.
   * @default 256
   */
  readonly maxVariants?: number
}

/** Options of {@link createHttpCache} and of the Express and Koa middleware. */
export interface HttpCacheOptions {
  /**
   * How long a response is fresh when the handler gives no freshness of its own (no
   * `Cache-Control: max-age` / `s-maxage`, no `Expires`), in milliseconds or a duration string.
   * The handler's `Cache-Control` is never changed: this TTL only governs the stored copy.
   * @default none: only responses with explicit freshness (or a `Last-Modified` heuristic) are stored
   */
  readonly ttl?: Duration
  /**
   * How long after expiry a stored response may be served while a background request refreshes
   * it, when the response itself has no `stale-while-revalidate` directive (RFC 5861).
   * `must-revalidate`, `proxy-revalidate` and `no-cache` still forbid it. The same option and
   * type as core's `staleWhileRevalidate` for `getOrSet`.
   * @default 0 (only the response's own directive applies)
   */
  readonly staleWhileRevalidate?: Duration
  /**
   * How long after expiry a stored response may be served instead of a 5xx or a thrown error
   * (an exception, a rejected promise, `next(err)`), when the response itself has no
   * `stale-if-error` directive (RFC 5861). A cache configured so by its operator is what RFC 9111
   * §4.2.4 allows; like Apache Traffic Server, tiercache shields clients from a failing handler
   * by default. Never applies to responses with `must-revalidate`, `proxy-revalidate`,
   * `s-maxage` or `no-cache`, nor when the stored response is itself a 5xx. Bounded by `keepStale`.
   * @default '10m' (0 serves stale only where the response's own directive allows)
   */
  readonly staleIfError?: Duration
  /**
   * How long after expiry a stored response is kept: to revalidate it with the handler through
   * its `ETag` / `Last-Modified` (a 304 then freshens it), to answer a request's `max-stale`, and
   * for `staleIfError`. In milliseconds or a duration string; `0` drops responses as soon as
   * they are stale (unless a stale window of theirs still runs).
   * @default '10m'
   */
  readonly keepStale?: Duration
  /**
   * Statuses that may be stored when the response states no freshness of its own, on the route
   * `ttl` or a `Last-Modified` heuristic. 206, 304, 1xx and 5xx are refused. Responses that state
   * their freshness are stored whatever their final status (RFC 9111 §3), except 206 and 304.
   * `HEURISTIC_STATUSES` lists what RFC 9110 allows.
   * @default [200, 203, 204, 300, 301, 308]
   */
  readonly statuses?: readonly number[]
  /**
   * Serve and store requests that carry `Authorization`. Responses to them are then stored only
   * when they say `public`, `s-maxage` or `must-revalidate` (RFC 9111 §3.5).
   * @default false (such requests bypass the cache)
   */
  readonly allowAuthorization?: boolean
  /**
   * Serve and store requests that carry `Cookie`. Only turn this on when responses that depend
   * on cookies say `Vary: Cookie` or `Cache-Control: private`.
   * @default false (such requests bypass the cache)
   */
  readonly allowCookies?: boolean
  /**
   * Largest body stored, in bytes. A larger response streams through unstored.
   * @default 1_048_576 (1 MiB)
   */
  readonly maxEntryBytes?: number
  /** Tags stored with every response of this route, for `cache.invalidateTags`. */
  readonly tags?: readonly string[] | ((request: RequestInfo) => readonly string[])
  /**
   * Response header whose comma- or space-separated values are stored as tags (and removed
   * from the response). `false` disables.
   * @default 'cache-tag'
   */
  readonly tagHeader?: string | false
  /**
   * Response header that tells `HIT`, `MISS`, `STALE` or `BYPASS`. `false` disables.
   * @default 'x-cache'
   */
  readonly statusHeader?: string | false
  /**
   * Cache identifier for an RFC 9211 `Cache-Status` header (e.g. `'tiercache'`). `false` disables.
   * @default false
   */
  readonly cacheStatus?: string | false
  /**
   * Child namespace of the cache that holds the responses (see `cache.namespace`). `purgeUrl`
   * needs the same value.
   * @default 'http'
   */
  readonly namespace?: string
  /**
   * Request collapsing: concurrent misses for one key run the handler once per process and the
   * others replay its response.
   * @default true
   */
  readonly collapse?: boolean
  /**
   * How long collapsed requests wait for the first one before running the handler themselves
   * (their responses are then not stored), in milliseconds or a duration string. Also bounds a
   * background revalidation.
   * @default 5000
   */
  readonly lockTimeout?: Duration
  /**
   * Longest wait for a cache lookup that has to go past the in-process tier, in milliseconds or a
   * duration string; after it (or on a store error) the request runs the handler (fail open).
   * @default 1000
   */
  readonly lookupTimeout?: Duration
  /**
   * Honour request `Cache-Control` (`no-cache`, `no-store`, `max-age`, `min-fresh`,
   * `max-stale`, `only-if-cached`) and `Pragma: no-cache`, as RFC 9111 asks. Turn off to make
   * clients unable to force a handler run.
   * @default true
   */
  readonly requestCacheControl?: boolean
  /**
   * Let a request's `Cache-Control: no-cache` (or `Pragma: no-cache`) make the cache validate
   * with the handler before answering. Off by default, as in nginx, Varnish and CDNs: any client
   * could otherwise multiply the handler's load at will. Needs `requestCacheControl`.
   * @default false
   */
  readonly honorRequestNoCache?: boolean
  /**
   * Targeted cache-control fields (RFC 9213) this cache obeys, most specific first: the first one
   * present and valid in a response replaces its `Cache-Control` and `Expires` for this cache.
   * Put a name of your own first (e.g. `['app-cache-control', 'cdn-cache-control']`) to direct
   * tiercache alone. The fields are passed on unchanged. `false` or `[]` ignores them.
   * @default ['cdn-cache-control']
   */
  readonly targetedCacheControl?: readonly string[] | false
  /**
   * Give a stored response without an `ETag` a weak one made from its body (`W/"…"`, a SHA-1 of
   * the bytes), so clients can make conditional requests that the cache answers with 304. The
   * generated tag is never sent to the handler as a validator. `false` disables.
   * @default true
   */
  readonly etag?: boolean
  /**
   * Answer a single-range `Range: bytes=…` request from a stored complete response with 206
   * (or 416), honouring `If-Range`. Requests for several ranges get the full response. A range
   * request that misses runs the handler with its `Range` header; a full 200 it returns is
   * stored. `false` makes range requests bypass the cache.
   * @default true
   */
  readonly ranges?: boolean
  /** Bounds on the query strings that make cache entries for this route. */
  readonly query?: QueryOptions
  /**
   * A successful (2xx/3xx) unsafe request (POST, PUT, PATCH, DELETE, …) removes the stored
   * responses of its URL and of same-host `Location` / `Content-Location` URLs (RFC 9111 §4.4).
   * @default true
   */
  readonly invalidateOnUnsafe?: boolean
  /** Called with store errors and lookup timeouts (the request carries on without the cache). */
  readonly onError?: (error: unknown) => void
  /** Time source (epoch ms). Use the cache's clock in tests. @default the core's system clock */
  readonly clock?: Clock
}

/** Options after validation. */
export interface ResolvedOptions {
  readonly ttl: number | undefined
  readonly swr: number
  readonly sie: number
  readonly allowAuthorization: boolean
  readonly allowCookies: boolean
  readonly maxEntryBytes: number
  readonly tags: readonly string[] | ((request: RequestInfo) => readonly string[])
  readonly tagHeader: string | undefined
  readonly statusHeader: string | undefined
  readonly cacheStatus: string | undefined
  readonly namespace: string
  readonly collapse: boolean
  readonly lockTimeout: number
  readonly lookupTimeout: number
  readonly requestCacheControl: boolean
  readonly honorRequestNoCache: boolean
  readonly targeted: readonly string[]
  readonly etag: boolean
  readonly ranges: boolean
  readonly keepStale: number
  /** Statuses stored without explicit freshness. */
  readonly heuristicStatuses: ReadonlySet<number>
  readonly queryAllow: ReadonlySet<string> | undefined
  readonly queryIgnore: ReadonlySet<string>
  readonly maxQueryVariants: number
  readonly invalidateOnUnsafe: boolean
  readonly onError: ((error: unknown) => void) | undefined
  readonly now: () => number
}

function targetedFields(value: unknown): readonly string[] {
  if (value === undefined) return ['cdn-cache-control']
  if (value === false) return []
  if (!Array.isArray(value)) {
    throw new InvalidOptionError('targetedCacheControl must be an array of header names or false', {
      option: 'targetedCacheControl',
    })
  }
  return value.map((v) => headerName(v, 'targetedCacheControl', '') as string)
}

function names(value: unknown, option: string): ReadonlySet<string> {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0)) {
    throw new InvalidOptionError(`${option} must be an array of parameter names`, { option })
  }
  return new Set(value as string[])
}

function queryOptions(q: unknown): {
  queryAllow: ReadonlySet<string> | undefined
  queryIgnore: ReadonlySet<string>
  maxQueryVariants: number
} {
  if (q === undefined) return { queryAllow: undefined, queryIgnore: new Set(), maxQueryVariants: 256 }
  if (typeof q !== 'object' || q === null) {
    throw new InvalidOptionError('query must be an object ({ allow, ignore, maxVariants })', {
      option: 'query',
    })
  }
  const o = q as QueryOptions
  const max = o.maxVariants ?? 256
  if (!(max === Number.POSITIVE_INFINITY || (Number.isInteger(max) && max >= 1))) {
    throw new InvalidOptionError('query.maxVariants must be a positive integer or Infinity', {
      option: 'query.maxVariants',
    })
  }
  return {
    queryAllow: o.allow === undefined ? undefined : names(o.allow, 'query.allow'),
    queryIgnore: o.ignore === undefined ? new Set() : names(o.ignore, 'query.ignore'),
    maxQueryVariants: max,
  }
}

function bool(value: unknown, option: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new InvalidOptionError(`${option} must be a boolean`, { option })
  return value
}

function headerName(value: unknown, option: string, fallback: string): string | undefined {
  if (value === undefined) return fallback
  if (value === false) return undefined
  if (typeof value !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value)) {
    throw new InvalidOptionError(`${option} must be a header name or false`, { option })
  }
  return value.toLowerCase()
}

/**
 * Validates options.
 * @throws InvalidOptionError (`E_INVALID_OPTION`), InvalidDurationError (`E_INVALID_DURATION`)
 */
export function resolveOptions(options: HttpCacheOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options must be an object', { option: 'options' })
  }
  const statuses = options.statuses ?? DEFAULT_STATUSES
  if (!Array.isArray(statuses) || statuses.length === 0) {
    throw new InvalidOptionError('statuses must be a non-empty array of status codes', { option: 'statuses' })
  }
  for (const s of statuses) {
    if (!Number.isInteger(s) || s < 200 || (s > 499 && s !== 501) || NEVER_STORED.has(s)) {
      throw new InvalidOptionError(
        `statuses: ${String(s)} cannot be stored without explicit freshness (206, 304, 1xx and 5xx but 501 never are)`,
        {
          option: 'statuses',
        },
      )
    }
  }
  const maxEntryBytes = options.maxEntryBytes ?? 1_048_576
  if (!Number.isInteger(maxEntryBytes) || maxEntryBytes < 0) {
    throw new InvalidOptionError('maxEntryBytes must be a non-negative integer', { option: 'maxEntryBytes' })
  }
  const tags = typeof options.tags === 'function' ? options.tags : normalizeTags(options.tags, 'tags')
  const namespace = options.namespace ?? 'http'
  validateNamespace(namespace)
  const cacheStatus = options.cacheStatus ?? false
  if (
    cacheStatus !== false &&
    (typeof cacheStatus !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(cacheStatus))
  ) {
    throw new InvalidOptionError('cacheStatus must be a token (e.g. "tiercache") or false', {
      option: 'cacheStatus',
    })
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new InvalidOptionError('onError must be a function', { option: 'onError' })
  }
  const clock = options.clock ?? systemClock
  if (typeof clock?.now !== 'function') {
    throw new InvalidOptionError('clock must have a now() function', { option: 'clock' })
  }
  const ttl = options.ttl === undefined ? undefined : parseDuration(options.ttl, 'ttl')
  return {
    ttl: ttl === 0 ? undefined : ttl,
    swr:
      options.staleWhileRevalidate === undefined
        ? 0
        : parseDuration(options.staleWhileRevalidate, 'staleWhileRevalidate'),
    sie: options.staleIfError === undefined ? 600_000 : parseDuration(options.staleIfError, 'staleIfError'),
    heuristicStatuses: new Set(statuses),
    keepStale: options.keepStale === undefined ? 600_000 : parseDuration(options.keepStale, 'keepStale'),
    allowAuthorization: bool(options.allowAuthorization, 'allowAuthorization', false),
    allowCookies: bool(options.allowCookies, 'allowCookies', false),
    maxEntryBytes,
    tags,
    tagHeader: headerName(options.tagHeader, 'tagHeader', 'cache-tag'),
    statusHeader: headerName(options.statusHeader, 'statusHeader', 'x-cache'),
    cacheStatus: cacheStatus === false ? undefined : cacheStatus,
    namespace,
    collapse: bool(options.collapse, 'collapse', true),
    lockTimeout: options.lockTimeout === undefined ? 5000 : parseDuration(options.lockTimeout, 'lockTimeout'),
    lookupTimeout:
      options.lookupTimeout === undefined ? 1000 : parseDuration(options.lookupTimeout, 'lookupTimeout'),
    requestCacheControl: bool(options.requestCacheControl, 'requestCacheControl', true),
    honorRequestNoCache: bool(options.honorRequestNoCache, 'honorRequestNoCache', false),
    targeted: targetedFields(options.targetedCacheControl),
    etag: bool(options.etag, 'etag', true),
    ranges: bool(options.ranges, 'ranges', true),
    ...queryOptions(options.query),
    invalidateOnUnsafe: bool(options.invalidateOnUnsafe, 'invalidateOnUnsafe', true),
    onError: options.onError,
    now: clock.now.bind(clock),
  }
}
