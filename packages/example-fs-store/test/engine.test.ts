import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Cache, createCache } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import { tempDir } from '@tiercache/test-kit'
import { afterAll, afterEach, expect, test } from 'vitest'
import { fsStore } from '../src/index.js'

const { dir: root, remove: removeRoot } = tempDir('fs-store-engine')
afterAll(() => removeRoot())
let dirs = 0

const open: Cache[] = []
const l1s = new Map<Cache, ReturnType<typeof memoryStore>>()
afterEach(async () => {
  for (const cache of open.splice(0)) await cache.close()
  l1s.clear()
})

/** A cache with L1 in memory and L2 on files in `dir`. */
function cacheOn(dir: string, namespace = 'app'): Cache {
  const l1 = memoryStore()
  const cache = createCache({ namespace, tiers: [l1, fsStore(dir)], ttl: '1m', strict: true })
  open.push(cache)
  l1s.set(cache, l1)
  return cache
}

/**
 * Empties a cache's L1 only. (`flushLocal()` would also stop trusting the files: an fs store is
 * a local tier, and a flush means local copies may have missed invalidations.)
 */
function dropL1(cache: Cache): void {
  l1s.get(cache)?.clear('')
}

test('writes reach the files; a read after L1 is gone comes from L2 and backfills L1', async () => {
  const dir = join(root, `d${++dirs}`)
  const cache = cacheOn(dir)
  await cache.set('user:1', { name: 'Ada', tags: new Set(['admin']) })
  expect(readdirSync(dir)).toHaveLength(1)
  dropL1(cache)
  expect(await cache.get('user:1')).toEqual({ name: 'Ada', tags: new Set(['admin']) })
  expect(await cache.get('user:1')).toEqual({ name: 'Ada', tags: new Set(['admin']) })
  const [l1, l2] = cache.getStats().tiers
  expect(l2).toMatchObject({ level: 'l2_fs', hits: 1 })
  expect(l1?.hits).toBe(1)
})

test('getOrSet loads once; a second instance on the same directory reuses the value', async () => {
  const dir = join(root, `d${++dirs}`)
  let loads = 0
  const load = async () => ({ n: ++loads })
  expect(await cacheOn(dir).getOrSet('report', load)).toEqual({ n: 1 })
  expect(await cacheOn(dir).getOrSet('report', load)).toEqual({ n: 1 })
  expect(loads).toBe(1)
})

test('clear() removes only its namespace; deleteByPattern and tags reach L2', async () => {
  const dir = join(root, `d${++dirs}`)
  const app = cacheOn(dir)
  const other = cacheOn(dir, 'other')
  await app.set('user:1', 1, { tags: ['users'] })
  await app.set('user:2', 2)
  await app.set('post:1', 3)
  await other.set('user:1', 'kept')
  expect(await app.deleteByPattern('user:2')).toBe(1)
  await app.invalidateTags(['users'])
  dropL1(app)
  expect(await app.getMany(['user:1', 'user:2', 'post:1'])).toEqual([undefined, undefined, 3])
  await app.clear()
  dropL1(app)
  dropL1(other)
  expect(await app.get('post:1')).toBeUndefined()
  expect(await other.get('user:1')).toBe('kept')
})

test('a broken L2 does not fail reads and writes; the error names the tier', async () => {
  const errors: unknown[] = []
  const cache = createCache({ namespace: 'app', tiers: [memoryStore(), fsStore('/dev/null/cache')] })
  open.push(cache)
  cache.on('error', (event) => errors.push(event.error))
  await cache.set('k', 'v')
  expect(await cache.get('k')).toBe('v')
  expect(errors[0]).toMatchObject({ code: 'E_STORE', store: 'fs', operation: 'set', key: 'app:k' })
})
