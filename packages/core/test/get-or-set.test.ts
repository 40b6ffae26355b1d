import { caught, deferred, localStore, remoteStore } from '@tiercache/test-kit'
import { describe, expect, test } from 'vitest'
import { createCache, HardTimeoutError, isTierCacheError } from '../src/index.js'
import { chaosStore, ManualClock } from '../src/testing/index.js'

function setup(options: Record<string, unknown> = {}) {
  const clock = new ManualClock()
  const l1 = localStore(clock)
  const l2 = remoteStore(clock)
  const cache = createCache({ tiers: [l1, l2], clock, ttl: '1m', ...options })
  return { clock, l1, l2, cache }
}

describe('single-flight', () => {
  test('1,000 concurrent getOrSet on one cold key call the loader exactly once', async () => {
    const { cache } = setup()
    let calls = 0
    const gate = deferred()
    const loader = async () => {
      calls++
      await gate.promise
      return 'v'
    }
    const all = Array.from({ length: 1000 }, () => cache.getOrSet('cold', loader))
    gate.resolve()
    expect(new Set(await Promise.all(all))).toEqual(new Set(['v']))
    expect(calls).toBe(1)
    expect(cache.getStats().collapsed).toBe(999)
    expect(cache.getStats().loads).toBe(1)
  })

  test('10,000 concurrent calls over 100 keys call the loader exactly 100 times', async () => {
    const { cache } = setup()
    const calls = new Map<string, number>()
    const all: Promise<string>[] = []
    for (let i = 0; i < 10_000; i++) {
      const key = `k${i % 100}`
      all.push(
        cache.getOrSet(key, async (ctx) => {
          calls.set(ctx.key, (calls.get(ctx.key) ?? 0) + 1)
          await new Promise((r) => setImmediate(r))
          return `v:${ctx.key}`
        }),
      )
    }
    const results = await Promise.all(all)
    expect(results.every((r, i) => r === `v:k${i % 100}`)).toBe(true)
    expect(calls.size).toBe(100)
    expect([...calls.values()].every((n) => n === 1)).toBe(true)
  })

  test('a hit after the load is served from L1 without the loader', async () => {
    const { cache, l2 } = setup()
    let calls = 0
    await cache.getOrSet('k', () => ++calls)
    expect(await cache.getOrSet('k', () => ++calls)).toBe(1)
    expect(calls).toBe(1)
    expect(l2.map.has('cache:k')).toBe(true)
  })

  test('a loader error reaches every waiting caller and nothing is cached', async () => {
    const { cache, l2 } = setup()
    const boom = new Error('db down')
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () =>
        cache.getOrSet('k', async () => {
          await new Promise((r) => setImmediate(r))
          throw boom
        }),
      ),
    )
    expect(results.every((r) => r.status === 'rejected' && r.reason === boom)).toBe(true)
    expect(l2.map.size).toBe(0)
    expect(cache.getStats().loadErrors).toBe(1)
  })
})

describe('invalidation wins over in-flight loads', () => {
  const cases: [string, (c: ReturnType<typeof createCache>) => Promise<unknown>][] = [
    ['delete', (c) => c.delete('k')],
    ['clear', (c) => c.clear()],
    ['deleteByPattern', (c) => c.deleteByPattern('k*')],
    ['deleteMany', (c) => c.deleteMany(['k'])],
    ['invalidateTags', (c) => c.invalidateTags(['t'])],
    ['set', (c) => c.set('k', 'newer')],
  ]
  test.each(cases)('%s during a slow load: the late result is not written back', async (name, invalidate) => {
    const { cache, l1, l2 } = setup()
    await cache.set('k', 'old', { ttl: 1, tags: ['t'] })
    const gate = deferred()
    const load = cache.getOrSet(
      'k',
      async () => {
        await gate.promise
        return 'late'
      },
      { tags: ['t'], forceFresh: true },
    )
    await new Promise((r) => setImmediate(r))
    await invalidate(cache)
    gate.resolve()
    expect(await load).toBe('late') // the caller who asked still gets the value
    if (name === 'set') {
      expect(await cache.get('k')).toBe('newer')
    } else {
      expect(await cache.get('k')).toBeUndefined()
      expect(l1.map.get('k')?.value).not.toBe('late')
      if (name !== 'invalidateTags') expect(l2.map.has('cache:k')).toBe(false)
    }
  })
})

describe('grace (fail-safe)', () => {
  test('serves the stale value when the loader fails, and stops after grace ends', async () => {
    const { cache, clock } = setup()
    const stale: string[] = []
    cache.on('stale', (e) => stale.push(e.reason))
    await cache.getOrSet('k', () => 'v1', { ttl: '1s', grace: '10s' })
    await clock.advance(1500)
    const failing = () => {
      throw new Error('source down')
    }
    expect(await cache.getOrSet('k', failing, { ttl: '1s', grace: '10s' })).toBe('v1')
    expect(stale).toEqual(['loader-error'])
    expect(await cache.get('k')).toBeUndefined() // plain get never returns stale values
    await clock.advance(10_000)
    const err = await caught(() => cache.getOrSet('k', failing, { ttl: '1s', grace: '10s' }))
    expect(err.message).toBe('source down')
  })

  test('backs off: after a failure the loader is not called again until graceBackoff passes', async () => {
    const { cache, clock } = setup({ grace: '1h', graceBackoff: '5s' })
    await cache.getOrSet('k', () => 'v1', '1s')
    await clock.advance(2000)
    let calls = 0
    const failing = () => {
      calls++
      throw new Error('down')
    }
    expect(await cache.getOrSet('k', failing, '1s')).toBe('v1')
    await clock.advance(1000)
    expect(await cache.getOrSet('k', failing, '1s')).toBe('v1')
    expect(await cache.getOrSet('k', failing, '1s')).toBe('v1')
    expect(calls).toBe(1)
    await clock.advance(5000)
    expect(await cache.getOrSet('k', () => 'v2', '1s')).toBe('v2')
    expect(await cache.get('k')).toBe('v2')
  })

  test('ctx.fail() fails like a throw, and the loader sees the stale value', async () => {
    const { cache, clock } = setup({ grace: '1m' })
    await cache.set('k', { n: 1 }, '1s')
    await clock.advance(1001)
    const seen: unknown[] = []
    const out = await cache.getOrSet('k', (ctx) => {
      seen.push(ctx.hasStale, ctx.stale)
      return ctx.fail('upstream returned 503')
    })
    expect(out).toEqual({ n: 1 })
    expect(seen).toEqual([true, { n: 1 }])
    const err = await caught(() => cache.getOrSet('fresh-key', (ctx) => ctx.fail('nope')))
    expect(isTierCacheError(err, 'E_LOADER_FAILED')).toBe(true)
  })
})

describe('stale-while-revalidate', () => {
  test('100 concurrent stale reads get the stale value at once and refresh exactly once', async () => {
    const { cache, clock } = setup({ grace: '1m', staleWhileRevalidate: '1m' })
    await cache.set('k', 'old', '1s')
    await clock.advance(1001)
    let calls = 0
    const gate = deferred()
    const loader = async () => {
      calls++
      await gate.promise
      return 'new'
    }
    const reads = await Promise.all(Array.from({ length: 100 }, () => cache.getOrSet('k', loader, '1s')))
    expect(reads.every((r) => r === 'old')).toBe(true)
    expect(calls).toBe(1)
    gate.resolve()
    await clock.advance(0)
    expect(await cache.get('k')).toBe('new')
    expect(calls).toBe(1)
    expect(cache.getStats().staleServed).toBe(100)
  })

  test('the window is a duration after ttl: later in grace, the caller waits for the loader', async () => {
    const { cache, clock } = setup({ grace: '1m', staleWhileRevalidate: '10s' })
    await cache.set('a', 'old', '1s')
    await cache.set('b', 'old', '1s')
    await clock.advance(1000 + 9_999)
    // 9.999 s after expiry: inside the window, stale at once while the loader runs.
    const gate = deferred()
    const slow = async () => {
      await gate.promise
      return 'new'
    }
    expect(await cache.getOrSet('a', slow)).toBe('old')
    await clock.advance(1)
    // 10 s after expiry: outside the window, still within grace: the caller gets the fresh value.
    const b = cache.getOrSet('b', slow)
    gate.resolve()
    expect(await b).toBe('new')
    expect(cache.getStats().staleServed).toBe(1)
  })

  test('a duration string, a number of milliseconds or forever; a bad value is refused', async () => {
    for (const swr of ['30s', 30_000, 'forever'] as const) {
      await createCache({ tiers: [localStore(new ManualClock())], staleWhileRevalidate: swr }).close()
    }
    const err = caught(() =>
      createCache({ tiers: [localStore(new ManualClock())], staleWhileRevalidate: true as never }),
    )
    expect(isTierCacheError(await err, 'E_INVALID_DURATION')).toBe(true)
  })
})

describe('timeouts', () => {
  test('softTimeout returns stale when the loader is slow and keeps the late result', async () => {
    const { cache, clock } = setup({ grace: '1m' })
    await cache.set('k', 'old', '1s')
    await clock.advance(1001)
    const gate = deferred()
    const read = cache.getOrSet(
      'k',
      async () => {
        await gate.promise
        return 'new'
      },
      { softTimeout: 100, ttl: '1s' },
    )
    await clock.advance(101)
    expect(await read).toBe('old')
    gate.resolve()
    await clock.advance(0)
    expect(await cache.get('k')).toBe('new')
  })

  test('softTimeout without a stale value waits for the loader', async () => {
    const { cache, clock } = setup()
    const gate = deferred()
    const read = cache.getOrSet(
      'k',
      async () => {
        await gate.promise
        return 'v'
      },
      { softTimeout: 100 },
    )
    await clock.advance(500)
    gate.resolve()
    expect(await read).toBe('v')
  })

  test('hardTimeout rejects with E_HARD_TIMEOUT without a stale value, aborts ctx.signal, and serves stale when it can', async () => {
    const { cache, clock } = setup({ grace: '1m' })
    let signal: AbortSignal | undefined
    const never = (ctx: { signal: AbortSignal }) => {
      signal = ctx.signal
      return new Promise<string>(() => {})
    }
    const read = cache.getOrSet('k', never, { hardTimeout: 200 })
    await clock.advance(201)
    const err = await caught(() => read)
    expect(err).toBeInstanceOf(HardTimeoutError)
    expect(isTierCacheError(err, 'E_HARD_TIMEOUT')).toBe(true)
    expect(signal?.aborted).toBe(true)

    await cache.set('s', 'old', '1s')
    await clock.advance(1001)
    const staleRead = cache.getOrSet('s', never, { hardTimeout: 200 })
    await clock.advance(201)
    expect(await staleRead).toBe('old')
  })

  test('a hung tier behind softTimeout still answers (stale from L1)', async () => {
    const clock = new ManualClock()
    const l2 = chaosStore(remoteStore(clock))
    const cache = createCache({ tiers: [localStore(clock), l2], clock, grace: '1m', tierTimeout: 'forever' })
    await cache.set('k', 'old', '1s')
    await clock.advance(1001)
    l2.hang()
    const read = cache.getOrSet('k', () => 'new', { softTimeout: 50 })
    await clock.advance(51)
    expect(await read).toBe('old')
    l2.heal()
  })

  test('a hung tier with hardTimeout and nothing stale fails instead of hanging', async () => {
    const clock = new ManualClock()
    const l2 = chaosStore(remoteStore(clock))
    const cache = createCache({ tiers: [localStore(clock), l2], clock, tierTimeout: 'forever' })
    l2.hang()
    const read = cache.getOrSet('k', () => 'new', { hardTimeout: 300 })
    await clock.advance(301)
    expect(isTierCacheError(await caught(() => read), 'E_HARD_TIMEOUT')).toBe(true)
    l2.heal()
  })
})

describe('refresh-ahead, forceFresh, loader context', () => {
  test('a read after refreshAhead × ttl triggers exactly one background refresh', async () => {
    const { cache, clock } = setup()
    let calls = 0
    const loader = async () => `v${++calls}`
    await cache.getOrSet('k', loader, { ttl: 1000, refreshAhead: 0.8 })
    await clock.advance(500)
    expect(await cache.getOrSet('k', loader, { ttl: 1000, refreshAhead: 0.8 })).toBe('v1')
    expect(calls).toBe(1)
    await clock.advance(350)
    const reads = await Promise.all(
      Array.from({ length: 20 }, () => cache.getOrSet('k', loader, { ttl: 1000, refreshAhead: 0.8 })),
    )
    expect(reads.every((r) => r === 'v1')).toBe(true) // the current value is served at once
    await clock.advance(0)
    expect(calls).toBe(2)
    expect(await cache.get('k')).toBe('v2')
    expect(cache.getStats().refreshes).toBe(1)
  })

  test('forceFresh runs the loader even on a hit', async () => {
    const { cache } = setup()
    await cache.set('k', 'cached')
    expect(await cache.getOrSet('k', () => 'loaded', { forceFresh: true })).toBe('loaded')
    expect(await cache.get('k')).toBe('loaded')
  })

  test('null is cached; undefined and ctx.skip() are returned but not cached', async () => {
    const { cache } = setup()
    let calls = 0
    const loadNull = () => {
      calls++
      return null
    }
    expect(await cache.getOrSet('n', loadNull)).toBeNull()
    expect(await cache.getOrSet('n', loadNull)).toBeNull()
    expect(calls).toBe(1)
    expect(await cache.getOrSet('u', () => undefined)).toBeUndefined()
    expect(await cache.has('u')).toBe(false)
    expect(await cache.getOrSet('s', (ctx) => ctx.skip('temporary'))).toBe('temporary')
    expect(await cache.has('s')).toBe(false)
  })

  test('ctx.setTtl, ctx.setGrace and ctx.setTags override the options', async () => {
    const { cache, clock, l2 } = setup()
    await cache.getOrSet(
      'k',
      (ctx) => {
        ctx.setTtl('5s')
        ctx.setGrace('1m')
        ctx.setTags(['from-loader'])
        return 1
      },
      { ttl: '1h' },
    )
    const e = l2.map.get('cache:k')!
    expect(e.freshUntil - clock.now()).toBe(5000)
    expect(e.staleUntil - e.freshUntil).toBe(60_000)
    expect([...e.tags]).toEqual(['from-loader'])
    await cache.invalidateTags(['from-loader'])
    expect(await cache.get('k')).toBeUndefined()
  })

  test('the loader receives the key without namespace prefixes', async () => {
    const { cache } = setup()
    const keys: string[] = []
    await cache.namespace('users').getOrSet('42', (ctx) => {
      keys.push(ctx.key)
      return 1
    })
    expect(keys).toEqual(['42'])
  })

  test('background work never produces an unhandled rejection', async () => {
    const { cache, clock } = setup({ grace: '1m', staleWhileRevalidate: '1m' })
    await cache.set('k', 'old', '1s')
    await clock.advance(1001)
    expect(await cache.getOrSet('k', () => Promise.reject(new Error('bg failure')))).toBe('old')
    await clock.advance(0)
    await cache.getOrSet('r', () => 'v', { ttl: 1000, refreshAhead: 0.5 })
    await clock.advance(600)
    await cache.getOrSet('r', () => Promise.reject(new Error('refresh failure')), {
      ttl: 1000,
      refreshAhead: 0.5,
    })
    await clock.advance(0)
    // the test kit's fail-on-unhandled setup fails the test if anything above leaked a rejection
    expect(await cache.getOrSet('r', () => 'x', { ttl: 1000 })).toBe('v')
  })
})
