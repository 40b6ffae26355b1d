import { createCache } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'

const cache = createCache({ namespace: 'app', tiers: [memoryStore({ maxBytes: 50 * 2 ** 20 })], ttl: '10m' })

await cache.set('user:1', { name: 'Ada', born: new Date('1815-12-10') }, { ttl: '1h', tags: ['user:1'] })
const user = await cache.get<{ name: string; born: Date }>('user:1')
console.assert(user?.born instanceof Date)

let loads = 0
const load = async () => {
  loads++
  return { id: 2, name: 'Grace' }
}
const [a, b] = await Promise.all([cache.getOrSet('user:2', load), cache.getOrSet('user:2', load)])
console.assert(a.name === 'Grace' && b.name === 'Grace' && loads === 1) // one loader call

await cache.invalidateTags(['user:1'])
console.assert((await cache.get('user:1')) === undefined)
await cache.close()
