import { join } from 'node:path'
import { tempDir } from '@tiercache/test-kit'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type ExampleProcess, metric, request, startExample, TEST_KEYWORDS } from './helpers.js'

const tmp = tempDir('tiercache-example')
const env = {
  DATABASE_PATH: join(tmp.dir, 'keywords.db'),
  TIERCACHE_FALLBACK_DB: join(tmp.dir, 'cache.db'),
  TIERCACHE_NAMESPACE: 'example-test',
}
let app: ExampleProcess

beforeAll(async () => {
  app = await startExample(env)
})
afterAll(async () => {
  await app?.stop()
  tmp.remove()
})

interface Summary {
  id: number
  term: string
  volume: number
  difficulty: number
}

describe('embedded defaults (memory + SQLite), cache on', () => {
  test('first start seeds the database and says so; the ready line names the tiers', () => {
    expect(app.output()).toContain(`seeding keywords: ${TEST_KEYWORDS.toLocaleString('en-US')} to go`)
    expect(app.output()).toMatch(/seeding keywords: done in [\d.]+ s/)
    expect(app.output()).toMatch(
      /listening on http:\/\/127\.0\.0\.1:\d+ \(cache: L1 memory 100 MiB -> L2 sqlite /,
    )
  })

  test('GET / lists the routes', async () => {
    const { status, body } = await request(`${app.url}/`)
    expect(status).toBe(200)
    expect(body.routes).toContain('GET /search?q=coffee')
  })

  test('GET /keywords/:id: the row, 404 past the end, 400 for a bad id', async () => {
    const { status, body } = await request(`${app.url}/keywords/1`)
    expect(status).toBe(200)
    expect(body).toMatchObject({ id: 1, term: expect.any(String), volume: expect.any(Number) })
    expect(body.difficulty).toBeGreaterThanOrEqual(1)
    expect(Array.isArray(body.related)).toBe(true)
    expect((await request(`${app.url}/keywords/${TEST_KEYWORDS + 1}`)).status).toBe(404)
    expect((await request(`${app.url}/keywords/${TEST_KEYWORDS + 1}`)).status).toBe(404) // cached null
    expect((await request(`${app.url}/keywords/abc`)).status).toBe(400)
    expect((await request(`${app.url}/keywords/0`)).status).toBe(400)
  })

  test('repeated reads of a keyword run one SQL query', async () => {
    const before = (await request(`${app.url}/stats`)).body.database.reads
    for (let i = 0; i < 5; i++) expect((await request(`${app.url}/keywords/77`)).status).toBe(200)
    const after = (await request(`${app.url}/stats`)).body.database.reads
    expect(after - before).toBe(1)
  })

  test('GET /search: matches by volume over the full table, then from the HTTP response cache', async () => {
    const first = await request<{ query: string; total: number; results: Summary[] }>(
      `${app.url}/search?q=Coffee`,
    )
    expect(first.status).toBe(200)
    expect(first.headers.get('x-cache')).toBe('MISS')
    expect(first.headers.get('cache-tag')).toBeNull() // stored as tags, not sent
    expect(first.body.query).toBe('coffee')
    expect(first.body.results).toHaveLength(20)
    expect(first.body.total).toBeGreaterThan(20)
    for (const k of first.body.results) expect(k.term).toContain('coffee')
    const volumes = first.body.results.map((k) => k.volume)
    expect(volumes).toEqual([...volumes].sort((a, b) => b - a))

    const searches = (await request(`${app.url}/stats`)).body.database.searches
    const second = await request(`${app.url}/search?q=Coffee`)
    expect(second.headers.get('x-cache')).toBe('HIT')
    expect(second.body).toEqual(first.body)
    const third = await request(`${app.url}/search?q=%20coffee`) // another URL, same query: the service cache
    expect(third.headers.get('x-cache')).toBe('MISS')
    expect(third.body).toEqual(first.body)
    expect((await request(`${app.url}/stats`)).body.database.searches).toBe(searches)

    expect((await request(`${app.url}/search?q=zzqx`)).body).toEqual({ query: 'zzqx', total: 0, results: [] })
    expect((await request(`${app.url}/search?q=a`)).status).toBe(400)
    expect((await request(`${app.url}/search`)).status).toBe(400)
  })

  test('GET /search refuses control characters (NUL would match every keyword), and caches nothing for them', async () => {
    const searches = (await request(`${app.url}/stats`)).body.database.searches
    for (const q of ['%00%00', 'co%00ffee', 'tea%0A', '%09tea', 'tea%7F', 'tea%C2%85']) {
      const r = await request<{ error: string }>(`${app.url}/search?q=${q}`)
      expect(r.status, q).toBe(400)
      expect(r.body.error).toBe('q must not contain control characters')
      expect(r.headers.get('x-cache'), q).not.toBe('HIT')
    }
    const again = await request(`${app.url}/search?q=%00%00`)
    expect(again.status).toBe(400)
    expect(again.headers.get('x-cache')).not.toBe('HIT')
    expect((await request(`${app.url}/stats`)).body.database.searches).toBe(searches)
  })

  test('PUT /keywords/:id: the next reads are fresh, searches listing it too, other searches stay cached', async () => {
    const search = await request<{ results: Summary[] }>(`${app.url}/search?q=tea`)
    const target = search.body.results[3] as Summary
    const other = await request<{ results: Summary[] }>(`${app.url}/search?q=zzqy`)
    expect(other.body.results).toEqual([])
    expect((await request(`${app.url}/keywords/${target.id}`)).body.difficulty).toBe(target.difficulty)
    expect((await request(`${app.url}/search?q=tea`)).headers.get('x-cache')).toBe('HIT')

    const difficulty = target.difficulty === 100 ? 1 : target.difficulty + 1
    const put = await request(`${app.url}/keywords/${target.id}`, {
      method: 'PUT',
      body: { difficulty, related: ['tea time'] },
    })
    expect(put.status).toBe(200)
    expect(put.body).toMatchObject({ id: target.id, difficulty, related: ['tea time'] })

    const keyword = await request(`${app.url}/keywords/${target.id}`)
    expect(keyword.body).toMatchObject({ difficulty, related: ['tea time'] })
    const after = await request<{ results: Summary[] }>(`${app.url}/search?q=tea`)
    expect(after.headers.get('x-cache')).toBe('MISS') // the tag dropped the stored response
    expect(after.body.results.find((k) => k.id === target.id)?.difficulty).toBe(difficulty)
    expect((await request(`${app.url}/search?q=zzqy`)).headers.get('x-cache')).toBe('HIT')
  })

  test('PUT validation', async () => {
    expect((await request(`${app.url}/keywords/5`, { method: 'PUT', body: { term: 'x' } })).status).toBe(400)
    expect((await request(`${app.url}/keywords/5`, { method: 'PUT', body: { volume: -1 } })).status).toBe(400)
    expect((await request(`${app.url}/keywords/5`, { method: 'PUT', body: {} })).status).toBe(400)
    expect((await request(`${app.url}/keywords/5`, { method: 'PUT', body: [1] })).status).toBe(400)
    const missing = await request(`${app.url}/keywords/${TEST_KEYWORDS + 5}`, {
      method: 'PUT',
      body: { volume: 1 },
    })
    expect(missing.status).toBe(404)
  })

  test('GET /stats and GET /metrics reflect the traffic', async () => {
    const before = await request<string>(`${app.url}/metrics`)
    expect(before.headers.get('content-type')).toContain('text/plain')
    const statsBefore = (await request(`${app.url}/stats`)).body
    for (let i = 0; i < 10; i++) await request(`${app.url}/keywords/${100 + (i % 2)}`)
    const after = (await request<string>(`${app.url}/metrics`)).body
    const route = { method: 'GET', route: '/keywords/:id', status: '200' }
    expect(
      metric(after, 'http_requests_total', route) - metric(before.body, 'http_requests_total', route),
    ).toBe(10)
    expect(
      metric(after, 'cache_hits_total', { level: 'l1_memory' }) -
        metric(before.body, 'cache_hits_total', { level: 'l1_memory' }),
    ).toBeGreaterThanOrEqual(8)
    expect(
      metric(after, 'cache_misses_total') - metric(before.body, 'cache_misses_total'),
    ).toBeGreaterThanOrEqual(2)
    expect(after).toContain('process_cpu_user_seconds_total')

    const stats = (await request(`${app.url}/stats`)).body
    expect(stats.cache).toBe('on')
    expect(stats.keywords).toBe(TEST_KEYWORDS)
    expect(stats.requests - statsBefore.requests).toBe(12) // 10 reads, /metrics, /stats
    expect(stats.database.reads - statsBefore.database.reads).toBe(2)
    expect(stats.cacheStats.hits - statsBefore.cacheStats.hits).toBeGreaterThanOrEqual(8)
    expect(stats.cacheStats.tiers.map((t: { level: string }) => t.level)).toEqual(['l1_memory', 'l2_sql'])
  })

  test('GET /health', async () => {
    const { status, body } = await request(`${app.url}/health`)
    expect(status).toBe(200)
    expect(body).toEqual({
      status: 'ok',
      database: 'ok',
      cache: {
        status: 'ok',
        mode: 'embedded',
        tiers: [
          { level: 'l1_memory', connected: true },
          { level: 'l2_sql', connected: true },
        ],
      },
    })
    expect((await request(`${app.url}/nope`)).status).toBe(404)
  })
})

describe('lifecycle and cache off', () => {
  test('SIGTERM closes the server, every cache tier and the database, and exits 0', async () => {
    const other = await startExample({ ...env, TIERCACHE_NAMESPACE: 'example-test-2' })
    expect(other.output()).not.toContain('seeding keywords') // already seeded
    expect((await request(`${other.url}/keywords/3`)).status).toBe(200)
    expect(await other.stop()).toBe(0)
    expect(other.output()).toContain('SIGTERM: shutting down')
    expect(other.output()).toContain('closed: HTTP server, search workers, cache tiers, database')
  })

  test('CACHE=off: every read is a query, no cache anywhere', async () => {
    const off = await startExample({ ...env, CACHE: 'off' })
    try {
      expect(off.output()).toContain('(cache off)')
      for (let i = 0; i < 3; i++) {
        const res = await request(`${off.url}/search?q=pizza`)
        expect(res.status).toBe(200)
        expect(res.headers.get('x-cache')).toBeNull()
        await request(`${off.url}/keywords/9`)
      }
      const stats = (await request(`${off.url}/stats`)).body
      expect(stats).toMatchObject({ cache: 'off', cacheStats: null, database: { reads: 3, searches: 3 } })
      expect((await request(`${off.url}/health`)).body).toMatchObject({ status: 'ok', cache: 'off' })
      const metrics = (await request<string>(`${off.url}/metrics`)).body
      expect(metric(metrics, 'http_requests_total', { route: '/search' })).toBe(3)
      expect(metrics).not.toContain('cache_hits_total')
    } finally {
      expect(await off.stop()).toBe(0)
    }
  })

  test('a wrong setting stops the start with a message', async () => {
    await expect(startExample({ ...env, TIERCACHE_MAX_MEMORY_SIZE: 'lots' })).rejects.toThrow(
      /did not start: createDistributedCache: maxMemorySize \(from TIERCACHE_MAX_MEMORY_SIZE\)/,
    )
  })
})
