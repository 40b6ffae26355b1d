/**
 * The breaker as the L2 of an engine, deterministically: chaos stores instead of servers, a
 * manual clock for the breaker. (The same behaviour against a real Redis is in outage.test.ts.)
 */
import { createCache, isTierCacheError } from '@tiercache/core'
import { chaosStore, flushMicrotasks, ManualClock } from '@tiercache/core/testing'
import { memoryStore } from '@tiercache/store-memory'
import { expect, test } from 'vitest'
import { withBreaker } from '../src/index.js'
import { asyncStore, memory } from './helpers.js'

function engine(replayWrites = false) {
  const clock = new ManualClock(Date.now())
  const l1 = memoryStore({ maxBytes: 1024 * 1024 })
  const l2raw = memory()
  const l2chaos = chaosStore(asyncStore(l2raw, 'redis'))
  const l2 = withBreaker(l2chaos, {
    clock,
    failureThreshold: 2,
    resetTimeout: 1000,
    timeout: 100,
    replayWrites,
  })
  const l3raw = memory()
  const cache = createCache({ namespace: 'app', tiers: [l1, l2, asyncStore(l3raw, 'sql')], ttl: '1h' })
  const errors: unknown[] = []
  cache.on('error', (e) => errors.push(e.error))
  return { clock, l1, l2raw, l2chaos, l2, l3raw, cache, errors }
}

test('with L2 open, reads and writes skip it, L1 and L3 serve, getOrSet falls through to the loader', async () => {
  const { clock, l1, l2raw, l2chaos, l2, l3raw, cache, errors } = engine()
  try {
    await cache.set('a', 'A')
    await cache.set('b', 'B')
    expect(l2raw.get('app:a')).toBeDefined()

    l2chaos.fail()
    l1.clear('')
    expect(await cache.get('a')).toBe('A') // L2 fails (1), L3 answers
    expect(await cache.get('b')).toBe('B') // L2 fails (2): open
    expect(l2.state).toBe('open')
    l2chaos.heal()

    const calls = { ...l2chaos.calls }
    l1.clear('')
    expect(await cache.get('a')).toBe('A')
    expect(await cache.getOrSet('c', () => 'C from the loader')).toBe('C from the loader')
    await cache.set('d', 'D')
    expect(await cache.delete('b')).toBe(true)
    expect(l2chaos.calls).toEqual(calls) // no call reached Redis
    expect(l3raw.get('app:c')).toBeDefined()
    expect(l3raw.get('app:b')).toBeUndefined()
    // The engine skipped the open tier: counted as skipped, with no error event per refused call.
    expect(cache.getStats().tiers[1]!.skipped).toBeGreaterThan(0)
    expect(errors.some((e) => isTierCacheError(e, 'E_CIRCUIT_OPEN'))).toBe(false)

    // Recovery: the journal reaches L2 before the breaker closes.
    expect(l2raw.get('app:b')).toBeDefined()
    await clock.advance(1000)
    await flushMicrotasks()
    expect(l2.state).toBe('closed')
    expect(l2raw.get('app:b')).toBeUndefined()
    // Values written while L2 was unreachable never land there late: the set of `d` was replayed
    // as a delete, and the loaded `c` was not written without a lease. L3 still serves both.
    expect(l2raw.get('app:c')).toBeUndefined()
    expect(l2raw.get('app:d')).toBeUndefined()
    l1.clear('')
    expect(await cache.get('c')).toBe('C from the loader')
    expect(await cache.get('d')).toBe('D')
  } finally {
    await cache.close()
  }
})

test('with replayWrites (one writer), writes made while L2 was open reach it as writes', async () => {
  const { clock, l2raw, l2chaos, l2, cache } = engine(true)
  try {
    await cache.set('a', 'A')
    l2chaos.fail()
    await cache.get('x')
    await cache.get('y')
    expect(l2.state).toBe('open')
    l2chaos.heal()
    await cache.set('d', 'D')
    expect(l2raw.get('app:d')).toBeUndefined()
    await clock.advance(1000)
    await flushMicrotasks()
    expect(l2.state).toBe('closed')
    expect(l2raw.get('app:d')).toBeDefined()
  } finally {
    await cache.close()
  }
})

test('tag invalidations and pattern deletes made while L2 is open reach it on recovery', async () => {
  const { clock, l1, l2raw, l2chaos, l2, cache } = engine()
  try {
    await cache.set('user:1', 'Ada', { tags: ['team:a'] })
    await cache.set('user:2', 'Grace', { tags: ['team:b'] })
    await cache.set('post:1', 'P')
    l2chaos.fail()
    await cache.get('nope:1')
    await cache.get('nope:2')
    expect(l2.state).toBe('open')
    l2chaos.heal()

    await cache.invalidateTags(['team:a'])
    await cache.deleteByPattern('post:*')
    expect(l2raw.get('app#tags:team:a')).toBeUndefined()
    expect(l2raw.get('app:post:1')).toBeDefined()
    await clock.advance(1000)
    await flushMicrotasks()
    expect(l2.state).toBe('closed')
    expect(l2raw.get('app:post:1')).toBeUndefined()
    // The tag record was replayed as a write: another instance reading L2 sees the invalidation.
    expect(l2raw.get('app#tags:team:a')).toBeDefined()

    // A second engine sharing L2 only (a fresh instance) does not serve the invalidated entry.
    l1.clear('')
    const other = createCache({ namespace: 'app', tiers: [memoryStore(), withBreaker(asyncStore(l2raw))] })
    try {
      expect(await other.get('user:1')).toBeUndefined()
      expect(await other.get('user:2')).toBe('Grace')
    } finally {
      await other.close()
    }
  } finally {
    await cache.close()
  }
})
