import {
  InvalidOptionError,
  type MaybePromise,
  type SetCondition,
  type Store,
  type StoreCapabilities,
  type StoreEntry,
  type StoreKind,
  type StoreScope,
  type StoreSetItem,
  type StoreStats,
} from '@tiercache/core/store'
import { Breaker } from './breaker.js'
import { type Circuit, NORMAL, OPEN, STATE_NAMES } from './circuit.js'
import { type BreakerCounters, BreakerEmitter, type BreakerEvents, type BreakerState } from './events.js'
import { type CallGuard, isThenable } from './guarded-call.js'
import { clearIntent, patternIntent } from './journal.js'
import { type BreakerOptions, resolveOptions } from './options.js'

function checkStore(store: unknown): void {
  const s = store as Partial<Store> | null
  if (
    s === null ||
    typeof s !== 'object' ||
    typeof s.get !== 'function' ||
    typeof s.set !== 'function' ||
    typeof s.delete !== 'function' ||
    typeof s.clear !== 'function' ||
    typeof s.name !== 'string'
  ) {
    throw new InvalidOptionError('withBreaker: the first argument must be a Store', { option: 'store' })
  }
}

/**
 * A {@link Store} guarded by a circuit breaker, made by {@link withBreaker}. It is the wrapped
 * store as far as the engine is concerned (same `name`, `kind`, `capabilities`, `maxTtl`,
 * `maxEntryBytes`), plus the breaker's `state`, events and counters for metrics.
 *
 * It is the facade of the breaker: the state machine (`src/circuit.ts`) decides, one guard
 * (`src/guarded-call.ts`) runs every call to the store, callers' and replays', and the replayer
 * (`src/replayer.ts`) keeps the journal; `src/breaker.ts` wires them and routes each call.
 *
 * @typeParam V - the entry value type of the wrapped store
 */
export class BreakerStore<V = unknown> implements Store<V> {
  readonly #inner: Store<V>
  readonly #events: BreakerEmitter = new BreakerEmitter()
  readonly #breaker: Breaker<V>
  /** The breaker's parts, kept at hand for the fast path. */
  readonly #circuit: Circuit
  readonly #guard: CallGuard
  #lastStats: StoreStats = {}
  /**
   * The wrapped store's `onStatusChange`, forwarded; present only when the wrapped store has
   * one (the engine then trusts it for the tier's `connected` flag).
   */
  declare readonly onStatusChange?: (listener: (connected: boolean) => void) => () => void

  /**
   * @param store - the store to guard
   * @param options - thresholds, timeouts, clock and journal bounds; see {@link BreakerOptions}
   */
  constructor(store: Store<V>, options: BreakerOptions = {}) {
    checkStore(store)
    this.#inner = store
    this.#breaker = new Breaker(store, resolveOptions(options), this.#events)
    this.#circuit = this.#breaker.circuit
    this.#guard = this.#breaker.guard
    if (typeof store.onStatusChange === 'function') {
      this.onStatusChange = (listener) =>
        (store.onStatusChange as NonNullable<Store['onStatusChange']>)(listener)
    }
  }

  // ---------------------------------------------------------------- identity of the wrapped store

  /** Name of the wrapped store (the engine's tier level is `l<n>_<name>`). */
  get name(): string {
    return this.#inner.name
  }
  /** Kind of the wrapped store. */
  get kind(): StoreKind {
    return this.#inner.kind
  }
  /** Scope of the wrapped store (when it declares none: `local` for memory stores, else `shared`). */
  get scope(): StoreScope {
    return this.#inner.scope ?? (this.#inner.kind === 'memory' ? 'local' : 'shared')
  }
  /** Capabilities of the wrapped store, unchanged. */
  get capabilities(): StoreCapabilities {
    return this.#inner.capabilities
  }
  /** `maxTtl` of the wrapped store, in milliseconds. */
  get maxTtl(): number | undefined {
    return this.#inner.maxTtl
  }
  /** `maxEntryBytes` of the wrapped store. */
  get maxEntryBytes(): number | undefined {
    return this.#inner.maxEntryBytes
  }
  /** The wrapped store. Calls made on it directly bypass the breaker and the journal. */
  get inner(): Store<V> {
    return this.#inner
  }

  // ---------------------------------------------------------------- observability

  /**
   * The current state: `closed`, `open` or `half-open`. Changes are announced by the
   * `state:change` event; metrics read this getter (for example a gauge 0/1/2).
   */
  get state(): BreakerState {
    return STATE_NAMES[this.#circuit.state] as BreakerState
  }

  /** A snapshot of the counters since creation. See {@link BreakerCounters}. */
  get counters(): BreakerCounters {
    const circuit = this.#circuit
    return {
      opened: circuit.opened,
      closed: circuit.closed,
      rejections: this.#breaker.rejections,
      timeouts: this.#guard.timeouts,
      failures: circuit.failures,
      successes: circuit.successes,
      replayed: this.#breaker.replayer?.applied ?? 0,
      journalOverflows: this.#breaker.replayer?.journal.overflows ?? 0,
    }
  }

  /** Intents waiting in the journal (0 when the store is in sync or the journal is off). */
  get journalSize(): number {
    return this.#breaker.replayer?.journal.size ?? 0
  }

  /**
   * Subscribes to `state:change` or `replay` (`stateChange`, deprecated, is the same event as
   * `state:change`). Listeners run synchronously in the call that caused the event; exceptions
   * they throw are caught and ignored.
   *
   * @param event - the event name
   * @param listener - the callback
   * @returns this breaker, for chaining
   * @throws InvalidOptionError (`E_INVALID_OPTION`) for an unknown event name
   * @example
   * ```ts
   * l2.on('state:change', ({ from, to, reason }) => log.warn(`redis breaker ${from} -> ${to} (${reason})`))
   * ```
   */
  on<E extends keyof BreakerEvents>(event: E, listener: BreakerEvents[E]): this {
    this.#events.listeners(event).add(listener)
    return this
  }

  /**
   * Removes a listener added with {@link BreakerStore.on}.
   *
   * @param event - the event name
   * @param listener - the callback to remove
   * @returns this breaker, for chaining
   */
  off<E extends keyof BreakerEvents>(event: E, listener: BreakerEvents[E]): this {
    this.#events.listeners(event).delete(listener)
    return this
  }
  // ---------------------------------------------------------------- reads

  /** Reads through the breaker. Fails fast with `CircuitOpenError` while open. */
  get(key: string): MaybePromise<StoreEntry<V> | undefined> {
    if (this.#breaker.fast) {
      let result: MaybePromise<StoreEntry<V> | undefined>
      try {
        result = this.#inner.get(key)
      } catch (error) {
        this.#guard.failed(error, this.#circuit.epoch, NORMAL, undefined)
        throw error
      }
      if (isThenable(result))
        return this.#guard.pending(result, 'get', this.#circuit.epoch, NORMAL, undefined)
      this.#circuit.succeeded()
      return result
    }
    return this.#breaker.read(
      'get',
      [key],
      (found) => found[0] ?? undefined,
      () => this.#inner.get(key),
    )
  }

  /** Reads many keys through the breaker; one slot per key. */
  getMany(keys: readonly string[]): MaybePromise<(StoreEntry<V> | undefined)[]> {
    const inner = this.#inner
    const run = (subset: readonly string[]): MaybePromise<(StoreEntry<V> | undefined)[]> =>
      inner.getMany ? inner.getMany(subset) : Promise.all(subset.map((k) => inner.get(k)))
    if (this.#breaker.fast)
      return this.#guard.call('getMany', () => run(keys), this.#circuit.epoch, NORMAL, undefined)
    // Closed with a journal to drain: journaled keys are answered from it, the rest from the store.
    return this.#breaker.readMany(keys, run)
  }

  /**
   * Takes a lease through the breaker (see `Store.lease`). Refused while open, and answered
   * `false` without I/O while the journal still holds an intent for the key.
   */
  lease(key: string, token: string, ttl: number): MaybePromise<boolean> {
    const inner = this.#inner
    if (!inner.lease) return false
    return this.#breaker.read(
      'lease',
      [key],
      () => false,
      () => (inner.lease as NonNullable<Store<V>['lease']>)(key, token, ttl),
    )
  }

  /**
   * A conditional write through the breaker (see `Store.conditionalSet`). Never journaled: refused
   * while open, and answered `false` without I/O while the journal still holds an intent for the
   * key.
   */
  conditionalSet(key: string, entry: StoreEntry<V>, condition: SetCondition): MaybePromise<boolean> {
    const inner = this.#inner
    if (!inner.conditionalSet) return false
    return this.#breaker.read(
      'conditionalSet',
      [key],
      () => false,
      () => (inner.conditionalSet as NonNullable<Store<V>['conditionalSet']>)(key, entry, condition),
    )
  }

  /** Checks presence through the breaker. */
  has(key: string): MaybePromise<boolean> {
    const inner = this.#inner
    const run = (): MaybePromise<boolean> => {
      if (inner.has) return inner.has(key)
      const r = inner.get(key)
      return isThenable(r) ? r.then((e) => e !== undefined) : r !== undefined
    }
    if (this.#breaker.fast) return this.#guard.call('has', run, this.#circuit.epoch, NORMAL, undefined)
    return this.#breaker.read('has', [key], (found) => found[0] != null, run)
  }

  /**
   * Reports the wrapped store's stats. Not counted by the breaker. While open it does no I/O
   * and returns the last stats seen with `connected: false`.
   */
  stats(): MaybePromise<StoreStats> {
    const inner = this.#inner
    if (this.#circuit.state === OPEN) return { ...this.#lastStats, connected: false }
    if (!inner.stats) return {}
    const keep = (s: StoreStats): StoreStats => {
      this.#lastStats = s
      return s
    }
    const result = inner.stats()
    if (!isThenable(result)) return keep(result)
    return this.#guard.bounded(result, 'stats').then(keep)
  }

  // ---------------------------------------------------------------- writes

  /**
   * Writes through the breaker. While open it fails fast and journals the write, so the store
   * gets it (or a delete of the key, for large entries) once it answers again.
   */
  set(key: string, entry: StoreEntry<V>): MaybePromise<void> {
    return this.#breaker.write(
      'set',
      [key],
      (seq) => this.#breaker.replayer?.journal.recordSet(seq, key, entry),
      () => this.#inner.set(key, entry),
      undefined,
    )
  }

  /** Writes many entries through the breaker; journaled like {@link BreakerStore.set}. */
  setMany(items: readonly StoreSetItem<V>[]): MaybePromise<void> {
    const inner = this.#inner
    return this.#breaker.write(
      'setMany',
      items.map((item) => item[0]),
      (seq) => {
        for (const [key, entry] of items) this.#breaker.replayer?.journal.recordSet(seq, key, entry)
      },
      () => {
        if (inner.setMany) return inner.setMany(items)
        return Promise.all(items.map(([k, e]) => inner.set(k, e))).then(() => undefined)
      },
      undefined,
    )
  }

  /** Deletes through the breaker. While open it fails fast and journals the delete. */
  delete(key: string): MaybePromise<boolean> {
    return this.#breaker.write(
      'delete',
      [key],
      (seq) => this.#breaker.replayer?.journal.recordDelete(seq, key),
      () => this.#inner.delete(key),
      true,
    )
  }

  /** Deletes many keys through the breaker; journaled like {@link BreakerStore.delete}. */
  deleteMany(keys: readonly string[]): MaybePromise<number> {
    const inner = this.#inner
    return this.#breaker.write(
      'deleteMany',
      keys,
      (seq) => {
        for (const key of keys) this.#breaker.replayer?.journal.recordDelete(seq, key)
      },
      () => {
        if (inner.deleteMany) return inner.deleteMany(keys)
        return Promise.all(keys.map((k) => inner.delete(k))).then((r) => r.filter(Boolean).length)
      },
      keys.length,
    )
  }

  /** Clears a namespace through the breaker. While open it fails fast and journals the clear. */
  clear(namespace: string): MaybePromise<void> {
    return this.#breaker.range(
      'clear',
      (seq) => clearIntent(seq, namespace),
      () => this.#inner.clear(namespace),
      undefined,
    )
  }

  /** Deletes by pattern through the breaker. While open it fails fast and journals the pattern. */
  deleteByPattern(pattern: string): MaybePromise<number> {
    const inner = this.#inner
    return this.#breaker.range(
      'deleteByPattern',
      (seq) => patternIntent(seq, pattern),
      () => {
        if (!inner.deleteByPattern) {
          throw new InvalidOptionError(`${inner.name} cannot delete by pattern`, {
            store: inner.name,
            operation: 'deleteByPattern',
          })
        }
        return inner.deleteByPattern(pattern)
      },
      0,
    )
  }

  /**
   * Closes the wrapped store. Never blocked by the breaker: it is always forwarded, whatever
   * the state. Timers stop; journaled intents not yet replayed are dropped.
   */
  close(): MaybePromise<void> {
    this.#breaker.shut()
    return this.#inner.close?.()
  }
}

/**
 * Wraps a store in a circuit breaker with per-operation timeouts and a replay journal.
 *
 * - **closed**: calls go to the store, each bounded by `timeout`. `failureThreshold`
 *   consecutive failures, or a failure ratio of `failureRatio` over `window` once
 *   `minimumCalls` calls finished, open the breaker.
 * - **open**: calls fail at once with `CircuitOpenError` and do no I/O. Deletes, clears, pattern
 *   deletes and writes are journaled (per key, the latest wins).
 * - **half-open** (after `resetTimeout`): the journal is replayed to the store first (that is
 *   the first probe), then up to `halfOpenMaxCalls` probe calls go through while every other
 *   call fails fast. When the probes succeed the breaker closes; any failure reopens it.
 *
 * @param store - the store to guard, usually a remote one (`redisStore(...)`)
 * @param options - thresholds, timeouts, clock and journal bounds; see {@link BreakerOptions}
 * @returns a store to pass to `createCache({ tiers })`, with `state`, `on`/`off` and `counters`
 * @throws InvalidOptionError (`E_INVALID_OPTION`) or InvalidDurationError for bad options
 * @example
 * ```ts
 * import { createCache } from '@tiercache/core'
 * import { withBreaker } from '@tiercache/breaker'
 * const l2 = withBreaker(redisStore({ url }), { failureThreshold: 5, resetTimeout: '30s', timeout: '250ms' })
 * l2.on('state:change', (e) => console.warn(`l2 ${e.from} -> ${e.to}: ${e.reason}`))
 * const cache = createCache({ tiers: [memoryStore(), l2, kyselyStore({ sqlite: './cache.db' })] })
 * ```
 */
export function withBreaker<V>(store: Store<V>, options: BreakerOptions = {}): BreakerStore<V> {
  return new BreakerStore(store, options)
}
