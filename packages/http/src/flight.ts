import type { Found, StoredResponse } from './types.js'

/** What a collapsed request gets from the one that ran the handler. */
export type FlightOutcome =
  | {
      readonly entry: StoredResponse
      /** The `Vary` header values it was stored under, or null. */
      readonly values: readonly string[] | null
      /** Where it is stored. */
      readonly found: Found
    }
  | undefined
  | 'timeout'

/**
 * One handler run that other requests for the same key wait for (request collapsing). Settles
 * once: with the shareable response, with `undefined` when there is none (not storable, too
 * large, failed), or with `'timeout'` after the lock timeout.
 */
export class Flight {
  readonly key: string
  readonly promise: Promise<FlightOutcome>
  #resolve!: (outcome: FlightOutcome) => void
  #timer: ReturnType<typeof setTimeout> | undefined
  #settled = false

  /**
   * @param timeout - lock timeout in milliseconds
   * @param onTimeout - called when the lock timeout elapses first
   */
  constructor(key: string, timeout: number, onTimeout: () => void) {
    this.key = key
    this.promise = new Promise<FlightOutcome>((resolve) => {
      this.#resolve = resolve
    })
    this.#timer = setTimeout(() => {
      this.settle('timeout')
      onTimeout()
    }, timeout)
    this.#timer.unref?.()
  }

  /** True once settled. */
  get settled(): boolean {
    return this.#settled
  }

  /** Settles the flight (later calls do nothing). */
  settle(outcome: FlightOutcome): void {
    if (this.#settled) return
    this.#settled = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#resolve(outcome)
  }
}
