import { join } from 'node:path'
import { createCache, escapePattern, isTierCacheError } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import { redisStore } from '@tiercache/store-redis'
import { tempDir, uniqueTable } from '@tiercache/test-kit'
import { type RedisServer, startRedis } from '@tiercache/test-servers'
import { afterAll, beforeAll, expect, test, vi } from 'vitest'
import { kyselyStore } from '../src/index.js'

let server: RedisServer
const { dir, remove: removeDir } = tempDir('tiercache-engine')
beforeAll(async () => {
  server = await startRedis()
})
afterAll(async () => {
  await server?.stop()
  removeDir()
})

test('L3 serves reads while Redis is down and refills L2 once Redis is back', async () => {
  const l1 = memoryStore({ maxBytes: 1024 * 1024 })
  const l2 = redisStore({ url: server.url, prefix: `tc${process.pid}:`, commandTimeout: 300 })
  const l3 = kyselyStore({ sqlite: join(dir, 'l3.db') }, { table: uniqueTable() })
  const cache = createCache({ namespace: 'app', tiers: [l1, l2, l3], ttl: '1h', tierTimeout: 1000 })
  const errors: unknown[] = []
  cache.on('error', (e) => errors.push(e))
  try {
    await cache.set('user:1', { name: 'Ada' })
    await cache.set('user:2', { name: 'Grace' })
    expect(await l2.get('app:user:1')).toBeDefined()
    expect(await l3.get('app:user:1')).toBeDefined()
    expect(cache.getStats().tiers.map((t) => t.level)).toEqual(['l1_memory', 'l2_redis', 'l3_sql'])

    // Redis dies; L1 is emptied (as after a restart of this instance).
    await server.kill()
    l1.clear('')

    expect(await cache.get('user:1')).toEqual({ name: 'Ada' })
    let stats = cache.getStats()
    expect(stats.tiers[2]?.hits).toBe(1)
    expect(stats.tiers[1]?.errors).toBeGreaterThanOrEqual(1)
    expect(errors.length).toBeGreaterThanOrEqual(1)
    // L1 was backfilled from L3: the next read is an L1 hit that reaches no other tier.
    expect(l1.get('user:1')?.value).toEqual({ name: 'Ada' })
    expect(await cache.get('user:1')).toEqual({ name: 'Ada' })
    stats = cache.getStats()
    expect(stats.tiers[0]?.hits).toBe(1)
    expect(stats.tiers[2]?.hits).toBe(1)

    // Redis comes back empty (it was killed without persistence).
    await server.restart()
    await vi.waitFor(async () => expect((await l2.stats()).connected).toBe(true), { timeout: 10_000 })
    expect(await l2.get('app:user:2')).toBeUndefined()

    // The next read misses L1 and L2, hits L3, and refills both.
    expect(await cache.get('user:2')).toEqual({ name: 'Grace' })
    expect(cache.getStats().tiers[2]?.hits).toBe(2)
    await vi.waitFor(async () => expect(await l2.get('app:user:2')).toBeDefined(), { timeout: 5000 })
    expect(l1.get('user:2')?.value).toEqual({ name: 'Grace' })

    // From now on L2 answers before L3 is asked.
    l1.clear('')
    expect(await cache.get('user:2')).toEqual({ name: 'Grace' })
    expect(cache.getStats().tiers[1]?.hits).toBe(1)
    expect(cache.getStats().tiers[2]?.hits).toBe(2)
  } finally {
    await cache.close()
  }
})

test('through the engine: special-character keys match literally, oversized values are refused', async () => {
  const l3 = kyselyStore({ sqlite: join(dir, 'input.db') }, { table: uniqueTable(), maxEntryBytes: 1024 })
  const cache = createCache({
    namespace: 'app',
    tiers: [memoryStore({ maxBytes: 1024 * 1024 }), l3],
    strict: true,
  })
  try {
    const keys = [
      'q:100%',
      'q:100%_off',
      'q:a_b',
      'q:back\\slash',
      "q:it's",
      'q:"quoted"',
      'q:ünï🌍',
      'q:User',
    ]
    const lookalikes = ['q:1000', 'q:axb', 'q:backXslash', 'q:unï🌍', 'q:user']
    for (const k of [...keys, ...lookalikes]) await cache.set(k, k)
    for (const k of keys) expect(await l3.get(`app:${k}`), k).toBeDefined()

    await cache.deleteByPattern(`${escapePattern('q:100%')}*`)
    await cache.deleteByPattern(escapePattern('q:a_b'))
    await cache.deleteByPattern(escapePattern('q:back\\slash'))
    await cache.deleteByPattern('q:U*')
    for (const k of ['q:100%', 'q:100%_off', 'q:a_b', 'q:back\\slash', 'q:User']) {
      expect(await l3.get(`app:${k}`), `${k} deleted`).toBeUndefined()
    }
    for (const k of [...lookalikes, "q:it's", 'q:"quoted"', 'q:ünï🌍']) {
      expect(await cache.get(k), `${k} survives`).toBe(k)
      expect(await l3.get(`app:${k}`), `${k} survives in L3`).toBeDefined()
    }

    await cache.set('big', 'small')
    const error = await cache.set('big', 'x'.repeat(2000)).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isTierCacheError(error, 'E_VALUE_TOO_LARGE'), String(error)).toBe(true)
    expect(error).toMatchObject({ store: 'sql', limit: 1024 })
  } finally {
    await cache.close()
  }
})
