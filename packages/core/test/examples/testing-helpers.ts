import { createCache } from '@tiercache/core'
import { ManualClock } from '@tiercache/core/testing'
import { memoryStore } from '@tiercache/store-memory'

const clock = new ManualClock()
const cache = createCache({ tiers: [memoryStore({ clock })], clock })
await cache.set('k', 'v', '1s')
await clock.advance(1001)
console.assert((await cache.get('k')) === undefined)
await cache.close()
