import * as diagnostics from 'node:diagnostics_channel'
import type { Duration } from './duration.js'
import { Engine } from './engine/engine.js'
import { InvalidKeyError, InvalidOptionError } from './errors.js'
import { isPortableText, validateKey, validateNamespace } from './keys.js'
import { escapePattern, parsePattern } from './pattern.js'
import type {
  Cache,
  CacheEventName,
  CacheListener,
  CacheOptions,
  CacheStats,
  GetOrSetOptions,
  Loader,
  PluginContext,
  SetManyItem,
  SetOptions,
  WarmOptions,
  WarmSummary,
  WrapOptions,
  WrappedFunction,
} from './types.js'
import { warm } from './warm.js'
import { wrapFunction } from './wrap.js'

/**
 * `node:diagnostics_channel` tracing channels, one per operation: `tiercache:get`,
 * `tiercache:set`, `tiercache:getOrSet`, `tiercache:delete`, `tiercache:deleteByPattern`,
 * `tiercache:invalidateTags`, `tiercache:clear`. The context object carries `key` (or `pattern`,
 * `tags`) and `namespace`. Costs nothing while nobody subscribes.
 */
export const channels: {
  readonly get: diagnostics.TracingChannel<object, object>
  readonly set: diagnostics.TracingChannel<object, object>
  readonly getOrSet: diagnostics.TracingChannel<object, object>
  readonly delete: diagnostics.TracingChannel<object, object>
  readonly deleteByPattern: diagnostics.TracingChannel<object, object>
  readonly invalidateTags: diagnostics.TracingChannel<object, object>
  readonly clear: diagnostics.TracingChannel<object, object>
} = {
  get: diagnostics.tracingChannel('tiercache:get'),
  set: diagnostics.tracingChannel('tiercache:set'),
  getOrSet: diagnostics.tracingChannel('tiercache:getOrSet'),
  delete: diagnostics.tracingChannel('tiercache:delete'),
  deleteByPattern: diagnostics.tracingChannel('tiercache:deleteByPattern'),
  invalidateTags: diagnostics.tracingChannel('tiercache:invalidateTags'),
  clear: diagnostics.tracingChannel('tiercache:clear'),
}

function setOptions(options: SetOptions | Duration | undefined): SetOptions | undefined {
  if (options === undefined) return undefined
  if (typeof options === 'number' || typeof options === 'string') return { ttl: options }
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options must be an object or a ttl', { option: 'options' })
  }
  return options
}

function fail(error: unknown): Promise<never> {
  return Promise.reject(error)
}

/**
 * A cache, or a namespaced view of one. Every view of a cache shares its tiers, counters,
 * events, in-flight loads and lifecycle.
 */
class TierCache implements Cache {
  readonly #e: Engine
  /** Child path with trailing `:` (`''` for the root view). */
  readonly #prefix: string
  readonly namespacePath: string

  constructor(engine: Engine, prefix: string) {
    this.#e = engine
    this.#prefix = prefix
    this.namespacePath = prefix === '' ? engine.root : `${engine.root}:${prefix.slice(0, -1)}`
  }

  /**
   * The key relative to the root, with the cheap checks only (a non-empty string within the byte
   * limit). Reads use it: a key that is not portable (a lone surrogate, NUL) can never be in L1,
   * since every write checks it, so an L1 hit needs no scan of the key; on an L1 miss the engine
   * checks it before any other tier is read (`Engine.lookup`).
   */
  #rel(key: string): string {
    // Inline fast check; validateKey gives the typed error.
    if (typeof key !== 'string' || key.length === 0 || key.length * 3 > this.#e.maxKeyBytes) {
      validateKey(key, this.#e.maxKeyBytes)
    }
    return this.#prefix === '' ? key : this.#prefix + key
  }

  /** {@link TierCache.#rel} plus the portability check: for writes, deletes and batches. */
  #relChecked(key: string): string {
    const rel = this.#rel(key)
    if (!isPortableText(key)) validateKey(key, this.#e.maxKeyBytes)
    return rel
  }

  get<T = unknown>(key: string): Promise<T | undefined> {
    let rel: string
    try {
      rel = this.#rel(key)
      if (this.#e.closed) this.#e.assertOpen()
    } catch (error) {
      return fail(error)
    }
    if (channels.get.hasSubscribers) {
      return channels.get.tracePromise(() => this.#e.get(rel), {
        key: rel,
        namespace: this.#e.root,
      }) as Promise<T | undefined>
    }
    return this.#e.get(rel) as Promise<T | undefined>
  }

  peek<T = unknown>(key: string): T | undefined {
    const value = this.#e.peek(this.#rel(key))
    // A miss may be a key no write could have stored: refuse it like every other method.
    if (value === undefined && !isPortableText(key)) validateKey(key, this.#e.maxKeyBytes)
    return value as T | undefined
  }

  set<T>(key: string, value: T, options?: SetOptions | Duration): Promise<void> {
    try {
      const rel = this.#relChecked(key)
      const o = this.#e.resolveSetOptions(setOptions(options))
      const e = this.#e
      const run = (): Promise<void> =>
        e.observing ? e.track('set', performance.now(), e.set(rel, value, o)) : e.set(rel, value, o)
      return channels.set.hasSubscribers
        ? channels.set.tracePromise(run, { key: rel, namespace: this.#e.root })
        : run()
    } catch (error) {
      return fail(error)
    }
  }

  getOrSet<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions | Duration): Promise<T> {
    let rel: string
    let opts: ReturnType<Engine['resolveLoadOptions']>
    try {
      rel = this.#rel(key)
      if (typeof loader !== 'function')
        throw new InvalidOptionError('getOrSet needs a loader function', { option: 'loader' })
      opts = this.#e.resolveLoadOptions(
        options === undefined ? undefined : (setOptions(options) as GetOrSetOptions),
      )
      if (this.#e.closed) this.#e.assertOpen()
    } catch (error) {
      return fail(error)
    }
    if (channels.getOrSet.hasSubscribers) {
      return channels.getOrSet.tracePromise(() => this.#getOrSet(rel, key, loader, opts), {
        key: rel,
        namespace: this.#e.root,
      })
    }
    return this.#getOrSet(rel, key, loader, opts)
  }

  #getOrSet<T>(
    rel: string,
    key: string,
    loader: Loader<T>,
    opts: ReturnType<Engine['resolveLoadOptions']>,
  ): Promise<T> {
    return this.#e.getOrSet(rel, key, loader, opts) as Promise<T>
  }

  getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]> {
    try {
      if (!Array.isArray(keys)) throw new InvalidKeyError('getMany needs an array of keys')
      const rels = keys.map((k) => this.#relChecked(k))
      this.#e.assertOpen()
      const e = this.#e
      const p = e.observing ? e.track('getMany', performance.now(), e.getMany(rels)) : e.getMany(rels)
      return p as Promise<(T | undefined)[]>
    } catch (error) {
      return fail(error)
    }
  }

  setMany(items: readonly SetManyItem[]): Promise<void> {
    try {
      if (!Array.isArray(items))
        throw new InvalidOptionError('setMany needs an array of { key, value }', { option: 'items' })
      const prepared = items.map((item) => {
        if (typeof item !== 'object' || item === null) {
          throw new InvalidOptionError('setMany items must be { key, value, ttl?, tags? }', {
            option: 'items',
          })
        }
        return { rel: this.#relChecked(item.key), item }
      })
      const e = this.#e
      return e.observing ? e.track('setMany', performance.now(), e.setMany(prepared)) : e.setMany(prepared)
    } catch (error) {
      return fail(error)
    }
  }

  deleteMany(keys: readonly string[]): Promise<number> {
    try {
      if (!Array.isArray(keys)) throw new InvalidKeyError('deleteMany needs an array of keys')
      const rels = keys.map((k) => this.#relChecked(k))
      const e = this.#e
      return e.observing ? e.track('deleteMany', performance.now(), e.deleteMany(rels)) : e.deleteMany(rels)
    } catch (error) {
      return fail(error)
    }
  }

  has(key: string): Promise<boolean> {
    try {
      const rel = this.#rel(key)
      const e = this.#e
      return e.observing ? e.track('has', performance.now(), e.has(rel)) : e.has(rel)
    } catch (error) {
      return fail(error)
    }
  }

  delete(key: string): Promise<boolean> {
    try {
      const rel = this.#relChecked(key)
      const e = this.#e
      const run = (): Promise<boolean> =>
        e.observing ? e.track('delete', performance.now(), e.delete(rel)) : e.delete(rel)
      return channels.delete.hasSubscribers
        ? channels.delete.tracePromise(run, { key: rel, namespace: this.#e.root })
        : run()
    } catch (error) {
      return fail(error)
    }
  }

  deleteByPattern(pattern: string): Promise<number> {
    try {
      parsePattern(pattern)
      const rel = this.#prefix === '' ? pattern : escapePattern(this.#prefix) + pattern
      const e = this.#e
      const run = (): Promise<number> =>
        e.observing
          ? e.track('deleteByPattern', performance.now(), e.deleteByPattern(rel))
          : e.deleteByPattern(rel)
      return channels.deleteByPattern.hasSubscribers
        ? channels.deleteByPattern.tracePromise(run, { pattern: rel, namespace: this.#e.root })
        : run()
    } catch (error) {
      return fail(error)
    }
  }

  invalidateTags(tags: readonly string[]): Promise<void> {
    try {
      if (!Array.isArray(tags)) {
        throw new InvalidOptionError('invalidateTags needs an array of tags', { option: 'tags' })
      }
      const e = this.#e
      const run = (): Promise<void> =>
        e.observing
          ? e.track('invalidateTags', performance.now(), e.invalidateTags(tags))
          : e.invalidateTags(tags)
      return channels.invalidateTags.hasSubscribers
        ? channels.invalidateTags.tracePromise(run, { tags, namespace: this.#e.root })
        : run()
    } catch (error) {
      return fail(error)
    }
  }

  clear(): Promise<void> {
    const prefix = this.#prefix === '' ? '' : this.#prefix.slice(0, -1)
    const e = this.#e
    const run = (): Promise<void> =>
      e.observing ? e.track('clear', performance.now(), e.clear(prefix)) : e.clear(prefix)
    return channels.clear.hasSubscribers
      ? channels.clear.tracePromise(run, { namespace: this.namespacePath })
      : run()
  }

  namespace(name: string): Cache {
    validateNamespace(name)
    return new TierCache(this.#e, `${this.#prefix}${name}:`)
  }

  getStats(): CacheStats {
    return this.#e.getStats()
  }

  refreshStats(): Promise<CacheStats> {
    return this.#e.refreshStats()
  }

  on<E extends CacheEventName>(event: E, listener: CacheListener<E>): this {
    this.#e.emitter.on(event, listener)
    return this
  }

  off<E extends CacheEventName>(event: E, listener: CacheListener<E>): this {
    this.#e.emitter.off(event, listener)
    return this
  }

  wrap<A extends unknown[], R>(
    name: string,
    fn: (...args: A) => R,
    options?: WrapOptions<A> | Duration,
  ): WrappedFunction<A, R> {
    return wrapFunction(this, name, fn, setOptions(options) as WrapOptions<A> | undefined)
  }

  warm<T>(
    source: readonly string[] | Iterable<string> | AsyncIterable<string | SetManyItem<T>>,
    options?: WarmOptions<T>,
  ): Promise<WarmSummary> {
    return warm(this, this.#e, source, options ?? {})
  }

  ready(): Promise<void> {
    return this.#e.warming?.ready ?? Promise.resolve()
  }

  flushLocal(): void {
    this.#e.flushLocal('manual')
  }

  close(): Promise<void> {
    return this.#e.close()
  }
}

/**
 * Creates a cache over an ordered list of tiers (fastest first).
 *
 * @param options - tiers, namespace, defaults (`ttl` 1 hour, `grace` 0), bus, lock, plugins
 * @throws InvalidOptionError (`E_INVALID_OPTION`) for bad options, InvalidDurationError for bad durations
 * @example
 * ```ts
 * import { createCache } from '@tiercache/core'
 * import { memoryStore } from '@tiercache/store-memory'
 *
 * const cache = createCache({ namespace: 'app', tiers: [memoryStore()], ttl: '10m' })
 * await cache.set('user:1', { name: 'Ada' })
 * const user = await cache.getOrSet('user:2', () => db.loadUser(2), { ttl: '1h', tags: ['users'] })
 * ```
 */
export function createCache(options: CacheOptions): Cache {
  const engine = new Engine(options)
  const cache = new TierCache(engine, '')
  const disposers: (() => void | Promise<void>)[] = []
  const context: PluginContext = {
    tiers: engine.tiers.all.map((t) => ({ level: t.level, store: t.store })),
    bus: options.bus,
    namespace: engine.root,
    observe: (observer) => engine.addObserver(observer),
    l1SampleEvery: engine.observers.sampleEvery,
  }
  try {
    for (const plugin of options.plugins ?? []) {
      if (typeof plugin?.install !== 'function') {
        throw new InvalidOptionError('each plugin needs an install(cache) function', { option: 'plugins' })
      }
      const dispose = plugin.install(cache, context)
      if (typeof dispose === 'function') disposers.push(dispose)
    }
  } catch (error) {
    // Undo what the plugins installed so far set up (subscriptions, timers), then the engine.
    for (const d of disposers) {
      try {
        void Promise.resolve(d()).catch(() => {})
      } catch {}
    }
    void engine.close().catch(() => {})
    throw error
  }
  if (disposers.length > 0) {
    const close = cache.close.bind(cache)
    Object.defineProperty(cache, 'close', {
      value: async (): Promise<void> => {
        for (const d of disposers) await d()
        await close()
      },
    })
  }
  return cache
}
