import type { IncomingHttpHeaders } from 'node:http'
import { etagMatches, first, parseCacheControl, parseHttpDate, seconds } from './headers.js'
import type { StoredResponse } from './types.js'

/** Parsed request `Cache-Control`. */
export interface RequestDirectives {
  readonly noCache: boolean
  readonly noStore: boolean
  readonly onlyIfCached: boolean
  readonly maxAge: number | undefined
  readonly minFresh: number | undefined
  readonly maxStale: number | undefined
}

/**
 * Parses the request's `Cache-Control` (and `Pragma: no-cache`).
 *
 * @param honorNoCache - whether `no-cache` / `Pragma: no-cache` count (`honorRequestNoCache`)
 */
export function requestDirectives(h: IncomingHttpHeaders, honorNoCache: boolean): RequestDirectives {
  const cc = parseCacheControl(h['cache-control'])
  const stale = cc['max-stale']
  return {
    noCache:
      honorNoCache &&
      (cc['no-cache'] !== undefined ||
        (h['cache-control'] === undefined && /no-cache/i.test(first(h.pragma) ?? ''))),
    noStore: cc['no-store'] !== undefined,
    onlyIfCached: cc['only-if-cached'] !== undefined,
    maxAge: seconds(cc, 'max-age'),
    minFresh: seconds(cc, 'min-fresh'),
    maxStale: stale === true ? Number.POSITIVE_INFINITY : seconds(cc, 'max-stale'),
  }
}

/**
 * True when a conditional request is answered by 304 from this response (RFC 9110 §13.2.2):
 * `If-None-Match` by weak comparison; else `If-Modified-Since` (an HTTP-date) against
 * `Last-Modified`, or the response's `Date` when it has none (RFC 9111 §4.3.2).
 */
export function notModified(
  headers: IncomingHttpHeaders,
  etag: string | null | undefined,
  lastModified: number | null | undefined,
  now: number,
): boolean {
  const inm = first(headers['if-none-match'])
  if (inm !== undefined) return etag != null && etagMatches(inm, etag)
  const ims = first(headers['if-modified-since'])
  if (ims === undefined || lastModified == null) return false
  const since = parseHttpDate(ims, now)
  return since !== undefined && lastModified <= since
}

/** What a stored response offers a request at `now`. */
export type Usable = 'fresh' | 'revalidate-in-background' | 'stale' | undefined

/** How a stored response may answer a request now, if at all. */
export function usable(e: StoredResponse, rd: RequestDirectives | undefined, now: number): Usable {
  if (e.noCache === true) return undefined
  if (rd === undefined) {
    if (now < e.freshUntil) return 'fresh'
    if (now < e.swrUntil) return 'revalidate-in-background'
    return undefined
  }
  if (rd.noCache) return undefined
  const age = (e.age * 1000 + (now - e.storedAt)) / 1000
  if (rd.maxAge !== undefined && age > rd.maxAge) return undefined
  if (rd.minFresh !== undefined && (e.freshUntil - now) / 1000 < rd.minFresh) return undefined
  if (now < e.freshUntil) return 'fresh'
  if (rd.maxStale !== undefined && !e.mustRevalidate && (now - e.freshUntil) / 1000 <= rd.maxStale)
    return 'stale'
  if (now < e.swrUntil) return 'revalidate-in-background'
  return undefined
}
