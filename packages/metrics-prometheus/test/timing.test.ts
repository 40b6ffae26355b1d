import { channels, createCache } from '@tiercache/core'
import { chaosStore, ManualClock } from '@tiercache/core/testing'
import { prometheusMetrics } from '@tiercache/metrics-prometheus'
import { memoryStore } from '@tiercache/store-memory'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { one, remoteStore, type Sample, scrape, select, sum } from './helpers.js'

const H = 'cache_operations_duration_seconds'
const count = (s: readonly Sample[], labels: Record<string, string>): number => sum(s, `${H}_count`, labels)
const anySubscribed = (): boolean => Object.values(channels).some((c) => c.hasSubscribers)

afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
  // Every test closes its caches: nothing may stay subscribed to core's tracing channels.
  expect(anySubscribed()).toBe(false)
})

function twoTier(options: Parameters<typeof prometheusMetrics>[0] = {}) {
  const metrics = prometheusMetrics(options)
  const remote = chaosStore(remoteStore())
  const cache = createCache({ namespace: 'app', tiers: [memoryStore(), remote], plugins: [metrics] })
  return { metrics, cache, remote }
}

describe('below the budget every operation is timed, by operation, level and outcome', () => {
  test('reads, writes and invalidations', async () => {
    const { metrics, cache } = twoTier()
    await cache.set('a', 1)
    await cache.get('a') // L1 hit
    await cache.get('a') // L1 hit
    cache.flushLocal()
    await cache.get('a') // L2 hit
    await cache.get('nope') // miss
    await cache.getOrSet('c', () => 3) // loader
    await cache.getOrSet('c', () => 3) // L1 hit
    await cache.namespace('users').get('1') // a child namespace reports under its root
    await cache.delete('a')
    await cache.deleteByPattern('c*')
    await cache.invalidateTags(['t'])
    await cache.namespace('users').clear()
    await cache.clear()
    const s = await scrape(metrics.registry)
    const app = { namespace: 'app' }
    expect(count(s, { ...app, operation: 'set', level: 'l2_remote', outcome: 'ok' })).toBe(1)
    expect(count(s, { ...app, operation: 'get', level: 'l1_memory', outcome: 'hit' })).toBe(2)
    expect(count(s, { ...app, operation: 'get', level: 'l2_remote', outcome: 'hit' })).toBe(1)
    expect(count(s, { ...app, operation: 'get', level: 'l2_remote', outcome: 'miss' })).toBe(2)
    expect(count(s, { ...app, operation: 'getOrSet', level: 'l2_remote', outcome: 'load' })).toBe(1)
    expect(count(s, { ...app, operation: 'getOrSet', level: 'l1_memory', outcome: 'hit' })).toBe(1)
    for (const operation of ['delete', 'deleteByPattern', 'invalidateTags']) {
      expect(count(s, { ...app, operation, level: 'l2_remote', outcome: 'ok' }), operation).toBe(1)
    }
    expect(count(s, { ...app, operation: 'clear', outcome: 'ok' })).toBe(2)
    expect(count(s, {})).toBe(13)
    // Buckets are cumulative and end with every observation.
    for (const c of select(s, `${H}_count`)) {
      expect(one(s, `${H}_bucket`, { ...c.labels, le: '+Inf' })).toBe(c.value)
    }
    await cache.close()
  })

  test('getOrSet outcomes: collapsed calls, stale values, failures', async () => {
    const clock = new ManualClock()
    const metrics = prometheusMetrics()
    const cache = createCache({
      namespace: 'app',
      tiers: [memoryStore({ clock }), remoteStore({ clock })],
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
    expect(count(s, { ...op, outcome: 'load' })).toBe(2)
    expect(count(s, { ...op, outcome: 'collapsed' })).toBe(2)
    expect(count(s, { ...op, outcome: 'stale', level: 'l2_remote' })).toBe(1)
    expect(count(s, { ...op, outcome: 'error', level: 'l2_remote' })).toBe(1)
    await cache.close()
  })

  test('a write that fails in strict mode is timed as an error', async () => {
    const metrics = prometheusMetrics()
    const remote = chaosStore(remoteStore())
    const cache = createCache({
      namespace: 'app',
      tiers: [memoryStore(), remote],
      strict: true,
      plugins: [metrics],
    })
    remote.fail()
    await expect(cache.set('a', 1)).rejects.toThrow()
    await expect(cache.delete('a')).rejects.toThrow()
    await expect(cache.clear()).rejects.toThrow()
    const s = await scrape(metrics.registry)
    for (const operation of ['set', 'delete', 'clear']) {
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
    await cache.get('a') // L1 hit now
    remote.heal()
    const s = await scrape(metrics.registry)
    const l2hit = { operation: 'get', level: 'l2_remote', outcome: 'hit' }
    expect(one(s, `${H}_sum`, l2hit)).toBeGreaterThanOrEqual(0.029)
    expect(one(s, `${H}_bucket`, { ...l2hit, le: '0.025' })).toBe(0)
    expect(one(s, `${H}_bucket`, { ...l2hit, le: '+Inf' })).toBe(1)
    const l1hit = { operation: 'get', level: 'l1_memory', outcome: 'hit' }
    expect(one(s, `${H}_count`, l1hit)).toBe(1)
    expect(one(s, `${H}_sum`, l1hit)).toBeGreaterThan(0)
    await cache.close()
  })

  test('operations of another cache with the same root namespace are not counted', async () => {
    const { metrics, cache } = twoTier()
    const other = createCache({ namespace: 'app', tiers: [memoryStore(), remoteStore()] })
    await other.set('a', 1)
    await other.get('a')
    await other.get('b')
    await other.getOrSet('c', () => 1)
    await other.delete('a')
    await other.clear()
    await cache.get('x')
    const s = await scrape(metrics.registry)
    expect(count(s, {})).toBe(1)
    expect(count(s, { operation: 'get', outcome: 'miss' })).toBe(1)
    await Promise.all([cache.close(), other.close()])
  })
})

describe('the budget', () => {
  test('after maxPerSecond operations the timer unsubscribes; a window reopens the next second', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] })
    vi.spyOn(Math, 'random').mockReturnValue(0.5)
    const { metrics, cache } = twoTier({ timing: { maxPerSecond: 10 } })
    await cache.set('a', 1) // 1 of 10
    for (let i = 0; i < 50; i++) await cache.get('a')
    expect(anySubscribed()).toBe(false) // the L1 hit path is back to no tracing at all
    let s = await scrape(metrics.registry)
    expect(count(s, { operation: 'get' })).toBe(9)
    expect(one(s, 'cache_hits_total', { level: 'l1_memory' })).toBe(50)

    vi.advanceTimersByTime(1000) // the next second: a window at a random moment of it
    expect(anySubscribed()).toBe(false)
    vi.advanceTimersByTime(499)
    expect(anySubscribed()).toBe(false)
    vi.advanceTimersByTime(1)
    expect(anySubscribed()).toBe(true)
    for (let i = 0; i < 50; i++) await cache.get('a')
    s = await scrape(metrics.registry)
    expect(count(s, { operation: 'get' })).toBe(19)
    expect(anySubscribed()).toBe(false)

    vi.advanceTimersByTime(1500) // a quiet second keeps the window open
    expect(anySubscribed()).toBe(true)
    await cache.get('a')
    vi.advanceTimersByTime(1000)
    expect(anySubscribed()).toBe(true)
    await cache.get('a')
    s = await scrape(metrics.registry)
    expect(count(s, { operation: 'get' })).toBe(21)
    await cache.close()
  })

  test('an operation still running when draining costs too much is dropped and counted', async () => {
    const { metrics, cache } = twoTier({ timing: { maxPerSecond: 5 } })
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    const slow = cache.getOrSet('slow', async () => {
      await gate
      return 1
    })
    await cache.set('a', 1)
    for (let i = 0; i < 20; i++) await cache.get('a') // budget spent, then draining, then stopped
    expect(anySubscribed()).toBe(false)
    release()
    await slow
    const s = await scrape(metrics.registry)
    expect(one(s, 'cache_operation_timings_dropped_total')).toBe(1)
    expect(count(s, { operation: 'getOrSet' })).toBe(0)
    expect(count(s, { operation: 'get' })).toBe(3)
    await cache.close()
  })

  test('a slow operation finishes its timing while the timer drains', async () => {
    const { metrics, cache } = twoTier({ timing: { maxPerSecond: 5 } })
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    const slow = cache.getOrSet('slow', async () => {
      await gate
      return 1
    })
    await cache.set('a', 1)
    for (let i = 0; i < 5; i++) await cache.get('a') // budget spent: draining, still subscribed
    expect(anySubscribed()).toBe(true)
    release()
    await slow
    expect(anySubscribed()).toBe(false)
    const s = await scrape(metrics.registry)
    expect(count(s, { operation: 'getOrSet', outcome: 'load' })).toBe(1)
    expect(one(s, 'cache_operation_timings_dropped_total')).toBe(0)
    await cache.close()
  })

  test('timing: false registers no histogram and never subscribes', async () => {
    const { metrics, cache } = twoTier({ timing: false })
    expect(anySubscribed()).toBe(false)
    await cache.set('a', 1)
    await cache.get('a')
    const s = await scrape(metrics.registry)
    expect(select(s, `${H}_count`)).toEqual([])
    expect(metrics.registry.getSingleMetric(H)).toBeUndefined()
    expect(select(s, 'cache_operation_timings_dropped_total')).toEqual([])
    await cache.close()
  })

  test('every operation with maxPerSecond: Infinity; close() unsubscribes', async () => {
    const { metrics, cache } = twoTier({ timing: { maxPerSecond: Number.POSITIVE_INFINITY } })
    await cache.set('a', 1)
    for (let i = 0; i < 3000; i++) await cache.get('a')
    expect(count(await scrape(metrics.registry), { operation: 'get' })).toBe(3000)
    expect(anySubscribed()).toBe(true)
    await cache.close()
    expect(anySubscribed()).toBe(false)
  })
})
