import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCache } from '@tiercache/core'
import { kyselyStore } from '@tiercache/fallback-kysely'
import { memoryStore } from '@tiercache/store-memory'
import { redisStore } from '@tiercache/store-redis'

const cache = createCache({
  namespace: 'readme-sql',
  tiers: [
    memoryStore({ maxBytes: 100 * 2 ** 20 }),
    redisStore({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }),
    kyselyStore({ sqlite: join(tmpdir(), 'tiercache-readme.db') }), // the level reads l3_sql
  ],
  ttl: '1h',
})
await cache.set('greeting', 'hello')
console.assert((await cache.get('greeting')) === 'hello')
await cache.clear()
await cache.close()
