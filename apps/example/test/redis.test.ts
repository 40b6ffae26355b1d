import { join } from 'node:path'
import { tempDir } from '@tiercache/test-kit'
import { freePort, type RedisServer, startRedis } from '@tiercache/test-servers'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type ExampleProcess, request, startExample } from './helpers.js'

const tmp = tempDir('tiercache-example')
const started: ExampleProcess[] = []
let redis: RedisServer

/** Settings shared by the instances of one test: the database, the cache's SQL tier and its namespace. */
function shared(label: string, redisUrl: string): Record<string, string> {
  return {
    DATABASE_PATH: join(tmp.dir, 'keywords.db'),
    TIERCACHE_FALLBACK_DB: join(tmp.dir, `cache-${label}.db`),
    TIERCACHE_NAMESPACE: `example-${label}`,
    REDIS_URL: redisUrl,
    TIERCACHE_BREAKER_RESET_TIMEOUT: '300ms',
  }
}

async function start(env: Record<string, string>): Promise<ExampleProcess> {
  const app = await startExample(env)
  started.push(app)
  return app
}

beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await Promise.all(started.map((a) => a.stop()))
  await redis?.stop()
  tmp.remove()
})

interface Summary {
  id: number
  volume: number
}

describe('with Redis', () => {
  test('two instances sharing Redis: an update on one is visible on the other at once', async () => {
    const env = shared('pair', redis.url)
    const a = await start(env)
    const b = await start(env)
    expect(a.output()).toContain(`L2 redis 127.0.0.1:${redis.port}/0 behind a circuit breaker`)
    const health = (await request(`${b.url}/health`)).body
    expect(health.cache).toMatchObject({ status: 'ok', mode: 'redis', breaker: 'closed' })

    const search = (await request<{ results: Summary[] }>(`${a.url}/search?q=garden`)).body
    const ids = search.results.slice(0, 10).map((k) => k.id)
    for (const [round, id] of ids.entries()) {
      // Both instances hold the keyword and the search in L1 (and the search's HTTP response).
      for (const app of [a, b]) {
        await request(`${app.url}/keywords/${id}`)
        await request(`${app.url}/search?q=garden`)
        expect((await request(`${app.url}/search?q=garden`)).headers.get('x-cache')).toBe('HIT')
      }
      const writer = round % 2 === 0 ? a : b
      const reader = writer === a ? b : a
      const volume = 10_000_000 + round
      expect(
        (await request(`${writer.url}/keywords/${id}`, { method: 'PUT', body: { volume } })).status,
      ).toBe(200)
      expect((await request(`${reader.url}/keywords/${id}`)).body.volume).toBe(volume)
      const fresh = await request<{ results: Summary[] }>(`${reader.url}/search?q=garden`)
      expect(fresh.body.results.find((k) => k.id === id)?.volume).toBe(volume)
    }
  })

  test('two instances, each with its own SQLite file (the default): 0 stale reads in 30 updates', async () => {
    const a = await start({ ...shared('own-a', redis.url), TIERCACHE_NAMESPACE: 'example-own' })
    const b = await start({ ...shared('own-b', redis.url), TIERCACHE_NAMESPACE: 'example-own' })
    let stale = 0
    for (let round = 0; round < 30; round++) {
      const id = 300 + (round % 10)
      // Both instances hold the keyword: in L1, and in their own SQLite file.
      for (const app of [a, b]) await request(`${app.url}/keywords/${id}`)
      const writer = round % 2 === 0 ? a : b
      const reader = writer === a ? b : a
      const volume = 20_000_000 + round
      expect(
        (await request(`${writer.url}/keywords/${id}`, { method: 'PUT', body: { volume } })).status,
      ).toBe(200)
      if ((await request(`${reader.url}/keywords/${id}`)).body.volume !== volume) stale++
      // Redis losing its data must not bring the old value back from the reader's SQLite file.
      await redis.command('FLUSHALL')
      if ((await request(`${reader.url}/keywords/${id}`)).body.volume !== volume) stale++
    }
    expect(stale).toBe(0)
  })

  test('Redis killed mid-run: the service keeps answering, and uses Redis again once it is back', async () => {
    const server = await startRedis()
    try {
      const app = await start(shared('outage', server.url))
      const urls = [1, 2, 3, 4, 5].flatMap((id) => [
        `${app.url}/keywords/${id}`,
        `${app.url}/search?q=sofa${id}`,
      ])
      for (const url of urls) expect((await request(url)).status).toBe(200)

      await server.kill()
      for (let round = 0; round < 3; round++) {
        for (const url of urls) expect((await request(url)).status).toBe(200)
        expect((await request(`${app.url}/keywords/${200 + round}`)).status).toBe(200) // a miss: from SQL
        const put = await request(`${app.url}/keywords/6`, { method: 'PUT', body: { volume: 60 + round } })
        expect(put.status).toBe(200)
        expect((await request(`${app.url}/keywords/6`)).body.volume).toBe(60 + round)
      }
      const down = (await request(`${app.url}/health`)).body
      expect(down).toMatchObject({ status: 'degraded', cache: { status: 'degraded', breaker: 'open' } })
      expect(app.output()).toContain('is not answering; circuit open, serving from memory + SQL')

      await server.restart()
      const deadline = Date.now() + 15_000
      let health = down
      while (health.status !== 'ok' && Date.now() < deadline) {
        await request(`${app.url}/keywords/1`) // traffic lets the half-open probe through
        await new Promise((r) => setTimeout(r, 50))
        health = (await request(`${app.url}/health`)).body
      }
      expect(health).toMatchObject({ status: 'ok', cache: { breaker: 'closed' } })
      expect((await request(`${app.url}/keywords/6`)).body.volume).toBe(62)
    } finally {
      await server.stop()
    }
  })

  test('Redis down at start: the service starts anyway, logs a warning and serves', async () => {
    const port = await freePort()
    const app = await start(shared('late', `redis://127.0.0.1:${port}`))
    expect(app.output()).toContain(
      `tiercache: Redis at 127.0.0.1:${port}/0 is not answering; circuit open, serving from memory + SQL until it does`,
    )
    expect((await request(`${app.url}/keywords/1`)).status).toBe(200)
    expect((await request(`${app.url}/search?q=lamp`)).status).toBe(200)
    expect((await request(`${app.url}/health`)).body).toMatchObject({
      status: 'degraded',
      cache: { mode: 'redis', breaker: 'open' },
    })
  })
})
