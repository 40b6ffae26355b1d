import type { IncomingHttpHeaders } from 'node:http'
import { etagMatches, first, parseCacheControl, parseHttpDate, seconds } from './headers.js'

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
