/**
 * redisLock in the engine, with two caches that share Redis but not L1 (two instances in one
 * process): waiters read the winner's value, grace serves stale instead of waiting, and a lock
 * wait that times out runs the loader anyway.
 */
import { type CacheOptions, createCache } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import { uniquePrefix } from '@tiercache/test-kit'
import { type RedisServer, startRedis } from '@tiercache/test-servers'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { redisLock, redisStore } from '../src/index.js'

let server: RedisServer
beforeAll(async () => {
  server = await startRedis()
})
afterAll(() => server?.stop())

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Resolves once some instance holds the lock of `key` (namespace `app`). */
async function lockTaken(prefix: string, key: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if ((await server.command('EXISTS', `${prefix}__lock:app:${key}`)) === 1) return
    await sleep(5)
  }
  throw new Error('the lock was never taken')
}

function pair(options: Pick<CacheOptions, 'lockTimeout' | 'grace'> = {}) {
  const prefix = uniquePrefix('elock')
  const make = () =>
    createCache({
      namespace: 'app',
      tiers: [memoryStore({ maxBytes: 2 ** 20 }), redisStore({ url: server.url, prefix })],
      lock: redisLock({ url: server.url, prefix, pollInterval: 5, maxPollInterval: 20 }),
      ttl: '1h',
      ...options,
    })
  return [make(), make(), prefix] as const
}

describe('redisLock in the engine', () => {
  test('the waiter reads the value the winner wrote, without calling its loader', async () => {
    const [a, b] = pair()
    try {
      let calls = 0
      const loader = async (): Promise<string> => {
        calls++
        await sleep(150)
        return 'from-winner'
      }
      const [va, vb] = await Promise.all([
        a.getOrSet('k', loader),
        sleep(20).then(() => b.getOrSet('k', loader)),
      ])
      expect([va, vb]).toEqual(['from-winner', 'from-winner'])
      expect(calls).toBe(1)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  test('with grace, a waiter serves the stale value at once instead of waiting', async () => {
    const [a, b, prefix] = pair({ grace: '1m' })
    try {
      await a.set('k', 'old', { ttl: 50 })
      await sleep(80)
      let bCalls = 0
      let aDone = false
      const slow = a
        .getOrSet('k', async () => {
          await sleep(400)
          return 'new'
        })
        .finally(() => {
          aDone = true
        })
      await lockTaken(prefix, 'k')
      const served = await b.getOrSet('k', () => {
        bCalls++
        return 'b-new'
      })
      expect(served).toBe('old')
      expect(aDone, 'b answered before the winner finished loading').toBe(false)
      expect(bCalls).toBe(0)
      expect(await slow).toBe('new')
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  test('a lock wait that times out runs the loader anyway (no deadlock)', async () => {
    const [a, b, prefix] = pair({ lockTimeout: 150 })
    try {
      let aDone = false
      const holder = a
        .getOrSet('k', async () => {
          await sleep(1500)
          return 'slow'
        })
        .finally(() => {
          aDone = true
        })
      await lockTaken(prefix, 'k')
      const started = performance.now()
      const value = await b.getOrSet('k', () => 'impatient')
      expect(value).toBe('impatient')
      expect(performance.now() - started).toBeGreaterThanOrEqual(140)
      expect(aDone, 'b did not wait for the holder').toBe(false)
      expect(await holder).toBe('slow')
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })
})
