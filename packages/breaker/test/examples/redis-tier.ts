import { withBreaker } from '@tiercache/breaker'
import { createCache } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import { redisStore } from '@tiercache/store-redis'

const l2 = withBreaker(redisStore({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }), {
  failureThreshold: 5, // 5 failures in a row open the breaker
  resetTimeout: '30s', // then every call fails fast for 30 s, before a probe
  callTimeout: '250ms', // no Redis call may take longer, even if Redis never answers
})
l2.on('state:change', ({ from, to, reason }) => console.warn(`redis breaker: ${from} -> ${to} (${reason})`))

const cache = createCache({ namespace: 'app', tiers: [memoryStore(), l2] })
await cache.set('user:1', { name: 'Ada' })
console.log(await cache.get('user:1'), l2.state) // { name: 'Ada' } closed
await cache.close()
