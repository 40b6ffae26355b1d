import { StoreError } from '@tiercache/core/store'

/** Whether this runtime lets us turn stack capture off (it does not under `--frozen-intrinsics`). */
const CAN_SKIP_STACK: boolean = Object.getOwnPropertyDescriptor(Error, 'stackTraceLimit')?.writable === true

/**
 * The call was refused because the breaker around the store is open (or half-open with every
 * probe slot taken). No I/O was done. Code `E_CIRCUIT_OPEN`.
 *
 * It is a `StoreError` marked `refused` (the store was not tried), so the engine counts it as
 * `skipped` rather than as an error: a read becomes a miss in that tier, a write skips that tier
 * (the breaker journaled it), and no `error` event is emitted. It is built without a stack trace (the frames
 * would only show the breaker itself), so refusing a call costs about as much as allocating a
 * small object; see the package README for the measurement.
 *
 * @example
 * ```ts
 * import { isTierCacheError } from '@tiercache/core'
 * try { await l2.get('k') } catch (e) { if (isTierCacheError(e, 'E_CIRCUIT_OPEN')) skipTier() }
 * ```
 */
export class CircuitOpenError extends StoreError {
  /**
   * When the breaker will let a probe through, in epoch milliseconds (by the breaker's clock);
   * `undefined` while half-open (a probe is already running).
   */
  readonly retryAt: number | undefined

  /**
   * @param store - name of the wrapped store
   * @param operation - the refused operation (`get`, `set`, `deleteByPattern`, …)
   * @param retryAt - when the next probe is allowed (epoch ms), if known
   */
  constructor(store: string, operation: string, retryAt?: number) {
    const limit = Error.stackTraceLimit
    if (CAN_SKIP_STACK) Error.stackTraceLimit = 0
    try {
      super(
        `circuit open: ${store} ${operation} refused without I/O`,
        { store, operation, refused: true },
        'E_CIRCUIT_OPEN',
      )
    } finally {
      if (CAN_SKIP_STACK) Error.stackTraceLimit = limit
    }
    this.retryAt = retryAt
  }
}
