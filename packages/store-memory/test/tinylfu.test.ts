import { isTierCacheError } from '@tiercache/core'
import { ManualClock } from '@tiercache/core/testing'
import { describe, expect, test } from 'vitest'
import { memoryStore } from '../src/index.js'
import { WindowTinyLfu } from '../src/tinylfu.js'

const entry = (now: number, size: number, ttl = 60_000) => ({
  value: { n: size },
  createdAt: now,
  freshUntil: now + ttl,
  staleUntil: now + ttl,
  tags: [],
  size,
})

/** Deterministic pseudo-random integers (xorshift32). */
function rng(seed: number): (n: number) => number {
  let x = seed
  return (n) => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) % n
  }
}

/** Replays keys (a get, and a set on a miss); returns the hits. */
function replay(policy: WindowTinyLfu<number>, keys: Iterable<string>): number {
  let hits = 0
  for (const k of keys) {
    if (policy.get(k) !== undefined) hits++
    else policy.set(k, 1, 1)
  }
  return hits
}

describe("memoryStore({ policy: 'tinylfu' })", () => {
  test('policy is validated and reported', () => {
    expect(memoryStore().policy).toBe('lru')
    expect(memoryStore({ policy: 'tinylfu' }).policy).toBe('tinylfu')
    let error: unknown
    try {
      memoryStore({ policy: 'lfu' as 'lru' })
    } catch (e) {
      error = e
    }
    expect(isTierCacheError(error, 'E_INVALID_OPTION')).toBe(true)
  })

  test('admission: a scan of one-time keys does not flush frequently read entries', () => {
    const clock = new ManualClock()
    const hot = Array.from({ length: 50 }, (_, i) => `hot:${i}`)
    const results: Record<string, number> = {}
    for (const policy of ['lru', 'tinylfu'] as const) {
      const store = memoryStore({ policy, maxEntries: 100, maxBytes: Number.POSITIVE_INFINITY, clock })
      for (let round = 0; round < 5; round++) {
        for (const k of hot) if (store.get(k) === undefined) store.set(k, entry(clock.now(), 1))
      }
      for (let i = 0; i < 1000; i++) store.set(`scan:${i}`, entry(clock.now(), 1))
      results[policy] = hot.filter((k) => store.has(k)).length
      expect(store.stats().entries).toBe(100)
    }
    expect(results.lru).toBe(0)
    expect(results.tinylfu).toBe(50)
  })

  test('admission compares the candidate with the victim: a key used more often gets in', () => {
    const p = new WindowTinyLfu<number>(Number.POSITIVE_INFINITY, 10)
    for (let i = 0; i < 10; i++) p.set(`cold:${i}`, 1, 1)
    // Used once, a new key is no more frequent than the victim: it is not admitted.
    p.set('warm', 1, 1)
    expect(p.peek('warm')).toBeUndefined()
    // Written again and again (each write is a use), it becomes more frequent and gets in.
    for (let i = 0; i < 4 && p.peek('warm') === undefined; i++) p.set('warm', 1, 1)
    expect(p.peek('warm')).toBe(1)
    // Keys used once do not displace it.
    for (let i = 0; i < 20; i++) p.set(`once:${i}`, 1, 1)
    expect(p.peek('warm')).toBe(1)
    expect(p.size).toBe(10)
    expect(p.frequency('warm')).toBeGreaterThan(p.frequency('once:3'))
  })

  test('aging: frequencies are halved after ten increments per entry of capacity', () => {
    const p = new WindowTinyLfu<number>(Number.POSITIVE_INFINITY, 64)
    p.set('k', 1, 1)
    for (let i = 0; i < 14; i++) p.get('k')
    const before = p.frequency('k')
    expect(before).toBeGreaterThanOrEqual(14)
    // Other keys' uses (64 entries of capacity: the sketch ages within about 640 increments).
    for (let i = 0; i < 2000; i++) p.get(`other:${i % 200}`)
    for (let i = 0; i < 2000; i++) if (p.get(`x:${i % 40}`) === undefined) p.set(`x:${i % 40}`, 1, 1)
    const after = p.frequency('k')
    expect(after).toBeLessThan(before / 2 + 1)
  })

  test('bounds stay exact after every write, by bytes and by entries together', () => {
    const clock = new ManualClock()
    const next = rng(42)
    const store = memoryStore({
      policy: 'tinylfu',
      maxBytes: 20_000,
      maxEntries: 30,
      maxEntryBytes: 5_000,
      clock,
    })
    const sizes = new Map<string, number>()
    for (let i = 0; i < 2000; i++) {
      const key = `k${next(200)}`
      if (next(3) === 0) {
        store.delete(key)
        continue
      }
      if (store.get(key) === undefined) {
        const size = 1 + next(5_000)
        sizes.set(key, size)
        store.set(key, entry(clock.now(), size))
      }
      const stats = store.stats()
      expect(stats.bytes).toBeLessThanOrEqual(20_000)
      expect(stats.entries).toBeLessThanOrEqual(30)
      let bytes = 0
      let entries = 0
      for (const [k, s] of sizes) {
        if (store.has(k)) {
          bytes += s
          entries++
        }
      }
      expect(stats.bytes).toBe(bytes)
      expect(stats.entries).toBe(entries)
    }
    expect(store.stats().evictions).toBeGreaterThan(0)
  })

  test('adaptation grows the window on a recency-heavy workload and keeps it small on a loop', () => {
    // Recency: a new key every other request; the others reread keys, mostly very recent ones,
    // from a span of 3,000 keys (more than the store holds).
    const recent = new WindowTinyLfu<number>(Number.POSITIVE_INFINITY, 1000)
    const next = rng(7)
    const keys: string[] = []
    for (let i = 0; i < 200_000; i++) {
      const distance = Math.floor(3000 * (next(1_000_000) / 1_000_000) ** 3)
      keys.push(`r${Math.max(0, (i >> 1) - distance)}`)
    }
    replay(recent, keys)
    expect(recent.state.windowMax).toBeGreaterThan(0.2 * recent.state.capacity)

    // Frequency: a loop over more keys than the store holds, where only admission helps.
    const loop = new WindowTinyLfu<number>(Number.POSITIVE_INFINITY, 1000)
    const loopKeys: string[] = []
    for (let i = 0; i < 200_000; i++) loopKeys.push(`l${i % 1100}`)
    const hits = replay(loop, loopKeys)
    expect(loop.state.windowMax).toBeLessThan(0.1 * loop.state.capacity)
    expect(hits / loopKeys.length).toBeGreaterThan(0.5) // LRU: 0
  })

  test('expiry, pattern deletes and stats behave as with lru', () => {
    const clock = new ManualClock()
    const store = memoryStore({ policy: 'tinylfu', maxBytes: 1000, clock })
    store.set('a:1', entry(clock.now(), 10, 1000))
    store.set('a:2', entry(clock.now(), 10, 5000))
    store.set('b:1', entry(clock.now(), 10, 5000))
    expect(store.stats()).toEqual({ entries: 3, bytes: 30, maxBytes: 1000, evictions: 0 })
    clock.set(clock.now() + 1000)
    expect(store.get('a:1')).toBeUndefined()
    expect(store.stats().entries).toBe(2)
    expect(store.deleteByPattern('a:*')).toBe(1)
    expect(store.get('b:1')?.value).toEqual({ n: 10 })
    store.clear('b')
    expect(store.stats()).toEqual({ entries: 0, bytes: 0, maxBytes: 1000, evictions: 0 })
  })
})
