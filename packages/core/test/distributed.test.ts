import { busHub, deferred, localStore, lockHub, remoteStore } from '@tiercache/test-kit'
import { describe, expect, test } from 'vitest'
import { createCache } from '../src/index.js'
import type { StoreEntry } from '../src/store-kit.js'
import { ManualClock } from '../src/testing/index.js'

/** Two or more instances sharing one remote tier (as with Redis). */
function cluster(n: number, opts: { bus?: boolean; lock?: boolean; tagSyncInterval?: number } = {}) {
  const clock = new ManualClock()
  const shared = new Map<string, StoreEntry<Uint8Array>>()
  const hub = busHub()
  const locks = lockHub(clock)
  const nodes = Array.from({ length: n }, () => {
    const l1 = localStore(clock)
    const bus = opts.bus ? hub.connect() : undefined
    const cache = createCache({
      namespace: 'app',
      tiers: [l1, remoteStore(clock, { map: shared })],
      clock,
      ...(bus ? { bus } : {}),
      ...(opts.lock ? { lock: locks.connect() } : {}),
      ...(opts.tagSyncInterval !== undefined ? { tagSyncInterval: opts.tagSyncInterval } : {}),
    })
    return { cache, l1, bus }
  })
  return { clock, shared, hub, nodes }
}

describe('tags (lazy invalidation through the shared tiers)', () => {
  test('invalidateTags hides tagged entries in every tier and leaves others', async () => {
    const { nodes } = cluster(1)
    const { cache } = nodes[0]!
    await cache.set('a', 1, { tags: ['user:1', 'all'] })
    await cache.set('b', 2, { tags: ['user:2', 'all'] })
    await cache.set('c', 3)
    await cache.invalidateTags(['user:1'])
    expect(await cache.get('a')).toBeUndefined()
    expect(await cache.get('b')).toBe(2)
    await cache.invalidateTags(['all'])
    expect(await cache.getMany(['a', 'b', 'c'])).toEqual([undefined, undefined, 3])
  })

  test('an entry written after the invalidation (even in the same millisecond) is valid', async () => {
    const { nodes, clock } = cluster(1)
    const { cache } = nodes[0]!
    await cache.invalidateTags(['t'])
    await cache.set('k', 'after', { tags: ['t'] })
    expect(await cache.get('k')).toBe('after')
    await cache.invalidateTags(['t'])
    expect(await cache.get('k')).toBeUndefined()
    expect(clock.now()).toBe(1_700_000_000_000) // no time passed at all
  })

  test('another instance sees the invalidation through the shared tier record (no bus)', async () => {
    const { nodes, clock } = cluster(2, { tagSyncInterval: 1000 })
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]]
    await a.cache.set('k', 'v', { tags: ['t'] })
    expect(await b.cache.get('k')).toBe('v') // read from the shared tier into b's L1
    await a.cache.invalidateTags(['t'])
    b.l1.map.clear() // without a bus, b's L1 copy would live until its TTL; drop it to read the shared tier
    await clock.advance(1001) // b re-checks tag records after tagSyncInterval
    expect(await b.cache.get('k')).toBeUndefined()
  })

  test('with a bus, other instances drop tagged L1 copies at once', async () => {
    const { nodes } = cluster(2, { bus: true })
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]]
    await a.cache.set('k', 'v', { tags: ['t'] })
    expect(await b.cache.get('k')).toBe('v')
    await a.cache.invalidateTags(['t'])
    expect(b.cache.peek('k')).toBeUndefined()
    expect(await b.cache.get('k')).toBeUndefined()
  })
})

describe('bus', () => {
  test('set, delete, pattern, tags and clear on one instance drop the others’ L1 copies', async () => {
    const { nodes, hub } = cluster(3, { bus: true })
    const [a, b, c] = nodes.map((n) => n.cache) as [any, any, any]
    const warm = async (key: string) => {
      await b.get(key)
      await c.get(key)
      expect(b.peek(key)).toBeDefined()
      expect(c.peek(key)).toBeDefined()
    }
    await a.set('k', 1)
    await warm('k')
    await a.set('k', 2)
    expect(b.peek('k')).toBeUndefined()
    expect(await c.get('k')).toBe(2)

    await warm('k')
    await a.delete('k')
    expect(b.peek('k')).toBeUndefined()
    expect(c.peek('k')).toBeUndefined()

    await a.set('user:1', 1)
    await a.set('post:1', 1)
    await warm('user:1')
    await warm('post:1')
    await a.deleteByPattern('user:*')
    expect(b.peek('user:1')).toBeUndefined()
    expect(b.peek('post:1')).toBe(1)

    await a.namespace('ns').set('x', 1)
    await b.namespace('ns').get('x')
    await b.get('post:1')
    await a.namespace('ns').clear()
    expect(b.namespace('ns').peek('x')).toBeUndefined()
    expect(b.peek('post:1')).toBe(1)
    await a.clear()
    expect(b.peek('post:1')).toBeUndefined()

    const types = hub.sent.map((m) => m.type)
    expect(types).toEqual(expect.arrayContaining(['set', 'delete', 'pattern', 'clear']))
    expect(hub.sent.every((m) => m.namespace === 'app' && typeof m.instanceId === 'string')).toBe(true)
    expect(JSON.stringify(hub.sent)).not.toContain('"value"')
  })

  test('an instance ignores its own messages and other namespaces', async () => {
    const clock = new ManualClock()
    const hub = busHub()
    const l1 = localStore(clock)
    const cache = createCache({
      namespace: 'one',
      tiers: [l1, remoteStore(clock)],
      clock,
      bus: hub.connect(),
    })
    const other = createCache({
      namespace: 'two',
      tiers: [localStore(clock), remoteStore(clock)],
      clock,
      bus: hub.connect(),
    })
    await cache.set('k', 1)
    expect(cache.peek('k')).toBe(1) // its own 'set' message did not drop its own copy
    await other.delete('k')
    expect(cache.peek('k')).toBe(1)
  })

  test('after a bus reconnect the instance flushes its L1', async () => {
    const { nodes } = cluster(2, { bus: true })
    const b = nodes[1]!
    const flushes: string[] = []
    b.cache.on('flush', (e) => flushes.push(e.reason))
    await b.cache.set('k', 1)
    expect(b.cache.peek('k')).toBe(1)
    b.bus!.reconnect()
    expect(b.cache.peek('k')).toBeUndefined()
    expect(await b.cache.get('k')).toBe(1) // still in the shared tier
    expect(flushes).toEqual(['bus-reconnect'])
  })

  test('a bus message during a load on another instance wins over the late result', async () => {
    const { nodes } = cluster(2, { bus: true })
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]]
    const gate = deferred()
    const load = b.cache.getOrSet('k', async () => {
      await gate.promise
      return 'late'
    })
    await new Promise((r) => setImmediate(r))
    await a.cache.delete('k')
    gate.resolve()
    expect(await load).toBe('late')
    expect(b.cache.peek('k')).toBeUndefined()
  })
})

describe('distributed lock', () => {
  test('4 instances × 250 concurrent getOrSet on one cold key → exactly 1 loader call', async () => {
    const { nodes } = cluster(4, { lock: true })
    let calls = 0
    const loader = async () => {
      calls++
      await new Promise((r) => setTimeout(r, 20))
      return 'v'
    }
    const all = nodes.flatMap((n) => Array.from({ length: 250 }, () => n.cache.getOrSet('cold', loader)))
    const results = await Promise.all(all)
    expect(results.every((r) => r === 'v')).toBe(true)
    expect(calls).toBe(1)
  })

  test('with a stale value, a waiter serves stale instead of waiting for the lock', async () => {
    const { nodes, clock } = cluster(2, { lock: true })
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]]
    await a.cache.set('k', 'old', { ttl: 1000, grace: '1m' })
    await b.cache.get('k')
    await clock.advance(1001)
    const gate = deferred()
    const slow = a.cache.getOrSet('k', async () => {
      await gate.promise
      return 'new'
    })
    await new Promise((r) => setTimeout(r, 5))
    expect(await b.cache.getOrSet('k', () => 'b-load')).toBe('old')
    gate.resolve()
    expect(await slow).toBe('new')
  })
})
