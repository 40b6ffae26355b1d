import {
  CacheCircuitBreaker,
  CacheConfig,
  cacheDecorator,
  DistributedCache,
  getCache,
  setDefaultCache,
} from 'tiercache'

const config = new CacheConfig({
  fallbackToDb: false,
  namespace: 'readme-classes',
  env: false,
  logger: false,
})
setDefaultCache(new DistributedCache(config)) // or leave it: getCache() creates one from the environment
const cache = getCache()
await cache.set('user:123', { name: 'João' }, 3600) // seconds: one hour

const getUserProfile = cacheDecorator('user_profile', 3600)(async (userId: string) => ({ id: userId }))
console.log(await getUserProfile('123')) // loaded once, then from the cache, under user_profile:123
await cache.delete('user_profile:123') // a manual invalidation reaches it
await cache.set('user:456', { name: 'Ana' })
console.log(await cache.delete('user:*')) // true: every user:* key, in every tier

const breaker = new CacheCircuitBreaker(5, 60) // 5 failures in a row, then open for 60 s
console.log(await breaker.call(async (a: number) => a * 2, 21), breaker.state) // 42 CLOSED
await cache.close()
setDefaultCache(undefined)
