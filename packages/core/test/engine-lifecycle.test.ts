import * as dc from 'node:diagnostics_channel'
import { caught, deferred, localStore, remoteStore } from '@tiercache/test-kit'
import { describe, expect, test } from 'vitest'
import { createCache, isTierCacheError, StoreError } from '../src/index.js'
import { chaosStore, ManualClock } from '../src/testing/index.js'
import { setup } from './engine-setup.js'

describe('stats, events, tracing', () => {
  test('per-tier and overall counters, seed-compatible views', async () => {
    const { cache, l1 } = setup()
    await cache.set('a', 'x'.repeat(100))
    await cache.get('a')
    await cache.get('a')
    await cache.get('missing')
    l1.map.clear()
    await cache.get('a')
    const s = cache.getStats()
    expect(s.hits).toBe(3)
    expect(s.misses).toBe(1)
    expect(s.hitRatio).toBe(0.75)
    expect(s.sets).toBe(1)
    expect(s.tiers.map((t) => t.level)).toEqual(['l1_memory', 'l2_redis', 'l3_sql'])
    expect(s.tiers[0]!.hits).toBe(2)
    expect(s.tiers[0]!.misses).toBe(2)
    expect(s.tiers[1]!.hits).toBe(1)
    expect(s.tiers[1]!.misses).toBe(1)
    expect(s.tiers[2]!.misses).toBe(1)
    expect(s.tiers[0]!.entries).toBe(1)
    expect(s.l1_cache.size).toBeGreaterThan(100)
    expect(s.l1_cache.hit_ratio).toBe(0.5)
    expect(s.l2_cache).toEqual({ connected: false, used_memory: 0 })
  })

  test('typed events carry key and level; a throwing listener does not break the cache', async () => {
    const { cache, l1 } = setup()
    const seen: string[] = []
    cache.on('hit', (e) => seen.push(`hit ${e.key} ${e.level}`))
    cache.on('miss', (e) => seen.push(`miss ${e.key}`))
    cache.on('set', (e) => seen.push(`set ${e.key}`))
    cache.on('delete', (e) => seen.push(`delete ${e.key}`))
    cache.on('set', () => {
      throw new Error('listener bug')
    })
    await cache.set('k', 1)
    await cache.get('k')
    l1.map.clear()
    await cache.get('k')
    await cache.get('nope')
    await cache.delete('k')
    expect(seen).toEqual(['set k', 'hit k l1_memory', 'hit k l2_redis', 'miss nope', 'delete k'])
    const listener = () => seen.push('late')
    cache.on('miss', listener).off('miss', listener)
    await cache.get('nope')
    expect(seen.at(-1)).toBe('miss nope')
  })

  test('diagnostics_channel tracing channels see operations', async () => {
    const { cache } = setup()
    const seen: string[] = []
    const handlers = {
      start: (ctx: any) => seen.push(`start ${ctx.key}`),
      end: () => {},
      asyncStart: () => {},
      asyncEnd: (ctx: any) => seen.push(`end ${ctx.key} ${JSON.stringify(ctx.result)}`),
      error: () => {},
    }
    dc.tracingChannel('tiercache:get').subscribe(handlers)
    try {
      await cache.set('k', 7)
      await cache.get('k')
    } finally {
      dc.tracingChannel('tiercache:get').unsubscribe(handlers)
    }
    expect(seen).toEqual(['start k', 'end k 7'])
  })

  test('peek reads L1 synchronously and never lower tiers', async () => {
    const { cache, l1 } = setup()
    await cache.set('k', 1)
    expect(cache.peek('k')).toBe(1)
    l1.map.clear()
    expect(cache.peek('k')).toBeUndefined()
  })
})

describe('lifecycle', () => {
  test('close() closes every tier once and later calls reject with E_CLOSED', async () => {
    const clock = new ManualClock()
    let closed = 0
    const l2 = { ...remoteStore(clock), capabilities: { close: true }, close: async () => void closed++ }
    const cache = createCache({ tiers: [localStore(clock), l2], clock })
    await cache.set('k', 1)
    await cache.close()
    await cache.close()
    expect(closed).toBe(1)
    for (const call of [
      () => cache.get('k'),
      () => cache.set('k', 1),
      () => cache.getOrSet('k', () => 1),
      () => cache.delete('k'),
    ]) {
      expect(isTierCacheError(await caught(call), 'E_CLOSED')).toBe(true)
    }
  })

  test('plugins are installed at creation and disposed on close', async () => {
    const clock = new ManualClock()
    const log: string[] = []
    const cache = createCache({
      tiers: [localStore(clock)],
      clock,
      plugins: [
        {
          name: 'p',
          install: (c) => {
            c.on('set', () => log.push('set'))
            return () => void log.push('disposed')
          },
        },
      ],
    })
    await cache.set('k', 1)
    await cache.close()
    expect(log).toEqual(['set', 'disposed'])
  })
})

describe('close() with a hanging tier', () => {
  test('stops waiting for a tier whose close never settles', async () => {
    const clock = new ManualClock()
    const hanging = {
      ...remoteStore(clock),
      capabilities: { close: true },
      close: () => new Promise<void>(() => {}),
    }
    const cache = createCache({ tiers: [localStore(clock), hanging], clock })
    const started = Date.now()
    await cache.close()
    const waited = Date.now() - started
    expect(waited).toBeGreaterThanOrEqual(4900)
    expect(waited).toBeLessThan(8000)
  }, 15_000)
})

describe('a tier whose breaker is open', () => {
  test('refusals (a StoreError marked refused) count as skipped, not as errors, and emit no error events', async () => {
    const clock = new ManualClock()
    // What an open breaker built on another copy of core throws: same brand, the refused marker.
    const open = Object.assign(new Error('circuit open'), { code: 'E_CIRCUIT_OPEN', refused: true })
    Object.defineProperty(open, Symbol.for('tiercache.error'), { value: true })
    const l2 = {
      ...remoteStore(clock),
      get: async () => Promise.reject(open),
      set: async () => Promise.reject(open),
    }
    const cache = createCache({ tiers: [localStore(clock), l2], clock })
    let errors = 0
    cache.on('error', () => errors++)
    await cache.set('k', 1)
    cache.flushLocal()
    expect(await cache.get('k')).toBeUndefined()
    const s = cache.getStats()
    expect(errors).toBe(0)
    expect(s.errors).toBe(0)
    expect(s.skipped).toBe(2)
    expect(s.tiers[1]!.skipped).toBe(2)
    expect(s.tiers[1]!.connected).toBe(false)
  })

  test('any fail-fast wrapper can refuse: the marker decides, not the code', async () => {
    const clock = new ManualClock()
    const full = new StoreError('bulkhead full', { store: 'remote', operation: 'get', refused: true })
    const down = new StoreError('down', { store: 'remote', operation: 'get' })
    let next: StoreError = full
    const l2 = { ...remoteStore(clock), get: async () => Promise.reject(next) }
    const cache = createCache({ tiers: [localStore(clock), l2], clock })
    let errors = 0
    cache.on('error', () => errors++)
    expect(await cache.get('k')).toBeUndefined()
    next = down
    expect(await cache.get('k')).toBeUndefined()
    const s = cache.getStats()
    expect(s.tiers[1]!.skipped).toBe(1)
    expect(s.tiers[1]!.errors).toBe(1)
    expect(errors).toBe(1)
  })
})

describe('plugins', () => {
  test('receive the tiers, bus and namespace; a failing install undoes earlier plugins', async () => {
    const clock = new ManualClock()
    const seen: string[] = []
    const l2 = remoteStore(clock, { name: 'redis' })
    const cache = createCache({
      namespace: 'ctx',
      tiers: [localStore(clock), l2],
      clock,
      plugins: [
        { name: 'p', install: (_c, ctx) => void seen.push(ctx.namespace, ...ctx.tiers.map((t) => t.level)) },
      ],
    })
    expect(seen).toEqual(['ctx', 'l1_memory', 'l2_redis'])
    expect(cache.getStats().tiers.map((t) => t.kind)).toEqual(['memory', 'remote'])
    await cache.close()

    let disposed = 0
    expect(() =>
      createCache({
        tiers: [localStore(clock)],
        clock,
        plugins: [
          { name: 'ok', install: () => () => void disposed++ },
          {
            name: 'bad',
            install: () => {
              throw new Error('cannot install')
            },
          },
        ],
      }),
    ).toThrow('cannot install')
    expect(disposed).toBe(1)
  })
})

describe('operation observers', () => {
  function observed(l1SampleEvery = 4) {
    const clock = new ManualClock()
    const l1 = localStore(clock)
    const l2 = chaosStore(remoteStore(clock, { name: 'redis' }))
    const seen: { op: string; level: string; outcome: string; weight: number; seconds: number }[] = []
    let remove!: () => void
    const cache = createCache({
      tiers: [l1, l2],
      clock,
      grace: '1m',
      l1SampleEvery,
      plugins: [
        {
          name: 'observer',
          install: (_c, ctx) => {
            remove = ctx.observe({
              observe: (op, level, outcome, seconds, weight) =>
                seen.push({ op, level, outcome, weight, seconds }),
            })
          },
        },
      ],
    })
    return { clock, l1, l2, cache, seen, remove: () => remove() }
  }
  const weightOf = (seen: { op: string; outcome: string; weight: number }[], op: string, outcome: string) =>
    seen.filter((s) => s.op === op && s.outcome === outcome).reduce((a, s) => a + s.weight, 0)

  test('L1 hits are timed one in l1SampleEvery with that weight: weights add up to every hit', async () => {
    const { cache, seen } = observed(4)
    await cache.set('k', 1)
    for (let i = 0; i < 12; i++) await cache.get('k')
    for (let i = 0; i < 8; i++) await cache.getOrSet('k', () => 2)
    expect(weightOf(seen, 'get', 'hit')).toBe(12)
    expect(seen.filter((s) => s.op === 'get').length).toBe(3)
    expect(weightOf(seen, 'getOrSet', 'hit')).toBe(8)
    expect(seen.every((s) => s.level === 'l1_memory' || s.op === 'set')).toBe(true)
    expect(seen.find((s) => s.op === 'set')).toMatchObject({ outcome: 'ok', level: 'l2_redis', weight: 1 })
    expect(seen.every((s) => s.seconds >= 0 && s.seconds < 1)).toBe(true)
  })

  test.each([1, 2, 3, 64])('with l1SampleEvery %i the weights add up to every L1 hit', async (every) => {
    const { cache, seen } = observed(every)
    await cache.set('k', 1)
    for (let i = 0; i < 600; i++) await cache.get('k')
    for (let i = 0; i < 600; i++) await cache.getOrSet('k', () => 2)
    expect(600 - weightOf(seen, 'get', 'hit')).toBeGreaterThanOrEqual(0)
    expect(600 - weightOf(seen, 'get', 'hit')).toBeLessThan(every)
    expect(600 - weightOf(seen, 'getOrSet', 'hit')).toBeGreaterThanOrEqual(0)
    expect(600 - weightOf(seen, 'getOrSet', 'hit')).toBeLessThan(every)
  })

  test('reads that leave L1 are each timed with their level and outcome', async () => {
    const { cache, l1, l2, seen, clock } = observed(64)
    await cache.set('k', 1)
    l1.map.clear()
    await cache.get('k') // L2 hit
    await cache.get('nope') // miss
    await cache.getOrSet('loaded', () => 'v') // loaded
    l1.map.clear()
    await cache.getOrSet('loaded', () => 'again') // L2 hit through getOrSet
    await cache.set('s', 'old', '1s')
    await clock.advance(1001)
    await cache.getOrSet('s', () => {
      throw new Error('down')
    }) // stale
    await expect(cache.getOrSet('boom', () => Promise.reject(new Error('x')))).rejects.toThrow('x')
    l2.fail()
    await cache.set('x', 1, undefined)
    const rows = seen.filter((s) => s.op !== 'set').map((s) => `${s.op} ${s.level} ${s.outcome} ${s.weight}`)
    expect(rows).toEqual([
      'get l2_redis hit 1',
      'get l2_redis miss 1',
      'getOrSet l2_redis miss 1',
      'getOrSet l2_redis hit 1',
      'getOrSet l1_memory stale 1',
      'getOrSet l2_redis error 1',
    ])
    l2.heal()
  })

  test('collapsed getOrSet callers are each timed; writes and invalidations too; unregistering stops it', async () => {
    const { cache, seen, remove } = observed(64)
    const gate = deferred()
    const all = Array.from({ length: 5 }, () =>
      cache.getOrSet('c', async () => {
        await gate.promise
        return 1
      }),
    )
    gate.resolve()
    await Promise.all(all)
    await new Promise((r) => setImmediate(r))
    expect(weightOf(seen, 'getOrSet', 'miss')).toBe(5)
    await cache.setMany([{ key: 'a', value: 1 }])
    await cache.getMany(['a'])
    await cache.has('a')
    await cache.delete('a')
    await cache.deleteMany(['a'])
    await cache.deleteByPattern('a*')
    await cache.invalidateTags(['t'])
    await cache.clear()
    await new Promise((r) => setImmediate(r))
    const ops = seen.map((s) => s.op)
    for (const op of [
      'setMany',
      'getMany',
      'has',
      'delete',
      'deleteMany',
      'deleteByPattern',
      'invalidateTags',
      'clear',
    ]) {
      expect(ops, op).toContain(op)
    }
    remove()
    const before = seen.length
    await cache.set('after', 1)
    await cache.get('after')
    expect(seen.length).toBe(before)
  })
})
