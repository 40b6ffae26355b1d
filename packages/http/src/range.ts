import type { IncomingHttpHeaders } from 'node:http'
import { first, parseHttpDate } from './headers.js'
import type { Reply, StoredResponse } from './types.js'

/** Headers a 206 or 416 replaces (RFC 9110 §15.3.7). */
const NOT_FOR_PARTS = new Set(['content-range', 'content-length'])

/**
 * True when `If-Range` lets the range apply (RFC 9110 §13.1.5): absent, a strong ETag equal to
 * the stored one, or an HTTP-date equal to a stored `Last-Modified` at least a second older
 * than the stored `Date` (a strong validator).
 */
function ifRangeAllows(headers: IncomingHttpHeaders, e: StoredResponse, now: number): boolean {
  const v = first(headers['if-range'])
  if (v === undefined) return true
  const t = v.trim()
  if (t.startsWith('"') || t.startsWith('W/')) {
    return (
      !t.startsWith('W/') &&
      e.etag !== null &&
      e.generatedEtag !== true &&
      !e.etag.startsWith('W/') &&
      e.etag === t
    )
  }
  const at = parseHttpDate(t, now)
  if (at === undefined || e.lastModified === null || at !== e.lastModified) return false
  const date = e.headers.find((h) => h[0] === 'date')
  const d = date === undefined ? undefined : parseHttpDate(first(date[1] as string | string[]), now)
  return d !== undefined && e.lastModified <= d - 1000
}

/**
 * A 206 (one satisfiable byte range) or 416 (none satisfiable) reply from a stored complete
 * response, or undefined to send the whole response (no or invalid `Range`, several ranges, or an
 * `If-Range` that does not match).
 */
export function rangeReply(
  headers: IncomingHttpHeaders,
  e: StoredResponse,
  extra: readonly string[],
  now: number,
): Reply | undefined {
  const spec = first(headers.range)
  if (spec === undefined) return undefined
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(spec)
  if (m === null || (m[1] === '' && m[2] === '')) return undefined
  if (!ifRangeAllows(headers, e, now)) return undefined
  const size = e.body.byteLength
  let start: number
  let end: number
  if (m[1] === '') {
    const suffix = Number(m[2])
    if (suffix === 0) return unsatisfiable(e, extra, size)
    start = Math.max(0, size - suffix)
    end = size - 1
  } else {
    start = Number(m[1])
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
    if (m[2] !== '' && Number(m[2]) < start) return undefined
  }
  if (start >= size) return unsatisfiable(e, extra, size)
  return {
    status: 206,
    headers: e.headers.filter((h) => !NOT_FOR_PARTS.has(h[0])),
    extra: [
      ...extra,
      'content-range',
      `bytes ${start}-${end}/${size}`,
      'content-length',
      String(end - start + 1),
    ],
    body: e.body.subarray(start, end + 1),
  }
}

function unsatisfiable(e: StoredResponse, extra: readonly string[], size: number): Reply {
  return {
    status: 416,
    headers: e.headers.filter((h) => h[0] === 'date' || h[0] === 'etag' || h[0] === 'last-modified'),
    extra: [...extra, 'content-range', `bytes */${size}`, 'content-length', '0'],
    body: null,
  }
}
