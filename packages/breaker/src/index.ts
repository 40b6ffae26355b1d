/**
 * A circuit breaker for any tiercache `Store`: fail fast while a tier is down, bound every call
 * with a timeout, and replay the deletes made during an outage so no stale value survives it.
 *
 * @module
 */
export { announceReplays } from './announce.js'
export { BreakerStore, withBreaker } from './breaker-store.js'
export { CircuitOpenError } from './errors.js'
export type {
  BreakerCounters,
  BreakerEvents,
  BreakerState,
  ReplayEvent,
  StateChangeEvent,
  StateChangeReason,
} from './events.js'
export {
  type BreakerOptions,
  DEFAULT_FAILURE_RATIO,
  DEFAULT_FAILURE_THRESHOLD,
  DEFAULT_HALF_OPEN_MAX_CALLS,
  DEFAULT_JOURNAL_MAX_BYTES,
  DEFAULT_JOURNAL_MAX_ENTRIES,
  DEFAULT_JOURNAL_MAX_ENTRY_BYTES,
  DEFAULT_MINIMUM_CALLS,
  DEFAULT_RESET_TIMEOUT,
  DEFAULT_TIMEOUT,
  DEFAULT_WINDOW,
  defaultIsFailure,
  type JournalOptions,
} from './options.js'
