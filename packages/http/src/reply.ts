import type { IncomingHttpHeaders } from 'node:http'
import { first, NOT_MODIFIED_HEADERS, parseHttpDate } from './headers.js'
import type { ResolvedOptions } from './options.js'
import { rangeReply } from './range.js'
import { notModified } from './request.js'
import type { Reply, StoredResponse } from './types.js'

/**
 * The reply for a stored response: `Age`, status headers, a 304 when the request's conditions
 * match the stored validators, a 206 / 416 for a single byte range.
 */
export function storedReply(
  o: ResolvedOptions,
  method: string,
  headers: IncomingHttpHeaders,
  e: StoredResponse,
  now: number,
  state: 'HIT' | 'STALE' | 'REVALIDATED',
  detail?: string,
): Reply {
  const age = Math.max(0, Math.floor(e.age + (now - e.storedAt) / 1000))
  const extra = ['age', String(age)]
  if (o.statusHeader !== undefined) extra.push(o.statusHeader, state)
  if (o.cacheStatus !== undefined) {
    const ttl = Math.floor((e.freshUntil - now) / 1000)
    extra.push('cache-status', `${o.cacheStatus}; hit; ttl=${ttl}${detail ? `; detail=${detail}` : ''}`)
  }
  const status = e.status
  if (
    status < 300 &&
    (headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined) &&
    notModified(headers, e.etag, e.lastModified ?? storedDate(e, now), now)
  ) {
    return {
      status: 304,
      headers: e.headers.filter((h) => NOT_MODIFIED_HEADERS.has(h[0])),
      extra,
      body: null,
    }
  }
  if (headers.range !== undefined && o.ranges && method === 'GET' && status === 200 && e.length === null) {
    const ranged = rangeReply(headers, e, extra, now)
    if (ranged !== undefined) return ranged
  }
  if (status !== 204) extra.push('content-length', String(e.length ?? e.body.byteLength))
  return {
    status,
    headers: e.headers,
    extra,
    body: status === 204 || (method === 'HEAD' && e.length !== null) ? null : e.body,
  }
}

/** The stored response's `Date` (epoch ms), for `If-Modified-Since` when it has no `Last-Modified`. */
function storedDate(e: StoredResponse, now: number): number | null {
  const d = e.headers.find((h) => h[0] === 'date')
  if (d === undefined) return null
  return parseHttpDate(first(d[1] as string | string[]), now) ?? null
}
