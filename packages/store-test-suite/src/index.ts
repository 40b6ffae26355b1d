/**
 * The conformance suite every tiercache `Store` runs, in three lines:
 * `runStoreSuite({ describe, test, expect, create })`.
 *
 * @module
 */
export type { Assertion, DescribeLike, ExpectLike, StoreSuiteOptions, TestLike } from './options.js'
export { sameValue, TRICKY_KEY_PARTS, valueSamples } from './samples.js'
export { runStoreSuite } from './suite.js'
