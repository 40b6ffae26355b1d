import { caught, localStore, remoteStore } from '@tiercache/test-kit'
import { describe, expect, test } from 'vitest'
import { cached, createCache, getCache, isTierCacheError, setDefaultCache } from '../src/index.js'
import { ManualClock } from '../src/testing/index.js'
import { argsKey } from '../src/wrap.js'

function make() {
  const clock = new ManualClock()
  return { clock, cache: createCache({ tiers: [localStore(clock), remoteStore(clock)], clock }) }
}

describe('wrap', () => {
  test('memoizes by arguments, with invalidate and keyFor', async () => {
    const { cache } = make()
    let calls = 0
    const load = cache.wrap(
      'user_profile',
      async (id: string, opts: { full: boolean }) => {
        calls++
        return { id, full: opts.full }
      },
      { ttl: '1h' },
    )
    expect(await load('1', { full: true })).toEqual({ id: '1', full: true })
    expect(await load('1', { full: true })).toEqual({ id: '1', full: true })
    expect(await load('2', { full: true })).toEqual({ id: '2', full: true })
    expect(calls).toBe(2)
    expect(load.keyFor('1', { full: true })).toBe('user_profile:["1",{"full":true}]')
    expect(load.key('1', { full: true })).toBe('user_profile:["1",{"full":true}]')
    await load.invalidate('1', { full: true })
    await load('1', { full: true })
    expect(calls).toBe(3)
  })

  test('one primitive argument is the key as written by hand: prefix:arg', async () => {
    const { cache } = make()
    let calls = 0
    const load = cache.wrap('user_profile', async (id: string | number) => ({ id, n: ++calls }), '1h')
    expect(load.key('123')).toBe('user_profile:123')
    expect(load.key(123)).toBe('user_profile:123')
    expect(load.keyFor('123')).toBe('user_profile:123')
    expect(await load('123')).toEqual({ id: '123', n: 1 })
    expect(await cache.get('user_profile:123')).toEqual({ id: '123', n: 1 })
    // The seed's manual invalidation reaches the memoized entry.
    expect(await cache.delete('user_profile:123')).toBe(true)
    expect(await load('123')).toEqual({ id: '123', n: 2 })
    await load.invalidate('123')
    expect(await cache.get('user_profile:123')).toBeUndefined()
    expect(argsKey([true])).toBe('true')
    expect(argsKey([10n])).toBe('10')
    expect(argsKey([-0])).toBe('0')
    expect(argsKey([])).toBe('[]')
    expect(argsKey([1, 'a'])).toBe('[1,"a"]')
    expect(argsKey([null])).toBe('[null]')
  })

  test('argument keys are stable across object key order and hashed when long', () => {
    expect(argsKey([{ b: 1, a: 2 }])).toBe(argsKey([{ a: 2, b: 1 }]))
    expect(argsKey([new Date(5), 1n, undefined, null])).toBe('[Date(5),1n,undefined,null]')
    const long = argsKey(['x'.repeat(500)])
    expect(long.startsWith('#')).toBe(true)
    expect(long.length).toBeLessThan(60)
    expect(() => argsKey([() => 1])).toThrow(/options.key/)
  })

  test('a custom key builder', async () => {
    const { cache } = make()
    const f = cache.wrap('sum', (a: number, b: number) => a + b, { key: (a, b) => `${a}+${b}` })
    expect(f.keyFor(1, 2)).toBe('sum:1+2')
    expect(await f(1, 2)).toBe(3)
    expect(await cache.get('sum:1+2')).toBe(3)
  })
})

describe('@cached and the default cache', () => {
  test('getCache without a default cache throws E_NO_CACHE', () => {
    setDefaultCache(undefined)
    let error: unknown
    try {
      getCache()
    } catch (e) {
      error = e
    }
    expect(isTierCacheError(error, 'E_NO_CACHE')).toBe(true)
  })

  test('decorates a method (real TC39 decorator syntax compiled by TypeScript), default cache looked up at call time', async () => {
    const { cache } = make()
    const Profiles = await compileWithDecorators<
      new () => { calls: number; load(id: string): Promise<string> }
    >(`
      class Profiles {
        prefix = 'p'
        calls = 0
        @cached('user_profile', '1h')
        async load(id) {
          this.calls++
          return this.prefix + ':' + id
        }
      }
      return Profiles
    `)
    const svc = new Profiles()
    expect(isTierCacheError(await caught(() => svc.load('1')), 'E_NO_CACHE')).toBe(true)
    setDefaultCache(cache)
    try {
      expect(getCache()).toBe(cache)
      expect(await svc.load('1')).toBe('p:1')
      expect(await svc.load('1')).toBe('p:1')
      expect(svc.calls).toBe(1)
      expect(await cache.get('user_profile:1')).toBe('p:1')
      // The decorated method carries key() and invalidate(), on the default cache.
      const method = svc.load as unknown as { key(id: string): string; invalidate(id: string): Promise<void> }
      expect(method.key('1')).toBe('user_profile:1')
      await method.invalidate('1')
      expect(await cache.get('user_profile:1')).toBeUndefined()
      expect(await svc.load('1')).toBe('p:1')
      expect(svc.calls).toBe(2)
    } finally {
      setDefaultCache(undefined)
    }
  })

  test('an explicit cache and options', async () => {
    const { cache, clock } = make()
    const Svc = await compileWithDecorators<new () => { calls: number; twice(n: number): Promise<number> }>(
      `
      class Svc {
        calls = 0
        @cached('n', { cache: options.cache, ttl: 1000, key: (n) => '#' + n })
        async twice(n) {
          this.calls++
          return n * 2
        }
      }
      return Svc
    `,
      { cache },
    )
    const s = new Svc()
    expect(await s.twice(2)).toBe(4)
    expect(await s.twice(2)).toBe(4)
    await clock.advance(1001)
    expect(await s.twice(2)).toBe(4)
    expect(s.calls).toBe(2)
    expect(await cache.get('n:#2')).toBe(4)
  })

  test('cached(name, ttl)(fn) wraps a plain function, on the default cache looked up at call time', async () => {
    const { cache, clock } = make()
    let calls = 0
    const getUserProfile = cached(
      'user_profile',
      3600,
    )(async (userId: string) => ({ id: userId, n: ++calls }))
    expect(isTierCacheError(await caught(() => getUserProfile('1')), 'E_NO_CACHE')).toBe(true)
    setDefaultCache(cache)
    try {
      expect(await getUserProfile('1')).toEqual({ id: '1', n: 1 })
      expect(await getUserProfile('1')).toEqual({ id: '1', n: 1 })
      expect(getUserProfile.key('1')).toBe('user_profile:1')
      await clock.advance(3601) // 3600 is milliseconds in a cache with the default timeUnit
      expect(await getUserProfile('1')).toEqual({ id: '1', n: 2 })
      await getUserProfile.invalidate('1')
      expect(await cache.has('user_profile:1')).toBe(false)
    } finally {
      setDefaultCache(undefined)
    }
    const fixed = cached('f', { cache: () => cache, key: (a: number) => `n${a}` })(async (a: number) => a * 2)
    expect(await fixed(2)).toBe(4)
    expect(await cache.get('f:n2')).toBe(4)
    expect(() => cached('x', { key: 'k' as never })).toThrow(/key must be a function/)
    expect(() => cached('x', { cache: 5 as never })).toThrow(/Cache or a function/)
  })

  test('getCache(init) creates the default cache once when none is set', () => {
    setDefaultCache(undefined)
    const { cache } = make()
    let made = 0
    const init = () => {
      made++
      return cache
    }
    try {
      expect(getCache(init)).toBe(cache)
      expect(getCache(init)).toBe(cache)
      expect(getCache()).toBe(cache)
      expect(made).toBe(1)
    } finally {
      setDefaultCache(undefined)
    }
  })

  test('decorating something other than a method is refused', () => {
    expect(() => cached('x')((() => 1) as never, { kind: 'field' } as never)).toThrow(/methods only/)
    expect(() => cached('')).toThrow(/non-empty name/)
  })
})

/** Compiles a class body that uses `@cached` with TypeScript's standard-decorator emit and evaluates it. */
async function compileWithDecorators<T>(body: string, options: Record<string, unknown> = {}): Promise<T> {
  const ts = await import('typescript')
  const out = ts.transpileModule(`export function make(cached, options) {${body}}`, {
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      experimentalDecorators: false,
    },
  })
  const url = `data:text/javascript;base64,${Buffer.from(out.outputText).toString('base64')}`
  const mod = (await import(/* @vite-ignore */ url)) as { make: (c: typeof cached, o: unknown) => T }
  return mod.make(cached, options)
}
