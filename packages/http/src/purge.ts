import type { OutgoingHttpHeaders } from 'node:http'
import type { Cache } from '@tiercache/core'
import { InvalidOptionError, validateNamespace } from '@tiercache/core'
import { first } from './headers.js'
import { keyOf, keyTarget, type QueryRules } from './key.js'
import type { RequestInfo } from './types.js'

/**
 * The primary keys of a URL: GET and HEAD, http and https, through the same canonical target
 * as storing and lookup. Deleting them drops every stored variant (variant keys hang off the
 * primary key's index generation). `rules`: a route's `query` options (`ignore` applies).
 *
 * @param url - absolute URL
 * @throws InvalidOptionError (`E_INVALID_OPTION`) for a URL that is not absolute
 */
export function purgeKeys(url: string | URL, rules?: QueryRules): string[] {
  let u: URL
  try {
    u = typeof url === 'string' ? new URL(url) : url
  } catch {
    throw new InvalidOptionError(`purge needs an absolute URL, got ${String(url)}`, { option: 'url' })
  }
  const t = keyTarget(`${u.pathname}${u.search}`, rules)
  if (t === null) return []
  const keys: string[] = []
  for (const scheme of ['http', 'https']) {
    keys.push(keyOf('G', scheme, u.hostname, t.target), keyOf('H', scheme, u.hostname, t.target))
  }
  return keys
}

/** Options of {@link purgeUrl}. */
export interface PurgeOptions {
  /** The `namespace` the middleware was given. @default 'http' */
  readonly namespace?: string
}

/**
 * Removes every stored response of a URL (all variants, GET and HEAD, http and https) from
 * every tier and, through the cache's bus, from every instance's in-process tier. The URL's
 * path and query are taken as the client sends them (query parameter order does not matter).
 *
 * @param cache - the cache given to the middleware
 * @param url - absolute URL, e.g. `'https://example.com/products/1?lang=en'`
 * @example
 * ```ts
 * import { purgeUrl } from '@tiercache/http'
 * await purgeUrl(cache, 'https://shop.example/products/42')
 * ```
 */
export async function purgeUrl(cache: Cache, url: string | URL, options: PurgeOptions = {}): Promise<void> {
  const namespace = options.namespace ?? 'http'
  validateNamespace(namespace)
  await cache.namespace(namespace).deleteMany(purgeKeys(url))
}

/** Alias of {@link purgeUrl}. */
export const purge: typeof purgeUrl = purgeUrl

/**
 * The URLs a successful unsafe request invalidates (RFC 9111 §4.4): its target URI and the
 * same-host `Location` / `Content-Location` URLs of its response.
 */
export function invalidationTargets(req: RequestInfo, headers: OutgoingHttpHeaders): string[] {
  const host = req.host || 'localhost'
  const targets: string[] = [`${req.protocol}://${host}${req.url}`]
  let base: URL | undefined
  try {
    base = new URL(targets[0] as string)
  } catch {}
  for (const name of ['location', 'content-location']) {
    const v = first(headers[name] as string | string[] | undefined)
    if (v === undefined || base === undefined) continue
    try {
      const u = new URL(v, base)
      if (u.hostname === base.hostname) targets.push(u.href)
    } catch {}
  }
  return targets
}
