/**
 * Test helpers, not for production code: a manual clock and a chaos store.
 *
 * @module
 */
export { type ChaosMode, ChaosStore, chaosStore } from './chaos-store.js'
export { flushMicrotasks, ManualClock } from './manual-clock.js'
