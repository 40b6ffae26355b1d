import { HEURISTIC_STATUSES, type HttpCacheOptions } from '@tiercache/http'

/** The option sets the suite runs against. */
export const PROFILES: Readonly<Record<'defaults' | 'rfc', HttpCacheOptions>> = {
  /** Package defaults: no `ttl`, so only the origin's headers decide. */
  defaults: {},
  /**
   * The "RFC profile" documented in @tiercache/http's README: what RFC 9111 lets a shared cache
   * do, without the in-app safety defaults.
   */
  rfc: {
    allowAuthorization: true,
    allowCookies: true,
    honorRequestNoCache: true,
    statuses: HEURISTIC_STATUSES,
  },
}

export type ProfileName = keyof typeof PROFILES
