/**
 * Query-string cardinality: a client sending random parameters cannot fill the shared tier.
 * Counts the Redis keys a burst of random query strings leaves behind, with the default bound
 * and with the bound lifted (which shows what the bound prevents).
 */
import type { Cache } from '@tiercache/core'
import { makeCache, REDIS_URL, rawRequest, SkewClock, type TestServer } from '@tiercache/test-kit/http'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { nodeHarness } from './node-harness.js'

describe('query-string cardinality over memory + Redis', () => {
  const clock = new SkewClock()
  let cache: Cache
  let prefix: string
  let srv: TestServer
  let redis: Redis
  beforeAll(async () => {
    ;({ cache, prefix } = makeCache('memory+redis', clock))
    srv = await nodeHarness.start(cache, { clock })
    redis = new Redis(REDIS_URL)
  })
  afterAll(async () => {
    await srv?.close()
    await cache?.close()
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
  })

  async function redisKeys(): Promise<number> {
    return (await redis.keys(`${prefix}*`)).length
  }

  async function burst(url: string, n: number): Promise<void> {
    for (let i = 0; i < n; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          rawRequest(`${url}?q=${i + j}-${Math.random().toString(36).slice(2)}`),
        ),
      )
    }
  }

  test('by default one path keeps at most 256 query variants; the bound lifted, every one is stored', async () => {
    const before = await redisKeys()
    const bounded = srv.route({ ttl: '1m' }, () => ({ body: 'x', headers: { 'content-type': 'text/plain' } }))
    await burst(bounded.url, 400)
    await new Promise((r) => setTimeout(r, 200))
    const afterBounded = await redisKeys()
    expect(afterBounded - before).toBeLessThanOrEqual(256)
    expect(afterBounded - before).toBeGreaterThanOrEqual(250)
    expect(bounded.calls).toBe(400)

    const unbounded = srv.route({ ttl: '1m', query: { maxVariants: Number.POSITIVE_INFINITY } }, () => ({
      body: 'x',
      headers: { 'content-type': 'text/plain' },
    }))
    await burst(unbounded.url, 400)
    await new Promise((r) => setTimeout(r, 200))
    expect((await redisKeys()) - afterBounded).toBeGreaterThanOrEqual(400)
  })

  test('an allowlist makes unknown parameters bypass: nothing is stored for them', async () => {
    const before = await redisKeys()
    const r = srv.route({ ttl: '1m', query: { allow: ['page'] } }, () => ({ body: 'x' }))
    for (let i = 0; i < 50; i++) await rawRequest(`${r.url}?page=1&junk=${i}`)
    await new Promise((res) => setTimeout(res, 100))
    expect((await redisKeys()) - before).toBe(0)
    expect(r.calls).toBe(50)
  })
})
