import { createCache } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'

const cache = createCache({ namespace: 'app', tiers: [memoryStore()] })
const users = cache.namespace('users')
const admins = users.namespace('admins')
await users.set('1', 'Ada') // key app:users:1 in shared tiers
await admins.set('1', 'Root')
await cache.set('users2:1', 'neighbour')
await users.clear() // users and admins, nothing else
console.assert((await admins.get('1')) === undefined)
console.assert((await cache.get('users2:1')) === 'neighbour')
await cache.close()
