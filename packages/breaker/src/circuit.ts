import type { BreakerState, StateChangeReason } from './events.js'
import { RollingWindow } from './rolling-window.js'

/**
 * The circuit state machine: closed, open, half-open, driven only by call outcomes and a clock.
 * It does no I/O, sets no timers and knows nothing of stores or journals; its owner tells it
 * what happened ({@link Circuit.settle}) and hears about transitions through a
 * {@link CircuitHost}. Admission and outcome accounting allocate nothing.
 *
 * @module
 * @internal
 */

/** State codes, indexes into {@link STATE_NAMES}. @internal */
export const CLOSED = 0
/** @internal */
export const OPEN = 1
/** @internal */
export const HALF_OPEN = 2
/** A state as a small integer: {@link CLOSED}, {@link OPEN} or {@link HALF_OPEN}. @internal */
export type StateCode = typeof CLOSED | typeof OPEN | typeof HALF_OPEN
/** Public names of the state codes. @internal */
export const STATE_NAMES: readonly BreakerState[] = ['closed', 'open', 'half-open']

/** How an admitted call is accounted: a closed-state call. @internal */
export const NORMAL = 1
/** A half-open probe: its outcome decides whether the circuit closes. @internal */
export const PROBE = 2
/** A call of the half-open journal replay: only counted; the replay decides as a whole. @internal */
export const REPLAY = 3
/** How a call is accounted: {@link NORMAL}, {@link PROBE} or {@link REPLAY}. @internal */
export type Mode = typeof NORMAL | typeof PROBE | typeof REPLAY

/** The call succeeded. @internal */
export const SUCCEEDED = 0
/** The call failed in a way that counts against the store. @internal */
export const FAILED = 1
/** The call failed in a way that says nothing about the store (bad input). @internal */
export const IGNORED = 2
/** A call's outcome: {@link SUCCEEDED}, {@link FAILED} or {@link IGNORED}. @internal */
export type Outcome = typeof SUCCEEDED | typeof FAILED | typeof IGNORED

/** The thresholds the circuit needs, all resolved (milliseconds for durations). @internal */
export interface CircuitSettings {
  /** Consecutive failures that open the circuit. */
  readonly failureThreshold: number
  /** Failure ratio over the window that opens the circuit (once `minimumCalls` finished). */
  readonly failureRatio: number
  /** Rolling window length, in milliseconds. */
  readonly window: number
  /** Calls the window must hold before the ratio counts. */
  readonly minimumCalls: number
  /** How long the circuit stays open before a probe, in milliseconds. */
  readonly resetTimeout: number
  /** Probe calls that must succeed while half-open. */
  readonly halfOpenMaxCalls: number
}

/** What the circuit tells its owner. @internal */
export interface CircuitHost {
  /**
   * The circuit moved from `from` to `to` (the epoch is already bumped). Runs synchronously
   * inside the call that caused it.
   */
  changed(from: StateCode, to: StateCode, reason: StateChangeReason, error: unknown): void
  /**
   * Every half-open probe succeeded. The owner closes the circuit ({@link Circuit.close}), or
   * first finishes work of its own (a journal replay) and then closes or reopens it.
   */
  probesSucceeded(): void
}

/**
 * A clock-driven circuit breaker state machine.
 *
 * - closed: `failureThreshold` consecutive failures, or a failure ratio of `failureRatio` over
 *   the window once `minimumCalls` calls finished, open it.
 * - open: every call is refused until `retryAt`; the first admission at or after it (or the
 *   owner's timer calling {@link Circuit.halfOpen}) moves it to half-open.
 * - half-open: up to `halfOpenMaxCalls` probes are admitted; when all succeed the owner is told
 *   ({@link CircuitHost.probesSucceeded}); any failure reopens it.
 *
 * Each transition bumps `epoch`; outcomes of calls admitted in an older epoch only count.
 *
 * @internal
 */
export class Circuit {
  readonly #settings: CircuitSettings
  readonly #clock: { now(): number }
  readonly #host: CircuitHost
  readonly #window: RollingWindow
  #state: StateCode = CLOSED
  #epoch = 0
  #consecutive = 0
  #retryAt = 0
  #probesAdmitted = 0
  #probesSucceeded = 0
  /** While half-open: the owner runs work that must finish first, so every call is refused. */
  #held = false
  #opened = 0
  #closed = 0
  #failures = 0
  #successes = 0

  /**
   * @param settings - thresholds and durations
   * @param clock - the time source (`now()`, epoch milliseconds)
   * @param host - told about transitions
   */
  constructor(settings: CircuitSettings, clock: { now(): number }, host: CircuitHost) {
    this.#settings = settings
    this.#clock = clock
    this.#host = host
    this.#window = new RollingWindow(settings.window)
  }

  /** The current state code. */
  get state(): StateCode {
    return this.#state
  }
  /** Bumped on every transition. */
  get epoch(): number {
    return this.#epoch
  }
  /** While open: when a probe is allowed, epoch ms. */
  get retryAt(): number {
    return this.#retryAt
  }
  /** Times the circuit opened. */
  get opened(): number {
    return this.#opened
  }
  /** Times it closed again. */
  get closed(): number {
    return this.#closed
  }
  /** Calls that failed (in any state, any epoch). */
  get failures(): number {
    return this.#failures
  }
  /** Calls that succeeded (in any state, any epoch). */
  get successes(): number {
    return this.#successes
  }

  /** True while open and before `retryAt`: a call would be refused without changing anything. */
  refusing(): boolean {
    return this.#state === OPEN && this.#clock.now() < this.#retryAt
  }

  /**
   * Decides whether a call may go: {@link NORMAL}, {@link PROBE}, or 0 (refuse). Moves an open
   * circuit past `retryAt` to half-open first.
   *
   * @param blocked - the call must not be a probe (it touches state the owner still has to
   *   settle); refused unless closed
   */
  admit(blocked: boolean): Mode | 0 {
    if (this.#state === OPEN) {
      if (this.#clock.now() < this.#retryAt) return 0
      this.halfOpen()
    }
    if (this.#state === CLOSED) return NORMAL
    if (this.#held || blocked || this.#probesAdmitted >= this.#settings.halfOpenMaxCalls) return 0
    this.#probesAdmitted++
    return PROBE
  }

  /** A closed-state call succeeded at once (the synchronous fast path): no epoch to check. */
  succeeded(): void {
    this.#successes++
    this.#consecutive = 0
    this.#window.record(this.#clock.now(), false)
  }

  /**
   * Applies one call's outcome.
   *
   * @param epoch - the epoch the call was admitted in
   * @param mode - how it was admitted
   * @param outcome - what happened
   * @param error - the failure, if any (carried by a transition to open)
   * @returns true when a {@link NORMAL} call of the current epoch succeeded while closed
   */
  settle(epoch: number, mode: Mode, outcome: Outcome, error: unknown): boolean {
    if (outcome === IGNORED) {
      // Says nothing about the store's health: a probe gives its slot back.
      if (mode === PROBE && epoch === this.#epoch) this.#probesAdmitted--
      return false
    }
    const failed = outcome === FAILED
    if (failed) this.#failures++
    else this.#successes++
    if (epoch !== this.#epoch || mode === REPLAY) return false
    if (mode === PROBE) {
      if (failed) this.open('probe-failed', error)
      else this.probeSucceeded()
      return false
    }
    if (this.#state !== CLOSED) return false
    const now = this.#clock.now()
    this.#window.record(now, failed)
    if (!failed) {
      this.#consecutive = 0
      return true
    }
    if (++this.#consecutive >= this.#settings.failureThreshold) {
      this.open('failure-threshold', error)
      return false
    }
    const { calls, failures } = this.#window.totals(now)
    if (calls >= this.#settings.minimumCalls && failures / calls >= this.#settings.failureRatio) {
      this.open('failure-ratio', error)
    }
    return false
  }

  /** Opens the circuit for `resetTimeout` (from any state). */
  open(reason: StateChangeReason, error: unknown): void {
    this.#opened++
    this.#held = false
    this.#retryAt = this.#clock.now() + this.#settings.resetTimeout
    this.#move(OPEN, reason, error)
  }

  /** Moves an open circuit to half-open (no-op in any other state). */
  halfOpen(): void {
    if (this.#state !== OPEN) return
    this.#probesAdmitted = 0
    this.#probesSucceeded = 0
    this.#move(HALF_OPEN, 'reset-timeout', undefined)
  }

  /**
   * While half-open: the owner starts work that counts as the first probe and must finish
   * before any other call (a journal replay). Every call is refused until {@link Circuit.release}.
   *
   * @param firstProbe - the work takes a probe slot (when it starts the half-open period)
   */
  hold(firstProbe: boolean): void {
    if (firstProbe) this.#probesAdmitted = 1
    this.#held = true
  }

  /** Ends a {@link Circuit.hold}. */
  release(): void {
    this.#held = false
  }

  /** Counts one successful probe; after the last one the owner is told. */
  probeSucceeded(): void {
    if (++this.#probesSucceeded < this.#settings.halfOpenMaxCalls) return
    this.#host.probesSucceeded()
  }

  /** Closes the circuit: counters and the window start afresh. */
  close(): void {
    this.#consecutive = 0
    this.#window.reset()
    this.#closed++
    this.#move(CLOSED, 'probes-succeeded', undefined)
  }

  #move(to: StateCode, reason: StateChangeReason, error: unknown): void {
    const from = this.#state
    this.#state = to
    this.#epoch++
    this.#host.changed(from, to, reason, error)
  }
}
