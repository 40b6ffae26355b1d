import { defineProject } from 'vitest/config'
import { sourceAliases } from '../vitest.shared.js'

/** Repository-level checks: package shape (publint, attw), pack-and-install smoke tests, README examples. */
export default defineProject({
  resolve: { alias: sourceAliases() },
  test: {
    name: 'packaging',
    root: import.meta.dirname,
    include: ['**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 600_000,
    // The install checks wait on npm and the disk more than on the CPU: three at a time.
    maxConcurrency: 3,
  },
})
