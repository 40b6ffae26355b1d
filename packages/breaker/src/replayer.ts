import type { MaybePromise, Store, StoreEntry } from '@tiercache/core/store'
import { type Circuit, CLOSED, NORMAL, REPLAY } from './circuit.js'
import type { ReplayEvent } from './events.js'
import type { CallGuard, GuardedWrite } from './guarded-call.js'
import { Journal, type JournalLimits } from './journal.js'
import { replayJournal } from './replay.js'
import type { Timers } from './timeout.js'
import type { WriteOrder } from './write-order.js'

/** Thrown inside a replay when the circuit changed state under it; never reaches callers. */
const SUPERSEDED: unique symbol = Symbol('superseded')

/** What the replayer needs from the breaker around it. @internal */
export interface ReplayerHost<V> {
  /** The wrapped store. */
  readonly store: Store<V>
  readonly circuit: Circuit
  readonly guard: CallGuard
  readonly timers: Timers
  /** Current time, epoch ms. */
  now(): number
  /** How long to wait before retrying a drain without traffic, in milliseconds. */
  readonly retryDelay: number
  /** True once the breaker was closed (no more replays, no more journaling). */
  isShut(): boolean
  /** True while closed with an empty journal. */
  isFast(): boolean
  /** Recomputes {@link ReplayerHost.isFast} (the journal or the state changed). */
  updateFast(): void
  /**
   * A journaled write of `key` must reach the store as a delete (see the README: writes replay
   * as deletes on a shared store).
   */
  invalidates(key: string): boolean
  /** Announces a replay's end. */
  replayed(event: ReplayEvent): void
}

/**
 * The journal and its replays: journals failed and refused writes, answers reads of journaled
 * keys, and replays the journal to the store, as the first half-open probe or as a background
 * drain while closed. Replays run one at a time, every call through the breaker's
 * {@link CallGuard}.
 *
 * @internal
 */
export class Replayer<V> {
  readonly journal: Journal<V>
  /** Which writes in flight were issued after which (shared with the guard, which tracks them). */
  readonly order: WriteOrder
  readonly #host: ReplayerHost<V>
  readonly #canDeleteMany: boolean
  readonly #canSetMany: boolean
  /** The replay in progress (probe or drain), chained so two never overlap. */
  #running: Promise<void> | undefined
  /** Timer for a drain retry while closed with journaled intents. */
  #retryHandle: unknown
  #applied = 0

  /**
   * @param limits - journal bounds
   * @param order - the write order the guard tracks writes in
   * @param host - the breaker around it
   */
  constructor(limits: JournalLimits, order: WriteOrder, host: ReplayerHost<V>) {
    this.journal = new Journal<V>(limits)
    this.order = order
    this.#host = host
    const store = host.store
    const caps = store.capabilities ?? {}
    this.#canDeleteMany = caps.deleteMany === true && typeof store.deleteMany === 'function'
    this.#canSetMany = caps.setMany === true && typeof store.setMany === 'function'
  }

  /** Intents applied to the store by replays, since creation. */
  get applied(): number {
    return this.#applied
  }

  /** What the journal says `key` holds: an entry, `null` (nothing), or `undefined` (no intent). */
  overlay(key: string): StoreEntry<V> | null | undefined {
    const known = this.journal.lookup(key)
    if (known == null) return known
    if (this.#host.invalidates(key)) return null
    return known.staleUntil > this.#host.now() ? known : null
  }

  /** Journals a failed write unless a newer write of the same key was issued since. */
  writeFailed(write: GuardedWrite): void {
    if (this.#host.isShut() || write.record === undefined) return
    const order = this.order
    const keys = write.keys ?? []
    if (write.range || !keys.some((key) => order.newerThan(write.seq, key))) write.record(write.seq)
    else {
      // Some keys were written again since: journal the others, as deletes (always safe).
      for (const key of keys) if (!order.newerThan(write.seq, key)) this.journal.recordDelete(write.seq, key)
    }
    // No drain right after a failure: the next success, write or the retry timer starts one.
    this.#host.updateFast()
    if (this.#host.circuit.state === CLOSED && !this.#host.isFast()) this.#scheduleRetry()
  }

  /** After a write or range was journaled: drain soon if the store is taking calls. */
  changed(): void {
    this.#host.updateFast()
    if (this.#host.circuit.state === CLOSED && !this.#host.isFast()) this.#scheduleDrain()
  }

  /**
   * Replays as a half-open probe, then counts it as a probe success (or, when `closing`,
   * closes the circuit) or reopens the circuit. Every other call is refused meanwhile.
   *
   * @param closing - the probes already succeeded; the replay is all that is left
   */
  probe(closing: boolean): void {
    const circuit = this.#host.circuit
    const epoch = circuit.epoch
    circuit.hold(!closing)
    this.#run('probe', epoch).then(
      () => {
        if (epoch !== circuit.epoch) return
        circuit.release()
        if (closing) circuit.close()
        else circuit.probeSucceeded()
      },
      (error: unknown) => {
        if (epoch !== circuit.epoch) return
        circuit.release()
        circuit.open('replay-failed', error)
      },
    )
  }

  /** Starts a drain while closed if the journal holds intents and no replay runs. */
  drain(): void {
    const host = this.#host
    if (this.#running !== undefined || host.isShut() || host.circuit.state !== CLOSED) return
    if (this.journal.size === 0) return
    this.#run('drain', host.circuit.epoch).then(
      () => {
        // Intents that arrived during the last pass: go again while the store answers.
        if (host.circuit.state === CLOSED && !host.isFast()) this.#scheduleDrain()
      },
      () => {
        // Failures were counted by each call; the intents stay journaled for the next try.
      },
    )
  }

  /** Stops the retry timer and drops every intent (the store is being closed). */
  shut(): void {
    if (this.#retryHandle !== undefined) this.#host.timers.clear(this.#retryHandle)
    this.#retryHandle = undefined
    this.journal.reset()
  }

  /** Drains the journal while closed, soon (not inside the caller's stack). */
  #scheduleDrain(): void {
    if (this.#running !== undefined || this.#host.isShut()) return
    queueMicrotask(() => this.drain())
  }

  /** While closed with a journal and no traffic: try a drain after `retryDelay`. */
  #scheduleRetry(): void {
    if (this.#retryHandle !== undefined || this.#host.isShut()) return
    this.#retryHandle = this.#host.timers.set(() => {
      this.#retryHandle = undefined
      this.drain()
    }, this.#host.retryDelay)
  }

  /**
   * Replays the journal (see {@link replayJournal}), after any replay still running. Rejects on
   * the first failure, leaving the intents not yet applied in the journal.
   */
  #run(mode: 'probe' | 'drain', epoch: number): Promise<void> {
    const previous = this.#running
    const host = this.#host
    const run = async (): Promise<void> => {
      if (previous) await previous.catch(() => undefined)
      const started = host.now()
      let applied = 0
      try {
        await replayJournal({
          journal: this.journal,
          store: host.store,
          canDeleteMany: this.#canDeleteMany,
          canSetMany: this.#canSetMany,
          invalidates: (key) => host.invalidates(key),
          now: () => host.now(),
          call: (operation, run, write) => this.#call(operation, run, mode, epoch, write),
          afterPass: () => host.updateFast(),
          applied: (count) => {
            applied += count
            this.#applied += count
          },
        })
        this.#announce(mode, true, applied, started, undefined)
      } catch (error) {
        this.#announce(mode, false, applied, started, error === SUPERSEDED ? undefined : error)
        throw error
      } finally {
        host.updateFast()
      }
    }
    const replay = run()
    const settled: Promise<void> = replay.then(
      () => undefined,
      () => undefined,
    )
    this.#running = settled
    void settled.then(() => {
      if (this.#running === settled) this.#running = undefined
    })
    return replay
  }

  /**
   * One replay call, through the guard. During a drain its outcome counts like any closed call;
   * during a probe replay it is only counted (a failure reopens the circuit through
   * {@link Replayer.probe}).
   */
  async #call(
    operation: string,
    run: () => MaybePromise<unknown>,
    mode: 'probe' | 'drain',
    epoch: number,
    write: GuardedWrite,
  ): Promise<void> {
    if (epoch !== this.#host.circuit.epoch || this.#host.isShut()) throw SUPERSEDED
    await this.#host.guard.call(operation, run, epoch, mode === 'drain' ? NORMAL : REPLAY, write)
  }

  #announce(mode: 'probe' | 'drain', ok: boolean, applied: number, started: number, error: unknown): void {
    this.#host.replayed({
      store: this.#host.store.name,
      mode,
      ok,
      applied,
      remaining: this.journal.size,
      durationMs: this.#host.now() - started,
      ...(error !== undefined ? { error } : {}),
    })
  }
}
