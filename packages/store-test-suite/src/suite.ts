import { capabilityTests } from './capability-tests.js'
import { runCoherenceSuite } from './coherence.js'
import { contractTests } from './contract-tests.js'
import { suiteKit } from './kit.js'
import { lifecycleTests } from './lifecycle-tests.js'
import type { StoreSuiteOptions } from './options.js'

/**
 * Registers the conformance tests for a {@link Store} with your test runner. Every rule of the
 * Store contract has a test, and every assertion carries a message naming the rule it checks; a
 * store passes when every test passes.
 *
 * @param options - the runner's `describe`/`test`/`expect`, a `create` factory, the expected
 *   capabilities, and optionally a `failing` factory for the failure tests
 * @example
 * ```ts
 * import { describe, expect, test } from 'vitest'
 * import { runStoreSuite } from '@tiercache/store-test-suite'
 * import { myStore } from '../src/index.js'
 *
 * runStoreSuite({ describe, test, expect, create: () => myStore({ prefix: `t${Date.now()}:` }) })
 * ```
 */
export function runStoreSuite(options: StoreSuiteOptions): void {
  const kit = suiteKit(options)
  options.describe(options.name ?? 'store conformance', () => {
    contractTests(kit)
    capabilityTests(kit)
    lifecycleTests(kit)
  })
  runCoherenceSuite(options)
}
