import KeyvRedis from '@keyv/redis'
import { createCache } from '@tiercache/core'
import { keyvStore } from '@tiercache/store-keyv'
import { memoryStore } from '@tiercache/store-memory'

const redis = new KeyvRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  namespace: process.env.CACHE_NAMESPACE ?? 'cache', // scans for clear() stay inside it
})
const cache = createCache({
  namespace: 'app',
  tiers: [memoryStore({ maxBytes: 64 * 2 ** 20 }), keyvStore(redis, { owned: true })],
  ttl: '10m',
})

await cache.set('user:1', { name: 'Ada' })
console.log(await cache.get('user:1')) // { name: 'Ada' }
await cache.deleteByPattern('user:*') // pattern deletes work: @keyv/redis can list its keys
await cache.clear() // removes app:* from memory and Redis, nothing else
await cache.close() // also disconnects Redis: the store owns it
