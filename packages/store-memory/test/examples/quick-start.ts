import { createCache } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'

const l1 = memoryStore({ maxBytes: 100 * 2 ** 20, maxEntries: 100_000, maxEntryBytes: 1024 * 1024 })
const cache = createCache({ tiers: [l1] })
await cache.set('user:1', { name: 'Ada' })
console.assert(l1.stats().entries === 1)
await cache.close()
