/**
 * End to end over real backends: a memory L1 and the Redis on 127.0.0.1:6379 as L2 (unique
 * namespace and key prefix per run), traffic through the cache, then a scrape of `/metrics` from a
 * real HTTP server, checked against the traffic sent. Outage tests use their own redis-server.
 */
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { withBreaker } from '@tiercache/breaker'
import { createCache } from '@tiercache/core'
import { metricsHandler, prometheusMetrics } from '@tiercache/metrics-prometheus'
import { memoryStore } from '@tiercache/store-memory'
import { redisBus, redisStore } from '@tiercache/store-redis'
import { tempDir, uniqueName, waitFor } from '@tiercache/test-kit'
import { type RedisServer, startRedis } from '@tiercache/test-servers'
import { afterAll, describe, expect, test } from 'vitest'
import { one, parseMetrics, type Sample, select, sum } from './helpers.js'
import { promtool } from './promql.js'

const url = 'redis://127.0.0.1:6379'
const H = 'cache_operations_duration_seconds'

/** Serves a registry on a real HTTP server; `scrape()` GETs /metrics. */
async function serve(registry: Parameters<typeof metricsHandler>[0]) {
  const handler = metricsHandler(registry)
  const server = createServer((req, res) => {
    if (req.url === '/metrics') return void handler(req, res)
    res.statusCode = 404
    res.end()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    async scrape(): Promise<Sample[]> {
      const res = await fetch(`${base}/metrics`)
      expect(res.status).toBe(200)
      return parseMetrics(await res.text())
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}

describe('memory + Redis, scraped over HTTP', () => {
  test('hits, misses, sets and histogram counts match the traffic sent', async () => {
    const namespace = uniqueName('metrics')
    const prefix = `tc-test:metrics:${randomUUID().slice(0, 8)}:`
    const l2 = withBreaker(redisStore({ url, prefix }))
    const bus = redisBus({ url, prefix })
    const metrics = prometheusMetrics({ breakers: { l2_redis: l2 }, bus })
    const cache = createCache({ namespace, tiers: [memoryStore(), l2], bus, plugins: [metrics] })
    const http = await serve(metrics.registry)
    try {
      await waitFor(() => bus.stats().connected, 10_000, 'the bus to subscribe')
      const N = 40
      for (let i = 0; i < N; i++) await cache.set(`user:${i}`, { id: i, name: `user ${i}` })
      for (let i = 0; i < N; i++) await cache.get(`user:${i}`) // N L1 hits
      cache.flushLocal()
      for (let i = 0; i < N / 2; i++) await cache.get(`user:${i}`) // N/2 L2 hits (backfilled)
      for (let i = 0; i < N / 2; i++) await cache.get(`user:${i}`) // N/2 L1 hits
      for (let i = 0; i < 15; i++) await cache.get(`missing:${i}`) // 15 misses
      for (let i = 0; i < 10; i++) await cache.getOrSet(`report:${i}`, () => ({ rows: i })) // 10 loads
      for (let i = 0; i < 10; i++) await cache.getOrSet(`report:${i}`, () => ({ rows: -1 })) // 10 L1 hits
      for (let i = 0; i < 5; i++) await cache.delete(`user:${i}`)
      // Bus publishes finish in the background: wait for the last one before scraping.
      await waitFor(() => bus.stats().sent === N + 10 + 5, 10_000, 'the bus to publish every write')

      const s = await http.scrape()
      const l1 = { namespace, level: 'l1_memory' }
      const l2l = { namespace, level: 'l2_redis' }
      // Reads: every read consults L1 first; L1 misses go to Redis. Hits count reads answered at
      // the level or above; misses, reads no level answered, carry the last level (Redis).
      expect(one(s, 'cache_hits_total', l1)).toBe(N + N / 2 + 10)
      expect(one(s, 'cache_hits_total', l2l)).toBe(N + N / 2 + 10 + N / 2)
      expect(one(s, 'cache_misses_total', l2l)).toBe(15 + 10)
      expect(select(s, 'cache_misses_total', { namespace })).toHaveLength(1)
      expect(one(s, 'cache_sets_total', l2l)).toBe(N + 10)
      expect(one(s, 'cache_deletes_total', l2l)).toBe(5)
      expect(one(s, 'cache_loads_total', { namespace })).toBe(10)
      expect(sum(s, 'cache_errors_total', { namespace })).toBe(0)
      // Operation timings: every operation that leaves L1 is in the histogram, exactly; L1 hits
      // in steps of l1SampleEvery (64), so their count is the truth within 63.
      let c = (labels: Record<string, string>) => sum(s, `${H}_count`, { namespace, ...labels })
      expect(c({ operation: 'set', level: 'l2_redis', outcome: 'ok' })).toBe(N)
      expect(c({ operation: 'get', level: 'l2_redis', outcome: 'hit' })).toBe(N / 2)
      expect(c({ operation: 'get', level: 'l2_redis', outcome: 'miss' })).toBe(15)
      expect(c({ operation: 'getOrSet', level: 'l2_redis', outcome: 'miss' })).toBe(10)
      expect(c({ operation: 'delete', level: 'l2_redis', outcome: 'ok' })).toBe(5)
      const l1Get = c({ operation: 'get', level: 'l1_memory', outcome: 'hit' })
      expect(l1Get).toBeLessThanOrEqual(N + N / 2)
      expect(l1Get).toBeGreaterThanOrEqual(N + N / 2 - 63)
      const l1GetOrSet = c({ operation: 'getOrSet', level: 'l1_memory', outcome: 'hit' })
      expect(l1GetOrSet).toBeLessThanOrEqual(10)
      expect(l1GetOrSet).toBeGreaterThanOrEqual(10 - 63)
      expect(c({}) - l1Get - l1GetOrSet).toBe(N + N / 2 + 15 + 10 + 5)
      expect(one(s, 'cache_loader_duration_seconds_count', { namespace, outcome: 'ok' })).toBe(10)
      // Levels, sizes, breaker, bus.
      expect(one(s, 'cache_level_up', l1)).toBe(1)
      expect(one(s, 'cache_level_up', l2l)).toBe(1)
      expect(one(s, 'cache_breaker_state', l2l)).toBe(0)
      expect(one(s, 'cache_entries', l1)).toBe(N / 2 + 10 - 5)
      expect(one(s, 'cache_used_memory_bytes', l2l)).toBeGreaterThan(0)
      expect(one(s, 'cache_size_bytes', l2l)).toBe(one(s, 'cache_used_memory_bytes', l2l))
      expect(one(s, 'cache_bus_messages_total', { namespace, outcome: 'sent' })).toBe(N + 10 + 5)
      expect(one(s, 'cache_bus_connected', { namespace })).toBe(1)

      // Far above the old budget of 1000 timed operations a second: 20,000 L1 hits in a tight
      // loop, then concurrent batches of Redis reads (each batch one burst on the connection).
      const L1 = 20_000
      for (let i = 0; i < L1; i++) await cache.get(`user:${5 + (i % 15)}`)
      const stored = Array.from({ length: N - 5 }, (_, i) => `user:${5 + i}`)
      const ROUNDS = 60
      for (let r = 0; r < ROUNDS; r++) {
        cache.flushLocal()
        await Promise.all(stored.map((key) => cache.get(key)))
      }
      const MISSES = 3000
      for (let i = 0; i < MISSES; i += 500) {
        await Promise.all(Array.from({ length: 500 }, (_, j) => cache.get(`absent:${i + j}`)))
      }
      const after = await http.scrape()
      c = (labels: Record<string, string>) => sum(after, `${H}_count`, { namespace, ...labels })
      const l2Hits = N / 2 + ROUNDS * stored.length
      expect(c({ operation: 'get', level: 'l2_redis', outcome: 'hit' })).toBe(l2Hits)
      // the histogram agrees with core's counter
      expect(one(after, 'cache_hits_total', l2l) - one(after, 'cache_hits_total', l1)).toBe(l2Hits)
      expect(c({ operation: 'get', level: 'l2_redis', outcome: 'miss' })).toBe(15 + MISSES)
      const l1Hits = N + N / 2 + L1
      const timedL1 = c({ operation: 'get', level: 'l1_memory', outcome: 'hit' })
      expect(timedL1).toBeLessThanOrEqual(l1Hits)
      expect(timedL1).toBeGreaterThanOrEqual(l1Hits - 63)
      expect(one(after, 'cache_hits_total', l1)).toBe(l1Hits + 10)
      expect(sum(after, 'cache_errors_total', { namespace })).toBe(0)
    } finally {
      await cache.clear()
      await cache.close()
      await http.close()
    }
  })

  test('getStats() seed fields and the metrics that carry them agree', async () => {
    const namespace = uniqueName('parity')
    const prefix = `tc-test:metrics:${randomUUID().slice(0, 8)}:`
    const metrics = prometheusMetrics()
    const cache = createCache({
      namespace,
      tiers: [memoryStore(), redisStore({ url, prefix })],
      plugins: [metrics],
    })
    const http = await serve(metrics.registry)
    try {
      for (let i = 0; i < 20; i++) await cache.set(`k${i}`, 'v'.repeat(i * 10))
      for (let i = 0; i < 30; i++) await cache.get(`k${i}`)
      const s = await http.scrape()
      const stats = cache.getStats()
      const l1 = { namespace, level: 'l1_memory' }
      const l2 = { namespace, level: 'l2_redis' }
      // l1_cache.size: bytes held by L1
      expect(stats.l1_cache.size).toBeGreaterThan(0)
      expect(one(s, 'cache_size_bytes', l1)).toBe(stats.l1_cache.size)
      // l1_cache.hit_ratio: L1 hits / reads, reads being the last level's hits + misses
      const reads = one(s, 'cache_hits_total', l2) + one(s, 'cache_misses_total', l2)
      expect(reads).toBe(30)
      expect(stats.l1_cache.hit_ratio).toBeCloseTo(20 / 30, 10)
      expect(one(s, 'cache_hits_total', l1) / reads).toBeCloseTo(stats.l1_cache.hit_ratio, 10)
      // hitRatio: the seed's expression on the last level
      expect(one(s, 'cache_hits_total', l2) / reads).toBeCloseTo(stats.hitRatio, 10)
      // l1_cache.entries
      expect(one(s, 'cache_entries', l1)).toBe(stats.l1_cache.entries)
      // l2_cache.connected: cache_level_up of the first remote level
      expect(stats.l2_cache.connected).toBe(true)
      expect(one(s, 'cache_level_up', l2)).toBe(1)
      // l2_cache.used_memory: Redis used_memory, as of the scrape's stats refresh
      expect(stats.l2_cache.used_memory).toBeGreaterThan(0)
      expect(one(s, 'cache_used_memory_bytes', l2)).toBe(stats.l2_cache.used_memory)
    } finally {
      await cache.clear()
      await cache.close()
      await http.close()
    }
  })

  test('bus traffic between two instances: each sends, each receives the other', async () => {
    const namespace = uniqueName('bus')
    const prefix = `tc-test:metrics:${randomUUID().slice(0, 8)}:`
    const busA = redisBus({ url, prefix })
    const busB = redisBus({ url, prefix })
    const metrics = prometheusMetrics({ bus: busA })
    const a = createCache({
      namespace,
      tiers: [memoryStore(), redisStore({ url, prefix })],
      bus: busA,
      plugins: [metrics],
    })
    const b = createCache({ namespace, tiers: [memoryStore(), redisStore({ url, prefix })], bus: busB })
    try {
      await waitFor(() => busA.stats().connected && busB.stats().connected, 10_000, 'both buses to subscribe')
      await a.set('k', 1)
      await b.get('k')
      await b.set('k', 2)
      await b.delete('k')
      await waitFor(() => busA.stats().received >= 2, 10_000, 'instance A to hear B')
      const s = parseMetrics(await metrics.registry.metrics())
      expect(one(s, 'cache_bus_messages_total', { namespace, outcome: 'sent' })).toBe(1)
      expect(one(s, 'cache_bus_messages_total', { namespace, outcome: 'received' })).toBe(2)
      expect(one(s, 'cache_bus_messages_total', { namespace, outcome: 'failed' })).toBe(0)
      expect(one(s, 'cache_bus_queued', { namespace })).toBe(0)
      // B's operations share the root namespace but are not A's: A's histogram has only its own.
      expect(sum(s, `${H}_count`, { namespace })).toBe(1)
      expect(one(s, `${H}_count`, { namespace, operation: 'set', level: 'l2_redis', outcome: 'ok' })).toBe(1)
    } finally {
      await a.clear()
      await Promise.all([a.close(), b.close()])
    }
  })
})

describe('Redis outage (own redis-server)', () => {
  let server: RedisServer | undefined
  afterAll(() => server?.stop())

  test('cache_level_up{level="l2_redis"} goes to 0 while Redis is down and back to 1 after', async () => {
    server = await startRedis()
    const l2 = withBreaker(redisStore({ url: server.url, commandTimeout: 200 }), {
      failureThreshold: 2,
      resetTimeout: 200,
    })
    const metrics = prometheusMetrics({ breakers: { l2_redis: l2 } })
    const cache = createCache({ namespace: 'outage', tiers: [memoryStore(), l2], plugins: [metrics] })
    const level = { namespace: 'outage', level: 'l2_redis' }
    const up = async (): Promise<number> =>
      one(parseMetrics(await metrics.registry.metrics()), 'cache_level_up', level)
    try {
      await cache.set('a', 1)
      await cache.refreshStats()
      expect(await up()).toBe(1)
      const healthy = parseMetrics(await metrics.registry.metrics())
      const sizeUp = one(healthy, 'cache_size_bytes', level)
      expect(sizeUp).toBeGreaterThan(0) // Redis used_memory
      await server.kill()
      for (let i = 0; i < 3; i++) await cache.set(`b${i}`, 1) // fail, then refused by the breaker
      await waitFor(async () => (await up()) === 0, 10_000, 'level_up 0')
      const down = parseMetrics(await metrics.registry.metrics())
      // The seed's RedisConnectionDown reads cache_size_bytes{level="l2_redis"} == 0: it is 0 while down.
      expect(one(down, 'cache_size_bytes', level)).toBe(0)
      expect(await seedRedisConnectionDown(sizeUp, one(down, 'cache_size_bytes', level))).toContain('SUCCESS')
      expect(cache.getStats().l2_cache.connected).toBe(false)
      expect(one(down, 'cache_breaker_opened_total', level)).toBeGreaterThanOrEqual(1)
      expect(sum(down, 'cache_errors_total', { ...level, operation: 'set' })).toBeGreaterThanOrEqual(1)
      await server.restart()
      // Probes close the breaker once Redis answers; level_up is 1 again from the first probe
      // (half-open is not open), the breaker state 0 once it closed.
      await waitFor(
        async () => {
          await cache.set('c', 1)
          const s = parseMetrics(await metrics.registry.metrics())
          return one(s, 'cache_level_up', level) === 1 && one(s, 'cache_breaker_state', level) === 0
        },
        10_000,
        'level_up 1 and the breaker closed',
      )
      expect(cache.getStats().l2_cache.connected).toBe(true)
      await cache.refreshStats()
      expect(one(parseMetrics(await metrics.registry.metrics()), 'cache_size_bytes', level)).toBeGreaterThan(
        0,
      )
    } finally {
      await cache.close()
    }
  })
})

/**
 * The seed's RedisConnectionDown rule, verbatim, evaluated by promtool on the two values this
 * product exported (healthy, then Redis down), each held for a few 15 s scrapes: silent while
 * healthy, pending, then firing after its minute of `for`.
 */
async function seedRedisConnectionDown(healthy: number, down: number): Promise<string> {
  const { dir, remove: removeDir } = tempDir('tiercache-seed-alert')
  try {
    writeFileSync(
      join(dir, 'seed.rules.yml'),
      `groups:
  - name: seed
    rules:
      - alert: RedisConnectionDown
        expr: cache_size_bytes{level="l2_redis"} == 0
        for: 1m
        labels:
          severity: critical
        annotations:
          summary: "Redis não conectado"
`,
    )
    writeFileSync(
      join(dir, 'seed.test.yml'),
      `rule_files: [seed.rules.yml]
evaluation_interval: 15s
tests:
  - interval: 15s
    input_series:
      - series: 'cache_size_bytes{namespace="outage",level="l2_redis"}'
        values: '${healthy}x7 ${down}x11'
    alert_rule_test:
      - eval_time: 1m45s
        alertname: RedisConnectionDown
        exp_alerts: []
      - eval_time: 2m30s
        alertname: RedisConnectionDown
        exp_alerts: []
      - eval_time: 3m15s
        alertname: RedisConnectionDown
        exp_alerts:
          - exp_labels: { severity: critical, namespace: outage, level: l2_redis }
            exp_annotations: { summary: "Redis não conectado" }
`,
    )
    return await promtool('test', 'rules', join(dir, 'seed.test.yml'))
  } finally {
    removeDir()
  }
}
