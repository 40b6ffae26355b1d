/**
 * The engine over L1 memory + L2 redisStore + redisBus + redisLock while its Redis server dies
 * and comes back: calls fail fast with typed errors, nothing rejects unhandled, the client
 * reconnects, and the bus-driven L1 flush happens.
 */
import { type CacheEvents, createCache, isTierCacheError } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import { uniquePrefix, waitFor } from '@tiercache/test-kit'
import { type RedisServer, startRedis } from '@tiercache/test-servers'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { redisBus, redisLock, redisStore } from '../src/index.js'

const COMMAND_TIMEOUT = 300
let server: RedisServer
const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason)
}

beforeAll(async () => {
  server = await startRedis()
})
afterAll(() => server?.stop())
beforeEach(() => {
  unhandled.length = 0
  process.on('unhandledRejection', onUnhandled)
})
afterEach(() => {
  process.off('unhandledRejection', onUnhandled)
})

function makeCache(prefix: string, strict = false) {
  const common = { url: server.url, prefix, commandTimeout: COMMAND_TIMEOUT }
  const cache = createCache({
    namespace: 'app',
    tiers: [memoryStore({ maxBytes: 2 ** 20 }), redisStore(common)],
    bus: redisBus(common),
    lock: redisLock(common),
    ttl: '1h',
    strict,
  })
  const flushes: CacheEvents['flush']['reason'][] = []
  const errors: unknown[] = []
  cache.on('flush', (e) => flushes.push(e.reason))
  cache.on('error', (e) => errors.push(e))
  return { cache, flushes, errors }
}

async function elapsed(
  fn: () => Promise<unknown>,
): Promise<{ ms: number; value?: unknown; error?: unknown }> {
  const start = performance.now()
  try {
    const value = await fn()
    return { ms: performance.now() - start, value }
  } catch (error) {
    return { ms: performance.now() - start, error }
  }
}

describe('engine + store-redis through a Redis outage', () => {
  test('fail fast, typed errors, reconnect, bus-driven L1 flush', async () => {
    const prefix = uniquePrefix('engine')
    const lenient = makeCache(prefix)
    const strict = makeCache(prefix, true)
    try {
      await lenient.cache.set('user:1', { name: 'Ada' })
      expect(lenient.cache.peek('user:1')).toEqual({ name: 'Ada' })
      await waitFor(() => lenient.cache.getStats().tiers[1]?.connected === true, 3000, 'L2 connected')

      await server.kill()
      // L1 still answers; a key only in L2 is a miss within the command timeout, with a typed error event.
      expect(await lenient.cache.get('user:1')).toEqual({ name: 'Ada' })
      const miss = await elapsed(() => lenient.cache.get('user:404'))
      expect(miss.error).toBeUndefined()
      expect(miss.value).toBeUndefined()
      expect(miss.ms).toBeLessThan(COMMAND_TIMEOUT + 100)
      await waitFor(() => lenient.errors.length > 0, 2000, 'an error event')
      const event = lenient.errors[0] as { error?: unknown }
      expect(isTierCacheError(event.error ?? event), String(event.error ?? event)).toBe(true)

      // A strict cache rejects writes with a typed StoreError, just as fast.
      const write = await elapsed(() => strict.cache.set('user:2', 'x'))
      expect(isTierCacheError(write.error), String(write.error)).toBe(true)
      expect((write.error as { store?: string }).store).toBe('redis')
      expect(write.ms).toBeLessThan(COMMAND_TIMEOUT + 100)

      // getOrSet still answers (the lock fails, the loader runs anyway).
      const loaded = await elapsed(() => lenient.cache.getOrSet('user:3', () => 'fresh'))
      expect(loaded.value).toBe('fresh')
      expect(loaded.ms).toBeLessThan(COMMAND_TIMEOUT * 3)

      await server.restart()
      await waitFor(
        () => lenient.flushes.includes('bus-reconnect'),
        30_000,
        'the bus-driven L1 flush (reconnects back off while Redis is down)',
      )
      expect(lenient.cache.peek('user:1')).toBeUndefined()
      await waitFor(
        async () => {
          try {
            await strict.cache.set('user:1', { name: 'Grace' })
            return true
          } catch {
            return false
          }
        },
        5000,
        'writes to work again',
      )
      // The other cache reads the new value once its own connection is back (it may reconnect later).
      await waitFor(
        async () => {
          const value = await lenient.cache.get('user:1')
          return (value as { name?: string } | undefined)?.name === 'Grace'
        },
        5000,
        'the other cache to read the new value from Redis',
      )
      expect(await lenient.cache.get('user:1')).toEqual({ name: 'Grace' })
      expect(unhandled).toEqual([])
    } finally {
      await Promise.all([lenient.cache.close(), strict.cache.close()])
    }
  })
})
