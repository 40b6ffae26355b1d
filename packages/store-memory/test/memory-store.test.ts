import { createCache, isTierCacheError } from '@tiercache/core'
import { ManualClock } from '@tiercache/core/testing'
import { describe, expect, test } from 'vitest'
import { memoryStore } from '../src/index.js'

const entry = (now: number, size: number, ttl = 60_000) => ({
  value: { n: size },
  createdAt: now,
  freshUntil: now + ttl,
  staleUntil: now + ttl,
  tags: [],
  size,
})

describe('memoryStore', () => {
  test('an unbounded store is refused; bad bounds are refused', () => {
    expect(() => memoryStore({ maxBytes: Number.POSITIVE_INFINITY })).toThrow(/unbounded/)
    for (const bad of [
      { maxBytes: 0 },
      { maxBytes: -1 },
      { maxEntries: 0 },
      { maxBytes: 100, maxEntryBytes: 200 },
      { maxBytes: Number.NaN },
    ]) {
      let error: unknown
      try {
        memoryStore(bad)
      } catch (e) {
        error = e
      }
      expect(isTierCacheError(error, 'E_INVALID_OPTION'), JSON.stringify(bad)).toBe(true)
    }
  })

  test('bounded by entries only (maxBytes: Infinity) works', () => {
    const clock = new ManualClock()
    const store = memoryStore({ maxEntries: 3, maxBytes: Number.POSITIVE_INFINITY, clock })
    for (let i = 0; i < 5; i++) store.set(`k${i}`, entry(clock.now(), 1_000_000))
    expect(store.stats().entries).toBe(3)
    expect(store.get('k0')).toBeUndefined()
    expect(store.get('k4')).toBeDefined()
    expect(store.stats().evictions).toBe(2)
  })

  test('bounded by bytes: least recently used entries are evicted to stay under maxBytes', () => {
    const clock = new ManualClock()
    const store = memoryStore({ maxBytes: 1000, maxEntryBytes: 400, clock })
    store.set('a', entry(clock.now(), 400))
    store.set('b', entry(clock.now(), 400))
    store.get('a') // a is now more recent than b
    store.set('c', entry(clock.now(), 400))
    expect(store.get('b')).toBeUndefined()
    expect(store.get('a')).toBeDefined()
    expect(store.stats().bytes).toBe(800)
    expect(store.stats().maxBytes).toBe(1000)
  })

  test('expiry from staleUntil without timers, on the injected clock', async () => {
    const clock = new ManualClock()
    const store = memoryStore({ clock })
    store.set('k', entry(clock.now(), 10, 1000))
    expect(store.has('k')).toBe(true)
    clock.set(clock.now() + 1000)
    expect(store.has('k')).toBe(false)
    expect(store.get('k')).toBeUndefined()
    expect(store.stats().entries).toBe(0)
  })

  test('the seed default: 100 MiB', () => {
    expect(memoryStore().maxBytes).toBe(100 * 1024 * 1024)
  })

  test('as L1 in the engine: maxBytes bounds the serialized size of cached values', async () => {
    const clock = new ManualClock()
    const l1 = memoryStore({ maxBytes: 10_000, maxEntryBytes: 5_000, clock })
    const cache = createCache({ tiers: [l1], clock })
    for (let i = 0; i < 50; i++) await cache.set(`k${i}`, 'x'.repeat(1000))
    const stats = l1.stats()
    expect(stats.bytes).toBeLessThanOrEqual(10_000)
    expect(stats.entries).toBeLessThan(50)
    expect(await cache.get('k49')).toBe('x'.repeat(1000))
    expect(cache.getStats().l1_cache.size).toBe(stats.bytes)
    await cache.set('huge', 'y'.repeat(6000))
    expect(l1.has('huge')).toBe(false) // too large for L1: refused, and nothing below here
    await cache.close()
  })
})
