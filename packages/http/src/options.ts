import {
  type Clock,
  type Duration,
  InvalidOptionError,
  normalizeTags,
  parseDuration,
  systemClock,
  validateNamespace,
} from '@tiercache/core'
import type { RequestInfo } from './types.js'

/** Statuses stored when `statuses` is not given. */
export const DEFAULT_STATUSES: readonly number[] = Object.freeze([200, 203, 204, 300, 301, 308])

/** Statuses that are never stored, whatever `statuses` says. */
const NEVER_STORED = new Set([206, 304])

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
   * `must-revalidate`, `proxy-revalidate` and `no-cache` still forbid it.
   * @default 0 (only the response's own directive applies)
   */
  readonly staleWhileRevalidate?: Duration
  /**
   * How long after expiry a stored response may be served instead of a 5xx or a thrown error,
   * when the response itself has no `stale-if-error` directive (RFC 5861).
   * @default 0 (only the response's own directive applies)
   */
  readonly staleIfError?: Duration
  /**
   * Response statuses that may be stored. 206, 304 and 5xx are refused.
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
  readonly statuses: ReadonlySet<number>
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
  readonly invalidateOnUnsafe: boolean
  readonly onError: ((error: unknown) => void) | undefined
  readonly now: () => number
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
    if (!Number.isInteger(s) || s < 200 || s > 499 || NEVER_STORED.has(s)) {
      throw new InvalidOptionError(
        `statuses: ${String(s)} cannot be stored (206, 304, 1xx and 5xx never are)`,
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
    sie: options.staleIfError === undefined ? 0 : parseDuration(options.staleIfError, 'staleIfError'),
    statuses: new Set(statuses),
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
    invalidateOnUnsafe: bool(options.invalidateOnUnsafe, 'invalidateOnUnsafe', true),
    onError: options.onError,
    now: clock.now.bind(clock),
  }
}
