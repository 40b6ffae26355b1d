import { withBreaker } from '@tiercache/breaker'
import { type BusStats, createCache, InvalidOptionError, isTierCacheError } from '@tiercache/core'
import { chaosStore, ManualClock } from '@tiercache/core/testing'
import { prometheusMetrics } from '@tiercache/metrics-prometheus'
import { memoryStore } from '@tiercache/store-memory'
import { busHub, localStore } from '@tiercache/test-kit'
import { Registry, register } from 'prom-client'
import { describe, expect, test } from 'vitest'
import { one, plainRemote, type Sample, scrape, select, sum } from './helpers.js'

const ns = { namespace: 'app' }
const l1 = { ...ns, level: 'l1_memory' }
const l2 = { ...ns, level: 'l2_remote' }

function twoTier(options: Parameters<typeof prometheusMetrics>[0] = {}) {
  const metrics = prometheusMetrics(options)
  const remote = plainRemote()
  const cache = createCache({ namespace: 'app', tiers: [memoryStore(), remote], plugins: [metrics] })
  return { metrics, cache, remote }
}

describe('counters core keeps, read at scrape time', () => {
  test('hits count reads answered at the level or above; misses, reads no level answered, on the last level only', async () => {
    const { metrics, cache } = twoTier()
    await cache.set('a', 1)
    await cache.get('a') // L1 hit
    await cache.get('b') // miss everywhere
    cache.flushLocal()
    await cache.get('a') // L1 miss, L2 hit, backfill
    await cache.get('a') // L1 hit
    await cache.delete('a')
    const s = await scrape(metrics.registry)
    const stats = cache.getStats()
    expect(one(s, 'cache_hits_total', l1)).toBe(2) // answered by L1
    expect(one(s, 'cache_hits_total', l2)).toBe(3) // answered by L1 or L2
    expect(one(s, 'cache_misses_total', l2)).toBe(1) // answered by none
    expect(select(s, 'cache_misses_total')).toHaveLength(1)
    // The last level's ratio is the cache's own (getStats().hitRatio).
    expect(one(s, 'cache_hits_total', l2)).toBe(stats.hits)
    expect(one(s, 'cache_misses_total', l2)).toBe(stats.misses)
    // Each level's own counts are differences of the cumulative series.
    const [t1, t2] = stats.tiers
    expect(one(s, 'cache_hits_total', l1)).toBe(t1!.hits)
    expect(one(s, 'cache_hits_total', l2) - one(s, 'cache_hits_total', l1)).toBe(t2!.hits)
    const reads = one(s, 'cache_hits_total', l2) + one(s, 'cache_misses_total', l2)
    expect(reads - one(s, 'cache_hits_total', l1)).toBe(t1!.misses) // reads L1 did not answer
    for (const tier of stats.tiers) {
      const labels = { ...ns, level: tier.level }
      expect(one(s, 'cache_sets_total', labels)).toBe(tier.sets)
      expect(one(s, 'cache_deletes_total', labels)).toBe(tier.deletes)
    }
    await cache.close()
  })

  test('three levels: cumulative hits, misses on L3; per-level ratios derive from them', async () => {
    const metrics = prometheusMetrics()
    const l2Store = plainRemote({ name: 'redis' })
    const l3Store = plainRemote({ name: 'sql' })
    const cache = createCache({
      namespace: 'app',
      tiers: [memoryStore(), l2Store, l3Store],
      plugins: [metrics],
    })
    for (let i = 0; i < 10; i++) await cache.set(`k${i}`, i)
    for (let i = 0; i < 10; i++) await cache.get(`k${i}`) // 10 L1 hits
    cache.flushLocal()
    for (let i = 0; i < 6; i++) l2Store.map.delete(`app:k${i}`) // k0..k5 only in L3
    for (let i = 0; i < 10; i++) await cache.get(`k${i}`) // 6 L3 hits, 4 L2 hits
    for (let i = 0; i < 5; i++) await cache.get(`none${i}`) // 5 misses
    const s = await scrape(metrics.registry)
    const at = (level: string) => ({ ...ns, level })
    expect(one(s, 'cache_hits_total', at('l1_memory'))).toBe(10)
    expect(one(s, 'cache_hits_total', at('l2_redis'))).toBe(14)
    expect(one(s, 'cache_hits_total', at('l3_sql'))).toBe(20)
    expect(one(s, 'cache_misses_total', at('l3_sql'))).toBe(5)
    expect(select(s, 'cache_misses_total').map((x) => x.labels.level)).toEqual(['l3_sql'])
    const stats = cache.getStats()
    expect(stats.tiers.map((t) => t.hits)).toEqual([10, 4, 6])
    expect(stats.tiers.map((t) => t.misses)).toEqual([15, 11, 5])
    expect(20 / (20 + 5)).toBe(stats.hitRatio)
    await cache.close()
  })

  test('entries, bytes, byte bound and evictions of the memory level', async () => {
    const metrics = prometheusMetrics()
    const cache = createCache({
      namespace: 'app',
      tiers: [memoryStore({ maxBytes: 1000, maxEntryBytes: 400 })],
      plugins: [metrics],
    })
    for (let i = 0; i < 10; i++) await cache.set(`k${i}`, 'x'.repeat(200))
    const s = await scrape(metrics.registry)
    const tier = cache.getStats().tiers[0]!
    expect(tier.evictions).toBeGreaterThan(0)
    expect(one(s, 'cache_entries', l1)).toBe(tier.entries)
    expect(one(s, 'cache_size_bytes', l1)).toBe(tier.bytes)
    expect(one(s, 'cache_max_bytes', l1)).toBe(1000)
    expect(one(s, 'cache_evictions_total', l1)).toBe(tier.evictions)
    expect(select(s, 'cache_used_memory_bytes')).toEqual([])
    await cache.close()
  })

  test('loads, loader errors, collapsed calls, stale values and refreshes', async () => {
    const clock = new ManualClock()
    const metrics = prometheusMetrics()
    const cache = createCache({ namespace: 'app', tiers: [localStore(clock)], clock, plugins: [metrics] })
    let release!: () => void
    const slow = new Promise<void>((r) => {
      release = r
    })
    const loads = [1, 2, 3].map(() =>
      cache.getOrSet('k', async () => {
        await slow
        return 'v'
      }),
    )
    release()
    await Promise.all(loads)
    await cache.getOrSet('g', () => 'old', { ttl: 1000, grace: 60_000 })
    await clock.advance(2000)
    expect(
      await cache.getOrSet(
        'g',
        () => {
          throw new Error('down')
        },
        { ttl: 1000, grace: 60_000 },
      ),
    ).toBe('old')
    await expect(
      cache.getOrSet('e', () => {
        throw new Error('boom')
      }),
    ).rejects.toThrow('boom')
    const s = await scrape(metrics.registry)
    const stats = cache.getStats()
    expect(stats.collapsed).toBe(2)
    expect(one(s, 'cache_loads_total', ns)).toBe(stats.loads)
    expect(one(s, 'cache_loads_total', ns)).toBe(4)
    expect(one(s, 'cache_loader_errors_total', ns)).toBe(2)
    expect(one(s, 'cache_collapsed_total', ns)).toBe(2)
    expect(one(s, 'cache_stale_served_total', ns)).toBe(1)
    expect(one(s, 'cache_refreshes_total', ns)).toBe(stats.refreshes)
    // The loader histogram has every run, from core's own timing.
    expect(one(s, 'cache_loader_duration_seconds_count', { ...ns, outcome: 'ok' })).toBe(2)
    expect(one(s, 'cache_loader_duration_seconds_count', { ...ns, outcome: 'error' })).toBe(2)
    // the loader errors with a stale value to serve are errors outside any tier
    expect(one(s, 'cache_errors_total', { ...ns, level: 'none', operation: 'loader' })).toBe(1)
    await cache.close()
  })

  test('counters only grow between scrapes (Counter semantics)', async () => {
    const { metrics, cache } = twoTier()
    let last = new Map<string, number>()
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 20; i++) {
        await cache.getOrSet(`k${(i * 7 + round) % 13}`, () => i)
        await cache.get(`m${i}`)
      }
      if (round === 2) await cache.clear()
      const now = new Map<string, number>()
      for (const sample of (await scrape(metrics.registry)).filter((x) => x.name.endsWith('_total'))) {
        const id = `${sample.name}${JSON.stringify(sample.labels)}`
        now.set(id, sample.value)
        expect(sample.value, id).toBeGreaterThanOrEqual(last.get(id) ?? 0)
      }
      last = now
    }
    await cache.close()
  })
})

describe('errors by level and operation', () => {
  test('a failing level counts its errors per operation', async () => {
    const remote = chaosStore(plainRemote())
    const metrics = prometheusMetrics()
    const cache = createCache({ namespace: 'app', tiers: [memoryStore(), remote], plugins: [metrics] })
    remote.fail()
    await cache.set('a', 1)
    await cache.set('b', 2)
    cache.flushLocal()
    await cache.get('a')
    await cache.delete('a')
    const s = await scrape(metrics.registry)
    expect(one(s, 'cache_errors_total', { ...l2, operation: 'set' })).toBe(2)
    expect(one(s, 'cache_errors_total', { ...l2, operation: 'get' })).toBe(1)
    expect(one(s, 'cache_errors_total', { ...l2, operation: 'delete' })).toBe(1)
    expect(sum(s, 'cache_errors_total', { level: 'l1_memory' })).toBe(0)
    remote.heal()
    await cache.close()
  })
})

describe('level_up and circuit breakers', () => {
  test('a level is up until it fails, down while failing, up again after a success', async () => {
    const remote = chaosStore(plainRemote())
    const metrics = prometheusMetrics()
    const cache = createCache({ namespace: 'app', tiers: [memoryStore(), remote], plugins: [metrics] })
    expect(one(await scrape(metrics.registry), 'cache_level_up', l2)).toBe(1)
    remote.fail()
    await cache.set('a', 1)
    expect(one(await scrape(metrics.registry), 'cache_level_up', l2)).toBe(0)
    expect(one(await scrape(metrics.registry), 'cache_level_up', l1)).toBe(1)
    remote.heal()
    await cache.set('a', 1)
    expect(one(await scrape(metrics.registry), 'cache_level_up', l2)).toBe(1)
    await cache.close()
  })

  test('breaker state, transitions and rejections; an open breaker takes its level down', async () => {
    const clock = new ManualClock()
    const remote = chaosStore(plainRemote({ clock }))
    const breaker = withBreaker(remote, { failureThreshold: 2, resetTimeout: 1000, clock, journal: false })
    const metrics = prometheusMetrics({ breakers: { l2_remote: breaker } })
    const cache = createCache({
      namespace: 'app',
      tiers: [localStore(clock), breaker],
      clock,
      plugins: [metrics],
    })
    let s = await scrape(metrics.registry)
    expect(one(s, 'cache_breaker_state', l2)).toBe(0)
    expect(one(s, 'cache_breaker_opened_total', l2)).toBe(0)
    remote.fail()
    await cache.set('a', 1)
    await cache.set('b', 1)
    await cache.set('c', 1) // refused: the breaker is open
    s = await scrape(metrics.registry)
    expect(breaker.state).toBe('open')
    expect(one(s, 'cache_breaker_state', l2)).toBe(2)
    expect(one(s, 'cache_breaker_opened_total', l2)).toBe(1)
    expect(one(s, 'cache_breaker_rejected_total', l2)).toBeGreaterThanOrEqual(1)
    expect(one(s, 'cache_level_up', l2)).toBe(0)
    remote.heal()
    await clock.advance(1000)
    expect(breaker.state).toBe('half-open')
    expect(one(await scrape(metrics.registry), 'cache_breaker_state', l2)).toBe(1)
    await cache.set('d', 1) // the probe succeeds
    s = await scrape(metrics.registry)
    expect(breaker.state).toBe('closed')
    expect(one(s, 'cache_breaker_state', l2)).toBe(0)
    expect(one(s, 'cache_breaker_closed_total', l2)).toBe(1)
    expect(one(s, 'cache_level_up', l2)).toBe(1)
    await cache.close()
  })

  test('breakers given as a list are matched to the tier of the same store name', async () => {
    const breaker = withBreaker(plainRemote())
    const metrics = prometheusMetrics({ breakers: [breaker] })
    const cache = createCache({ namespace: 'app', tiers: [memoryStore(), breaker], plugins: [metrics] })
    expect(one(await scrape(metrics.registry), 'cache_breaker_state', l2)).toBe(0)
    await cache.close()
  })

  test('a breaker for a level the cache does not have is refused at createCache, registering nothing', () => {
    const breaker = withBreaker(plainRemote())
    for (const breakers of [{ l2_redis: breaker }, [withBreaker(plainRemote({ name: 'redis' }))]]) {
      const registry = new Registry()
      const metrics = prometheusMetrics({ breakers, registry })
      let error: unknown
      try {
        createCache({ namespace: 'app', tiers: [memoryStore(), breaker], plugins: [metrics] })
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(InvalidOptionError)
      expect(String((error as Error).message)).toContain('l2_remote')
      expect(registry.getMetricsAsArray()).toEqual([])
    }
  })
})

describe('bus traffic', () => {
  test('from the cache events when no bus is given', async () => {
    const hub = busHub()
    const metrics = prometheusMetrics()
    const a = createCache({
      namespace: 'app',
      tiers: [memoryStore()],
      bus: hub.connect(),
      plugins: [metrics],
    })
    const b = createCache({ namespace: 'app', tiers: [memoryStore()], bus: hub.connect() })
    await a.set('k', 1)
    await b.set('k', 2)
    await b.delete('k')
    const s = await scrape(metrics.registry)
    expect(one(s, 'cache_bus_messages_total', { ...ns, outcome: 'sent' })).toBe(1)
    expect(one(s, 'cache_bus_messages_total', { ...ns, outcome: 'received' })).toBe(2)
    expect(one(s, 'cache_bus_messages_total', { ...ns, outcome: 'failed' })).toBe(0)
    expect(select(s, 'cache_bus_queued')).toEqual([])
    await Promise.all([a.close(), b.close()])
  })

  test('from bus.stats() when the bus is given, with queued messages and connection state', async () => {
    const counters: BusStats = { sent: 7, received: 3, failed: 2, queued: 4, connected: false }
    const bus = { subscribe() {}, publish() {}, stats: () => counters }
    const metrics = prometheusMetrics({ bus })
    const cache = createCache({ namespace: 'app', tiers: [memoryStore()], bus, plugins: [metrics] })
    await cache.set('k', 1)
    const s = await scrape(metrics.registry)
    expect(one(s, 'cache_bus_messages_total', { ...ns, outcome: 'sent' })).toBe(7)
    expect(one(s, 'cache_bus_messages_total', { ...ns, outcome: 'received' })).toBe(3)
    expect(one(s, 'cache_bus_messages_total', { ...ns, outcome: 'failed' })).toBe(2)
    expect(one(s, 'cache_bus_queued', ns)).toBe(4)
    expect(one(s, 'cache_bus_connected', ns)).toBe(0)
    await cache.close()
  })
})

describe('warming', () => {
  test('hot keys, warming refreshes and promotions, warm() items', async () => {
    const metrics = prometheusMetrics()
    const cache = createCache({
      namespace: 'app',
      tiers: [memoryStore(), plainRemote()],
      warming: { threshold: 2, snapshotInterval: 0 },
      plugins: [metrics],
    })
    const summary = await cache.warm(['a', 'b', 'c'], {
      loader: (key) => {
        if (key === 'c') throw new Error('no c')
        return key
      },
    })
    for (let i = 0; i < 3; i++) await cache.get('a')
    const s = await scrape(metrics.registry)
    const warming = cache.getStats().warming!
    expect(one(s, 'cache_warming_hot_keys', ns)).toBe(warming.hotKeys)
    expect(warming.hotKeys).toBeGreaterThanOrEqual(1)
    expect(one(s, 'cache_warming_refreshes_total', ns)).toBe(warming.refreshes)
    expect(one(s, 'cache_warming_promotions_total', ns)).toBe(warming.promotions)
    expect(one(s, 'cache_warm_items_total', { ...ns, outcome: 'ok' })).toBe(summary.succeeded)
    expect(one(s, 'cache_warm_items_total', { ...ns, outcome: 'error' })).toBe(1)
    await cache.close()
  })
})

/** Series: distinct name + label sets in a scrape. */
function series(samples: readonly Sample[]): number {
  return new Set(samples.map((s) => `${s.name}${JSON.stringify(s.labels)}`)).size
}

describe('cardinality', () => {
  async function traffic(keys: number): Promise<{ count: number; samples: Sample[] }> {
    const remote = chaosStore(plainRemote())
    // L1 hits timed often enough that the histogram has every series it can have in both runs.
    const metrics = prometheusMetrics()
    const cache = createCache({
      namespace: 'app',
      tiers: [memoryStore(), remote],
      l1SampleEvery: 2,
      plugins: [metrics],
    })
    for (let i = 0; i < keys; i++) {
      const key = `user:${i}:${'x'.repeat(i % 7)}`
      await cache.set(key, i, { tags: [`tag:${i}`] })
      await cache.get(key)
      await cache.get(`missing:${i}`)
      await cache.getOrSet(`loaded:${i}`, () => i)
      await expect(
        cache.getOrSet(`failing:${i}`, () => {
          throw new Error(`loader ${i}`)
        }),
      ).rejects.toThrow()
      if (i % 2 === 0) await cache.delete(key)
    }
    await cache.invalidateTags(['tag:0'])
    await cache.deleteByPattern('user:1*')
    remote.fail(['get'])
    cache.flushLocal()
    await cache.get('user:1:x')
    remote.heal()
    const samples = await scrape(metrics.registry)
    await cache.close()
    return { count: series(samples), samples }
  }

  test('10,000 distinct keys make exactly as many series as 10, and no label holds a key', async () => {
    const small = await traffic(10)
    const large = await traffic(10_000)
    expect(large.count).toBe(small.count)
    const labelValues = new Set(large.samples.flatMap((s) => Object.values(s.labels)))
    for (const value of labelValues) expect(value).not.toMatch(/user|missing|loaded|failing|tag:/)
    expect(one(large.samples, 'cache_hits_total', l1)).toBe(10_000)
  }, 120_000)
})

describe('registries', () => {
  test('a private registry by default; prom-client’s global registry when asked', async () => {
    const metrics = prometheusMetrics()
    expect(metrics.registry).not.toBe(register)
    const cache = createCache({ namespace: 'app', tiers: [memoryStore()], plugins: [metrics] })
    expect(register.getSingleMetric('cache_hits_total')).toBeUndefined()
    await cache.close()

    const global = prometheusMetrics({ registry: register })
    const other = createCache({ namespace: 'app', tiers: [memoryStore()], plugins: [global] })
    await other.set('a', 1)
    await other.get('a')
    expect(one(await scrape(register), 'cache_hits_total', l1)).toBe(1)
    await other.close()
    expect(register.getSingleMetric('cache_hits_total')).toBeUndefined()
  })

  test('caches share a registry, one namespace label each; the last to close unregisters', async () => {
    const registry = new Registry()
    const a = createCache({
      namespace: 'a',
      tiers: [memoryStore()],
      plugins: [prometheusMetrics({ registry })],
    })
    const b = createCache({
      namespace: 'b',
      tiers: [memoryStore()],
      plugins: [prometheusMetrics({ registry })],
    })
    await a.set('k', 1)
    await a.get('k')
    await b.get('k')
    let s = await scrape(registry)
    expect(one(s, 'cache_hits_total', { namespace: 'a', level: 'l1_memory' })).toBe(1)
    expect(one(s, 'cache_misses_total', { namespace: 'b', level: 'l1_memory' })).toBe(1)
    await a.close()
    s = await scrape(registry)
    expect(select(s, 'cache_hits_total', { namespace: 'a' })).toEqual([])
    expect(select(s, 'cache_operations_duration_seconds_count', { namespace: 'a' })).toEqual([])
    expect(select(s, 'cache_misses_total', { namespace: 'b' })).toHaveLength(1)
    await b.close()
    expect(await registry.metrics()).toBe('\n')
    // Registering again after everything closed works.
    const c = createCache({
      namespace: 'a',
      tiers: [memoryStore()],
      plugins: [prometheusMetrics({ registry })],
    })
    expect(select(await scrape(registry), 'cache_hits_total')).toHaveLength(1)
    await c.close()
  })

  test('without the namespace label, caches of one registry add up', async () => {
    const registry = new Registry()
    const a = createCache({
      namespace: 'a',
      tiers: [memoryStore()],
      plugins: [prometheusMetrics({ registry, namespaceLabel: false })],
    })
    const b = createCache({
      namespace: 'b',
      tiers: [memoryStore()],
      plugins: [prometheusMetrics({ registry, namespaceLabel: false })],
    })
    await a.get('x')
    await b.get('x')
    await b.get('y')
    const s = await scrape(registry)
    expect(one(s, 'cache_misses_total', { level: 'l1_memory' })).toBe(3)
    expect(s.every((x) => x.labels.namespace === undefined)).toBe(true)
    expect(select(s, 'cache_bus_connected')).toEqual([])
    await Promise.all([a.close(), b.close()])
  })

  test('a custom prefix renames every metric', async () => {
    const metrics = prometheusMetrics({ prefix: 'myapp_cache_' })
    const cache = createCache({ namespace: 'app', tiers: [memoryStore()], plugins: [metrics] })
    await cache.get('x')
    const s = await scrape(metrics.registry)
    expect(s.every((x) => x.name.startsWith('myapp_cache_'))).toBe(true)
    expect(one(s, 'myapp_cache_misses_total', l1)).toBe(1)
    await cache.close()
  })
})

describe('options', () => {
  test('bad options throw InvalidOptionError at once', () => {
    const bad: unknown[] = [
      null,
      { prefix: '1abc' },
      { prefix: 'a-b' },
      { buckets: [] },
      { buckets: [0.1, 0.01] },
      { buckets: [0, 1] },
      { buckets: [1, Number.POSITIVE_INFINITY] },
      { loaderBuckets: 'x' },
      { timing: { maxPerSecond: 1000 } },
      { timing: {} },
      { timing: 'on' },
      { namespaceLabel: 'yes' },
      { breakers: { l2_redis: {} } },
      { breakers: 'l2' },
      { registry: {} },
      { bus: 'redis' },
    ]
    for (const options of bad) {
      let error: unknown
      try {
        prometheusMetrics(options as never)
      } catch (e) {
        error = e
      }
      expect(isTierCacheError(error, 'E_INVALID_OPTION'), JSON.stringify(options)).toBe(true)
    }
    // The removed budget option says where the sampling went.
    expect(() => prometheusMetrics({ timing: { maxPerSecond: 1000 } } as never)).toThrow(/l1SampleEvery/)
    for (const timing of [true, false]) expect(prometheusMetrics({ timing }).name).toBe('prometheus')
  })

  test('one plugin reports one cache', async () => {
    const metrics = prometheusMetrics()
    const cache = createCache({ namespace: 'a', tiers: [memoryStore()], plugins: [metrics] })
    expect(() => createCache({ namespace: 'b', tiers: [memoryStore()], plugins: [metrics] })).toThrow(
      InvalidOptionError,
    )
    await cache.close()
    // After close the plugin may report a new cache.
    const again = createCache({ namespace: 'b', tiers: [memoryStore()], plugins: [metrics] })
    await again.close()
  })

  test('sharing a registry needs the same buckets and label set, and distinct namespaces', async () => {
    const registry = new Registry()
    const a = createCache({
      namespace: 'a',
      tiers: [memoryStore()],
      plugins: [prometheusMetrics({ registry })],
    })
    expect(() =>
      createCache({
        namespace: 'b',
        tiers: [memoryStore()],
        plugins: [prometheusMetrics({ registry, buckets: [0.1, 1] })],
      }),
    ).toThrow(InvalidOptionError)
    expect(() =>
      createCache({ namespace: 'a', tiers: [memoryStore()], plugins: [prometheusMetrics({ registry })] }),
    ).toThrow(/namespace "a"/)
    await a.close()
  })

  test('a registry that already has a metric of the same name is refused, and left as it was', async () => {
    const registry = new Registry()
    const mine = new (await import('prom-client')).Gauge({
      name: 'cache_entries',
      help: 'x',
      registers: [registry],
    })
    expect(() =>
      createCache({ namespace: 'a', tiers: [memoryStore()], plugins: [prometheusMetrics({ registry })] }),
    ).toThrow(/cache_entries/)
    expect(registry.getMetricsAsArray()).toEqual([mine])
  })
})
