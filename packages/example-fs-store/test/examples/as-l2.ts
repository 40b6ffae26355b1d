import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCache } from '@tiercache/core'
import { fsStore } from '@tiercache/example-fs-store'
import { memoryStore } from '@tiercache/store-memory'

const dir = process.env.CACHE_DIR ?? join(tmpdir(), 'my-app-cache')
const l1 = memoryStore()
const cache = createCache({ namespace: 'app', tiers: [l1, fsStore(dir)], ttl: '1h' })

await cache.set('user:1', { name: 'Ada', joined: new Date('2024-01-01') })
l1.clear('') // forget L1: the next read comes from the files and refills L1
console.log(await cache.get('user:1')) // { name: 'Ada', joined: 2024-01-01T00:00:00.000Z }
await cache.close()

// A restarted process finds the entry on disk.
const restarted = createCache({ namespace: 'app', tiers: [memoryStore(), fsStore(dir)] })
console.log(await restarted.get('user:1')) // the same value
await restarted.clear() // deletes the files of app:* keys
await restarted.close()
