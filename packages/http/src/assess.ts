import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import CachePolicy from 'http-cache-semantics'
import {
  type Directives,
  first,
  parseAge,
  parseCacheControl,
  parseHttpDate,
  parseVary,
  seconds,
} from './headers.js'
import type { ResolvedOptions } from './options.js'
import { parseTargeted } from './targeted.js'

/** Why a response is not stored. */
export type NotStoredReason =
  | 'status'
  | 'set-cookie'
  | 'no-store'
  | 'private'
  | 'must-understand'
  | 'vary-star'
  | 'authorization'
  | 'not-fresh'
  | 'no-freshness'

/** The storage verdict on a response, with its freshness times when it is storable. */
export type Assessment =
  | { readonly storable: false; readonly reason: NotStoredReason }
  | {
      readonly storable: true
      readonly freshUntil: number
      readonly swrUntil: number
      readonly sieUntil: number
      /** When the entry stops being useful at all (epoch ms). */
      readonly keepUntil: number
      /** Never served stale (`must-revalidate`, `proxy-revalidate`, `s-maxage`, `no-cache`). */
      readonly mustRevalidate: boolean
      /** `no-cache`: validated with the handler before every reuse. */
      readonly noCache: boolean
      readonly age: number
      readonly vary: readonly string[] | null
      /** Builds the http-cache-semantics policy (only when a new entry is stored: it is not cheap). */
      readonly policy: () => CachePolicy
    }

/** RFC 9110 status codes: the ones this cache understands (for `must-understand`). */
const UNDERSTOOD = new Set([
  200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405,
  406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426, 500, 501, 502, 503, 504, 505,
])

/** Largest delta-seconds (RFC 9111 §1.2.2). */
const MAX_DELTA = 2_147_483_648

/** Longest freshness given by the `Last-Modified` heuristic (one day, as Traffic Server). */
const HEURISTIC_MAX = 86_400_000

const HEADERS_WITHOUT_SECRETS = (name: string): boolean => name !== 'cookie' && name !== 'authorization'

/** The directives this cache obeys: the first valid targeted field (RFC 9213), else `Cache-Control`. */
export function cacheDirectives(
  o: ResolvedOptions,
  headers: OutgoingHttpHeaders,
): { cc: Directives; targeted: boolean } {
  for (const name of o.targeted) {
    const v = headers[name]
    if (v === undefined) continue
    const d = parseTargeted(v as string | string[])
    if (d !== undefined) return { cc: d, targeted: true }
  }
  const raw = headers['cache-control'] as string | string[] | undefined
  if (raw === undefined && /no-cache/i.test(first(headers.pragma as string | string[] | undefined) ?? '')) {
    return { cc: { 'no-cache': true }, targeted: false }
  }
  return { cc: parseCacheControl(raw), targeted: false }
}

/**
 * Decides whether a response may be stored by a shared cache (RFC 9111 §3) and for how long it
 * is fresh (§4.2.1):
 *
 * - any final status with explicit freshness, except 206 and 304; without it, only `statuses`
 *   (route `ttl`, or 10 % of `Date` − `Last-Modified`, at most a day);
 * - a valid targeted field (`CDN-Cache-Control`, RFC 9213) replaces `Cache-Control` and
 *   `Expires`;
 * - `must-understand` stores only statuses this cache understands, and then ignores `no-store`;
 * - `no-cache` responses are stored when they carry a validator, and validated before every use;
 * - a response with `Set-Cookie` is never stored, whatever `public` says;
 * - `Vary: *` is detected however it is spelled (`Vary: Accept, *`, ` * `);
 * - `must-revalidate`, `proxy-revalidate`, `s-maxage` (shared caches) and `no-cache` forbid the
 *   route's stale windows; explicit `stale-while-revalidate` / `stale-if-error` directives keep
 *   theirs unless `must-revalidate`, `proxy-revalidate` or `no-cache` forbid serving stale;
 * - dates are HTTP-dates only (invalid `Expires` means expired); `Age` is its first member;
 *   `apparent_age` (now − `Date`) counts when larger than `Age`;
 * - a response already stale on arrival is stored only when it has a validator (for revalidation).
 *
 * @param requestHeaders - the request's headers (before conditional headers were removed)
 * @param now - the time the response was received (epoch ms)
 */
export function assess(
  o: ResolvedOptions,
  method: string,
  url: string,
  host: string,
  requestHeaders: IncomingHttpHeaders,
  status: number,
  headers: OutgoingHttpHeaders,
  now: number,
): Assessment {
  if (status < 200 || status > 599 || status === 206 || status === 304)
    return { storable: false, reason: 'status' }
  if (headers['set-cookie'] !== undefined) return { storable: false, reason: 'set-cookie' }
  const { cc, targeted } = cacheDirectives(o, headers)
  if (cc['must-understand'] !== undefined) {
    if (!UNDERSTOOD.has(status)) return { storable: false, reason: 'must-understand' }
  } else if (cc['no-store'] !== undefined) return { storable: false, reason: 'no-store' }
  if (cc.private !== undefined) return { storable: false, reason: 'private' }
  const vary = parseVary(headers.vary)
  if (vary !== null && vary[0] === '*') return { storable: false, reason: 'vary-star' }
  if (
    requestHeaders.authorization !== undefined &&
    cc.public === undefined &&
    cc['s-maxage'] === undefined &&
    cc['must-revalidate'] === undefined
  ) {
    return { storable: false, reason: 'authorization' }
  }
  const noCache = cc['no-cache'] !== undefined
  const dateHeader = parseHttpDate(headers.date as string | undefined, now)
  const explicit = explicitLifetime(cc, targeted, headers, dateHeader, now)
  let lifetime: number
  if (noCache) lifetime = 0
  else if (explicit !== undefined) lifetime = explicit
  else if (!o.heuristicStatuses.has(status)) return { storable: false, reason: 'status' }
  else if (o.ttl !== undefined) lifetime = o.ttl
  else {
    const lm = parseHttpDate(headers['last-modified'] as string | undefined, now)
    const base = dateHeader ?? now
    if (lm === undefined || lm >= base) return { storable: false, reason: 'no-freshness' }
    lifetime = Math.min(HEURISTIC_MAX, (base - lm) / 10)
  }
  // RFC 9111 §4.2.3: the larger of the received Age and the apparent age
  const ageSeconds = Math.max(
    parseAge(headers.age as string | undefined),
    dateHeader === undefined ? 0 : Math.max(0, Math.floor((now - dateHeader) / 1000)),
  )
  const fresh = lifetime - ageSeconds * 1000
  const strict = noCache || cc['must-revalidate'] !== undefined || cc['proxy-revalidate'] !== undefined
  const mustRevalidate = strict || cc['s-maxage'] !== undefined
  const swrSeconds = seconds(cc, 'stale-while-revalidate')
  const sieSeconds = seconds(cc, 'stale-if-error')
  const swr = strict ? 0 : swrSeconds !== undefined ? swrSeconds * 1000 : mustRevalidate ? 0 : o.swr
  const sie = strict ? 0 : sieSeconds !== undefined ? sieSeconds * 1000 : mustRevalidate ? 0 : o.sie
  const validator = headers.etag !== undefined || headers['last-modified'] !== undefined
  if (!(fresh > 0) && !(swr > 0) && !(validator && o.keepStale > 0))
    return { storable: false, reason: 'not-fresh' }
  const freshUntil = now + Math.max(0, fresh)
  const swrUntil = freshUntil + swr
  const sieUntil = freshUntil + (sieSeconds !== undefined ? sie : Math.min(sie, o.keepStale))
  const policy = (): CachePolicy => makePolicy(method, url, host, requestHeaders, status, headers, vary, now)
  return {
    storable: true,
    freshUntil,
    swrUntil,
    sieUntil,
    keepUntil: Math.max(swrUntil, sieUntil, freshUntil + o.keepStale),
    mustRevalidate,
    noCache,
    age: ageSeconds,
    vary,
    policy,
  }
}

function makePolicy(
  method: string,
  url: string,
  host: string,
  requestHeaders: IncomingHttpHeaders,
  status: number,
  headers: OutgoingHttpHeaders,
  vary: readonly string[] | null,
  now: number,
): CachePolicy {
  const policyRequest: Record<string, string> = { host }
  if (vary !== null) {
    for (const name of vary) {
      const v = requestHeaders[name]
      if (v !== undefined && HEADERS_WITHOUT_SECRETS(name))
        policyRequest[name] = Array.isArray(v) ? v.join(', ') : v
    }
  }
  const policyHeaders: Record<string, string> = {}
  for (const name in headers) {
    const v = headers[name]
    if (v !== undefined) policyHeaders[name.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v)
  }
  const policy = new CachePolicy(
    { method, url, headers: policyRequest },
    { status, headers: policyHeaders },
    { shared: true },
  )
  ;(policy as unknown as { now: () => number }).now = () => now
  return policy
}

/**
 * The freshness lifetime the response states, in ms: `s-maxage` (shared caches), else
 * `max-age`, else `Expires` minus `Date`; undefined when it states none. With a targeted field,
 * only its `max-age` counts. An invalid `Expires` means already expired (RFC 9111 §5.3).
 */
function explicitLifetime(
  cc: Directives,
  targeted: boolean,
  headers: OutgoingHttpHeaders,
  date: number | undefined,
  now: number,
): number | undefined {
  const s = targeted ? seconds(cc, 'max-age') : (seconds(cc, 's-maxage') ?? seconds(cc, 'max-age'))
  if (s !== undefined) return Math.min(s, MAX_DELTA) * 1000
  if (targeted) return undefined
  const expires = headers.expires as string | string[] | undefined
  if (expires === undefined) return undefined
  const at = parseHttpDate(expires, now)
  if (at === undefined) return 0
  return Math.max(0, at - (date ?? now))
}

/** The policy as stored: `toObject()` with request `Cookie` and `Authorization` removed. */
export function storedPolicy(policy: CachePolicy): object {
  const obj = policy.toObject() as { reqh?: Record<string, string> | null; resh?: Record<string, string> }
  if (obj.reqh) {
    const { cookie: _c, authorization: _a, ...rest } = obj.reqh
    obj.reqh = rest
  }
  if (obj.resh) {
    const { 'set-cookie': _s, ...rest } = obj.resh
    obj.resh = rest
  }
  return obj
}
