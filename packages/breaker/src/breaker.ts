import type { MaybePromise, Store, StoreEntry, StoreScope } from '@tiercache/core/store'
import {
  Circuit,
  CLOSED,
  HALF_OPEN,
  type Mode,
  NORMAL,
  OPEN,
  type Outcome,
  STATE_NAMES,
  type StateCode,
} from './circuit.js'
import { CircuitOpenError } from './errors.js'
import type { BreakerEmitter, BreakerState, StateChangeReason } from './events.js'
import { CallGuard, isThenable } from './guarded-call.js'
import type { RangeIntent } from './journal.js'
import type { ResolvedOptions } from './options.js'
import { Replayer } from './replayer.js'
import { type Timers, timersOf } from './timeout.js'
import { WriteOrder } from './write-order.js'

/**
 * The breaker behind {@link BreakerStore}: wires the {@link Circuit} state machine, the
 * {@link CallGuard} every call goes through and the {@link Replayer} that keeps the journal,
 * and routes each call: straight to the store, answered from the journal, queued behind it,
 * refused, or admitted as a probe.
 *
 * @internal
 */
export class Breaker<V> {
  readonly circuit: Circuit
  readonly guard: CallGuard
  /** Absent when the journal is off. */
  readonly replayer: Replayer<V> | undefined
  readonly #store: Store<V>
  readonly #options: ResolvedOptions
  readonly #timers: Timers
  readonly #events: BreakerEmitter
  /** True while closed with an empty journal: calls go straight to the store. */
  #fast = true
  #resetHandle: unknown
  #shut = false
  /** The refusal error per operation for the current state period. */
  readonly #refusals = new Map<string, CircuitOpenError>()
  /** Issue order of writes; orders journal intents. */
  #seq = 0
  #rejections = 0

  /**
   * @param store - the wrapped store
   * @param options - resolved options
   * @param events - where state changes and replays are announced
   */
  constructor(store: Store<V>, options: ResolvedOptions, events: BreakerEmitter) {
    this.#store = store
    this.#options = options
    this.#events = events
    const clock = options.clock
    const now = (): number => clock.now()
    const timers = timersOf(clock)
    this.#timers = timers
    const circuit = new Circuit(options, clock, {
      changed: (from, to, reason, error) => this.#changed(from, to, reason, error),
      probesSucceeded: () => this.#probesSucceeded(),
    })
    this.circuit = circuit
    const order = options.journal ? new WriteOrder() : undefined
    const guard = new CallGuard(store.name, options.timeout, timers, options.isFailure, order, {
      writeFailed: (write) => this.replayer?.writeFailed(write),
      settled: (epoch, mode, outcome, error) => this.#settled(epoch, mode, outcome, error),
    })
    this.guard = guard
    this.replayer =
      options.journal && order
        ? new Replayer<V>(options.journal, order, {
            store,
            circuit,
            guard,
            timers,
            now,
            retryDelay: options.resetTimeout,
            isShut: () => this.#shut,
            isFast: () => this.#fast,
            updateFast: () => this.#updateFast(),
            invalidates: (key) => this.#invalidates(key),
            replayed: (event) => this.#events.replay(event),
          })
        : undefined
  }

  /** True while closed with an empty journal: calls may go straight to the store. */
  get fast(): boolean {
    return this.#fast
  }

  /** Calls refused since creation. */
  get rejections(): number {
    return this.#rejections
  }

  /** Stops the timers and drops the journal: the store is being closed. */
  shut(): void {
    this.#shut = true
    if (this.#resetHandle !== undefined) this.#timers.clear(this.#resetHandle)
    this.#resetHandle = undefined
    this.replayer?.shut()
    this.#updateFast()
  }

  /**
   * Reads many keys while closed with a journal to drain: journaled keys are answered from it,
   * the rest from the store.
   */
  readMany(
    keys: readonly string[],
    run: (subset: readonly string[]) => MaybePromise<(StoreEntry<V> | undefined)[]>,
  ): MaybePromise<(StoreEntry<V> | undefined)[]> {
    const replayer = this.replayer
    if (this.circuit.state !== CLOSED || replayer === undefined)
      return this.read('getMany', keys, undefined, () => run(keys))
    const out = new Array<StoreEntry<V> | undefined>(keys.length)
    const missing: string[] = []
    const slots: number[] = []
    for (let i = 0; i < keys.length; i++) {
      const known = replayer.overlay(keys[i] as string)
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
    const result = this.guard.call('getMany', () => run(missing), this.circuit.epoch, NORMAL, undefined)
    return isThenable(result) ? result.then(fill) : fill(result)
  }

  #scope(): StoreScope {
    return this.#store.scope ?? (this.#store.kind === 'memory' ? 'local' : 'shared')
  }

  // ---------------------------------------------------------------- admission

  /**
   * Refuses a call (counted in `rejections`). One `CircuitOpenError` per operation is built per
   * open (or half-open) period and reused for every refusal in it, so refusing costs no
   * allocation beyond the rejected promise.
   */
  reject(operation: string): Promise<never> {
    this.#rejections++
    let error = this.#refusals.get(operation)
    if (error === undefined) {
      const circuit = this.circuit
      error = new CircuitOpenError(
        this.#store.name,
        operation,
        circuit.state === OPEN ? circuit.retryAt : undefined,
      )
      this.#refusals.set(operation, error)
    }
    return Promise.reject(error)
  }

  /**
   * A journaled write of `key` is replayed as a delete on a shared store (another instance may
   * have written a newer value meanwhile) unless `replayWrites`, except the engine's internal
   * records (`<ns>#tags:…`, `<ns>#warm:…`), which stay writes.
   */
  #invalidates(key: string): boolean {
    if (this.#options.replayWrites || this.#scope() === 'local') return false
    const hash = key.indexOf('#')
    if (hash < 0) return true
    const colon = key.indexOf(':')
    return colon >= 0 && colon < hash
  }

  /**
   * A read (or a call answered like one): refused while open; while closed, journaled keys are
   * answered from the journal.
   */
  read<R>(
    operation: string,
    keys: readonly string[],
    answer: ((found: (StoreEntry<V> | null | undefined)[]) => R) | undefined,
    run: () => MaybePromise<R>,
  ): MaybePromise<R> {
    const circuit = this.circuit
    if (circuit.refusing()) return this.reject(operation)
    const replayer = this.replayer
    let touches = false
    if (replayer !== undefined && replayer.journal.size > 0) {
      const found = keys.map((k) => replayer.overlay(k))
      touches = found.some((f) => f !== undefined)
      // Closed with journaled intents for these keys: answer from the journal, no I/O.
      if (touches && answer !== undefined && circuit.state === CLOSED) return answer(found)
    }
    const mode = circuit.admit(touches)
    if (mode === 0) return this.reject(operation)
    return this.guard.call(operation, run, circuit.epoch, mode, undefined)
  }

  /**
   * A write of keys: journaled when refused; queued behind the journal (journaled, answered
   * `accepted`) when it touches journaled keys while closed.
   */
  write<R>(
    operation: string,
    keys: readonly string[],
    record: (seq: number) => void,
    run: () => MaybePromise<R>,
    accepted: R,
  ): MaybePromise<R> {
    const seq = ++this.#seq
    const circuit = this.circuit
    if (this.#fast) return this.guard.call(operation, run, circuit.epoch, NORMAL, { seq, keys, record })
    const replayer = this.replayer
    let touches = false
    if (replayer !== undefined && replayer.journal.size > 0) {
      const journal = replayer.journal
      for (const key of keys) {
        if (journal.lookup(key) !== undefined) {
          touches = true
          break
        }
      }
      if (touches && circuit.state === CLOSED) {
        // A replay may be writing these keys: queue behind it to keep the order.
        record(seq)
        replayer.changed()
        return accepted
      }
    }
    const mode = circuit.admit(touches)
    if (mode === 0) {
      if (replayer !== undefined) {
        record(seq)
        replayer.changed()
      }
      return this.reject(operation)
    }
    return this.guard.call(operation, run, circuit.epoch, mode, { seq, keys, record })
  }

  /** A clear or pattern delete: journaled when refused, queued behind a non-empty journal. */
  range<R>(
    operation: string,
    intent: (seq: number) => RangeIntent,
    run: () => MaybePromise<R>,
    accepted: R,
  ): MaybePromise<R> {
    const seq = ++this.#seq
    const circuit = this.circuit
    const replayer = this.replayer
    if (replayer === undefined) {
      const mode = circuit.admit(false)
      if (mode === 0) return this.reject(operation)
      return this.guard.call(operation, run, circuit.epoch, mode, undefined)
    }
    const range = intent(seq)
    const record = (): void => replayer.journal.recordRange(range)
    const pending = replayer.journal.size > 0
    if (pending && circuit.state === CLOSED) {
      // A replay may be writing keys in this range: queue behind it to keep the order.
      record()
      replayer.changed()
      return accepted
    }
    const mode = circuit.admit(pending)
    if (mode === 0) {
      record()
      replayer.changed()
      return this.reject(operation)
    }
    return this.guard.call(operation, run, circuit.epoch, mode, { seq, range, record })
  }

  // ---------------------------------------------------------------- outcomes and transitions

  /** A guarded call settled: the circuit counts it; a success while closed may start a drain. */
  #settled(epoch: number, mode: Mode, outcome: Outcome, error: unknown): void {
    if (this.circuit.settle(epoch, mode, outcome, error) && !this.#fast) this.replayer?.drain()
  }

  #updateFast(): void {
    this.#fast =
      this.circuit.state === CLOSED && (this.replayer === undefined || this.replayer.journal.size === 0)
  }

  /** The circuit moved: timers, the fast flag, the refusal errors, the event, then the journal. */
  #changed(from: StateCode, to: StateCode, reason: StateChangeReason, error: unknown): void {
    if (this.#resetHandle !== undefined) this.#timers.clear(this.#resetHandle)
    this.#resetHandle = undefined
    if (to === OPEN && !this.#shut) {
      this.#resetHandle = this.#timers.set(() => {
        this.#resetHandle = undefined
        this.circuit.halfOpen()
      }, this.#options.resetTimeout)
    }
    this.#refusals.clear()
    this.#updateFast()
    this.#events.stateChange({
      store: this.#store.name,
      from: STATE_NAMES[from] as BreakerState,
      to: STATE_NAMES[to] as BreakerState,
      reason,
      at: this.#options.clock.now(),
      ...(error !== undefined ? { error } : {}),
    })
    const replayer = this.replayer
    if (to === HALF_OPEN) {
      // The replay is the first probe: the store must take the journal before anything else.
      if (replayer !== undefined && replayer.journal.size > 0) replayer.probe(false)
    } else if (to === CLOSED && !this.#fast) {
      // A replay gives way after a few passes under load; the rest drains while closed.
      replayer?.drain()
    }
  }

  /** Every probe succeeded: close, unless calls refused meanwhile were journaled (replay first). */
  #probesSucceeded(): void {
    const replayer = this.replayer
    if (replayer !== undefined && replayer.journal.size > 0) replayer.probe(true)
    else this.circuit.close()
  }
}
