import { defineProject } from 'vitest/config'

/** Repository-level checks: package shape (publint, attw) and pack-and-install smoke tests. */
export default defineProject({
  test: {
    name: 'packaging',
    root: import.meta.dirname,
    include: ['**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
})
