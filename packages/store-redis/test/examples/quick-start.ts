import { createCache } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import { redisBus, redisLock, redisStore } from '@tiercache/store-redis'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = process.env.CACHE_PREFIX ?? 'myapp:' // every Redis key of this application starts with it

const cache = createCache({
  namespace: 'app',
  tiers: [memoryStore({ maxBytes: 64 * 2 ** 20 }), redisStore({ url, prefix })],
  bus: redisBus({ url, prefix }), // other instances drop their L1 copy when this one writes
  lock: redisLock({ url, prefix }), // one loader call per key across every instance
  ttl: '10m',
  grace: '1m',
})

await cache.set('user:1', { name: 'Ada' }) // Redis key myapp:app:user:1, PX 660000 (ttl + grace)
console.log(await cache.get('user:1')) // { name: 'Ada' }
console.log(await cache.getOrSet('report:daily', async () => ({ rows: 42 }))) // { rows: 42 }
await cache.deleteByPattern('user:*') // SCAN + UNLINK of myapp:app:user:*, on every master
await cache.clear() // myapp:app:*, nothing else
await cache.close() // closes the connections the store, bus and lock opened
