import { createHash } from 'node:crypto'
import type { Duration } from './duration.js'
import { InvalidOptionError, isTierCacheError, TierCacheError } from './errors.js'
import type { Cache, GetOrSetOptions, WrapOptions, WrappedFunction } from './types.js'

const DEFAULT_CACHE: unique symbol = Symbol.for('tiercache.defaultCache') as never
type Global = typeof globalThis & { [DEFAULT_CACHE]?: Cache | undefined }

/**
 * Sets the process-wide default cache used by `@cached` and {@link getCache} (one global
 * instance per process). Shared across copies of the package.
 *
 * @param cache - the cache, or `undefined` to unset
 */
export function setDefaultCache(cache: Cache | undefined): void {
  ;(globalThis as Global)[DEFAULT_CACHE] = cache
}

/**
 * Returns the default cache set by {@link setDefaultCache}. With `init`, a process without a
 * default cache creates one on first use (a self-initialising global cache; the
 * `tiercache` package's `getCache()` passes its own `createDistributedCache`).
 *
 * @param init - creates the default cache when none is set; its result becomes the default
 * @throws TierCacheError (`E_NO_CACHE`) when none was set and no `init` was given
 */
export function getCache(init?: () => Cache): Cache {
  const g = globalThis as Global
  const cache = g[DEFAULT_CACHE]
  if (cache !== undefined) return cache
  if (init !== undefined) {
    const created = init()
    g[DEFAULT_CACHE] = created
    return created
  }
  throw new TierCacheError(
    'no default cache: call setDefaultCache(createCache(...)) at start-up (the tiercache package creates one on first use)',
    'E_NO_CACHE',
  )
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
 * The default key suffix for a list of arguments. One string, number, boolean or bigint argument
 * is its own text (`'123'` and `123` both give `123`), so `user_profile:${id}` written by hand
 * names the same entry; anything else is a stable rendering (object keys sorted, strings
 * quoted: `[1,"a"]`). Longer than 200 characters, it is replaced by `#` and its SHA-256.
 *
 * @param args - the arguments
 */
export function argsKey(args: readonly unknown[]): string {
  let text: string
  const only = args.length === 1 ? args[0] : undefined
  const t = typeof only
  if (args.length === 1 && (t === 'string' || t === 'number' || t === 'boolean' || t === 'bigint')) {
    text = Object.is(only, -0) ? '0' : String(only)
  } else {
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
  }
  return text.length <= 200 ? text : `#${createHash('sha256').update(text).digest('base64url')}`
}

/**
 * Memoizes `fn` under `name:<args>` in the cache `cache()` returns at call time; the shared
 * body of `cache.wrap`, `cached(name)(fn)` and `@cached`.
 */
function memoize<A extends unknown[], R>(
  cache: () => Cache,
  name: string,
  fn: (this: unknown, ...args: A) => R,
  options: CachedOptions<A>,
  self?: () => unknown,
): WrappedFunction<A, R> {
  const { cache: _fixed, key: keyFn, ...getOrSetOptions } = options
  const keyFor = (...args: A): string => `${name}:${keyFn ? keyFn(...args) : argsKey(args)}`
  const wrapped = function (this: unknown, ...args: A): Promise<Awaited<R>> {
    const that = self === undefined ? this : self()
    let key: string
    try {
      key = keyFor(...args)
    } catch (error) {
      // Like every other method, a refusal rejects the promise instead of throwing.
      return Promise.reject(error)
    }
    return cache().getOrSet(key, () => fn.apply(that, args) as Awaited<R>, getOrSetOptions as GetOrSetOptions)
  } as WrappedFunction<A, R>
  wrapped.invalidate = async (...args: A): Promise<void> => {
    await cache().delete(keyFor(...args))
  }
  wrapped.key = keyFor
  wrapped.keyFor = keyFor
  return wrapped
}

function wrapOptions<A extends unknown[]>(
  options: CachedOptions<A> | Duration | undefined,
  what: string,
): CachedOptions<A> {
  if (options === undefined) return {}
  if (typeof options === 'number' || typeof options === 'string') return { ttl: options }
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError(`${what} options must be an object or a ttl`, { option: 'options' })
  }
  if (options.key !== undefined && typeof options.key !== 'function') {
    throw new InvalidOptionError(`${what} key must be a function of the arguments`, { option: 'key' })
  }
  return options
}

/** Implementation of `cache.wrap`. */
export function wrapFunction<A extends unknown[], R>(
  cache: Cache,
  name: string,
  fn: (...args: A) => R,
  options: WrapOptions<A> | Duration | undefined,
): WrappedFunction<A, R> {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidOptionError('wrap needs a non-empty name', { option: 'name' })
  }
  if (typeof fn !== 'function') throw new InvalidOptionError('wrap needs a function', { option: 'fn' })
  return memoize(
    () => cache,
    name,
    fn,
    wrapOptions(options, 'wrap'),
    () => undefined,
  )
}

/** Options for {@link cached}: getOrSet options, a key builder, and the cache to use. */
export interface CachedOptions<A extends unknown[] = unknown[]> extends WrapOptions<A> {
  /**
   * The cache, or a function returning it (called at every call).
   * @default the default cache from {@link setDefaultCache}, looked up at call time
   */
  readonly cache?: Cache | (() => Cache)
}

/**
 * What {@link cached} returns: a TC39 method decorator that also wraps a plain function
 * (`cached('user_profile', '1h')(loadProfile)`). Either way the result has `key(...args)` and
 * `invalidate(...args)`.
 */
export interface CachedDecorator {
  /** Wraps a plain function (TypeScript decorators apply to class members only). */
  <A extends unknown[], R>(fn: (...args: A) => R): WrappedFunction<A, R>
  /** Decorates a class method. */
  <A extends unknown[], R>(
    method: (this: any, ...args: A) => R,
    context: ClassMethodDecoratorContext,
  ): WrappedFunction<A, R>
}

/**
 * Memoizes a method (as a TC39 decorator) or a function under `name:<args>` (a
 * cache decorator). One primitive argument gives `name:<arg>` (`user_profile:123`), so the
 * entry can also be deleted by hand; see {@link argsKey}. The instance (`this`) is not part of
 * the key; pass `key` to include it. The decorated method (and the wrapped function) has
 * `key(...args)` and `invalidate(...args)`.
 *
 * @param name - key prefix
 * @param options - a TTL (in the cache's `timeUnit`, milliseconds by default), or getOrSet
 *   options plus `key` and `cache`
 * @example
 * ```ts
 * class Profiles {
 *   @cached('user_profile', '1h')
 *   async load(id: string) { return db.profile(id) }
 * }
 * const loadPlan = cached('plan', '5m')(async (id: string) => db.plan(id))
 * await loadPlan.invalidate('42') // deletes plan:42
 * ```
 */
export function cached<A extends unknown[] = any[]>(
  name: string,
  options?: CachedOptions<A> | Duration,
): CachedDecorator {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidOptionError('@cached needs a non-empty name', { option: 'name' })
  }
  const o = wrapOptions(options, '@cached')
  const fixed = o.cache
  if (fixed !== undefined && typeof fixed !== 'function' && typeof fixed?.getOrSet !== 'function') {
    throw new InvalidOptionError('@cached cache must be a Cache or a function returning one', {
      option: 'cache',
    })
  }
  const cache: () => Cache =
    fixed === undefined ? () => getCache() : typeof fixed === 'function' ? fixed : () => fixed
  return (<R>(fn: (this: unknown, ...args: A) => R, context?: ClassMethodDecoratorContext) => {
    if (typeof fn !== 'function') {
      throw new InvalidOptionError('@cached wraps a function or decorates a method', { option: 'fn' })
    }
    if (context !== undefined && context.kind !== 'method')
      throw new InvalidOptionError('@cached decorates methods only', { option: 'name' })
    return memoize(cache, name, fn, o)
  }) as CachedDecorator
}
