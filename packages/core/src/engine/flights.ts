import { timerDelay } from '../duration.js'
import { HardTimeoutError } from '../errors.js'
import type { SetCondition } from '../store.js'
import type { ObservedOutcome, StaleReason } from '../types.js'
import type { EngineContext } from './context.js'
import type { Found } from './entries.js'
import type { Fence, Scope } from './fence.js'
import type { LoadOptions, LoadRequest } from './options.js'
import type { Tier } from './tier-set.js'

const noop = (): void => {}

/** Callers waiting for one answer of a load. */
export interface Answer {
  settled: boolean
  /** Callers sharing it. */
  callers: number
  /** How the answer came about, for observers: `hit`, `stale`, or `miss` (loaded). */
  outcome: ObservedOutcome
  level: string
  softExpired: boolean
  readonly promise: Promise<unknown>
  readonly resolve: (value: unknown) => void
  readonly reject: (error: unknown) => void
  readonly timers: unknown[]
}

/** One read-then-load of a key, shared by every caller (single-flight). */
export interface Flight {
  readonly request: LoadRequest
  /** Creation time for the loaded entry, taken before the read (tags compare against it). */
  readonly createdAt: number
  /** An invalidation covering the key overlapped the flight: its result is not written. */
  invalidated: boolean
  /** The best stale value seen. */
  stale: Found | undefined
  /** What writes of the result into conditional shared tiers must find there. */
  expect: readonly (SetCondition | undefined)[]
  /** The result was written (the leases in `expect` were used). */
  wrote: boolean
  abort: AbortController | undefined
  /** The callers still waiting (undefined once answered early, e.g. with a stale value). */
  answer: Answer | undefined
}

/**
 * The table of flights in progress. A flight leaves the table before its last answer settles, so
 * a call made right after an answer starts afresh: a settled answer is never joined.
 */
export class FlightTable {
  readonly #ctx: EngineContext
  readonly #flights = new Map<string, Flight>()
  readonly #tiers: readonly Tier[]
  readonly #lastLevel: string
  readonly #fence: Fence
  /** The flight writing its own result: its own fence ticket must not invalidate it. */
  #exempt: Flight | undefined

  constructor(ctx: EngineContext, fence: Fence, tiers: readonly Tier[]) {
    this.#ctx = ctx
    this.#fence = fence
    this.#tiers = tiers
    this.#lastLevel = (tiers[tiers.length - 1] as Tier).level
    fence.onBegin((scope) => this.#invalidate(scope))
  }

  #invalidate(scope: Scope): void {
    for (const f of this.#flights.values()) {
      if (f !== this.#exempt && scope.covers(f.request.rel, f.request.opts.tags)) f.invalidated = true
    }
  }

  get(rel: string): Flight | undefined {
    return this.#flights.get(rel)
  }

  get size(): number {
    return this.#flights.size
  }

  /** Opens the fence for a flight's own write of its result (it does not invalidate itself). */
  beginWrite(flight: Flight, scope: Scope): ReturnType<Fence['begin']> {
    this.#exempt = flight
    try {
      return this.#fence.begin(scope)
    } finally {
      this.#exempt = undefined
    }
  }

  /**
   * Starts a flight; `callers` 0 for a background refresh nobody waits for. `createdAt` is the
   * creation time its result will carry.
   */
  start(request: LoadRequest, callers: number, createdAt: number): Flight {
    const flight: Flight = {
      request,
      createdAt,
      invalidated: this.#fence.activeCovers(request.rel, request.opts.tags),
      stale: undefined,
      expect: [],
      wrote: false,
      abort: undefined,
      answer: undefined,
    }
    this.#flights.set(request.rel, flight)
    if (callers > 0) flight.answer = this.newAnswer(flight, request.opts)
    return flight
  }

  /** A new group of callers waiting for `flight`, with their own timeouts. */
  newAnswer(flight: Flight, opts: LoadOptions): Answer {
    let resolve!: (v: unknown) => void
    let reject!: (e: unknown) => void
    const promise = new Promise<unknown>((res, rej) => {
      resolve = res
      reject = rej
    })
    // Callers handle rejections; a group nobody awaits any more must never be unhandled.
    promise.catch(noop)
    const answer: Answer = {
      settled: false,
      callers: 1,
      outcome: 'miss',
      level: this.#lastLevel,
      softExpired: false,
      promise,
      resolve,
      reject,
      timers: [],
    }
    flight.answer = answer
    if (opts.softTimeout !== undefined) {
      answer.timers.push(
        this.#ctx.setCallerTimer(() => {
          answer.softExpired = true
          if (flight.stale !== undefined && !flight.invalidated) this.answerStale(flight, 'soft-timeout')
        }, timerDelay(opts.softTimeout)),
      )
    }
    if (opts.hardTimeout !== undefined) {
      const hard = opts.hardTimeout
      answer.timers.push(
        this.#ctx.setCallerTimer(() => {
          flight.abort?.abort(new HardTimeoutError(hard, { key: flight.request.rel }))
          if (answer.settled) return
          if (flight.stale !== undefined && !flight.invalidated) this.answerStale(flight, 'hard-timeout')
          else {
            this.#ctx.counters.loadErrors++
            this.#settle(flight, answer, undefined, new HardTimeoutError(hard, { key: flight.request.rel }))
          }
        }, timerDelay(hard)),
      )
    }
    return answer
  }

  #settle(flight: Flight, answer: Answer, value: unknown, error?: unknown): void {
    if (answer.settled) return
    answer.settled = true
    for (const t of answer.timers) this.#ctx.clearTimer(t)
    answer.timers.length = 0
    if (flight.answer === answer) flight.answer = undefined
    if (error !== undefined) answer.reject(error)
    else answer.resolve(value)
  }

  /** Answers the waiting callers with the flight's stale value; the load (if any) goes on. */
  answerStale(flight: Flight, reason: StaleReason): void {
    const answer = flight.answer
    if (answer === undefined || answer.settled || flight.stale === undefined) return
    answer.outcome = 'stale'
    answer.level = (this.#tiers[flight.stale.tier] as Tier | undefined)?.level ?? this.#lastLevel
    this.#ctx.counters.staleServed += answer.callers
    if (this.#ctx.emitter.listening.stale)
      this.#ctx.emitter.emit('stale', { key: flight.request.rel, reason })
    this.#settle(flight, answer, flight.stale.value)
  }

  /**
   * Ends a flight: it leaves the table first, then its waiting callers get `value` (or `error`),
   * reported as `outcome` in tier `level`.
   */
  finish(flight: Flight, value: unknown, error?: unknown, outcome?: ObservedOutcome, level?: string): void {
    if (this.#flights.get(flight.request.rel) === flight) this.#flights.delete(flight.request.rel)
    const answer = flight.answer
    if (answer === undefined) return
    if (outcome !== undefined) answer.outcome = outcome
    if (level !== undefined) answer.level = level
    this.#settle(flight, answer, value, error)
  }

  /** Aborts every flight and rejects its waiting callers with `reason` (the cache is closing). */
  abortAll(reason: unknown): void {
    const flights = [...this.#flights.values()]
    this.#flights.clear()
    for (const flight of flights) {
      flight.invalidated = true
      flight.abort?.abort(reason)
      if (flight.answer !== undefined) this.#settle(flight, flight.answer, undefined, reason)
    }
  }
}
