import type { HttpCacheOptions } from '@tiercache/http'

/** The option sets the suite runs against. */
export const PROFILES: Readonly<Record<'defaults' | 'rfc', HttpCacheOptions>> = {
  /** Package defaults: no `ttl`, so only the origin's headers decide. */
  defaults: {},
  /** The "RFC profile" documented in @tiercache/http's README. */
  rfc: {},
}

export type ProfileName = keyof typeof PROFILES
