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
  StoreTimeoutError,
} from '@tiercache/core/store'
import { CircuitOpenError } from './errors.js'
import type {
  BreakerCounters,
  BreakerEvents,
  BreakerState,
  ReplayEvent,
  StateChangeEvent,
  StateChangeReason,
} from './events.js'
import { clearIntent, Journal, patternIntent, type RangeIntent } from './journal.js'
import { type BreakerOptions, type ResolvedOptions, resolveOptions } from './options.js'
import { type ReplayWrite, replayJournal } from './replay.js'
import { RollingWindow } from './rolling-window.js'
import { type Timers, timersOf, withDeadline } from './timeout.js'
import { type IssuedWrite, WriteOrder } from './write-order.js'

const CLOSED = 0
const OPEN = 1
const HALF_OPEN = 2
type StateCode = typeof CLOSED | typeof OPEN | typeof HALF_OPEN
const STATE_NAMES: readonly BreakerState[] = ['closed', 'open', 'half-open']

/** How an admitted call is accounted: a normal closed-state call or a half-open probe. */
const NORMAL = 1
const PROBE = 2
type Mode = typeof NORMAL | typeof PROBE

/** A call's outcome for the state machine. */
const SUCCEEDED = 0
const FAILED = 1
const IGNORED = 2
type Outcome = typeof SUCCEEDED | typeof FAILED | typeof IGNORED

/** Thrown inside a replay when the breaker changed state under it; never reaches callers. */
const SUPERSEDED: unique symbol = Symbol('superseded')

function isThenable<T>(value: MaybePromise<T>): value is Promise<T> {
  return (
    value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function'
  )
}

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
 * @typeParam V - the entry value type of the wrapped store
 */
export class BreakerStore<V = unknown> implements Store<V> {
  readonly #inner: Store<V>
  readonly #options: ResolvedOptions
  readonly #timers: Timers
  readonly #window: RollingWindow
  readonly #journal: Journal<V> | undefined
  readonly #canDeleteMany: boolean
  readonly #canSetMany: boolean
  readonly #listeners: { [E in keyof BreakerEvents]: Set<BreakerEvents[E]> } = {
    stateChange: new Set(),
    replay: new Set(),
  }

  #state: StateCode = CLOSED
  /** Bumped on every transition; outcomes of calls admitted in an older epoch change nothing. */
  #epoch = 0
  /** True while closed with an empty journal: calls go straight to the store. */
  #fast = true
  #consecutive = 0
  #retryAt = 0
  #resetHandle: unknown
  /**
   * The wrapped store's `onStatusChange`, forwarded; present only when the wrapped store has
   * one (the engine then trusts it for the tier's `connected` flag).
   */
  declare readonly onStatusChange?: (listener: (connected: boolean) => void) => () => void
  /** Timer for a drain retry while closed with journaled intents. */
  #retryHandle: unknown
  #probesAdmitted = 0
  #probesSucceeded = 0
  /** While half-open: a replay runs, so every call is refused. */
  #replaying = false
  /** The replay in progress (probe or drain), chained so two never overlap. */
  #replay: Promise<void> | undefined
  #isClosed = false
  #lastStats: StoreStats = {}
  /** The refusal error per operation for the current state period. */
  readonly #refusals = new Map<string, CircuitOpenError>()

  /** Issue order of writes; orders journal intents. */
  #seq = 0
  /** Which writes were issued after which, while some are in flight. */
  readonly #order: WriteOrder = new WriteOrder()

  #opened = 0
  #closedCount = 0
  #rejections = 0
  #timeouts = 0
  #failures = 0
  #successes = 0
  #replayed = 0

  /**
   * @param store - the store to guard
   * @param options - thresholds, timeouts, clock and journal bounds; see {@link BreakerOptions}
   */
  constructor(store: Store<V>, options: BreakerOptions = {}) {
    checkStore(store)
    this.#inner = store
    this.#options = resolveOptions(options)
    this.#timers = timersOf(this.#options.clock)
    this.#window = new RollingWindow(this.#options.window)
    if (this.#options.journal) this.#journal = new Journal<V>(this.#options.journal)
    if (typeof store.onStatusChange === 'function') {
      this.onStatusChange = (listener) =>
        (store.onStatusChange as NonNullable<Store['onStatusChange']>)(listener)
    }
    const caps = store.capabilities ?? {}
    this.#canDeleteMany = caps.deleteMany === true && typeof store.deleteMany === 'function'
    this.#canSetMany = caps.setMany === true && typeof store.setMany === 'function'
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
   * `stateChange` event; metrics read this getter (for example a gauge 0/1/2).
   */
  get state(): BreakerState {
    return STATE_NAMES[this.#state] as BreakerState
  }

  /** A snapshot of the counters since creation. See {@link BreakerCounters}. */
  get counters(): BreakerCounters {
    return {
      opened: this.#opened,
      closed: this.#closedCount,
      rejections: this.#rejections,
      timeouts: this.#timeouts,
      failures: this.#failures,
      successes: this.#successes,
      replayed: this.#replayed,
      journalOverflows: this.#journal?.overflows ?? 0,
    }
  }

  /** Intents waiting in the journal (0 when the store is in sync or the journal is off). */
  get journalSize(): number {
    return this.#journal?.size ?? 0
  }

  /**
   * Subscribes to `stateChange` or `replay`. Listeners run synchronously in the call that
   * caused the event; exceptions they throw are caught and ignored.
   *
   * @param event - the event name
   * @param listener - the callback
   * @returns this breaker, for chaining
   * @example
   * ```ts
   * l2.on('stateChange', ({ from, to, reason }) => log.warn(`redis breaker ${from} -> ${to} (${reason})`))
   * ```
   */
  on<E extends keyof BreakerEvents>(event: E, listener: BreakerEvents[E]): this {
    this.#listenersOf(event).add(listener)
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
    this.#listenersOf(event).delete(listener)
    return this
  }

  #listenersOf<E extends keyof BreakerEvents>(event: E): Set<BreakerEvents[E]> {
    const set = this.#listeners[event] as Set<BreakerEvents[E]> | undefined
    if (!set) {
      throw new InvalidOptionError(`breaker: unknown event "${String(event)}"`, { option: 'event' })
    }
    return set
  }

  #emit<E extends keyof BreakerEvents>(event: E, payload: Parameters<BreakerEvents[E]>[0]): void {
    for (const listener of this.#listeners[event]) {
      try {
        ;(listener as (p: typeof payload) => void)(payload)
      } catch {
        // A listener must not break the breaker.
      }
    }
  }

  // ---------------------------------------------------------------- reads

  /** Reads through the breaker. Fails fast with `CircuitOpenError` while open. */
  get(key: string): MaybePromise<StoreEntry<V> | undefined> {
    if (this.#fast) {
      let result: MaybePromise<StoreEntry<V> | undefined>
      try {
        result = this.#inner.get(key)
      } catch (error) {
        this.#outcome(this.#epoch, NORMAL, this.#classify(error), error)
        throw error
      }
      if (isThenable(result)) return this.#guard(result, 'get', this.#epoch, NORMAL, undefined)
      this.#succeeded()
      return result
    }
    return this.#read(
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
    if (this.#fast) return this.#direct('getMany', () => run(keys), this.#epoch, NORMAL, undefined)
    const journal = this.#journal
    if (this.#state !== CLOSED || journal === undefined)
      return this.#read('getMany', keys, undefined, () => run(keys))
    // Closed with a journal to drain: journaled keys are answered from it, the rest from the store.
    const out = new Array<StoreEntry<V> | undefined>(keys.length)
    const missing: string[] = []
    const slots: number[] = []
    for (let i = 0; i < keys.length; i++) {
      const known = this.#overlay(keys[i] as string)
      if (known === undefined) {
        missing.push(keys[i] as string)
        slots.push(i)
      } else out[i] = known ?? undefined
    }
    if (missing.length === 0) return out
    const fill = (found: (StoreEntry<V> | undefined)[]): (StoreEntry<V> | undefined)[] => {
      for (let i = 0; i < slots.length; i++) out[slots[i] as number] = found[i]
      return out
    }
    const result = this.#direct('getMany', () => run(missing), this.#epoch, NORMAL, undefined)
    return isThenable(result) ? result.then(fill) : fill(result)
  }

  /**
   * Takes a lease through the breaker (see `Store.lease`). Refused while open, and answered
   * `false` without I/O while the journal still holds an intent for the key.
   */
  lease(key: string, token: string, ttl: number): MaybePromise<boolean> {
    const inner = this.#inner
    if (!inner.lease) return false
    return this.#read(
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
    return this.#read(
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
    if (this.#fast) return this.#direct('has', run, this.#epoch, NORMAL, undefined)
    return this.#read('has', [key], (found) => found[0] != null, run)
  }

  /**
   * Reports the wrapped store's stats. Not counted by the breaker. While open it does no I/O
   * and returns the last stats seen with `connected: false`.
   */
  stats(): MaybePromise<StoreStats> {
    const inner = this.#inner
    if (this.#state === OPEN) return { ...this.#lastStats, connected: false }
    if (!inner.stats) return {}
    const keep = (s: StoreStats): StoreStats => {
      this.#lastStats = s
      return s
    }
    const result = inner.stats()
    if (!isThenable(result)) return keep(result)
    const timedOut = (): StoreTimeoutError =>
      new StoreTimeoutError(this.#options.timeout, { store: inner.name, operation: 'stats' })
    return withDeadline(result, this.#options.timeout, this.#timers, timedOut).then(keep)
  }

  // ---------------------------------------------------------------- writes

  /**
   * Writes through the breaker. While open it fails fast and journals the write, so the store
   * gets it (or a delete of the key, for large entries) once it answers again.
   */
  set(key: string, entry: StoreEntry<V>): MaybePromise<void> {
    return this.#write(
      'set',
      [key],
      (seq) => this.#journal?.recordSet(seq, key, entry),
      () => this.#inner.set(key, entry),
      undefined,
    )
  }

  /** Writes many entries through the breaker; journaled like {@link BreakerStore.set}. */
  setMany(items: readonly StoreSetItem<V>[]): MaybePromise<void> {
    const inner = this.#inner
    return this.#write(
      'setMany',
      items.map((item) => item[0]),
      (seq) => {
        for (const [key, entry] of items) this.#journal?.recordSet(seq, key, entry)
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
    return this.#write(
      'delete',
      [key],
      (seq) => this.#journal?.recordDelete(seq, key),
      () => this.#inner.delete(key),
      true,
    )
  }

  /** Deletes many keys through the breaker; journaled like {@link BreakerStore.delete}. */
  deleteMany(keys: readonly string[]): MaybePromise<number> {
    const inner = this.#inner
    return this.#write(
      'deleteMany',
      keys,
      (seq) => {
        for (const key of keys) this.#journal?.recordDelete(seq, key)
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
    return this.#range(
      'clear',
      (seq) => clearIntent(seq, namespace),
      () => this.#inner.clear(namespace),
      undefined,
    )
  }

  /** Deletes by pattern through the breaker. While open it fails fast and journals the pattern. */
  deleteByPattern(pattern: string): MaybePromise<number> {
    const inner = this.#inner
    return this.#range(
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
    this.#isClosed = true
    if (this.#resetHandle !== undefined) this.#timers.clear(this.#resetHandle)
    if (this.#retryHandle !== undefined) this.#timers.clear(this.#retryHandle)
    this.#resetHandle = undefined
    this.#retryHandle = undefined
    this.#journal?.reset()
    this.#updateFast()
    return this.#inner.close?.()
  }

  // ---------------------------------------------------------------- admission

  /**
   * Decides whether a call may reach the store: `NORMAL`, `PROBE`, or 0 (refuse).
   *
   * @param touchesJournal - the call reads or writes a key the journal holds an intent for
   */
  #admit(touchesJournal: boolean): Mode | 0 {
    if (this.#state === OPEN) {
      if (this.#options.clock.now() < this.#retryAt) return 0
      this.#toHalfOpen()
    }
    if (this.#state === CLOSED) return NORMAL
    if (this.#replaying || touchesJournal || this.#probesAdmitted >= this.#options.halfOpenMaxCalls) return 0
    this.#probesAdmitted++
    return PROBE
  }

  /**
   * Refuses a call. One `CircuitOpenError` per operation is built per open (or half-open)
   * period and reused for every refusal in it, so refusing costs no allocation beyond the
   * rejected promise.
   */
  #reject(operation: string): Promise<never> {
    this.#rejections++
    let error = this.#refusals.get(operation)
    if (error === undefined) {
      error = new CircuitOpenError(
        this.#inner.name,
        operation,
        this.#state === OPEN ? this.#retryAt : undefined,
      )
      this.#refusals.set(operation, error)
    }
    return Promise.reject(error)
  }

  /** What the journal says `key` holds: an entry, `null` (nothing), or `undefined` (no intent). */
  #overlay(key: string): StoreEntry<V> | null | undefined {
    const known = this.#journal?.lookup(key)
    if (known == null) return known
    if (this.#invalidates(key)) return null
    return known.staleUntil > this.#options.clock.now() ? known : null
  }

  /**
   * A journaled write of `key` is replayed as a delete on a shared store (another instance may
   * have written a newer value meanwhile) unless `replayWrites`, except the engine's internal
   * records (`<ns>#tags:…`, `<ns>#warm:…`), which stay writes.
   */
  #invalidates(key: string): boolean {
    if (this.#options.replayWrites || this.scope === 'local') return false
    const hash = key.indexOf('#')
    if (hash < 0) return true
    const colon = key.indexOf(':')
    return colon >= 0 && colon < hash
  }

  #read<R>(
    operation: string,
    keys: readonly string[],
    answer: ((found: (StoreEntry<V> | null | undefined)[]) => R) | undefined,
    run: () => MaybePromise<R>,
  ): MaybePromise<R> {
    if (this.#state === OPEN && this.#options.clock.now() < this.#retryAt) return this.#reject(operation)
    const journal = this.#journal
    let touches = false
    if (journal !== undefined && journal.size > 0) {
      const found = keys.map((k) => this.#overlay(k))
      touches = found.some((f) => f !== undefined)
      // Closed with journaled intents for these keys: answer from the journal, no I/O.
      if (touches && answer !== undefined && this.#state === CLOSED) return answer(found)
    }
    const mode = this.#admit(touches)
    if (mode === 0) return this.#reject(operation)
    return this.#direct(operation, run, this.#epoch, mode, undefined)
  }

  #write<R>(
    operation: string,
    keys: readonly string[],
    record: (seq: number) => void,
    run: () => MaybePromise<R>,
    accepted: R,
  ): MaybePromise<R> {
    const seq = ++this.#seq
    const journal = this.#journal
    if (this.#fast) return this.#direct(operation, run, this.#epoch, NORMAL, { seq, keys, record })
    let touches = false
    if (journal !== undefined && journal.size > 0) {
      for (const key of keys) {
        if (journal.lookup(key) !== undefined) {
          touches = true
          break
        }
      }
      if (touches && this.#state === CLOSED) {
        // A replay may be writing these keys: queue behind it to keep the order.
        record(seq)
        this.#afterJournalChange()
        return accepted
      }
    }
    const mode = this.#admit(touches)
    if (mode === 0) {
      if (journal !== undefined) {
        record(seq)
        this.#afterJournalChange()
      }
      return this.#reject(operation)
    }
    return this.#direct(operation, run, this.#epoch, mode, { seq, keys, record })
  }

  #range<R>(
    operation: string,
    intent: (seq: number) => RangeIntent,
    run: () => MaybePromise<R>,
    accepted: R,
  ): MaybePromise<R> {
    const seq = ++this.#seq
    const journal = this.#journal
    if (journal === undefined) {
      const mode = this.#admit(false)
      if (mode === 0) return this.#reject(operation)
      return this.#direct(operation, run, this.#epoch, mode, undefined)
    }
    const range = intent(seq)
    const record = (): void => journal.recordRange(range)
    const pending = journal.size > 0
    if (pending && this.#state === CLOSED) {
      // A replay may be writing keys in this range: queue behind it to keep the order.
      record()
      this.#afterJournalChange()
      return accepted
    }
    const mode = this.#admit(pending)
    if (mode === 0) {
      record()
      this.#afterJournalChange()
      return this.#reject(operation)
    }
    return this.#direct(operation, run, this.#epoch, mode, { seq, range, record })
  }

  // ---------------------------------------------------------------- calls, timeouts, outcomes

  /** Runs an admitted call: synchronous results are settled at once, promises are guarded. */
  #direct<R>(
    operation: string,
    run: () => MaybePromise<R>,
    epoch: number,
    mode: Mode,
    write: WriteInfo | undefined,
  ): MaybePromise<R> {
    let result: MaybePromise<R>
    try {
      result = run()
    } catch (error) {
      const outcome = this.#classify(error)
      if (outcome === FAILED && write) this.#recordFailed(write)
      this.#outcome(epoch, mode, outcome, error)
      throw error
    }
    if (isThenable(result)) {
      if (write && this.#journal) this.#order.track(write)
      return this.#guard(result, operation, epoch, mode, write)
    }
    this.#outcome(epoch, mode, SUCCEEDED, undefined)
    return result
  }

  /**
   * Settles a pending call at the timeout even if the store never answers. A late answer or
   * rejection of the store's promise is swallowed (it has a handler), so nothing goes unhandled.
   */
  #guard<R>(
    promise: Promise<R>,
    operation: string,
    epoch: number,
    mode: Mode,
    write: WriteInfo | undefined,
  ): Promise<R> {
    return withDeadline(
      promise,
      this.#options.timeout,
      this.#timers,
      () => this.#timedOut(operation),
      (failed, error) => {
        const outcome = failed ? this.#classify(error) : SUCCEEDED
        // Journal before untracking: the check for newer writes needs this write still tracked.
        if (outcome === FAILED && write) this.#recordFailed(write)
        if (write && this.#journal) this.#order.untrack(write)
        this.#outcome(epoch, mode, outcome, error)
      },
    )
  }

  #timedOut(operation: string): StoreTimeoutError {
    this.#timeouts++
    return new StoreTimeoutError(this.#options.timeout, { store: this.#inner.name, operation })
  }

  /** The closed-state success path, kept small for synchronous stores. */
  #succeeded(): void {
    this.#successes++
    this.#consecutive = 0
    this.#window.record(this.#options.clock.now(), false)
  }

  /** Whether an error counts against the store (`FAILED`) or says nothing about it (`IGNORED`). */
  #classify(error: unknown): Outcome {
    return this.#options.isFailure(error) ? FAILED : IGNORED
  }

  /** Applies one call's outcome to the state machine. */
  #outcome(epoch: number, mode: Mode, outcome: Outcome, error: unknown): void {
    if (outcome === IGNORED) {
      // Says nothing about the store's health: a probe gives its slot back.
      if (mode === PROBE && epoch === this.#epoch) this.#probesAdmitted--
      return
    }
    const failed = outcome === FAILED
    if (failed) this.#failures++
    else this.#successes++
    if (epoch !== this.#epoch) return
    if (mode === PROBE) {
      if (failed) this.#toOpen('probe-failed', error)
      else this.#probeSucceeded()
      return
    }
    if (this.#state !== CLOSED) return
    const now = this.#options.clock.now()
    this.#window.record(now, failed)
    if (!failed) {
      this.#consecutive = 0
      if (!this.#fast) this.#drain()
      return
    }
    if (++this.#consecutive >= this.#options.failureThreshold) {
      this.#toOpen('failure-threshold', error)
      return
    }
    const { calls, failures } = this.#window.totals(now)
    if (calls >= this.#options.minimumCalls && failures / calls >= this.#options.failureRatio) {
      this.#toOpen('failure-ratio', error)
    }
  }

  // ---------------------------------------------------------------- journal bookkeeping

  /** Journals a failed write unless a newer write of the same key was issued since. */
  #recordFailed(write: WriteInfo): void {
    const journal = this.#journal
    if (journal === undefined || this.#isClosed) return
    const order = this.#order
    const keys = write.keys ?? []
    if (write.range || !keys.some((key) => order.newerThan(write.seq, key))) write.record(write.seq)
    else {
      // Some keys were written again since: journal the others, as deletes (always safe).
      for (const key of keys) if (!order.newerThan(write.seq, key)) journal.recordDelete(write.seq, key)
    }
    // No drain right after a failure: the next success, write or the retry timer starts one.
    this.#updateFast()
    if (this.#state === CLOSED && !this.#fast) this.#scheduleRetry()
  }

  #afterJournalChange(): void {
    this.#updateFast()
    if (this.#state === CLOSED && !this.#fast) this.#scheduleDrain()
  }

  /** While closed with a journal and no traffic: try a drain after `resetTimeout`. */
  #scheduleRetry(): void {
    if (this.#retryHandle !== undefined || this.#isClosed) return
    this.#retryHandle = this.#timers.set(() => {
      this.#retryHandle = undefined
      this.#drain()
    }, this.#options.resetTimeout)
  }

  #updateFast(): void {
    this.#fast = this.#state === CLOSED && (this.#journal === undefined || this.#journal.size === 0)
  }

  // ---------------------------------------------------------------- transitions

  #transition(to: StateCode, reason: StateChangeReason, error?: unknown): void {
    const from = this.#state
    this.#state = to
    this.#epoch++
    this.#refusals.clear()
    this.#updateFast()
    const event: StateChangeEvent = {
      store: this.#inner.name,
      from: STATE_NAMES[from] as BreakerState,
      to: STATE_NAMES[to] as BreakerState,
      reason,
      at: this.#options.clock.now(),
      ...(error !== undefined ? { error } : {}),
    }
    this.#emit('stateChange', event)
  }

  #toOpen(reason: StateChangeReason, error: unknown): void {
    this.#opened++
    this.#replaying = false
    this.#retryAt = this.#options.clock.now() + this.#options.resetTimeout
    if (this.#resetHandle !== undefined) this.#timers.clear(this.#resetHandle)
    this.#resetHandle = this.#isClosed
      ? undefined
      : this.#timers.set(() => {
          this.#resetHandle = undefined
          this.#toHalfOpen()
        }, this.#options.resetTimeout)
    this.#transition(OPEN, reason, error)
  }

  #toHalfOpen(): void {
    if (this.#state !== OPEN) return
    if (this.#resetHandle !== undefined) this.#timers.clear(this.#resetHandle)
    this.#resetHandle = undefined
    this.#probesAdmitted = 0
    this.#probesSucceeded = 0
    this.#transition(HALF_OPEN, 'reset-timeout')
    if (this.#journal !== undefined && this.#journal.size > 0) {
      // The replay is the first probe: the store must take the journal before anything else.
      this.#probesAdmitted = 1
      this.#replayThenDecide(this.#epoch, false)
    }
  }

  #probeSucceeded(): void {
    if (++this.#probesSucceeded < this.#options.halfOpenMaxCalls) return
    if (this.#journal !== undefined && this.#journal.size > 0) {
      // Probes succeeded, but calls refused meanwhile were journaled: replay them first.
      this.#replayThenDecide(this.#epoch, true)
      return
    }
    this.#toClosed()
  }

  /** Replays as a probe while half-open, then counts it as a probe success or reopens. */
  #replayThenDecide(epoch: number, closing: boolean): void {
    this.#replaying = true
    this.#runReplay('probe', epoch).then(
      () => {
        if (epoch !== this.#epoch) return
        this.#replaying = false
        if (closing) this.#toClosed()
        else this.#probeSucceeded()
      },
      (error: unknown) => {
        if (epoch !== this.#epoch) return
        this.#replaying = false
        this.#toOpen('replay-failed', error)
      },
    )
  }

  #toClosed(): void {
    this.#consecutive = 0
    this.#window.reset()
    this.#closedCount++
    this.#transition(CLOSED, 'probes-succeeded')
    // A replay gives way after a few passes under load; the rest drains while closed.
    if (!this.#fast) this.#drain()
  }

  // ---------------------------------------------------------------- replay

  /** Drains the journal while closed, soon (not inside the caller's stack). */
  #scheduleDrain(): void {
    if (this.#replay !== undefined || this.#isClosed) return
    queueMicrotask(() => this.#drain())
  }

  /** Starts a drain while closed if the journal holds intents and no replay runs. */
  #drain(): void {
    if (this.#replay !== undefined || this.#isClosed || this.#state !== CLOSED) return
    if (this.#journal === undefined || this.#journal.size === 0) return
    this.#runReplay('drain', this.#epoch).then(
      () => {
        // Intents that arrived during the last pass: go again while the store answers.
        if (this.#state === CLOSED && !this.#fast) this.#scheduleDrain()
      },
      () => {
        // Failures were counted by each call; the intents stay journaled for the next try.
      },
    )
  }

  /**
   * Replays the journal: clears and pattern deletes first, then per-key deletes and writes in
   * batches. Each call is guarded by `timeout`. Rejects on the first failure, leaving the
   * intents not yet applied in the journal.
   */
  #runReplay(mode: 'probe' | 'drain', epoch: number): Promise<void> {
    const previous = this.#replay
    const run = async (): Promise<void> => {
      if (previous) await previous.catch(() => undefined)
      const started = this.#options.clock.now()
      let applied = 0
      try {
        await replayJournal({
          journal: this.#journal as Journal<V>,
          store: this.#inner,
          canDeleteMany: this.#canDeleteMany,
          canSetMany: this.#canSetMany,
          invalidates: (key) => this.#invalidates(key),
          now: () => this.#options.clock.now(),
          call: (operation, run, write) => this.#replayCall(operation, run, mode, epoch, write),
          afterPass: () => this.#updateFast(),
          applied: (count) => {
            applied += count
            this.#replayed += count
          },
        })
        this.#emitReplay(mode, true, applied, started, undefined)
      } catch (error) {
        this.#emitReplay(mode, false, applied, started, error === SUPERSEDED ? undefined : error)
        throw error
      } finally {
        this.#updateFast()
      }
    }
    const replay = run()
    const settled: Promise<void> = replay.then(
      () => undefined,
      () => undefined,
    )
    this.#replay = settled
    void settled.then(() => {
      if (this.#replay === settled) this.#replay = undefined
    })
    return replay
  }

  #emitReplay(mode: 'probe' | 'drain', ok: boolean, applied: number, started: number, error: unknown): void {
    const event: ReplayEvent = {
      store: this.#inner.name,
      mode,
      ok,
      applied,
      remaining: this.#journal?.size ?? 0,
      durationMs: this.#options.clock.now() - started,
      ...(error !== undefined ? { error } : {}),
    }
    this.#emit('replay', event)
  }

  /**
   * One replay call, guarded by `timeout`. During a drain its outcome counts like any closed
   * call; during a probe replay a failure reopens the breaker (through the caller).
   */
  async #replayCall(
    operation: string,
    run: () => MaybePromise<unknown>,
    mode: 'probe' | 'drain',
    epoch: number,
    write: ReplayWrite,
  ): Promise<void> {
    if (epoch !== this.#epoch || this.#isClosed) throw SUPERSEDED
    const info: WriteInfo = { ...write, record: () => undefined }
    let result: MaybePromise<unknown>
    try {
      result = run()
    } catch (error) {
      this.#replayOutcome(mode, epoch, this.#classify(error), error)
      throw error
    }
    if (!isThenable(result)) {
      this.#replayOutcome(mode, epoch, SUCCEEDED, undefined)
      return
    }
    this.#order.track(info)
    try {
      await withDeadline(result, this.#options.timeout, this.#timers, () => this.#timedOut(operation))
    } catch (error) {
      this.#replayOutcome(mode, epoch, this.#classify(error), error)
      throw error
    } finally {
      this.#order.untrack(info)
    }
    this.#replayOutcome(mode, epoch, SUCCEEDED, undefined)
  }

  #replayOutcome(mode: 'probe' | 'drain', epoch: number, outcome: Outcome, error: unknown): void {
    if (mode === 'drain') this.#outcome(epoch, NORMAL, outcome, error)
    else if (outcome === FAILED) this.#failures++
    else if (outcome === SUCCEEDED) this.#successes++
  }
}

/** A write being issued: its order, the keys or range it touches, and how to journal it. */
interface WriteInfo extends IssuedWrite {
  readonly record: (seq: number) => void
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
 * l2.on('stateChange', (e) => console.warn(`l2 ${e.from} -> ${e.to}: ${e.reason}`))
 * const cache = createCache({ tiers: [memoryStore(), l2, kyselyStore({ sqlite: './cache.db' })] })
 * ```
 */
export function withBreaker<V>(store: Store<V>, options: BreakerOptions = {}): BreakerStore<V> {
  return new BreakerStore(store, options)
}
