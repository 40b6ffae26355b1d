import { withBreaker } from '@tiercache/breaker'
import { createCache } from '@tiercache/core'
import { prometheusMetrics } from '@tiercache/metrics-prometheus'
import { memoryStore } from '@tiercache/store-memory'
import { redisBus, redisStore } from '@tiercache/store-redis'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = process.env.CACHE_PREFIX ?? 'myapp:'

const l2 = withBreaker(redisStore({ url, prefix }), { failureThreshold: 5, resetTimeout: '30s' })
const bus = redisBus({ url, prefix })
const metrics = prometheusMetrics({
  breakers: { l2_redis: l2 }, // cache_breaker_*{level="l2_redis"}, and cache_level_up goes to 0 while open
  bus, // cache_bus_* from the bus's own counters: failed publishes, queue, connection
})
const cache = createCache({
  namespace: 'app',
  tiers: [memoryStore({ maxBytes: 64 * 2 ** 20 }), l2],
  bus,
  plugins: [metrics],
})

await cache.set('user:1', { name: 'Ada' })
cache.flushLocal()
await cache.get('user:1') // an L2 hit, backfilled into L1

const text = await metrics.registry.metrics()
console.log(text.match(/^cache_hits_total\{.*l2_redis.*$/m)?.[0]) // cache_hits_total{namespace="app",level="l2_redis"} 1
console.log(text.match(/^cache_level_up\{.*l2_redis.*$/m)?.[0]) // cache_level_up{namespace="app",level="l2_redis"} 1

await cache.clear()
await cache.close()
