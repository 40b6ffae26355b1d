import { withBreaker } from '@tiercache/breaker'
import { createCache } from '@tiercache/core'
import { kyselyStore } from '@tiercache/fallback-kysely'
import { memoryStore } from '@tiercache/store-memory'
import { redisBus, redisStore } from '@tiercache/store-redis'

const repo = { load: async (id: string) => ({ id, name: 'Ada' }) } // your database

const cache = createCache({
  namespace: 'app',
  tiers: [
    memoryStore({ maxBytes: 100 * 2 ** 20 }),
    withBreaker(redisStore({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }), {
      failureThreshold: 5,
      resetTimeout: '60s',
    }),
    kyselyStore({ sqlite: './cache.db' }),
  ],
  bus: redisBus({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }),
  ttl: '1h',
  grace: '10m',
})
const profile = await cache.getOrSet('profile:123', () => repo.load('123'), { ttl: '1h', tags: ['user:123'] })
console.log(profile) // { id: '123', name: 'Ada' }
await cache.close()
