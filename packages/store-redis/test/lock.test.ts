import { isTierCacheError } from '@tiercache/core'
import { uniquePrefix, waitFor } from '@tiercache/test-kit'
import { type RedisServer, startRedis } from '@tiercache/test-servers'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type RedisLock, redisLock } from '../src/index.js'

let server: RedisServer
let raw: Redis
const locks: RedisLock[] = []

beforeAll(async () => {
  server = await startRedis()
  raw = new Redis(server.url)
})
afterAll(async () => {
  await Promise.all(locks.map((l) => l.close()))
  raw?.disconnect()
  await server?.stop()
})

function lock(prefix: string, extra: Parameters<typeof redisLock>[0] = {}): RedisLock {
  const l = redisLock({ url: server.url, prefix, ...extra })
  locks.push(l)
  return l
}

describe('redisLock', () => {
  test('SET NX PX under <prefix>__lock:<key> with a random token; one holder at a time', async () => {
    const prefix = uniquePrefix('lock')
    const [a, b] = [lock(prefix), lock(prefix)]
    const handle = await a.acquire('app:k', { ttl: 5000, wait: 0 })
    expect(handle).toBeDefined()
    const token = await raw.get(`${prefix}__lock:app:k`)
    expect(token).toMatch(/^[0-9a-f-]{36}$/)
    const pttl = await raw.pttl(`${prefix}__lock:app:k`)
    expect(pttl).toBeGreaterThan(4000)
    expect(await b.acquire('app:k', { ttl: 5000, wait: 0 })).toBeUndefined()
    expect(await b.acquire('app:other', { ttl: 5000, wait: 0 })).toBeDefined()
    await handle!.release()
    await handle!.release()
    expect(await raw.exists(`${prefix}__lock:app:k`)).toBe(0)
    expect(await b.acquire('app:k', { ttl: 5000, wait: 0 })).toBeDefined()
  })

  test('a waiter gets the lock soon after the holder releases it', async () => {
    const prefix = uniquePrefix('lock')
    const [a, b] = [lock(prefix), lock(prefix)]
    const held = await a.acquire('k', { ttl: 5000, wait: 0 })
    const waiting = b.acquire('k', { ttl: 5000, wait: 5000 })
    setTimeout(() => void held!.release(), 100)
    const got = await waiting
    expect(got).toBeDefined()
    await got!.release()
  })

  test('a wait that runs out resolves undefined; an abort ends it early', async () => {
    const prefix = uniquePrefix('lock')
    const [a, b] = [lock(prefix), lock(prefix)]
    const held = await a.acquire('k', { ttl: 10_000, wait: 0 })
    const started = Date.now()
    expect(await b.acquire('k', { ttl: 5000, wait: 150 })).toBeUndefined()
    expect(Date.now() - started).toBeGreaterThanOrEqual(140)
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 50)
    const abortStart = Date.now()
    expect(await b.acquire('k', { ttl: 5000, wait: 10_000, signal: controller.signal })).toBeUndefined()
    expect(Date.now() - abortStart).toBeLessThan(2000)
    await held!.release()
  })

  test('a lock that is never released expires after its ttl (no deadlock)', async () => {
    const prefix = uniquePrefix('lock')
    const [a, b] = [lock(prefix), lock(prefix)]
    const forgotten = await a.acquire('k', { ttl: 100, wait: 0 })
    expect(forgotten).toBeDefined()
    const next = await b.acquire('k', { ttl: 5000, wait: 2000 })
    expect(next).toBeDefined()
    // The expired handle's release must not free the new holder's lock (compare-and-delete).
    await forgotten!.release()
    expect(await raw.exists(`${prefix}__lock:k`)).toBe(1)
    await next!.release()
    expect(await raw.exists(`${prefix}__lock:k`)).toBe(0)
  })

  test('release falls back to EVAL when the script cache was flushed', async () => {
    const prefix = uniquePrefix('lock')
    const a = lock(prefix)
    const handle = await a.acquire('k', { ttl: 5000, wait: 0 })
    await raw.script('FLUSH')
    await handle!.release()
    expect(await raw.exists(`${prefix}__lock:k`)).toBe(0)
  })

  test('mutual exclusion across instances under contention', async () => {
    const prefix = uniquePrefix('lock')
    const instances = Array.from({ length: 4 }, () => lock(prefix, { pollInterval: 2, maxPollInterval: 20 }))
    let inside = 0
    let maxInside = 0
    let entered = 0
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const handle = await instances[i % 4]!.acquire('hot', { ttl: 5000, wait: 10_000 })
        expect(handle).toBeDefined()
        inside++
        entered++
        maxInside = Math.max(maxInside, inside)
        await new Promise((r) => setTimeout(r, 2))
        inside--
        await handle!.release()
      }),
    )
    expect(entered).toBe(40)
    expect(maxInside).toBe(1)
  })

  test('Redis down: acquire rejects with a StoreError, release never rejects', async () => {
    const own = await startRedis()
    const l = redisLock({ url: own.url, prefix: uniquePrefix('lock'), commandTimeout: 300 })
    try {
      const handle = await l.acquire('k', { ttl: 5000, wait: 0 })
      await own.kill()
      await waitFor(() => l.client.status !== 'ready', 3000)
      await expect(l.acquire('k', { ttl: 5000, wait: 1000 })).rejects.toSatisfy((e) =>
        isTierCacheError(e, 'E_STORE'),
      )
      await expect(handle!.release()).resolves.toBeUndefined()
    } finally {
      await l.close()
      await own.stop()
    }
  })

  test('rejects bad options', () => {
    expect(() => redisLock({ url: server.url, defaultTtl: 0, redisOptions: { lazyConnect: true } })).toThrow(
      /defaultTtl/,
    )
    expect(() =>
      redisLock({ url: server.url, pollInterval: -1, redisOptions: { lazyConnect: true } }),
    ).toThrow()
  })
})
