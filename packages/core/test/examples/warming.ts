import { createCache } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'

const cache = createCache({ tiers: [memoryStore()], warming: { threshold: 10 } })
const summary = await cache.warm(['a', 'b', 'c'], { loader: (key) => key.toUpperCase(), concurrency: 2 })
console.assert(summary.succeeded === 3 && (await cache.get('b')) === 'B')
await cache.close()
