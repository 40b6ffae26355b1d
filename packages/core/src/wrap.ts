import { createHash } from 'node:crypto'
import type { Duration } from './duration.js'
import { InvalidOptionError, isTierCacheError, TierCacheError } from './errors.js'
import type { Cache, GetOrSetOptions, WrapOptions, WrappedFunction } from './types.js'

const DEFAULT_CACHE: unique symbol = Symbol.for('tiercache.defaultCache') as never
type Global = typeof globalThis & { [DEFAULT_CACHE]?: Cache | undefined }

/**
 * Sets the process-wide default cache used by `@cached` and {@link getCache} (the seed's global
 * instance). Shared across copies of the package.
 *
 * @param cache - the cache, or `undefined` to unset
 */
export function setDefaultCache(cache: Cache | undefined): void {
  ;(globalThis as Global)[DEFAULT_CACHE] = cache
}

/**
 * Returns the default cache set by {@link setDefaultCache}.
 *
 * @throws TierCacheError (`E_NO_CACHE`) when none was set
 */
export function getCache(): Cache {
  const cache = (globalThis as Global)[DEFAULT_CACHE]
  if (cache === undefined) {
    throw new TierCacheError(
      'no default cache: call setDefaultCache(createCache(...)) at start-up',
      'E_NO_CACHE',
    )
  }
  return cache
}

function stable(value: unknown, depth: number): string {
  if (depth > 20)
    throw new InvalidOptionError('wrapped function arguments are too deeply nested', { option: 'key' })
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value)
    case 'boolean':
      return String(value)
    case 'bigint':
      return `${value}n`
    case 'undefined':
      return 'undefined'
    case 'object': {
      if (value === null) return 'null'
      if (value instanceof Date) return `Date(${value.getTime()})`
      if (Array.isArray(value)) return `[${value.map((v) => stable(v, depth + 1)).join(',')}]`
      if (value instanceof Map) {
        const parts = [...value].map(([k, v]) => `${stable(k, depth + 1)}=>${stable(v, depth + 1)}`).sort()
        return `Map{${parts.join(',')}}`
      }
      if (value instanceof Set)
        return `Set{${[...value]
          .map((v) => stable(v, depth + 1))
          .sort()
          .join(',')}}`
      const keys = Object.keys(value).sort()
      return `{${keys.map((k) => `${JSON.stringify(k)}:${stable((value as Record<string, unknown>)[k], depth + 1)}`).join(',')}}`
    }
    default:
      throw new InvalidOptionError(
        `cannot build a cache key from a ${typeof value} argument; pass options.key`,
        {
          option: 'key',
        },
      )
  }
}

/**
 * The default key for a list of arguments: a stable rendering (object keys sorted), or its
 * SHA-256 when longer than 200 characters.
 *
 * @param args - the arguments
 */
export function argsKey(args: readonly unknown[]): string {
  let text: string
  try {
    text = stable(args, 0)
  } catch (cause) {
    if (isTierCacheError(cause)) throw cause
    // A getter or a Proxy trap of an argument threw.
    throw new InvalidOptionError('cannot build a cache key from the arguments; pass options.key', {
      option: 'key',
      cause,
    })
  }
  return text.length <= 200 ? text : `#${createHash('sha256').update(text).digest('base64url')}`
}

/** Implementation of `cache.wrap`. */
export function wrapFunction<A extends unknown[], R>(
  cache: Cache,
  name: string,
  fn: (...args: A) => R,
  options: WrapOptions<A> | undefined,
): WrappedFunction<A, R> {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidOptionError('wrap needs a non-empty name', { option: 'name' })
  }
  if (typeof fn !== 'function') throw new InvalidOptionError('wrap needs a function', { option: 'fn' })
  const keyFn = options?.key
  const keyFor = (...args: A): string => `${name}:${keyFn ? keyFn(...args) : argsKey(args)}`
  const wrapped = ((...args: A) => {
    let key: string
    try {
      key = keyFor(...args)
    } catch (error) {
      // Like every other method, a refusal rejects the promise instead of throwing.
      return Promise.reject(error)
    }
    return cache.getOrSet(key, () => fn(...args) as Awaited<R>, options)
  }) as WrappedFunction<A, R>
  wrapped.invalidate = async (...args: A): Promise<void> => {
    await cache.delete(keyFor(...args))
  }
  wrapped.keyFor = keyFor
  return wrapped
}

/** Options for {@link cached}: getOrSet options, a key builder, and the cache to use. */
export interface CachedOptions<A extends unknown[] = unknown[]> extends WrapOptions<A> {
  /** The cache. @default the default cache from {@link setDefaultCache}, looked up at call time */
  readonly cache?: Cache
}

/**
 * A TC39 method decorator that memoizes an async method under `name:<args>` (the seed's
 * `cache_decorator`). The instance (`this`) is not part of the key; pass `key` to include it.
 *
 * @param name - key prefix
 * @param options - a TTL, or getOrSet options plus `key` and `cache`
 * @example
 * ```ts
 * class Profiles {
 *   @cached('user_profile', '1h')
 *   async load(id: string) { return db.profile(id) }
 * }
 * ```
 */
export function cached<A extends unknown[], R>(
  name: string,
  options?: CachedOptions<A> | Duration,
): (
  method: (this: unknown, ...args: A) => R,
  context: ClassMethodDecoratorContext,
) => (this: unknown, ...args: A) => Promise<Awaited<R>> {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidOptionError('@cached needs a non-empty name', { option: 'name' })
  }
  const o: CachedOptions<A> =
    typeof options === 'number' || typeof options === 'string' ? { ttl: options } : (options ?? {})
  const { cache: fixed, key: keyFn, ...getOrSetOptions } = o
  return (method, context) => {
    if (context.kind !== 'method')
      throw new InvalidOptionError('@cached decorates methods only', { option: 'name' })
    return function (this: unknown, ...args: A): Promise<Awaited<R>> {
      const cache = fixed ?? getCache()
      const key = `${name}:${keyFn ? keyFn(...args) : argsKey(args)}`
      return cache.getOrSet(
        key,
        () => method.apply(this, args) as Awaited<R>,
        getOrSetOptions as GetOrSetOptions,
      )
    }
  }
}
