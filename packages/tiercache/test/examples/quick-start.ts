import { createDistributedCache } from 'tiercache'

const cache = createDistributedCache() // reads TIERCACHE_* and REDIS_URL from the environment
// logs: tiercache: embedded mode (no Redis configured; …): L1 memory 100 MiB -> L2 sqlite /…/.tiercache/cache.db (…)
await cache.ready()
console.log(cache.describe()) // L1 memory 100 MiB -> L2 sqlite /…/.tiercache/cache.db (namespace app, ttl 3600 s, numbers of time in seconds, …)

await cache.set('user:123', { name: 'Ada' }, { ttl: '1h', tags: ['user:123'] })
console.log(await cache.get('user:123')) // { name: 'Ada' }
const profile = await cache.getOrSet('profile:123', async () => ({ id: 123, plan: 'pro' }), { ttl: '10m' })
console.log(profile.plan) // 'pro'
await cache.invalidateTags(['user:123'])
await cache.close() // closes every tier, the bus and the metrics
