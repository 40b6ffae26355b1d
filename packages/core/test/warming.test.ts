import { localStore, remoteStore } from '@tiercache/test-kit'
import { describe, expect, test } from 'vitest'
import { createCache, isTierCacheError } from '../src/index.js'
import { FrequencySketch } from '../src/sketch.js'
import { ManualClock } from '../src/testing/index.js'

describe('frequency sketch', () => {
  test('memory stays at its documented bound after 1,000,000 distinct keys, and once-read keys stay cold', () => {
    const sketch = new FrequencySketch()
    expect(sketch.bytes).toBe(12 * 65_536)
    let falseHot = 0
    for (let i = 0; i < 1_000_000; i++) if (sketch.increment(`key:${i}`) >= 10) falseHot++
    expect(sketch.bytes).toBe(12 * 65_536)
    expect(falseHot).toBe(0)
    // Repeated keys are still counted (never undercounted) among that noise.
    for (let r = 0; r < 12; r++) for (let k = 0; k < 100; k++) sketch.increment(`hot:${k}`)
    for (let k = 0; k < 100; k++) expect(sketch.estimate(`hot:${k}`)).toBeGreaterThanOrEqual(12)
  })

  test('aging halves counts', () => {
    const s = new FrequencySketch(1024)
    for (let i = 0; i < 40; i++) s.increment('k')
    expect(s.estimate('k')).toBe(40)
    s.age()
    expect(s.estimate('k')).toBe(0) // the doorkeeper is emptied too
    s.increment('k')
    expect(s.increment('k')).toBe(21)
  })
})

function warmCache(extra: Record<string, unknown> = {}) {
  const clock = new ManualClock()
  const l1 = localStore(clock)
  const l2 = remoteStore(clock)
  const cache = createCache({
    tiers: [l1, l2],
    clock,
    warming: { threshold: 10, window: '1m', refreshAhead: 0.8, ...extra },
  })
  return { clock, l1, l2, cache }
}

describe('hot keys', () => {
  test('100 hot keys with TTL 1 s under steady reads for 60 s: only refresh-ahead calls the loader, no key is ever missing', async () => {
    const { cache, clock } = warmCache()
    let loads = 0
    let misses = 0
    let warmingRefreshes = 0
    cache.on('miss', () => misses++)
    cache.on('refresh', (e) => e.reason === 'warming' && warmingRefreshes++)
    const loader = async (ctx: { key: string }) => {
      loads++
      return `${ctx.key}@${clock.now()}`
    }
    const keys = Array.from({ length: 100 }, (_, i) => `hot:${i}`)
    for (const k of keys) await cache.getOrSet(k, loader, { ttl: 1000 })
    expect(loads).toBe(100)
    expect(misses).toBe(100)
    const start = clock.now()
    while (clock.now() - start < 60_000) {
      for (const k of keys) await cache.getOrSet(k, loader, { ttl: 1000 })
      await clock.advance(50)
    }
    expect(misses).toBe(100) // no reader ever missed after the first load
    expect(loads - 100).toBe(warmingRefreshes) // every later loader call was a background refresh
    expect(warmingRefreshes).toBeGreaterThan(100 * 60) // about one refresh per key per 0.8 s
    expect(cache.getStats().warming?.hotKeys).toBe(100)
  })

  test('cold keys (read once, or fewer than threshold times) are never refreshed', async () => {
    const { cache, clock } = warmCache()
    let loads = 0
    const loader = () => ++loads
    for (let i = 0; i < 1000; i++) await cache.getOrSet(`once:${i}`, loader, { ttl: 1000 })
    for (let r = 0; r < 5; r++)
      for (let i = 0; i < 50; i++) await cache.getOrSet(`few:${i}`, loader, { ttl: 1000 })
    const before = loads
    await clock.advance(60_000)
    expect(loads).toBe(before)
    expect(cache.getStats().warming?.hotKeys).toBe(0)
    expect(cache.getStats().warming?.refreshes).toBe(0)
  })

  test('a hot key that stops being read cools down and is no longer refreshed', async () => {
    const { cache, clock } = warmCache({ window: '5s' })
    let loads = 0
    const loader = () => ++loads
    for (let i = 0; i < 15; i++) await cache.getOrSet('k', loader, { ttl: 1000 })
    expect(cache.getStats().warming?.hotKeys).toBe(1)
    await clock.advance(30_000)
    const after = loads
    await clock.advance(30_000)
    expect(loads).toBe(after)
    expect(cache.getStats().warming?.hotKeys).toBe(0)
  })

  test('hot events, promotions from a lower tier, and stats', async () => {
    const { cache, l1 } = warmCache()
    const hot: string[] = []
    cache.on('hot', (e) => hot.push(e.key))
    await cache.set('k', 1)
    for (let i = 0; i < 12; i++) {
      l1.map.clear()
      await cache.get('k')
    }
    expect(hot).toEqual(['k'])
    const w = cache.getStats().warming!
    expect(w.hotKeys).toBe(1)
    expect(w.promotions).toBe(1)
    expect(w.sketchBytes).toBe(12 * 65_536)
    expect(l1.map.has('k')).toBe(true)
  })

  test('refreshes respect the global concurrency limit', async () => {
    const { cache, clock } = warmCache({ concurrency: 2 })
    let running = 0
    let peak = 0
    const loader = async () => {
      running++
      peak = Math.max(peak, running)
      await new Promise((r) => setTimeout(r, 2))
      running--
      return 1
    }
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`)
    for (let r = 0; r < 12; r++) for (const k of keys) await cache.getOrSet(k, loader, { ttl: 1000 })
    for (let i = 0; i < 40; i++) {
      for (const k of keys) cache.peek(k) ?? (await cache.getOrSet(k, loader, { ttl: 1000 }))
      for (const k of keys) await cache.getOrSet(k, loader, { ttl: 1000 })
      await clock.advance(50)
      await new Promise((r) => setTimeout(r, 3))
    }
    expect(cache.getStats().warming!.refreshes).toBeGreaterThan(0)
    expect(peak).toBeLessThanOrEqual(2 + 0)
  })

  test('bad warming options are refused', () => {
    const clock = new ManualClock()
    for (const warming of [
      { threshold: 0 },
      { threshold: 256 },
      { refreshAhead: 1 },
      { window: 0 },
      { concurrency: 0 },
    ]) {
      let error: unknown
      try {
        createCache({ tiers: [localStore(clock)], clock, warming })
      } catch (e) {
        error = e
      }
      expect(isTierCacheError(error), JSON.stringify(warming)).toBe(true)
    }
  })
})

describe('warm restart', () => {
  test('a new instance with restore: true warms its L1 from the snapshot before ready()', async () => {
    const clock = new ManualClock()
    const shared = new Map()
    const a = createCache({
      namespace: 'app',
      tiers: [localStore(clock), remoteStore(clock, { map: shared })],
      clock,
      warming: { snapshotInterval: '10s' },
    })
    // A Zipf-like workload: key i is read about 1000 / (i + 1) times.
    for (let i = 0; i < 200; i++) await a.set(`item:${i}`, { i })
    for (let i = 0; i < 200; i++) for (let r = 0; r < Math.ceil(1000 / (i + 1)); r++) await a.get(`item:${i}`)
    await clock.advance(10_001)
    const b = createCache({
      namespace: 'app',
      tiers: [localStore(clock), remoteStore(clock, { map: shared })],
      clock,
      warming: { restore: true },
    })
    await b.ready()
    const hot = a.getStats().warming!.hotKeys
    expect(hot).toBeGreaterThan(50)
    for (let i = 0; i < hot; i++) expect(b.peek(`item:${i}`), `item:${i}`).toEqual({ i })
  })
})

describe('warm()', () => {
  test('10,000 keys with concurrency 16: progress, completion, and exactly the failing keys reported', async () => {
    const clock = new ManualClock()
    const cache = createCache({ tiers: [localStore(clock), remoteStore(clock)], clock })
    const keys = Array.from({ length: 10_000 }, (_, i) => `w:${i}`)
    const failing = new Set(keys.filter((_, i) => i % 100 === 7))
    let inFlight = 0
    let peak = 0
    const progress: number[] = []
    const events: string[] = []
    cache.on('warm:start', (e) => events.push(`start ${e.total}`))
    cache.on('warm:done', (e) => events.push(`done ${e.done} ${e.failed}`))
    const summary = await cache.warm(keys, {
      concurrency: 16,
      ttl: '1h',
      loader: async (key) => {
        inFlight++
        peak = Math.max(peak, inFlight)
        await new Promise((r) => setImmediate(r))
        inFlight--
        if (failing.has(key)) throw new Error(`cannot load ${key}`)
        return key.toUpperCase()
      },
      onProgress: (p) => progress.push(p.done),
    })
    expect(summary.total).toBe(10_000)
    expect(summary.done).toBe(10_000)
    expect(summary.succeeded).toBe(9_900)
    expect(summary.failed).toBe(100)
    expect(new Set(summary.failures.map((f) => f.key))).toEqual(failing)
    expect(peak).toBe(16)
    expect(progress.length).toBe(10_000)
    expect(progress.at(-1)).toBe(10_000)
    expect(events).toEqual(['start 10000', 'done 10000 100'])
    expect(await cache.get('w:1')).toBe('W:1')
    expect(await cache.get('w:7')).toBeUndefined()
  })

  test('an async iterable of entries', async () => {
    const clock = new ManualClock()
    const cache = createCache({ tiers: [localStore(clock)], clock })
    async function* entries() {
      for (let i = 0; i < 50; i++) yield { key: `e:${i}`, value: i, ttl: '1m' as const }
    }
    const summary = await cache.warm(entries(), { concurrency: 4 })
    expect(summary.succeeded).toBe(50)
    expect(await cache.get('e:49')).toBe(49)
  })

  test('keys without a loader fail per key, not the run', async () => {
    const clock = new ManualClock()
    const cache = createCache({ tiers: [localStore(clock)], clock })
    const summary = await cache.warm(['a', 'b'])
    expect(summary.failed).toBe(2)
    expect(isTierCacheError(summary.failures[0]!.error, 'E_INVALID_OPTION')).toBe(true)
  })
})
