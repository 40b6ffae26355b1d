import { StoreError } from '../errors.js'
import type {
  MaybePromise,
  SetCondition,
  Store,
  StoreCapabilities,
  StoreEntry,
  StoreScope,
  StoreSetItem,
  StoreStats,
} from '../store.js'

/** What a {@link ChaosStore} does to each call. */
export type ChaosMode = 'pass' | 'fail' | 'hang' | 'delay'

/**
 * A store wrapper for tests that fails, delays or hangs on demand. Every call is counted.
 *
 * @example
 * ```ts
 * const l2 = chaosStore(someStore)
 * l2.fail()        // every call rejects with StoreError
 * l2.hang()        // every call never settles (until heal())
 * l2.delay(200)    // every call waits 200 ms first
 * l2.heal()
 * ```
 */
export class ChaosStore<V = unknown> implements Store<V> {
  readonly #inner: Store<V>
  #mode: ChaosMode = 'pass'
  #delayMs = 0
  #only: ReadonlySet<string> | undefined
  #hung: (() => void)[] = []
  /** Calls per operation name. */
  readonly calls: Record<string, number> = {}

  /** @param inner - the store to wrap */
  constructor(inner: Store<V>) {
    this.#inner = inner
  }

  /** Name of the wrapped store. */
  get name(): string {
    return this.#inner.name
  }
  /** Kind of the wrapped store. */
  get kind(): Store['kind'] {
    return this.#inner.kind
  }
  /** Scope of the wrapped store (the engine's default when it declares none). */
  get scope(): StoreScope {
    return this.#inner.scope ?? (this.#inner.kind === 'memory' ? 'local' : 'shared')
  }
  /** Capabilities of the wrapped store. */
  get capabilities(): StoreCapabilities {
    return this.#inner.capabilities
  }
  /** maxTtl of the wrapped store. */
  get maxTtl(): number | undefined {
    return this.#inner.maxTtl
  }
  /** maxEntryBytes of the wrapped store. */
  get maxEntryBytes(): number | undefined {
    return this.#inner.maxEntryBytes
  }

  /** Every call (or only the named operations) rejects with a `StoreError`. */
  fail(operations?: readonly string[]): this {
    return this.#set('fail', operations)
  }
  /** Every call (or only the named operations) never settles until {@link ChaosStore.heal}. */
  hang(operations?: readonly string[]): this {
    return this.#set('hang', operations)
  }
  /** Every call (or only the named operations) waits `ms` milliseconds first. */
  delay(ms: number, operations?: readonly string[]): this {
    this.#delayMs = ms
    return this.#set('delay', operations)
  }
  /** Back to normal; hung calls are released and proceed. */
  heal(): this {
    this.#mode = 'pass'
    this.#only = undefined
    const hung = this.#hung
    this.#hung = []
    for (const release of hung) release()
    return this
  }
  /** The current mode. */
  get mode(): ChaosMode {
    return this.#mode
  }

  #set(mode: ChaosMode, operations: readonly string[] | undefined): this {
    this.#mode = mode
    this.#only = operations ? new Set(operations) : undefined
    return this
  }

  #call<T>(op: string, run: () => MaybePromise<T>): MaybePromise<T> {
    this.calls[op] = (this.calls[op] ?? 0) + 1
    const mode = this.#only && !this.#only.has(op) ? 'pass' : this.#mode
    switch (mode) {
      case 'pass':
        return run()
      case 'fail':
        return Promise.reject(new StoreError(`chaos: ${op} failed`, { store: this.name, operation: op }))
      case 'hang':
        return new Promise<void>((resolve) => this.#hung.push(resolve)).then(run)
      case 'delay':
        return new Promise<void>((resolve) => setTimeout(resolve, this.#delayMs)).then(run)
    }
  }

  /** Wrapped `get`. */
  get(key: string): MaybePromise<StoreEntry<V> | undefined> {
    return this.#call('get', () => this.#inner.get(key))
  }
  /** Wrapped `set`. */
  set(key: string, entry: StoreEntry<V>): MaybePromise<void> {
    return this.#call('set', () => this.#inner.set(key, entry))
  }
  /** Wrapped `delete`. */
  delete(key: string): MaybePromise<boolean> {
    return this.#call('delete', () => this.#inner.delete(key))
  }
  /** Wrapped `clear`. */
  clear(namespace: string): MaybePromise<void> {
    return this.#call('clear', () => this.#inner.clear(namespace))
  }
  /** Wrapped `getMany` (a single-get loop when the inner store lacks it). */
  getMany(keys: readonly string[]): MaybePromise<(StoreEntry<V> | undefined)[]> {
    return this.#call('getMany', () =>
      this.#inner.getMany ? this.#inner.getMany(keys) : Promise.all(keys.map((k) => this.#inner.get(k))),
    )
  }
  /** Wrapped `setMany`. */
  setMany(items: readonly StoreSetItem<V>[]): MaybePromise<void> {
    return this.#call('setMany', async () => {
      if (this.#inner.setMany) await this.#inner.setMany(items)
      else for (const [k, e] of items) await this.#inner.set(k, e)
    })
  }
  /** Wrapped `deleteMany`. */
  deleteMany(keys: readonly string[]): MaybePromise<number> {
    return this.#call('deleteMany', async () => {
      if (this.#inner.deleteMany) return this.#inner.deleteMany(keys)
      let n = 0
      for (const k of keys) if (await this.#inner.delete(k)) n++
      return n
    })
  }
  /** Wrapped `deleteByPattern`. */
  deleteByPattern(pattern: string): MaybePromise<number> {
    return this.#call('deleteByPattern', () => {
      if (!this.#inner.deleteByPattern)
        throw new StoreError('inner store cannot delete by pattern', { store: this.name })
      return this.#inner.deleteByPattern(pattern)
    })
  }
  /** Wrapped `has`. */
  has(key: string): MaybePromise<boolean> {
    return this.#call('has', async () =>
      this.#inner.has ? this.#inner.has(key) : (await this.#inner.get(key)) !== undefined,
    )
  }
  /** Wrapped `lease` (`false` when the inner store has none). */
  lease(key: string, token: string, ttl: number): MaybePromise<boolean> {
    return this.#call('lease', () => this.#inner.lease?.(key, token, ttl) ?? false)
  }
  /** Wrapped `conditionalSet` (`false` when the inner store has none). */
  conditionalSet(key: string, entry: StoreEntry<V>, condition: SetCondition): MaybePromise<boolean> {
    return this.#call('conditionalSet', () => this.#inner.conditionalSet?.(key, entry, condition) ?? false)
  }
  /** Wrapped `stats`. */
  stats(): MaybePromise<StoreStats> {
    return this.#call('stats', () => (this.#inner.stats ? this.#inner.stats() : {}))
  }
  /** Closes the wrapped store (never fails or hangs). */
  close(): MaybePromise<void> {
    this.heal()
    return this.#inner.close?.()
  }
}

/**
 * Wraps a store so tests can make it fail, delay or hang on demand.
 *
 * @param store - the store to wrap
 */
export function chaosStore<V>(store: Store<V>): ChaosStore<V> {
  return new ChaosStore(store)
}
