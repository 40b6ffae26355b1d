import { randomUUID } from 'node:crypto'
import { type Clock, clockTimers, preciseNow, systemClock } from '../clock.js'
import { optionalDuration, resolveTimeUnit, type TimeUnit } from '../duration.js'
import { CacheClosedError, InvalidOptionError, isTierCacheError } from '../errors.js'
import { Emitter } from '../events.js'
import { DEFAULT_MAX_KEY_BYTES, validateNamespace } from '../keys.js'
import { defaultSerializer, type Serializer } from '../serializer.js'
import type { Store } from '../store.js'
import type { CacheOptions, Logger } from '../types.js'

const noop = (): void => {}
const SILENT: Logger = { debug: noop, info: noop, warn: noop, error: noop }

/** What error reporting reads and counts on a tier (a `Tier` of the tier set is one). */
export interface ReportedTier {
  readonly store: Pick<Store<unknown>, 'onStatusChange'>
  /** The tier's label in stats and events. */
  readonly level: string
  readonly memory: boolean
  errors: number
  skipped: number
  connected: boolean | undefined
}

/** Whole-cache counters behind `getStats()`. */
export interface Counters {
  hits: number
  misses: number
  sets: number
  deletes: number
  loads: number
  loadErrors: number
  collapsed: number
  staleServed: number
  refreshes: number
  errors: number
  skipped: number
  refused: number
}

/**
 * What every part of the engine shares: the clock and timers, the emitter and logger, the
 * counters, the lifecycle flag, background work and error reporting. One per `createCache`.
 */
export class EngineContext {
  readonly root: string
  readonly instanceId: string = randomUUID()
  readonly serializer: Serializer
  readonly clock: Clock
  /** The engine's time (epoch ms), coarse on the system clock. */
  readonly now: () => number
  /** The precise time (epoch ms) for writes. */
  readonly preciseNow: () => number
  /** A background timer: never keeps the process alive. */
  readonly setTimer: (fn: () => void, ms: number) => unknown
  /** A timer that settles a caller's promise: keeps the process alive until it fires or is cleared. */
  readonly setCallerTimer: (fn: () => void, ms: number) => unknown
  readonly clearTimer: (handle: unknown) => void
  readonly emitter: Emitter
  readonly logger: Logger
  readonly maxKeyBytes: number
  readonly strict: boolean
  /** Longest wait for one remote tier operation, in ms (Infinity: none). */
  readonly tierTimeout: number
  /** What a bare number of time means in this cache's options and calls. */
  readonly timeUnit: TimeUnit
  readonly counters: Counters = {
    hits: 0,
    misses: 0,
    sets: 0,
    deletes: 0,
    loads: 0,
    loadErrors: 0,
    collapsed: 0,
    staleServed: 0,
    refreshes: 0,
    errors: 0,
    skipped: 0,
    refused: 0,
  }
  closed = false
  readonly #background = new Set<Promise<unknown>>()

  constructor(options: CacheOptions) {
    const root = options.namespace ?? 'cache'
    validateNamespace(root)
    this.root = root
    this.serializer = options.serializer ?? defaultSerializer
    const clock = options.clock ?? systemClock
    this.clock = clock
    this.now = clock === systemClock ? systemClock.now : () => clock.now()
    this.preciseNow = clock === systemClock ? preciseNow : () => clock.now()
    const timers = clockTimers(clock)
    this.setTimer = (fn, ms) => timers.set(fn, ms, false)
    this.setCallerTimer = (fn, ms) => timers.set(fn, ms, true)
    this.clearTimer = timers.clear
    this.logger = options.logger ?? SILENT
    this.emitter = new Emitter((error) =>
      this.logger.warn({ err: error }, 'tiercache: an event listener threw'),
    )
    this.maxKeyBytes = options.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES
    if (!Number.isInteger(this.maxKeyBytes) || this.maxKeyBytes < 1) {
      throw new InvalidOptionError('maxKeyBytes must be a positive integer', { option: 'maxKeyBytes' })
    }
    this.strict = options.strict === true
    this.timeUnit = resolveTimeUnit(options.timeUnit)
    this.tierTimeout = optionalDuration(options.tierTimeout, 5000, 'tierTimeout', this.timeUnit)
  }

  assertOpen(): void {
    if (this.closed) throw new CacheClosedError()
  }

  /** The key a non-memory tier stores for a key relative to the root namespace. */
  remoteKey(rel: string): string {
    return `${this.root}:${rel}`
  }

  /**
   * Counts and reports a failed tier operation: an `error` event, unless the tier refused the call
   * at once because its breaker is open (then it is counted as skipped and stays quiet).
   */
  reportError(error: unknown, operation: string, tier: ReportedTier | undefined, key?: string): void {
    if (tier !== undefined && isTierCacheError(error, 'E_CIRCUIT_OPEN')) {
      // An open breaker refused the call at once: the tier is skipped, not failing. Counting it as
      // an error (and emitting an event per call) would flood logs and metrics during an outage.
      tier.skipped++
      this.counters.skipped++
      if (tier.store.onStatusChange === undefined) tier.connected = false
      return
    }
    this.counters.errors++
    if (tier) {
      tier.errors++
      if (tier.store.onStatusChange === undefined && !tier.memory) tier.connected = false
    }
    if (this.emitter.listening.error) {
      this.emitter.emit('error', { error, operation, level: tier?.level, key })
    }
    this.logger.debug({ err: error, operation, level: tier?.level, key }, 'tiercache: tier operation failed')
  }

  /** Tracks background work so it is never unhandled and close() can wait for it. */
  background(p: Promise<unknown>): void {
    const tracked = p.catch((error) => this.reportError(error, 'background', undefined))
    this.#background.add(tracked)
    void tracked.finally(() => this.#background.delete(tracked))
  }

  /** Waits for background work, at most `ms` milliseconds. */
  async drain(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      Promise.allSettled([...this.#background]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, ms)
        timer.unref?.()
      }),
    ])
    clearTimeout(timer)
  }
}
