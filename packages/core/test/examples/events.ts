import { createCache } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'

const cache = createCache({ namespace: 'app', tiers: [memoryStore()] })
cache.on('hit', (e) => console.log('hit', e.key, 'from', e.level))
cache.on('error', (e) => console.warn('tier failed', e.level, e.operation, e.error))
await cache.set('k', 1)
await cache.get('k')
const stats = cache.getStats()
console.assert(stats.tiers[0]?.level === 'l1_memory' && stats.hits === 1)
console.assert(stats.l1_cache.hit_ratio === 1) // L1 at a glance, in snake_case
await cache.close()
