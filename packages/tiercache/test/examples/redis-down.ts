import { createDistributedCache } from 'tiercache'

const cache = createDistributedCache({
  redisHost: '127.0.0.1',
  redisPort: 6379,
  redisDb: 0,
  redisSsl: false,
  defaultTtl: 3600, // seconds
  maxMemorySize: '100mb',
  enableCacheWarming: true,
  cacheWarmingThreshold: 10,
  enableMetrics: true,
  fallbackToDb: true,
  namespace: 'readme-redis',
})
await cache.ready() // with no Redis there, this logs the warning and the breaker is open
const { status, mode, breaker } = await cache.health()
console.log(status, mode, breaker) // ok redis closed (or: degraded redis open)
console.log(await cache.getOrSet('answer', () => 42)) // 42 either way
await cache.clear()
await cache.close()
