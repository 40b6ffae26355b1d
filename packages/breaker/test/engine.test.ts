/**
 * The breaker as the L2 of an engine, deterministically: chaos stores instead of servers, a
 * manual clock for the breaker. (The same behaviour against a real Redis is in outage.test.ts.)
 */
import { type Bus, createCache, isTierCacheError } from '@tiercache/core'
import type { BusHandlers, BusMessage } from '@tiercache/core/store'
import { chaosStore, flushMicrotasks, ManualClock } from '@tiercache/core/testing'
import { memoryStore } from '@tiercache/store-memory'
import { expect, test } from 'vitest'
import { announceReplays, withBreaker } from '../src/index.js'
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

/** An in-process bus hub: each bus delivers to every other bus, asynchronously, never to itself. */
function busHub(): () => Bus {
  const members = new Set<{ handlers?: BusHandlers; own: Set<string> }>()
  return () => {
    const me: { handlers?: BusHandlers; own: Set<string> } = { own: new Set() }
    members.add(me)
    return {
      subscribe: (handlers) => {
        me.handlers = handlers
      },
      publish: async (m: BusMessage) => {
        me.own.add(m.instanceId)
        await Promise.resolve()
        for (const other of members)
          if (other !== me && !other.own.has(m.instanceId)) other.handlers?.message(m)
      },
      close: () => {
        members.delete(me)
      },
    }
  }
}

for (const announce of [false, true]) {
  test(`a write journaled by one instance, read from L2 by another before the replay: ${announce ? 'with announceReplays the reader drops it after the replay' : 'without announceReplays the reader keeps it'}`, async () => {
    const clock = new ManualClock(Date.now())
    const shared = memory()
    const bus = busHub()
    // a's L2 goes through a breaker that will open; b reaches the same L2 and never failed.
    const aChaos = chaosStore(asyncStore(shared, 'redis'))
    const aL2 = withBreaker(aChaos, { clock, failureThreshold: 1, resetTimeout: 1000, timeout: 100 })
    const aBus = bus()
    const a = createCache({ namespace: 'app', tiers: [memoryStore(), aL2], bus: aBus, ttl: '1h' })
    if (announce) announceReplays(aL2, aBus, 'app')
    const b = createCache({
      namespace: 'app',
      tiers: [memoryStore(), withBreaker(asyncStore(shared, 'redis'))],
      bus: bus(),
      ttl: '1h',
    })
    try {
      await a.set('k', 'v1')
      await b.get('k')
      expect(await b.get('k')).toBe('v1')
      expect(b.peek('k')).toBe('v1')

      aChaos.fail()
      await a.get('other')
      expect(aL2.state).toBe('open')
      aChaos.heal()
      // a's write is journaled; its bus message makes b drop its copy at once...
      await a.set('k', 'v2')
      await flushMicrotasks()
      expect(b.peek('k')).toBeUndefined()
      // ...but b reads L2 again before a's replay, and keeps what it found there.
      await b.get('k')
      expect(await b.get('k')).toBe('v1')
      expect(b.peek('k')).toBe('v1')

      await clock.advance(1000)
      await flushMicrotasks()
      expect(aL2.state).toBe('closed')
      expect(shared.get('app:k')).toBeUndefined() // replayed as a delete
      await flushMicrotasks()
      if (announce) {
        expect(b.peek('k')).toBeUndefined()
        expect(await b.get('k')).toBeUndefined()
      } else {
        expect(b.peek('k')).toBe('v1') // stale until its TTL: the gap announceReplays closes
      }
      expect(await a.get('k')).toBe('v2')
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })
}
