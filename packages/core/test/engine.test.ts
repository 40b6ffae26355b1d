import { caught, localStore, remoteStore } from '@tiercache/test-kit'
import { describe, expect, test } from 'vitest'
import { createCache, type ErrorCode, escapePattern, isTierCacheError } from '../src/index.js'
import { NEVER } from '../src/store-kit.js'
import { chaosStore, ManualClock } from '../src/testing/index.js'
import { setup } from './engine-setup.js'

describe('read and write paths', () => {
  test('set writes through every tier; get reads L1 first', async () => {
    const { cache, l1, l2, l3 } = setup()
    await cache.set('user:1', { name: 'Ada' })
    expect(l1.map.has('user:1')).toBe(true)
    expect(l2.map.has('app:user:1')).toBe(true)
    expect(l3.map.has('app:user:1')).toBe(true)
    expect(await cache.get('user:1')).toEqual({ name: 'Ada' })
    expect(l2.calls.get ?? 0).toBe(0)
    expect(await cache.get('missing')).toBeUndefined()
  })

  test('set(k, v, ttl), set(k, v, { ttl, tags, grace }) and the default ttl', async () => {
    const { cache, clock, l2 } = setup()
    await cache.set('a', 1, 1000)
    await cache.set('b', 2, { ttl: '2s', grace: '10s', tags: ['t'] })
    await cache.set('c', 3)
    const now = clock.now()
    expect(l2.map.get('app:a')!.freshUntil).toBe(now + 1000)
    expect(l2.map.get('app:b')!.freshUntil).toBe(now + 2000)
    expect(l2.map.get('app:b')!.staleUntil).toBe(now + 12_000)
    expect([...l2.map.get('app:b')!.tags]).toEqual(['t'])
    expect(l2.map.get('app:c')!.freshUntil).toBe(now + 60_000)
    await clock.advance(1001)
    expect(await cache.get('a')).toBeUndefined()
    expect(await cache.get('b')).toBe(2)
  })

  test("timeUnit: 's' makes every bare number of time seconds; strings and outputs are unchanged", async () => {
    const clock = new ManualClock()
    const l1 = localStore(clock)
    const l2 = remoteStore(clock, { name: 'redis' })
    const cache = createCache({
      namespace: 'app',
      tiers: [l1, l2],
      clock,
      timeUnit: 's',
      ttl: 60,
      grace: 30,
      warming: { window: 60, snapshotInterval: 0 },
    })
    const now = clock.now()
    await cache.set('user:123', { name: 'João' }, 3600)
    await cache.set('default', 1)
    await cache.set('str', 2, '90s')
    await cache.set('obj', 3, { ttl: 5, grace: 0 })
    expect(l2.map.get('app:user:123')!.freshUntil).toBe(now + 3_600_000)
    expect(l2.map.get('app:default')!.freshUntil).toBe(now + 60_000)
    expect(l2.map.get('app:default')!.staleUntil).toBe(now + 90_000)
    expect(l2.map.get('app:str')!.freshUntil).toBe(now + 90_000)
    expect(l2.map.get('app:obj')!.freshUntil).toBe(now + 5000)
    expect(await cache.getOrSet('loaded', () => 'x', 1800)).toBe('x')
    expect(l2.map.get('app:loaded')!.freshUntil).toBe(now + 1_800_000)
    await cache.getOrSet('ctx', (ctx) => {
      ctx.setTtl(300)
      return 'y'
    })
    expect(l2.map.get('app:ctx')!.freshUntil).toBe(now + 300_000)
    const wrapped = cache.wrap('w', async (id: string) => id, 86400)
    await wrapped('1')
    expect(l2.map.get('app:w:1')!.freshUntil).toBe(now + 86_400_000)
    await clock.advance(3_599_000)
    expect(await cache.get('user:123')).toEqual({ name: 'João' })
    await clock.advance(1001)
    expect(await cache.get('user:123')).toBeUndefined()
    expect(isTierCacheError(await caught(() => cache.set('neg', 1, -1)), 'E_INVALID_DURATION')).toBe(true)
    expect(String(await caught(() => cache.set('neg', 1, -1)))).toMatch(/number of seconds/)
    expect(() => createCache({ tiers: [localStore(clock)], timeUnit: 'min' as never })).toThrow(
      /timeUnit must be 'ms' or 's'/,
    )
    await cache.close()
  })

  test("'forever' never expires", async () => {
    const { cache, clock, l2 } = setup()
    await cache.set('k', 'v', 'forever')
    expect(l2.map.get('app:k')!.staleUntil).toBe(NEVER)
    await clock.advance(10 * 365 * 86_400_000)
    expect(await cache.get('k')).toBe('v')
  })

  test('a lower-tier hit backfills upper tiers with the remaining lifetime only', async () => {
    const { cache, clock, l1, l2, l3 } = setup()
    await cache.set('k', 'v', { ttl: 10_000, grace: 5000 })
    l1.map.clear()
    l2.map.clear()
    await clock.advance(4000)
    expect(await cache.get('k')).toBe('v')
    const src = l3.map.get('app:k')!
    const up1 = l1.map.get('k')!
    const up2 = l2.map.get('app:k')!
    for (const e of [up1, up2]) {
      expect(e.freshUntil).toBe(src.freshUntil)
      expect(e.staleUntil).toBe(src.staleUntil)
      expect(e.createdAt).toBe(src.createdAt)
    }
    expect(up1.freshUntil - clock.now()).toBe(6000)
    await clock.advance(6001)
    expect(await cache.get('k')).toBeUndefined()
  })

  test("backfill is capped by each tier's maxTtl", async () => {
    const clock = new ManualClock()
    const l1 = localStore(clock)
    Object.defineProperty(l1, 'maxTtl', { value: 1000 })
    const l2 = remoteStore(clock)
    const cache = createCache({ tiers: [l1, l2], clock })
    await cache.set('k', 'v', '1h')
    expect(l1.map.get('k')!.staleUntil).toBe(clock.now() + 1000)
    expect(l2.map.get('cache:k')!.freshUntil).toBe(clock.now() + 3_600_000)
    await clock.advance(1500)
    expect(l1.map.has('k')).toBe(true) // physically present until the store sees it expired
    expect(await cache.get('k')).toBe('v') // L1 expired, L2 answers and backfills for 1 s more
    expect(l1.map.get('k')!.staleUntil).toBe(clock.now() + 1000)
  })

  test('every tier returns the same value shape (Date, Map, BigInt) from L1 or from L3', async () => {
    const { cache, l1, l2 } = setup()
    const value = { when: new Date('2024-05-06T07:08:09Z'), map: new Map([['a', 1n]]) }
    await cache.set('shape', value)
    const fromL1 = await cache.get<typeof value>('shape')
    l1.map.clear()
    l2.map.clear()
    const fromL3 = await cache.get<typeof value>('shape')
    for (const v of [fromL1!, fromL3!]) {
      expect(v.when).toBeInstanceOf(Date)
      expect(v.when.getTime()).toBe(value.when.getTime())
      expect(v.map.get('a')).toBe(1n)
    }
  })

  test('null is cached, undefined is refused', async () => {
    const { cache, l2 } = setup()
    await cache.set('n', null)
    expect(await cache.get('n')).toBeNull()
    expect(await cache.has('n')).toBe(true)
    // @ts-expect-error undefined is refused by the types too
    const err = await caught(() => cache.set('u', undefined))
    expect(isTierCacheError(err, 'E_INVALID_VALUE')).toBe(true)
    expect(l2.map.has('app:u')).toBe(false)
  })

  test('has, delete and deleteMany reach every tier', async () => {
    const { cache, l1, l2, l3 } = setup()
    await cache.setMany([
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
      { key: 'c', value: 3, ttl: '5s' },
    ])
    expect(l2.calls.setMany).toBe(1)
    expect(await cache.has('a')).toBe(true)
    expect(await cache.delete('a')).toBe(true)
    expect(await cache.has('a')).toBe(false)
    expect(await cache.delete('a')).toBe(false)
    expect(await cache.deleteMany(['b', 'c', 'zz'])).toBe(2)
    expect(l2.calls.deleteMany).toBe(1)
    for (const m of [l1.map, l2.map, l3.map]) expect(m.size).toBe(0)
  })

  test('getMany uses batch reads, keeps order and backfills', async () => {
    const { cache, l1, l2 } = setup()
    await cache.setMany(Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: i })))
    l1.map.clear()
    const got = await cache.getMany<number>(['k3', 'nope', 'k0', 'k9'])
    expect(got).toEqual([3, undefined, 0, 9])
    expect(l2.calls.getMany).toBe(1)
    expect(l1.map.has('k3')).toBe(true)
    expect(await cache.getMany([])).toEqual([])
  })

  test('tiers without batch capabilities get single operations', async () => {
    const { cache, l2 } = setup({ l2Caps: { deleteByPattern: true } })
    await cache.setMany([
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
    ])
    expect(l2.calls.setMany ?? 0).toBe(0)
    expect(l2.calls.set).toBe(2)
    expect(await cache.getMany(['a', 'b'])).toEqual([1, 2])
  })

  test('an entry too large for L1 is kept out of L1 and still stored below', async () => {
    const clock = new ManualClock()
    const l1 = localStore(clock, 100)
    const l2 = remoteStore(clock)
    const cache = createCache({ tiers: [l1, l2], clock })
    await cache.set('big', 'x'.repeat(500))
    expect(l1.map.has('big')).toBe(false)
    expect(l2.map.has('cache:big')).toBe(true)
    await cache.set('k', 'small')
    await cache.set('k', 'y'.repeat(500))
    expect(l1.map.has('k')).toBe(false) // the old, smaller value must not linger in L1
    expect(await cache.get('k')).toBe('y'.repeat(500))
  })
})

describe('patterns and namespaces', () => {
  test('deleteByPattern reaches every tier with exact prefix boundaries', async () => {
    const { cache, l1, l2, l3 } = setup()
    for (const k of ['user:1', 'user:2', 'users:1', 'post:1']) await cache.set(k, k)
    expect(await cache.deleteByPattern('user:*')).toBe(2)
    for (const m of [l1.map, l2.map, l3.map]) expect(m.size).toBe(2)
    expect(await cache.get('users:1')).toBe('users:1')
    await cache.set('a*b', 1)
    await cache.set('axb', 2)
    expect(await cache.deleteByPattern(escapePattern('a*b'))).toBe(1)
    expect(await cache.get('axb')).toBe(2)
  })

  test('deleteByPattern refuses when a tier cannot do it, before touching anything', async () => {
    const { cache, l2 } = setup({ l2Caps: { getMany: true } })
    await cache.set('user:1', 1)
    const err = await caught(() => cache.deleteByPattern('user:*'))
    expect(err.code).toBe('E_UNSUPPORTED')
    expect(await cache.get('user:1')).toBe(1)
    expect(l2.map.size).toBe(1)
  })

  test('namespace() prefixes keys and its clear() touches only its own keys, at any depth', async () => {
    const { cache, l1, l2 } = setup()
    const users = cache.namespace('users')
    const admins = users.namespace('admins')
    const usersX = cache.namespace('usersx')
    await cache.set('root', 0)
    await users.set('1', 'u1')
    await admins.set('1', 'a1')
    await usersX.set('1', 'x1')
    expect(l2.map.has('app:users:1')).toBe(true)
    expect(l2.map.has('app:users:admins:1')).toBe(true)
    expect(users.namespacePath).toBe('app:users')
    expect(admins.namespacePath).toBe('app:users:admins')
    expect(await users.get('1')).toBe('u1')
    expect(await cache.get('users:1')).toBe('u1')

    await admins.clear()
    expect(await admins.get('1')).toBeUndefined()
    expect(await users.get('1')).toBe('u1')

    await admins.set('1', 'a1')
    await users.clear()
    expect(await users.get('1')).toBeUndefined()
    expect(await admins.get('1')).toBeUndefined()
    expect(await usersX.get('1')).toBe('x1')
    expect(await cache.get('root')).toBe(0)
    expect(l1.map.has('usersx:1')).toBe(true)

    expect(await users.deleteByPattern('*')).toBe(0)
    await users.set('2', 2)
    expect(await users.deleteByPattern('*')).toBe(1)
    expect(await usersX.get('1')).toBe('x1')
  })

  test('clear() on the root clears only its namespace in shared tiers', async () => {
    const clock = new ManualClock()
    const shared = new Map()
    const a = createCache({
      namespace: 'a',
      tiers: [localStore(clock), remoteStore(clock, { map: shared })],
      clock,
    })
    const ab = createCache({
      namespace: 'ab',
      tiers: [localStore(clock), remoteStore(clock, { map: shared })],
      clock,
    })
    await a.set('k', 1)
    await ab.set('k', 2)
    await a.clear()
    expect(await a.get('k')).toBeUndefined()
    expect(await ab.get('k')).toBe(2)
    expect([...shared.keys()]).toEqual(['ab:k'])
  })
})

describe('fail-open', () => {
  test('a tier that throws on read is skipped (miss + error event)', async () => {
    const clock = new ManualClock()
    const l2 = chaosStore(remoteStore(clock))
    const l3 = remoteStore(clock)
    const cache = createCache({ tiers: [localStore(clock), l2, l3], clock })
    const errors: string[] = []
    cache.on('error', (e) => errors.push(`${e.operation}@${e.level}`))
    await cache.set('k', 'v')
    await cache.flushLocal()
    l2.fail()
    expect(await cache.get('k')).toBe('v')
    expect(errors).toEqual(['get@l2_remote'])
    const stats = cache.getStats()
    expect(stats.tiers[1]!.errors).toBe(1)
    expect(stats.tiers[1]!.misses).toBe(1)
    expect(stats.tiers[2]!.hits).toBe(1)
  })

  test('a failed lower-tier write does not fail the call unless strict', async () => {
    const clock = new ManualClock()
    const l2 = chaosStore(remoteStore(clock))
    const cache = createCache({ tiers: [localStore(clock), l2], clock })
    const strict = createCache({ tiers: [localStore(clock), l2], clock, strict: true })
    let errors = 0
    cache.on('error', () => errors++)
    l2.fail()
    await cache.set('k', 'v')
    expect(errors).toBe(1)
    expect(await cache.get('k')).toBe('v')
    const err = await caught(() => strict.set('k', 'v'))
    expect(isTierCacheError(err, 'E_STORE')).toBe(true)
    expect(await caught(() => strict.delete('k'))).toBeDefined()
  })

  test('a hung tier is bounded by tierTimeout: reads miss instead of hanging', async () => {
    const clock = new ManualClock()
    const l2 = chaosStore(remoteStore(clock))
    const cache = createCache({ tiers: [localStore(clock), l2], clock, tierTimeout: 200 })
    l2.hang()
    const read = cache.get('k')
    await clock.advance(201)
    expect(await read).toBeUndefined()
    const write = cache.set('k', 1)
    await clock.advance(201)
    await write
    expect(cache.getStats().tiers[1]!.errors).toBe(2)
    l2.heal()
  })
})

describe('bad input is refused before any tier is touched', () => {
  test.each<[string, (c: any) => unknown, ErrorCode]>([
    ['empty key', (c: any) => c.get(''), 'E_INVALID_KEY'],
    ['non-string key', (c: any) => c.set(42, 1), 'E_INVALID_KEY'],
    ['oversized key', (c: any) => c.set('k'.repeat(1025), 1), 'E_INVALID_KEY'],
    ['undefined value', (c: any) => c.set('k', undefined), 'E_INVALID_VALUE'],
    ['function value', (c: any) => c.set('k', () => 1), 'E_SERIALIZE'],
    [
      'circular value',
      (c: any) => {
        const o: any = {}
        o.o = o
        return c.set('k', o)
      },
      'E_SERIALIZE',
    ],
    ['negative ttl', (c: any) => c.set('k', 1, -5), 'E_INVALID_DURATION'],
    ['NaN ttl', (c: any) => c.set('k', 1, Number.NaN), 'E_INVALID_DURATION'],
    ['-Infinity ttl', (c: any) => c.set('k', 1, Number.NEGATIVE_INFINITY), 'E_INVALID_DURATION'],
    ['malformed duration', (c: any) => c.set('k', 1, { ttl: '5 minutes' }), 'E_INVALID_DURATION'],
    ['bad grace', (c: any) => c.getOrSet('k', () => 1, { grace: 'soon' }), 'E_INVALID_DURATION'],
    ['bad tags', (c: any) => c.set('k', 1, { tags: [''] }), 'E_INVALID_OPTION'],
    ['bad pattern', (c: any) => c.deleteByPattern('abc\\'), 'E_INVALID_PATTERN'],
    ['empty pattern', (c: any) => c.deleteByPattern(''), 'E_INVALID_PATTERN'],
    ['missing loader', (c: any) => c.getOrSet('k'), 'E_INVALID_OPTION'],
    ['bad refreshAhead', (c: any) => c.getOrSet('k', () => 1, { refreshAhead: 2 }), 'E_INVALID_OPTION'],
    [
      'bad key in setMany',
      (c: any) =>
        c.setMany([
          { key: 'ok', value: 1 },
          { key: '', value: 2 },
        ]),
      'E_INVALID_KEY',
    ],
    [
      'bad value in setMany',
      (c: any) =>
        c.setMany([
          { key: 'ok', value: 1 },
          { key: 'x', value: undefined },
        ]),
      'E_INVALID_VALUE',
    ],
    ['bad namespace', (c: any) => c.namespace('a:b'), 'E_INVALID_OPTION'],
  ])('%s', async (_name, call, code) => {
    const { cache, l1, l2, l3 } = setup()
    const before = l2.calls.set ?? 0
    const err = await caught(() => call(cache))
    expect(isTierCacheError(err, code)).toBe(true)
    expect(err).toBeInstanceOf(
      code === 'E_INVALID_DURATION'
        ? RangeError
        : code === 'E_INVALID_PATTERN' || code.startsWith('E_INVALID') || code === 'E_SERIALIZE'
          ? TypeError
          : Error,
    )
    expect(l1.map.size + l2.map.size + l3.map.size).toBe(0)
    expect(l2.calls.set ?? 0).toBe(before)
  })

  test('createCache refuses bad options', async () => {
    const clock = new ManualClock()
    expect(() => createCache({ tiers: [] })).toThrow(/at least one tier/)
    expect(() => createCache({ tiers: [localStore(clock)], namespace: 'a b' })).toThrow(/namespace/)
    expect(() => createCache({ tiers: [localStore(clock)], ttl: -1 })).toThrow(RangeError)
    expect(() => createCache({ tiers: [{} as any] })).toThrow(/not a Store/)
    const shared = localStore(clock)
    createCache({ tiers: [shared] })
    expect(() => createCache({ tiers: [shared] })).toThrow(/already used by another cache/)
  })
})
