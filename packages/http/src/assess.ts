import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import CachePolicy from 'http-cache-semantics'
import { type Directives, first, parseCacheControl, parseVary, seconds } from './headers.js'
import type { ResolvedOptions } from './options.js'

/** Why a response is not stored. */
export type NotStoredReason =
  | 'status'
  | 'set-cookie'
  | 'no-store'
  | 'private'
  | 'no-cache'
  | 'vary-star'
  | 'authorization'
  | 'not-fresh'
  | 'policy'

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
      readonly mustRevalidate: boolean
      readonly age: number
      readonly vary: readonly string[] | null
      readonly policy: CachePolicy
    }

const HEADERS_WITHOUT_SECRETS = (name: string): boolean => name !== 'cookie' && name !== 'authorization'

/**
 * Decides whether a response may be stored by a shared cache (RFC 9111 §3) and for how long it
 * is fresh (§4.2.1), on top of http-cache-semantics with these differences:
 *
 * - `no-cache` responses are not stored (this cache does not revalidate with the handler);
 * - a response with `Set-Cookie` is never stored, whatever `public` says;
 * - `Vary: *` is detected however it is spelled (`Vary: Accept, *`, ` * `);
 * - `proxy-revalidate` and `must-revalidate` forbid serving stale but do not shorten freshness
 *   (http-cache-semantics treats a `proxy-revalidate` response as already stale);
 * - the route `ttl` gives the freshness only when the response has no `s-maxage`, `max-age`
 *   or `Expires` of its own;
 * - the stored policy keeps only the request headers `Vary` names, never `Cookie` or
 *   `Authorization`.
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
  if (!o.statuses.has(status)) return { storable: false, reason: 'status' }
  if (headers['set-cookie'] !== undefined) return { storable: false, reason: 'set-cookie' }
  let cc: Directives = parseCacheControl(headers['cache-control'])
  if (headers['cache-control'] === undefined && /no-cache/i.test(first(headers.pragma) ?? '')) {
    cc = { 'no-cache': true }
  }
  if (cc['no-store'] !== undefined) return { storable: false, reason: 'no-store' }
  if (cc.private !== undefined) return { storable: false, reason: 'private' }
  if (cc['no-cache'] !== undefined) return { storable: false, reason: 'no-cache' }
  const vary = parseVary(headers.vary)
  if (vary !== null && vary[0] === '*') return { storable: false, reason: 'vary-star' }
  const mustRevalidate = cc['must-revalidate'] !== undefined || cc['proxy-revalidate'] !== undefined
  if (
    requestHeaders.authorization !== undefined &&
    cc.public === undefined &&
    cc['s-maxage'] === undefined &&
    cc['must-revalidate'] === undefined
  ) {
    return { storable: false, reason: 'authorization' }
  }

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

  const explicit = explicitLifetime(cc, headers, now)
  let lifetime: number
  if (explicit !== undefined) lifetime = explicit
  else if (o.ttl !== undefined) lifetime = o.ttl
  else {
    if (!policy.storable()) return { storable: false, reason: 'policy' }
    lifetime = policy.maxAge() * 1000
  }
  const ageHeader = first(headers.age)
  const age = ageHeader !== undefined && /^\d+$/.test(ageHeader.trim()) ? Number(ageHeader) : 0
  const fresh = lifetime - age * 1000
  const swrSeconds = seconds(cc, 'stale-while-revalidate')
  const sieSeconds = seconds(cc, 'stale-if-error')
  const swr = mustRevalidate ? 0 : swrSeconds !== undefined ? swrSeconds * 1000 : o.swr
  const sie = mustRevalidate ? 0 : sieSeconds !== undefined ? sieSeconds * 1000 : o.sie
  if (!(fresh > 0) && !(swr > 0)) return { storable: false, reason: 'not-fresh' }
  const freshUntil = now + Math.max(0, fresh)
  const swrUntil = freshUntil + swr
  const sieUntil = freshUntil + sie
  return {
    storable: true,
    freshUntil,
    swrUntil,
    sieUntil,
    keepUntil: Math.max(swrUntil, sieUntil, freshUntil),
    mustRevalidate,
    age,
    vary,
    policy,
  }
}

/**
 * The freshness lifetime the response states, in ms: `s-maxage` (shared caches), else
 * `max-age`, else `Expires` minus `Date`; undefined when it states none. An invalid `Expires`
 * means already expired (RFC 9111 §5.3).
 */
function explicitLifetime(cc: Directives, headers: OutgoingHttpHeaders, now: number): number | undefined {
  const s = seconds(cc, 's-maxage') ?? seconds(cc, 'max-age')
  if (s !== undefined) return s * 1000
  const expires = first(headers.expires)
  if (expires === undefined) return undefined
  const at = Date.parse(expires)
  if (Number.isNaN(at)) return 0
  const dateHeader = first(headers.date)
  const date = dateHeader === undefined ? Number.NaN : Date.parse(dateHeader)
  return Math.max(0, at - (Number.isNaN(date) ? now : date))
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
