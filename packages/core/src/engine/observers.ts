import { InvalidOptionError } from '../errors.js'
import type { Logger, ObservedOperation, ObservedOutcome, OperationObserver } from '../types.js'

/**
 * Operation observers (metrics). Every operation that leaves L1 is timed; L1 hits of `get` and
 * `getOrSet` are timed one in `sampleEvery` and reported with that weight.
 */
export class Observers {
  #list: OperationObserver[] = []
  /** True while an observer is registered: the hot path reads this one field. */
  observing = false
  readonly sampleEvery: number
  /** The next L1 hit of `get` / `getOrSet` is to be timed. */
  timeNextGet = false
  timeNextGetOrSet = false
  #getCountdown = 0
  #getOrSetCountdown = 0
  readonly #logger: Logger

  constructor(sampleEvery: number | undefined, logger: Logger) {
    const every = sampleEvery ?? 64
    if (!Number.isInteger(every) || every < 1) {
      throw new InvalidOptionError('l1SampleEvery must be a positive integer', { option: 'l1SampleEvery' })
    }
    this.sampleEvery = every
    this.#logger = logger
  }

  /** Registers an observer; returns the function that unregisters it. */
  add(observer: OperationObserver): () => void {
    if (typeof observer?.observe !== 'function') {
      throw new InvalidOptionError('an operation observer needs an observe() method', { option: 'observer' })
    }
    this.#list = [...this.#list, observer]
    if (!this.observing) {
      this.#getCountdown = this.sampleEvery - 1
      this.#getOrSetCountdown = this.sampleEvery - 1
      this.timeNextGet = this.sampleEvery === 1
      this.timeNextGetOrSet = this.sampleEvery === 1
    }
    this.observing = true
    return () => {
      this.#list = this.#list.filter((o) => o !== observer)
      this.observing = this.#list.length > 0
      if (!this.observing) {
        this.timeNextGet = false
        this.timeNextGetOrSet = false
      }
    }
  }

  /** Reports an operation that started at `t0` (a `performance.now()` reading). */
  report(
    operation: ObservedOperation,
    level: string,
    outcome: ObservedOutcome,
    t0: number,
    weight = 1,
  ): void {
    const seconds = (performance.now() - t0) / 1000
    for (const o of this.#list) {
      try {
        o.observe(operation, level, outcome, seconds, weight)
      } catch (error) {
        this.#logger.warn({ err: error }, 'tiercache: an operation observer threw')
      }
    }
  }

  /** Reports a write or invalidation at `level` when its promise settles; returns the same promise. */
  track<T>(operation: ObservedOperation, level: string, t0: number, p: Promise<T>): Promise<T> {
    p.then(
      () => this.report(operation, level, 'ok', t0),
      () => this.report(operation, level, 'error', t0),
    )
    return p
  }

  /** Counts an untimed L1 hit of `get` toward the next timed one. */
  countGetHit(): void {
    if (--this.#getCountdown <= 0) this.timeNextGet = true
  }

  /** Counts an untimed L1 hit of `getOrSet` toward the next timed one. */
  countGetOrSetHit(): void {
    if (--this.#getOrSetCountdown <= 0) this.timeNextGetOrSet = true
  }

  /** A timed L1 hit of `get` was reported: restart the countdown. */
  timedGet(): void {
    this.timeNextGet = this.sampleEvery === 1
    this.#getCountdown = this.sampleEvery - 1
  }

  /** A timed L1 hit of `getOrSet` was reported: restart the countdown. */
  timedGetOrSet(): void {
    this.timeNextGetOrSet = this.sampleEvery === 1
    this.#getOrSetCountdown = this.sampleEvery - 1
  }
}
