/**
 * The breaker's observable surface: states, state-change and replay events, counters.
 *
 * @module
 */

import { InvalidOptionError } from '@tiercache/core'

/**
 * The breaker state.
 * - `closed`: calls go to the store; failures are counted.
 * - `open`: calls fail at once with `CircuitOpenError`, without I/O, until `resetTimeout` passes.
 * - `half-open`: up to `halfOpenMaxCalls` probe calls (or a journal replay) go to the store;
 *   every other call fails at once. Success closes the breaker, failure reopens it.
 */
export type BreakerState = 'closed' | 'open' | 'half-open'

/** Why the breaker changed state. */
export type StateChangeReason =
  /** closed → open: `failureThreshold` consecutive failures. */
  | 'failure-threshold'
  /** closed → open: the failure ratio over the window reached `failureRatio`. */
  | 'failure-ratio'
  /** open → half-open: `resetTimeout` passed. */
  | 'reset-timeout'
  /** half-open → open: a probe call failed or timed out. */
  | 'probe-failed'
  /** half-open → open: replaying the journal failed or timed out. */
  | 'replay-failed'
  /** half-open → closed: every probe succeeded and the journal was replayed. */
  | 'probes-succeeded'

/** Payload of the `state:change` event. */
export interface StateChangeEvent {
  /** Name of the wrapped store (for example `redis`). */
  readonly store: string
  /** The state left. */
  readonly from: BreakerState
  /** The state entered (also the breaker's `state` from now on). */
  readonly to: BreakerState
  /** Why. */
  readonly reason: StateChangeReason
  /** When, in epoch milliseconds by the breaker's clock. */
  readonly at: number
  /** The failure that opened the breaker, for transitions to `open`. */
  readonly error?: unknown
}

/** Payload of the `replay` event, emitted after each journal replay attempt. */
export interface ReplayEvent {
  /** Name of the wrapped store. */
  readonly store: string
  /**
   * `probe`: the replay that runs while half-open, before the breaker closes.
   * `drain`: a replay while closed, of calls that failed without opening the breaker.
   */
  readonly mode: 'probe' | 'drain'
  /** Whether every journaled intent was applied. */
  readonly ok: boolean
  /** Intents applied (per-key writes and deletes, clears, pattern deletes). */
  readonly applied: number
  /** Intents still journaled afterwards. */
  readonly remaining: number
  /** How long the replay took, in milliseconds by the breaker's clock. */
  readonly durationMs: number
  /** Why it stopped, when it failed. */
  readonly error?: unknown
}

/**
 * Listener signatures by event name, for `breaker.on(name, listener)`. Names follow core's
 * convention (`tier:status`, `warm:start`): lower case, `subject:what`.
 */
export interface BreakerEvents {
  /** The breaker changed state. Listeners run synchronously; exceptions they throw are ignored. */
  'state:change': (event: StateChangeEvent) => void
  /** A journal replay finished or failed. Listeners run synchronously; exceptions are ignored. */
  replay: (event: ReplayEvent) => void
  /**
   * The former name of `state:change`: the same listeners, the same events.
   * @deprecated Use `state:change`; this name will be removed in a later major version.
   */
  stateChange: (event: StateChangeEvent) => void
}

/**
 * The breaker's listeners. `stateChange` is an alias of `state:change` (one set), so a listener
 * added under either name is called once per change and can be removed under either name.
 *
 * @internal
 */
export class BreakerEmitter {
  readonly #stateChange = new Set<(event: StateChangeEvent) => void>()
  readonly #replay = new Set<(event: ReplayEvent) => void>()

  /**
   * The listener set of an event name.
   *
   * @param event - the event name
   * @throws InvalidOptionError for an unknown name
   */
  listeners<E extends keyof BreakerEvents>(event: E): Set<BreakerEvents[E]> {
    if (event === 'state:change' || event === 'stateChange') return this.#stateChange as Set<BreakerEvents[E]>
    if (event === 'replay') return this.#replay as Set<BreakerEvents[E]>
    throw new InvalidOptionError(`breaker: unknown event "${String(event)}"`, { option: 'event' })
  }

  /** Calls every `state:change` listener; exceptions are ignored. */
  stateChange(event: StateChangeEvent): void {
    emit(this.#stateChange, event)
  }

  /** Calls every `replay` listener; exceptions are ignored. */
  replay(event: ReplayEvent): void {
    emit(this.#replay, event)
  }
}

function emit<T>(listeners: Set<(event: T) => void>, event: T): void {
  for (const listener of listeners) {
    try {
      listener(event)
    } catch {
      // A listener must not break the breaker.
    }
  }
}

/** Counters since the breaker was created. All are monotonic. */
export interface BreakerCounters {
  /** Times the breaker opened (from closed or half-open). */
  readonly opened: number
  /** Times the breaker closed again after being open. */
  readonly closed: number
  /** Calls refused with `CircuitOpenError` (no I/O done). */
  readonly rejections: number
  /** Calls that hit the per-operation `timeout` (each also counts as a failure). */
  readonly timeouts: number
  /** Calls that failed, timeouts included (errors that `isFailure` ignores are not counted). */
  readonly failures: number
  /** Calls that succeeded. */
  readonly successes: number
  /** Intents applied to the store by journal replays. */
  readonly replayed: number
  /** Times the journal passed a bound and collapsed to namespace clears. */
  readonly journalOverflows: number
}
