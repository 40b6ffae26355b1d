import {
  type Cache,
  type CachedDecorator,
  type CachedOptions,
  cached as coreCached,
  getCache as coreGetCache,
  type Duration,
} from '@tiercache/core'
import { createDistributedCache } from './distributed-cache.js'

/**
 * The process-wide cache (`get_cache()` elsewhere): the one given to `setDefaultCache`, or, the
 * first time it is asked for without one, a new `createDistributedCache()` configured from the
 * environment (`REDIS_URL`, `TIERCACHE_*`; embedded memory + SQLite when no Redis is set, which
 * it says in one log line). Every later call returns the same cache.
 *
 * @returns the default cache
 * @throws what `createDistributedCache()` throws when the environment holds a wrong value
 * @example
 * ```ts
 * const cache = getCache()
 * await cache.set('user:123', { name: 'João' }, 3600) // seconds
 * ```
 */
export function getCache(): Cache {
  return coreGetCache(createDistributedCache)
}

/**
 * `cache_decorator(prefix, ttl)` in TypeScript: memoizes a method (TC39 decorator) or a function
 * (`cached('user_profile', 3600)(getUserProfile)`) under `prefix:<arg>` in {@link getCache}'s
 * cache (created on first use). One primitive argument gives `user_profile:123`, so a manual
 * `cache.delete('user_profile:123')` reaches it; the result also has `key(...args)` and
 * `invalidate(...args)`. A bare number `ttl` is in the cache's time unit: seconds for a
 * `tiercache` cache.
 *
 * @param name - key prefix
 * @param options - a TTL, or getOrSet options plus `key` and `cache`
 * @example
 * ```ts
 * class UserService {
 *   @cacheDecorator('user_profile', 3600)
 *   async getUserProfile(userId: string) { return repository.getUser(userId) }
 * }
 * ```
 */
export function cached<A extends unknown[] = any[]>(
  name: string,
  options?: CachedOptions<A> | Duration,
): CachedDecorator {
  if (typeof options === 'number' || typeof options === 'string') {
    return coreCached<A>(name, { ttl: options, cache: getCache })
  }
  if (options === undefined) return coreCached<A>(name, { cache: getCache })
  if (typeof options === 'object' && options !== null && options.cache === undefined) {
    return coreCached<A>(name, { ...options, cache: getCache })
  }
  return coreCached<A>(name, options)
}

/** {@link cached} under its long name: `@cacheDecorator('user_profile', 3600)`. */
export const cacheDecorator: typeof cached = cached
