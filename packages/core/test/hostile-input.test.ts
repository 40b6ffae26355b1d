/**
 * Regression tests for hostile input (issue 16): patterns with `-`, ill-formed UTF-16 and NUL in
 * keys, tags and patterns, own `__proto__` keys, deep nesting, throwing getters, and malformed
 * stores given to createCache.
 */

import { caught, localStore, remoteStore } from '@tiercache/test-kit'
import { describe, expect, test } from 'vitest'
import {
  createCache,
  defaultSerializer,
  escapePattern,
  isTierCacheError,
  jsonSerializer,
  MAX_SERIALIZE_DEPTH,
  type Store,
} from '../src/index.js'
import { compilePattern, isPortableText, parsePattern, patternToRegExp } from '../src/store-kit.js'
import { validateStore } from '../src/store-validation.js'
import { ManualClock } from '../src/testing/index.js'

function setup() {
  const clock = new ManualClock()
  const l1 = localStore(clock)
  const l2 = remoteStore(clock, { name: 'redis' })
  const cache = createCache({ namespace: 'app', tiers: [l1, l2], clock, ttl: '1m' })
  return { clock, l1, l2, cache }
}

/** A reference glob matcher written from the documented semantics, on code points. */
function referenceMatch(pattern: string, key: string): boolean {
  const p: ({ t: 'lit'; c: string } | { t: 'star' } | { t: 'any' })[] = []
  const chars = Array.from(pattern)
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string
    if (c === '\\') p.push({ t: 'lit', c: chars[++i] as string })
    else if (c === '*') p.push({ t: 'star' })
    else if (c === '?') p.push({ t: 'any' })
    else p.push({ t: 'lit', c })
  }
  const k = Array.from(key)
  // memo[i][j]: p from i matches k from j
  const memo = new Map<number, boolean>()
  const go = (i: number, j: number): boolean => {
    const id = i * (k.length + 1) + j
    const known = memo.get(id)
    if (known !== undefined) return known
    let r: boolean
    if (i === p.length) r = j === k.length
    else {
      const t = p[i]!
      if (t.t === 'star') r = go(i + 1, j) || (j < k.length && go(i, j + 1))
      else if (j === k.length) r = false
      else if (t.t === 'any') r = go(i + 1, j + 1)
      else r = t.c === k[j] && go(i + 1, j + 1)
    }
    memo.set(id, r)
    return r
  }
  return go(0, 0)
}

describe('patterns with a dash (issue 16, item 1)', () => {
  const keys = ['user-1', 'user-2', 'user-10', 'a-1', 'session-x-1', 'user1', 'user_1', 'x-', '-']
  test.each(['*-1', 'user-?', 'user-*', '*-*', '-', 'x-', 'session-?-1', '*-1?', 'a[-]1', '\\--'])(
    '%s compiles and matches what a reference glob matcher selects',
    (pattern) => {
      const match = compilePattern(pattern)
      const re = patternToRegExp(pattern)
      for (const key of keys) {
        expect(match(key), `${pattern} vs ${key}`).toBe(referenceMatch(pattern, key))
        expect(re.test(key), `RegExp ${pattern} vs ${key}`).toBe(referenceMatch(pattern, key))
      }
    },
  )

  test('deleteByPattern("*-1") deletes exactly the keys ending in -1, in every tier', async () => {
    const { cache, l1, l2 } = setup()
    for (const k of keys) await cache.set(k, k)
    expect(await cache.deleteByPattern('*-1')).toBe(3)
    expect([...l1.map.keys()].sort()).toEqual(keys.filter((k) => !k.endsWith('-1')).sort())
    expect([...l2.map.keys()].sort()).toEqual(
      keys
        .filter((k) => !k.endsWith('-1'))
        .map((k) => `app:${k}`)
        .sort(),
    )
    expect(await cache.deleteByPattern('user-?')).toBe(1)
    expect(await cache.get('user-2')).toBeUndefined()
    expect(await cache.get('user-10')).toBe('user-10')
  })

  test('every RegExp syntax character is literal in a pattern', () => {
    const specials = ['.+^$', '{}()|[]/-=!<>:,#&~\'"`'].join('')
    for (const ch of specials) {
      const key = `a${ch}b`
      expect(compilePattern(`a${ch}?`)(key), ch).toBe(true)
      expect(compilePattern(`*${ch}b`)(key), ch).toBe(true)
      expect(compilePattern(`*${ch}b`)('axb'), ch).toBe(ch === 'x')
      expect(patternToRegExp(`*${ch}?`).test(key), ch).toBe(true)
    }
  })

  test('compilePattern agrees with the reference matcher on generated patterns and keys', () => {
    const alphabet = ['a', 'b', '-', '*', '?', '\\*', '\\?', '\\\\', '🌍', 'é', ':', '.']
    let seed = 1
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    for (let i = 0; i < 2000; i++) {
      let pattern = ''
      for (let j = 0, n = 1 + rand(7); j < n; j++) pattern += alphabet[rand(alphabet.length)]
      let key = ''
      for (let j = 0, n = 1 + rand(7); j < n; j++)
        key += ['a', 'b', '-', '*', '?', '\\', '🌍', 'é', ':'][rand(9)]
      expect(compilePattern(pattern)(key), `${pattern} vs ${key}`).toBe(referenceMatch(pattern, key))
    }
  })

  test('a pattern with many stars runs in polynomial time (no exponential backtracking)', () => {
    const pattern = `${'*a'.repeat(30)}*b`
    const key = 'a'.repeat(1000)
    const started = process.hrtime.bigint()
    expect(compilePattern(pattern)(key)).toBe(false)
    // Not a timing assertion on the machine: a bound on the work, which an exponential matcher
    // (about 1000^30 steps) could never meet on any machine.
    expect(Number(process.hrtime.bigint() - started) / 1e9).toBeLessThan(60)
    expect(compilePattern(pattern)(`${key}b`)).toBe(true)
  })
})

describe('ill-formed UTF-16 and NUL (issue 16, item 2)', () => {
  const bad = ['a\uD800', '\uDC00', 'x\uDFFFy', 'a\uD800\uD800', 'nul\u0000', '\u0000']
  const good = ['a\uD83C\uDF0D', 'é', '\uFFFD', 'a\uFFFDb', 'ctl\u0001\u001f', 'bidi\u202Eevil']

  test('isPortableText tells well-formed text without NUL', () => {
    for (const s of bad) expect(isPortableText(s), JSON.stringify(s)).toBe(false)
    for (const s of good) expect(isPortableText(s), JSON.stringify(s)).toBe(true)
  })

  test.each(bad.map((k) => [JSON.stringify(k), k]))(
    'key %s is refused with E_INVALID_KEY by every method, and nothing is stored',
    async (_name, key) => {
      const { cache, l1, l2 } = setup()
      const calls: [string, () => unknown][] = [
        ['get', () => cache.get(key)],
        ['set', () => cache.set(key, 1)],
        ['getOrSet', () => cache.getOrSet(key, () => 1)],
        ['has', () => cache.has(key)],
        ['delete', () => cache.delete(key)],
        ['getMany', () => cache.getMany(['ok', key])],
        [
          'setMany',
          () =>
            cache.setMany([
              { key: 'ok', value: 1 },
              { key, value: 2 },
            ]),
        ],
        ['deleteMany', () => cache.deleteMany(['ok', key])],
        ['peek', () => cache.peek(key)],
        ['namespace().set', () => cache.namespace('ns').set(key, 1)],
      ]
      for (const [name, call] of calls) {
        const error = await caught(async () => call())
        expect(isTierCacheError(error, 'E_INVALID_KEY'), `${name}: ${String(error)}`).toBe(true)
      }
      expect(l1.map.size + l2.map.size).toBe(0)
    },
  )

  test('a lone surrogate and U+FFFD are two keys that never share an entry', async () => {
    const { cache } = setup()
    await cache.set('a\uFFFD', 'replacement')
    expect(isTierCacheError(await caught(() => cache.get('a\uD800')), 'E_INVALID_KEY')).toBe(true)
    expect(await cache.get('a\uFFFD')).toBe('replacement')
  })

  test('tags and patterns holding a lone surrogate or NUL are refused', async () => {
    const { cache, l1, l2 } = setup()
    for (const s of bad) {
      const tagError = await caught(() => cache.set('k', 1, { tags: [s] }))
      expect(isTierCacheError(tagError, 'E_INVALID_OPTION'), JSON.stringify(s)).toBe(true)
      const invError = await caught(() => cache.invalidateTags([s]))
      expect(isTierCacheError(invError, 'E_INVALID_OPTION'), JSON.stringify(s)).toBe(true)
      const patError = await caught(() => cache.deleteByPattern(`${s}*`))
      expect(isTierCacheError(patError, 'E_INVALID_PATTERN'), JSON.stringify(s)).toBe(true)
      expect(() => parsePattern(escapePattern(s))).toThrow(/lone surrogate|NUL/)
    }
    expect(l1.map.size + l2.map.size).toBe(0)
  })

  test('well-formed keys with emoji, U+FFFD, controls and bidi marks round-trip', async () => {
    const { cache, l1 } = setup()
    for (const key of good) await cache.set(key, key)
    l1.map.clear()
    for (const key of good) expect(await cache.get(key)).toBe(key)
  })
})

describe('an own __proto__ key survives every tier (issue 16, item 3)', () => {
  const withProto = (): Record<string, unknown> =>
    JSON.parse('{"__proto__": {"polluted": true}, "plain": 1}') as Record<string, unknown>

  test.each([
    ['plain JSON path', () => withProto()],
    ['tagged path (a Date beside it)', () => ({ ...withProto(), when: new Date(0) })],
    ['tagged path, nested', () => ({ list: [withProto()], big: 1n, map: new Map([['k', withProto()]]) })],
    ['the reserved ~t key beside it', () => Object.assign(withProto(), { '~t': 'x', d: new Date(1) })],
  ])('%s', (_name, make) => {
    const value = make()
    for (const serializer of [defaultSerializer, jsonSerializer]) {
      if (serializer === jsonSerializer && _name !== 'plain JSON path') continue
      const back = serializer.deserialize(serializer.serialize(value)) as Record<string, unknown>
      const find = (v: Record<string, unknown>): Record<string, unknown> =>
        (v.list as Record<string, unknown>[] | undefined)?.[0] ?? v
      const got = find(back)
      expect(Object.hasOwn(got, '__proto__'), serializer.name).toBe(true)
      expect(Object.getPrototypeOf(got)).toBe(Object.prototype)
      expect(Object.getOwnPropertyDescriptor(got, '__proto__')?.value).toEqual({ polluted: true })
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    }
  })

  test('L1 and L2 return the same value', async () => {
    const { cache, l1 } = setup()
    const value = { ...withProto(), when: new Date(5) }
    expect(Object.hasOwn(value, '__proto__')).toBe(true)
    await cache.set('p', value)
    const fromL1 = (await cache.get('p')) as Record<string, unknown>
    l1.map.clear()
    const fromL2 = (await cache.get('p')) as Record<string, unknown>
    expect(Object.keys(fromL2).sort()).toEqual(Object.keys(fromL1).sort())
    expect(Object.getOwnPropertyDescriptor(fromL2, '__proto__')?.value).toEqual({ polluted: true })
  })
})

describe('deep nesting and throwing values become E_SERIALIZE (issue 16, item 4)', () => {
  /** `leaf` wrapped `depth` (at least 1) times: always an object. */
  const nest = (depth: number, leaf: unknown, wrap: (v: unknown) => object = (v) => [v]): object => {
    let v = wrap(leaf)
    for (let i = 1; i < depth; i++) v = wrap(v)
    return v
  }

  test.each([
    ['arrays, plain path', () => nest(20_000, 1)],
    ['objects, plain path', () => nest(20_000, 1, (v) => ({ v }))],
    ['arrays, tagged path', () => nest(20_000, new Date(0))],
    ['maps', () => nest(5_000, 1, (v) => new Map([['k', v]]))],
    ['just past the limit', () => nest(MAX_SERIALIZE_DEPTH + 1, 1)],
    ['just past the limit, tagged path', () => nest(MAX_SERIALIZE_DEPTH, new Date(0))],
    [
      'a toJSON chain',
      () => {
        const make = (n: number): object => ({ toJSON: () => make(n + 1) })
        return make(0)
      },
    ],
  ])('%s', async (_name, make) => {
    const value = make()
    const error = await caught(async () => defaultSerializer.serialize(value))
    expect(isTierCacheError(error, 'E_SERIALIZE'), String(error)).toBe(true)
    const { cache, l1, l2 } = setup()
    expect(isTierCacheError(await caught(() => cache.set('deep', value)), 'E_SERIALIZE')).toBe(true)
    expect(l1.map.size + l2.map.size).toBe(0)
  })

  test('a value at the depth limit round-trips, on both paths', () => {
    // A Date (like a Map or a Set) is itself a level on the tagged path.
    for (const [depth, leaf] of [
      [MAX_SERIALIZE_DEPTH, 1],
      [MAX_SERIALIZE_DEPTH - 1, new Date(3)],
    ] as const) {
      const value = nest(depth, leaf)
      const back = defaultSerializer.deserialize(defaultSerializer.serialize(value))
      expect(back).toEqual(value)
    }
  })

  test('jsonSerializer refuses deep values with E_SERIALIZE too', async () => {
    const error = await caught(async () => jsonSerializer.serialize(nest(200_000, 1)))
    expect(isTierCacheError(error, 'E_SERIALIZE'), String(error)).toBe(true)
  })

  test.each<[string, () => object]>([
    [
      'a throwing getter',
      () => ({
        get boom() {
          throw new Error('getter says no')
        },
      }),
    ],
    [
      'a throwing getter beside a Date',
      () => ({
        d: new Date(0),
        get boom() {
          throw new Error('getter says no')
        },
      }),
    ],
    [
      'a throwing toJSON',
      () => ({
        toJSON() {
          throw new Error('toJSON says no')
        },
      }),
    ],
    ['a toJSON returning undefined', () => ({ toJSON: () => undefined })],
    [
      'a Proxy whose ownKeys trap throws',
      () =>
        new Proxy(
          {},
          {
            ownKeys() {
              throw new Error('trap')
            },
          },
        ),
    ],
    [
      'a throwing value thrown as a non-Error',
      () => ({
        d: new Date(0),
        x: {
          toJSON: () => {
            throw 'str'
          },
        },
      }),
    ],
  ])('%s', async (_name, make) => {
    const { cache, l1, l2 } = setup()
    const error = await caught(() => cache.set('bad', make()))
    expect(isTierCacheError(error, 'E_SERIALIZE'), String(error)).toBe(true)
    expect(l1.map.size + l2.map.size).toBe(0)
  })

  test('bytes that decode to something malformed are E_DESERIALIZE, never an untyped error', () => {
    const malformed = [
      Buffer.from('T{"~t":"B","v":"not a bigint"}'),
      Buffer.from('T{"~t":"M","v":5}'),
      Buffer.from('T{"~t":"A","c":"Nope","v":""}'),
      Buffer.from(`T${'['.repeat(100_000)}1${']'.repeat(100_000)}`),
      Buffer.from('X1'),
      Buffer.from(''),
    ]
    for (const bytes of malformed) {
      let error: unknown
      try {
        defaultSerializer.deserialize(bytes)
      } catch (e) {
        error = e
      }
      expect(
        isTierCacheError(error, 'E_DESERIALIZE'),
        `${bytes.toString().slice(0, 30)}: ${String(error)}`,
      ).toBe(true)
    }
  })
})

describe('createCache refuses malformed stores with E_INVALID_OPTION (issue 16, item 7)', () => {
  const clock = new ManualClock()
  const good = (): Store<any> => remoteStore(clock, { name: 'redis' })
  test.each([
    ['no object', () => 42, 'tiers[1]', 'tiers[1]'],
    ['an empty name', () => ({ ...good(), name: '' }), 'tiers[1]', 'tiers[1].name'],
    ['a name that is not a string', () => ({ ...good(), name: 7 }), 'tiers[1]', 'tiers[1].name'],
    ['no kind', () => ({ ...good(), kind: undefined }), 'redis', 'tiers[1].kind'],
    ['a wrong kind', () => ({ ...good(), kind: 'disk' }), 'redis', 'tiers[1].kind'],
    ['no capabilities', () => ({ ...good(), capabilities: undefined }), 'redis', 'tiers[1].capabilities'],
    [
      'a capability without its method',
      () => ({ ...good(), capabilities: { getMany: true }, getMany: undefined }),
      'redis',
      'tiers[1].getMany',
    ],
    [
      'a capability flag that is not a boolean',
      () => ({ ...good(), capabilities: { has: 'yes' } }),
      'redis',
      'tiers[1].capabilities.has',
    ],
    ['no clear()', () => ({ ...good(), clear: undefined }), 'redis', 'tiers[1].clear'],
    ['a negative maxTtl', () => ({ ...good(), maxTtl: -1 }), 'redis', 'tiers[1].maxTtl'],
    [
      'a NaN maxEntryBytes',
      () => ({ ...good(), maxEntryBytes: Number.NaN }),
      'redis',
      'tiers[1].maxEntryBytes',
    ],
  ])('%s', (_name, make, store, option) => {
    let error: unknown
    try {
      createCache({ tiers: [localStore(new ManualClock()), make() as Store<any>] })
    } catch (e) {
      error = e
    }
    expect(isTierCacheError(error, 'E_INVALID_OPTION'), String(error)).toBe(true)
    const e = error as { store?: string; option?: string; message: string }
    expect(e.store).toBe(store)
    expect(e.option).toBe(option)
    expect(e.message).toContain(option.split('.').at(-1) as string)
  })

  test('a well-formed store with prototype methods and getters passes', () => {
    class Proto {
      get name(): string {
        return 'proto'
      }
      readonly kind = 'remote' as const
      readonly capabilities = { has: true }
      get(): undefined {
        return undefined
      }
      set(): void {}
      delete(): boolean {
        return false
      }
      clear(): void {}
      has(): boolean {
        return false
      }
    }
    expect(() => validateStore(new Proto(), 0)).not.toThrow()
  })
})
