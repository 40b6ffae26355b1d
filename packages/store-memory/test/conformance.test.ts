import { runStoreSuite } from '@tiercache/store-test-suite'
import { describe, expect, test } from 'vitest'
import { memoryStore } from '../src/index.js'

for (const policy of ['lru', 'tinylfu'] as const) {
  runStoreSuite({
    describe,
    test,
    expect,
    create: () => memoryStore({ policy, maxBytes: 64 * 1024 * 1024, maxEntryBytes: 4 * 1024 * 1024 }),
    capabilities: {
      getMany: true,
      setMany: true,
      deleteMany: true,
      deleteByPattern: true,
      has: true,
      stats: true,
      close: true,
    },
    ttlGranularity: 20,
    name: `memoryStore conformance (policy ${policy})`,
  })
}
