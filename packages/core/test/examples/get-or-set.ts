import { createCache, isTierCacheError } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'

const cache = createCache({ tiers: [memoryStore()], grace: '10m', graceBackoff: '5s' })
const fetchPrice = async (id: string) => ({ id, price: 42 })

const price = await cache.getOrSet<{ id: string; price: number } | undefined>(
  'price:7',
  async (ctx) => {
    if (ctx.signal.aborted) return ctx.skip(undefined) // returned, not cached
    const p = await fetchPrice('7')
    if (p.price < 0) ctx.fail('bad upstream data') // like throwing: the stale value is served if there is one
    ctx.setTtl('30s') // per-result TTL
    ctx.setTags(['prices'])
    return p
  },
  { ttl: '1m', softTimeout: '200ms', hardTimeout: '2s' },
)
console.assert(price?.price === 42) // undefined only when skipped

try {
  await cache.getOrSet('broken', () => {
    throw new Error('source down')
  })
} catch (error) {
  console.assert((error as Error).message === 'source down') // no stale value: the loader's error
  console.assert(!isTierCacheError(error))
}
await cache.close()
