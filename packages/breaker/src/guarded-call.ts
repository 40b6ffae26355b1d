import { type MaybePromise, StoreTimeoutError } from '@tiercache/core/store'
import { FAILED, IGNORED, type Mode, type Outcome, SUCCEEDED } from './circuit.js'
import { type Timers, withDeadline } from './timeout.js'
import type { IssuedWrite, WriteOrder } from './write-order.js'

/**
 * The one way a call reaches the wrapped store, for callers' calls and journal replays alike:
 * run it, bound it by the timeout, classify its outcome, and report it.
 *
 * @module
 * @internal
 */

/** A write being issued: its order, the keys or range it touches, and how to journal it. @internal */
export interface GuardedWrite extends IssuedWrite {
  /** Journals the write after it failed; absent for replay calls (their intents stay journaled). */
  readonly record?: ((seq: number) => void) | undefined
}

/** Where a guarded call reports. @internal */
export interface GuardHost {
  /** A write that carries `record` failed: journal it (called before it stops being tracked). */
  writeFailed(write: GuardedWrite): void
  /** The call settled (after any {@link GuardHost.writeFailed}). */
  settled(epoch: number, mode: Mode, outcome: Outcome, error: unknown): void
}

/**
 * Runs admitted calls against one store. Synchronous answers are settled at once (they are not
 * timed); promises are bounded by `timeout`, settled even if the store never answers, and their
 * late answers or rejections are swallowed.
 *
 * @internal
 */
export class CallGuard {
  readonly #store: string
  readonly #timeout: number
  readonly #timers: Timers
  readonly #isFailure: (error: unknown) => boolean
  readonly #order: WriteOrder | undefined
  readonly #host: GuardHost
  #timeouts = 0

  /**
   * @param store - name of the store, for timeout errors
   * @param timeout - per-call bound in milliseconds (`Infinity`: none)
   * @param timers - the clock's timers
   * @param isFailure - whether an error counts against the store
   * @param order - tracks writes in flight (present when failed writes are journaled)
   * @param host - told about outcomes
   */
  constructor(
    store: string,
    timeout: number,
    timers: Timers,
    isFailure: (error: unknown) => boolean,
    order: WriteOrder | undefined,
    host: GuardHost,
  ) {
    this.#store = store
    this.#timeout = timeout
    this.#timers = timers
    this.#isFailure = isFailure
    this.#order = order
    this.#host = host
  }

  /** Calls that ran past the timeout. */
  get timeouts(): number {
    return this.#timeouts
  }

  /** Whether an error counts against the store (`FAILED`) or says nothing about it (`IGNORED`). */
  classify(error: unknown): Outcome {
    return this.#isFailure(error) ? FAILED : IGNORED
  }

  /**
   * Runs `run` as an admitted call.
   *
   * @param operation - the store operation, for timeout errors
   * @param run - calls the store
   * @param epoch - the circuit epoch the call was admitted in
   * @param mode - how it was admitted
   * @param write - the write it makes, if any
   */
  call<R>(
    operation: string,
    run: () => MaybePromise<R>,
    epoch: number,
    mode: Mode,
    write: GuardedWrite | undefined,
  ): MaybePromise<R> {
    let result: MaybePromise<R>
    try {
      result = run()
    } catch (error) {
      this.failed(error, epoch, mode, write)
      throw error
    }
    if (isThenable(result)) {
      if (write !== undefined && this.#order !== undefined) this.#order.track(write)
      return this.pending(result, operation, epoch, mode, write)
    }
    this.#host.settled(epoch, mode, SUCCEEDED, undefined)
    return result
  }

  /**
   * Reports a call that threw synchronously.
   *
   * @param error - what it threw
   * @param epoch - the circuit epoch the call was admitted in
   * @param mode - how it was admitted
   * @param write - the write it made, if any
   */
  failed(error: unknown, epoch: number, mode: Mode, write: GuardedWrite | undefined): void {
    const outcome = this.classify(error)
    if (outcome === FAILED && write?.record !== undefined) this.#host.writeFailed(write)
    this.#host.settled(epoch, mode, outcome, error)
  }

  /**
   * Bounds a call already made that answered with a promise (a write in it must already be
   * tracked).
   *
   * @param promise - the store's answer
   * @param operation - the store operation, for timeout errors
   * @param epoch - the circuit epoch the call was admitted in
   * @param mode - how it was admitted
   * @param write - the write it makes, if any
   */
  pending<R>(
    promise: Promise<R>,
    operation: string,
    epoch: number,
    mode: Mode,
    write: GuardedWrite | undefined,
  ): Promise<R> {
    return withDeadline(
      promise,
      this.#timeout,
      this.#timers,
      () => this.#timedOut(operation),
      (failed, error) => {
        const outcome = failed ? this.classify(error) : SUCCEEDED
        if (write !== undefined) {
          // Journal before untracking: the check for newer writes needs this write still tracked.
          if (outcome === FAILED && write.record !== undefined) this.#host.writeFailed(write)
          this.#order?.untrack(write)
        }
        this.#host.settled(epoch, mode, outcome, error)
      },
    )
  }

  /**
   * Bounds a call that is not counted (`stats`).
   *
   * @param promise - the store's answer
   * @param operation - the store operation, for timeout errors
   */
  bounded<R>(promise: Promise<R>, operation: string): Promise<R> {
    const timedOut = (): StoreTimeoutError =>
      new StoreTimeoutError(this.#timeout, { store: this.#store, operation })
    return withDeadline(promise, this.#timeout, this.#timers, timedOut)
  }

  #timedOut(operation: string): StoreTimeoutError {
    this.#timeouts++
    return new StoreTimeoutError(this.#timeout, { store: this.#store, operation })
  }
}

/**
 * True when `value` is a promise-like.
 *
 * @param value - a store's answer
 * @internal
 */
export function isThenable<T>(value: MaybePromise<T>): value is Promise<T> {
  return (
    value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function'
  )
}
