import type { Cache, CacheOptions, OperationObserver, PluginContext } from '@tiercache/core'
import { channels, createCache } from '@tiercache/core'
import { chaosStore, ManualClock } from '@tiercache/core/testing'
import { type PrometheusMetricsPlugin, prometheusMetrics } from '@tiercache/metrics-prometheus'
import { memoryStore } from '@tiercache/store-memory'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, test } from 'vitest'
import { one, plainRemote, type Sample, scrape, select, sum } from './helpers.js'

const H = 'cache_operations_duration_seconds'
const count = (s: readonly Sample[], labels: Record<string, string>): number => sum(s, `${H}_count`, labels)
const anySubscribed = (): boolean => Object.values(channels).some((c) => c.hasSubscribers)

afterEach(() => {
  // Timing goes through each cache's own observer: nothing subscribes to the process-wide channels.
  expect(anySubscribed()).toBe(false)
})

/** What a plugin did with its install context: the observers it registered and unregistered. */
interface Spy {
  readonly registered: OperationObserver[]
  unregistered: number
  l1SampleEvery: number
}

/** Wraps a plugin so that the test sees the observers it registers through `context.observe`. */
function spied(metrics: PrometheusMetricsPlugin): { plugin: PrometheusMetricsPlugin; spy: Spy } {
  const spy: Spy = { registered: [], unregistered: 0, l1SampleEvery: 0 }
  const plugin: PrometheusMetricsPlugin = {
    name: metrics.name,
    registry: metrics.registry,
    install(cache: Cache, context: PluginContext) {
      spy.l1SampleEvery = context.l1SampleEvery
      return metrics.install(cache, {
        tiers: context.tiers,
        bus: context.bus,
        namespace: context.namespace,
        l1SampleEvery: context.l1SampleEvery,
        observe(observer) {
          spy.registered.push(observer)
          const unregister = context.observe(observer)
          return () => {
            spy.unregistered++
            unregister()
          }
        },
      })
    },
  }
  return { plugin, spy }
}

function twoTier(
  options: Parameters<typeof prometheusMetrics>[0] = {},
  cacheOptions: Partial<CacheOptions> = {},
) {
  const { plugin: metrics, spy } = spied(prometheusMetrics(options))
  const remote = chaosStore(plainRemote())
  const cache = createCache({
    namespace: 'app',
    tiers: [memoryStore(), remote],
    plugins: [metrics],
    ...cacheOptions,
  })
  return { metrics, cache, remote, spy }
}

describe('every operation that leaves L1 is timed, by operation, level and outcome', () => {
  test('reads, writes and invalidations: exact counts', async () => {
    const { metrics, cache } = twoTier()
    await cache.set('a', 1)
    cache.flushLocal()
    await cache.get('a') // L2 hit
    cache.flushLocal()
    await cache.get('a') // L2 hit
    await cache.get('nope') // miss
    await cache.getOrSet('c', () => 3) // loader
    await cache.namespace('users').get('1') // a child namespace reports under its root
    await cache.delete('a')
    await cache.deleteByPattern('c*')
    await cache.invalidateTags(['t'])
    await cache.namespace('users').clear()
    await cache.clear()
    const s = await scrape(metrics.registry)
    const app = { namespace: 'app' }
    expect(count(s, { ...app, operation: 'set', level: 'l2_remote', outcome: 'ok' })).toBe(1)
    expect(count(s, { ...app, operation: 'get', level: 'l2_remote', outcome: 'hit' })).toBe(2)
    expect(count(s, { ...app, operation: 'get', level: 'l2_remote', outcome: 'miss' })).toBe(2)
    expect(count(s, { ...app, operation: 'getOrSet', level: 'l2_remote', outcome: 'miss' })).toBe(1)
    for (const operation of ['delete', 'deleteByPattern', 'invalidateTags']) {
      expect(count(s, { ...app, operation, level: 'l2_remote', outcome: 'ok' }), operation).toBe(1)
    }
    expect(count(s, { ...app, operation: 'clear', level: 'l2_remote', outcome: 'ok' })).toBe(2)
    expect(count(s, {})).toBe(11)
    // Nothing was an L1 hit, so every weight is 1: sum / count is a mean of real durations.
    expect(select(s, `${H}_count`, { level: 'l1_memory' })).toEqual([])
    // Buckets are cumulative and end with every observation.
    for (const c of select(s, `${H}_count`)) {
      const buckets = select(s, `${H}_bucket`, c.labels)
      expect(buckets.at(-1)?.labels.le).toBe('+Inf')
      expect(buckets.at(-1)?.value).toBe(c.value)
      for (let i = 1; i < buckets.length; i++) {
        expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value)
      }
      expect(one(s, `${H}_sum`, c.labels)).toBeGreaterThan(0)
    }
    await cache.close()
  })

  test('many reads past L1, far above the old budget of 1000 a second, are all counted', async () => {
    const { metrics, cache } = twoTier()
    const N = 5000
    await cache.setMany(Array.from({ length: N }, (_, i) => ({ key: `k${i}`, value: i })))
    cache.flushLocal()
    // Concurrent batches: thousands of reads within a few milliseconds.
    for (let i = 0; i < N; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => cache.get(`k${i + j}`)))
    }
    for (let i = 0; i < N; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => cache.get(`missing:${i + j}`)))
    }
    const s = await scrape(metrics.registry)
    expect(count(s, { operation: 'get', level: 'l2_remote', outcome: 'hit' })).toBe(N)
    expect(count(s, { operation: 'get', level: 'l2_remote', outcome: 'miss' })).toBe(N)
    expect(count(s, { operation: 'setMany', level: 'l2_remote', outcome: 'ok' })).toBe(1)
    await cache.close()
  })

  test('getOrSet outcomes: collapsed callers each reported, stale values, failures', async () => {
    const clock = new ManualClock()
    const metrics = prometheusMetrics()
    const cache = createCache({
      namespace: 'app',
      tiers: [memoryStore({ clock }), plainRemote({ clock })],
      clock,
      plugins: [metrics],
    })
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    const calls = [1, 2, 3].map(() =>
      cache.getOrSet('k', async () => {
        await gate
        return 'v'
      }),
    )
    release()
    await Promise.all(calls)
    await cache.getOrSet('g', () => 'old', { ttl: 1000, grace: 60_000 })
    await clock.advance(2000)
    const failing = (): never => {
      throw new Error('down')
    }
    expect(await cache.getOrSet('g', failing, { ttl: 1000, grace: 60_000 })).toBe('old')
    await expect(cache.getOrSet('e', failing)).rejects.toThrow('down')
    const s = await scrape(metrics.registry)
    const op = { namespace: 'app', operation: 'getOrSet' }
    // Three callers of one load (two of them collapsed), and the load of 'g'.
    expect(count(s, { ...op, level: 'l2_remote', outcome: 'miss' })).toBe(4)
    expect(one(s, 'cache_collapsed_total', { namespace: 'app' })).toBe(2)
    expect(count(s, { ...op, outcome: 'stale' })).toBe(1)
    expect(count(s, { ...op, level: 'l2_remote', outcome: 'error' })).toBe(1)
    expect(count(s, op)).toBe(6)
    await cache.close()
  })

  test('batch operations and has() are timed', async () => {
    const { metrics, cache } = twoTier()
    await cache.setMany([
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
    ])
    await cache.getMany(['a', 'b', 'c'])
    cache.flushLocal()
    await cache.getMany(['a', 'b'])
    await cache.has('a') // L1 (backfilled by getMany)
    await cache.has('zzz')
    await cache.deleteMany(['a', 'b'])
    const s = await scrape(metrics.registry)
    const last = { namespace: 'app', level: 'l2_remote', outcome: 'ok' }
    expect(count(s, { ...last, operation: 'setMany' })).toBe(1)
    expect(count(s, { ...last, operation: 'getMany' })).toBe(2)
    expect(count(s, { ...last, operation: 'has' })).toBe(2)
    expect(count(s, { ...last, operation: 'deleteMany' })).toBe(1)
    await cache.close()
  })

  test('a write that fails in strict mode is timed as an error', async () => {
    const { metrics, cache, remote } = twoTier({}, { strict: true })
    remote.fail()
    await expect(cache.set('a', 1)).rejects.toThrow()
    await expect(cache.delete('a')).rejects.toThrow()
    await expect(cache.clear()).rejects.toThrow()
    await expect(cache.setMany([{ key: 'b', value: 1 }])).rejects.toThrow()
    const s = await scrape(metrics.registry)
    for (const operation of ['set', 'delete', 'clear', 'setMany']) {
      expect(count(s, { operation, level: 'l2_remote', outcome: 'error' }), operation).toBe(1)
    }
    remote.heal()
    await cache.close()
  })

  test('durations are measured: a level that takes 30 ms shows at least 30 ms', async () => {
    const { metrics, cache, remote } = twoTier()
    await cache.set('a', 1)
    cache.flushLocal()
    remote.delay(30)
    await cache.get('a')
    remote.heal()
    const s = await scrape(metrics.registry)
    const l2hit = { operation: 'get', level: 'l2_remote', outcome: 'hit' }
    expect(one(s, `${H}_sum`, l2hit)).toBeGreaterThanOrEqual(0.029)
    expect(one(s, `${H}_bucket`, { ...l2hit, le: '0.025' })).toBe(0)
    expect(one(s, `${H}_bucket`, { ...l2hit, le: '+Inf' })).toBe(1)
    await cache.close()
  })
})

describe('L1 hits: one in l1SampleEvery timed, weighted by it', () => {
  test('10,000 L1 hits of get and of getOrSet: _count is 10,000 within l1SampleEvery - 1', async () => {
    const { metrics, cache, spy } = twoTier()
    expect(spy.l1SampleEvery).toBe(64) // core's default
    await cache.set('a', 1)
    const loader = () => 2
    for (let i = 0; i < 10_000; i++) await cache.get('a')
    for (let i = 0; i < 10_000; i++) await cache.getOrSet('a', loader)
    const s = await scrape(metrics.registry)
    for (const operation of ['get', 'getOrSet']) {
      const c = count(s, { namespace: 'app', operation, level: 'l1_memory', outcome: 'hit' })
      expect(c, operation).toBeLessThanOrEqual(10_000)
      expect(c, operation).toBeGreaterThanOrEqual(10_000 - 63)
      expect(c % 64, operation).toBe(0) // 64 per timed hit
    }
    expect(one(s, 'cache_hits_total', { namespace: 'app', level: 'l1_memory' })).toBe(20_000)
    await cache.close()
  })

  test('every l1SampleEvery-th hit is timed: counts are exact at each multiple', async () => {
    const { metrics, cache } = twoTier({}, { l1SampleEvery: 10 })
    await cache.set('a', 1)
    const l1get = { operation: 'get', level: 'l1_memory', outcome: 'hit' }
    for (let i = 0; i < 9; i++) await cache.get('a')
    expect(count(await scrape(metrics.registry), l1get)).toBe(0)
    await cache.get('a')
    expect(count(await scrape(metrics.registry), l1get)).toBe(10)
    for (let i = 0; i < 25; i++) await cache.get('a')
    expect(count(await scrape(metrics.registry), l1get)).toBe(30)
    await cache.close()
  })

  test('weights are in the buckets and the sum: each timed hit adds l1SampleEvery to its bucket', async () => {
    const { metrics, cache } = twoTier({ buckets: [0.000_001, 1, 2] }, { l1SampleEvery: 8 })
    await cache.set('a', 1)
    for (let i = 0; i < 24; i++) await cache.get('a') // three timed hits, weight 8 each
    const s = await scrape(metrics.registry)
    const l1get = { operation: 'get', level: 'l1_memory', outcome: 'hit' }
    expect(one(s, `${H}_count`, l1get)).toBe(24)
    const buckets = select(s, `${H}_bucket`, l1get).map((b) => [b.labels.le, b.value])
    // An L1 hit takes microseconds, well under 1 s: every weight is in le="1" and above.
    expect(buckets.slice(1)).toEqual([
      ['1', 24],
      ['2', 24],
      ['+Inf', 24],
    ])
    expect((buckets[0]![1] as number) % 8).toBe(0)
    // The sum is 8 × the three measured durations: positive, and at most 24 × 1 s.
    const total = one(s, `${H}_sum`, l1get)
    expect(total).toBeGreaterThan(0)
    expect(total).toBeLessThan(24)
    await cache.close()
  })

  test('a smaller l1SampleEvery times more hits with a smaller weight; the count stays exact', async () => {
    const { metrics, cache, spy } = twoTier({}, { l1SampleEvery: 2 })
    expect(spy.l1SampleEvery).toBe(2)
    await cache.set('a', 1)
    for (let i = 0; i < 3000; i++) await cache.get('a')
    for (let i = 0; i < 3000; i++) await cache.getOrSet('a', () => 2)
    const s = await scrape(metrics.registry)
    expect(count(s, { operation: 'get', level: 'l1_memory', outcome: 'hit' })).toBe(3000)
    expect(count(s, { operation: 'getOrSet', level: 'l1_memory', outcome: 'hit' })).toBe(3000)
    await cache.close()
  })
})

describe('one observer per cache', () => {
  test('two caches with the same namespace keep separate counts: each plugin sees its own cache', async () => {
    const a = twoTier()
    const b = twoTier()
    await a.cache.set('x', 1)
    a.cache.flushLocal()
    await a.cache.get('x')
    await a.cache.get('y')
    for (let i = 0; i < 3; i++) await b.cache.get(`z${i}`)
    await b.cache.delete('x')
    const sa = await scrape(a.metrics.registry)
    const sb = await scrape(b.metrics.registry)
    expect(count(sa, {})).toBe(3)
    expect(count(sa, { namespace: 'app', operation: 'get', level: 'l2_remote', outcome: 'hit' })).toBe(1)
    expect(count(sa, { namespace: 'app', operation: 'get', outcome: 'miss' })).toBe(1)
    expect(count(sb, {})).toBe(4)
    expect(count(sb, { namespace: 'app', operation: 'get', outcome: 'miss' })).toBe(3)
    expect(count(sb, { namespace: 'app', operation: 'delete', outcome: 'ok' })).toBe(1)
    await Promise.all([a.cache.close(), b.cache.close()])
  })

  test('operations of a cache without the plugin are not counted', async () => {
    const { metrics, cache } = twoTier()
    const other = createCache({ namespace: 'app', tiers: [memoryStore(), plainRemote()] })
    await other.set('a', 1)
    await other.get('b')
    await other.getOrSet('c', () => 1)
    await other.clear()
    await cache.get('x')
    const s = await scrape(metrics.registry)
    expect(count(s, {})).toBe(1)
    expect(count(s, { operation: 'get', outcome: 'miss' })).toBe(1)
    await Promise.all([cache.close(), other.close()])
  })

  test('install registers one observer; close() unregisters it and removes the cache’s series', async () => {
    const registry = new Registry()
    const a = spied(prometheusMetrics({ registry }))
    const b = spied(prometheusMetrics({ registry }))
    const ca = createCache({ namespace: 'a', tiers: [memoryStore(), plainRemote()], plugins: [a.plugin] })
    const cb = createCache({ namespace: 'b', tiers: [memoryStore(), plainRemote()], plugins: [b.plugin] })
    expect(a.spy.registered).toHaveLength(1)
    await ca.get('x')
    await cb.get('x')
    let s = await scrape(registry)
    expect(count(s, { namespace: 'a' })).toBe(1)
    expect(count(s, { namespace: 'b' })).toBe(1)
    await ca.close()
    expect(a.spy.unregistered).toBe(1)
    s = await scrape(registry)
    expect(select(s, `${H}_count`, { namespace: 'a' })).toEqual([])
    expect(select(s, `${H}_bucket`, { namespace: 'a' })).toEqual([])
    expect(count(s, { namespace: 'b' })).toBe(1)
    // The other cache's observer still hears its own cache.
    await cb.get('y')
    expect(count(await scrape(registry), { namespace: 'b' })).toBe(2)
    await cb.close()
    expect(b.spy.unregistered).toBe(1)
    expect(registry.getSingleMetric(H)).toBeUndefined()
  })

  test('without context.observe (an older core) timing is refused at once, registering nothing', async () => {
    const registry = new Registry()
    const cache = createCache({ namespace: 'app', tiers: [memoryStore()] })
    const context = {
      tiers: [],
      bus: undefined,
      namespace: 'app',
      l1SampleEvery: 64,
    } as unknown as PluginContext
    expect(() => prometheusMetrics({ registry }).install(cache, context)).toThrow(/timing: false/)
    expect(registry.getMetricsAsArray()).toEqual([])
    const dispose = prometheusMetrics({ registry, timing: false }).install(cache, context)
    expect(registry.getSingleMetric('cache_hits_total')).toBeDefined()
    dispose()
    expect(registry.getMetricsAsArray()).toEqual([])
    await cache.close()
  })

  test('timing: false registers no histogram and no observer', async () => {
    const { metrics, cache, spy } = twoTier({ timing: false })
    await cache.set('a', 1)
    await cache.get('a')
    await cache.get('b')
    const s = await scrape(metrics.registry)
    expect(select(s, `${H}_count`)).toEqual([])
    expect(metrics.registry.getSingleMetric(H)).toBeUndefined()
    expect(spy.registered).toEqual([])
    expect(one(s, 'cache_misses_total', { namespace: 'app', level: 'l2_remote' })).toBe(1) // the last level
    await cache.close()
    expect(spy.unregistered).toBe(0)
  })

  test('without the namespace label, caches of one registry add up in one series set', async () => {
    const registry = new Registry()
    const make = (namespace: string) =>
      createCache({
        namespace,
        tiers: [memoryStore(), plainRemote()],
        plugins: [prometheusMetrics({ registry, namespaceLabel: false })],
      })
    const a = make('a')
    const b = make('b')
    await a.get('x')
    await b.get('x')
    await b.get('y')
    expect(one(await scrape(registry), `${H}_count`, { operation: 'get', outcome: 'miss' })).toBe(3)
    await a.close()
    // Shared series stay while a cache of the registry remains.
    expect(one(await scrape(registry), `${H}_count`, { operation: 'get', outcome: 'miss' })).toBe(3)
    await b.close()
    expect(await registry.metrics()).toBe('\n')
  })
})
