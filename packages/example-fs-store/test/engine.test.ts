import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Cache, createCache } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import { afterAll, afterEach, expect, test } from 'vitest'
import { fsStore } from '../src/index.js'

const root = mkdtempSync(join(tmpdir(), 'fs-store-engine-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let dirs = 0

const open: Cache[] = []
afterEach(async () => {
  for (const cache of open.splice(0)) await cache.close()
})

/** A cache with L1 in memory and L2 on files in `dir`. */
function cacheOn(dir: string, namespace = 'app'): Cache {
  const cache = createCache({ namespace, tiers: [memoryStore(), fsStore(dir)], ttl: '1m', strict: true })
  open.push(cache)
  return cache
}

test('writes reach the files; a read after L1 is gone comes from L2 and backfills L1', async () => {
  const dir = join(root, `d${++dirs}`)
  const cache = cacheOn(dir)
  await cache.set('user:1', { name: 'Ada', tags: new Set(['admin']) })
  expect(readdirSync(dir)).toHaveLength(1)
  cache.flushLocal()
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
  app.flushLocal()
  expect(await app.getMany(['user:1', 'user:2', 'post:1'])).toEqual([undefined, undefined, 3])
  await app.clear()
  app.flushLocal()
  other.flushLocal()
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
