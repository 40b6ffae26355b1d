import { createCache, isTierCacheError } from '@tiercache/core'
import { createHttpCache, primaryKey, purgeKeys, sortQuery } from '@tiercache/http'
import { memoryStore } from '@tiercache/store-memory'
import CachePolicy from 'http-cache-semantics'
import { describe, expect, test } from 'vitest'
import { assess, storedPolicy } from '../src/assess.js'
import { parseAge, parseCacheControl, parseHttpDate, parseVary } from '../src/headers.js'
import { canonicalTarget, keyTarget } from '../src/key.js'
import { resolveOptions } from '../src/options.js'
import { parseTargeted } from '../src/targeted.js'

const o = resolveOptions({ ttl: 60_000 })
const now = 1_700_000_000_000
const judge = (headers: Record<string, string>, req: Record<string, string> = {}, status = 200) =>
  assess(o, 'GET', '/x', 'example.com', req, status, headers, now)

describe('guards over http-cache-semantics', () => {
  test('must-revalidate does not make a fresh response a miss; it only forbids serving stale', () => {
    const a = judge({ 'cache-control': 'max-age=60, must-revalidate, stale-while-revalidate=30' })
    expect(a.storable).toBe(true)
    if (!a.storable) return
    expect(a.freshUntil).toBe(now + 60_000)
    expect(a.mustRevalidate).toBe(true)
    expect(a.swrUntil).toBe(a.freshUntil)
    // http-cache-semantics' own evaluateRequest would refuse the fresh response:
    expect(
      a.policy().evaluateRequest({ url: '/x', method: 'GET', headers: { host: 'example.com' } }).response,
    ).toBeUndefined()
  })

  test('proxy-revalidate keeps the stated freshness (http-cache-semantics says 0)', () => {
    const a = judge({ 'cache-control': 'max-age=60, proxy-revalidate' })
    expect(a.storable && a.freshUntil).toBe(now + 60_000)
  })

  test('Set-Cookie is never stored, even with public (where max-stale could serve it)', () => {
    expect(judge({ 'cache-control': 'public, max-age=60', 'set-cookie': 'a=1' })).toEqual({
      storable: false,
      reason: 'set-cookie',
    })
  })

  test.each(['*', 'Accept, *', ' * ', 'accept-encoding,*'])('Vary "%s" is detected', (vary) => {
    expect(parseVary(vary)).toEqual(['*'])
    expect(judge({ vary })).toEqual({ storable: false, reason: 'vary-star' })
  })

  test('the stored policy keeps only the Vary headers, never Cookie or Authorization', () => {
    const a = judge(
      { 'cache-control': 'public, max-age=60', vary: 'Accept-Language, Cookie, Authorization' },
      { 'accept-language': 'en', cookie: 'sid=secret', authorization: 'Bearer secret', 'x-other': 'y' },
    )
    expect(a.storable).toBe(true)
    if (!a.storable) return
    const stored = JSON.stringify(storedPolicy(a.policy()))
    expect(stored).not.toContain('secret')
    expect(stored).not.toContain('x-other')
    expect(stored).toContain('accept-language')
    // storedPolicy is declared as an opaque object: what fromObject reads back.
    const restored = CachePolicy.fromObject(
      storedPolicy(a.policy()) as Parameters<typeof CachePolicy.fromObject>[0],
    )
    expect(restored.storable()).toBe(true)
  })

  test('Authorization requires public, s-maxage or must-revalidate', () => {
    const auth = { authorization: 'Bearer x' }
    expect(judge({ 'cache-control': 'max-age=60' }, auth).storable).toBe(false)
    expect(judge({ 'cache-control': 's-maxage=60' }, auth).storable).toBe(true)
    expect(judge({ 'cache-control': 'public, max-age=60' }, auth).storable).toBe(true)
  })

  test('s-maxage wins over max-age and Expires; invalid Expires is expired; Age counts', () => {
    const a = judge({ 'cache-control': 'max-age=600, s-maxage=10' })
    expect(a.storable && a.freshUntil).toBe(now + 10_000)
    expect(judge({ expires: '0' }).storable).toBe(false)
    const valid = judge({ expires: new Date(now + 60_000).toUTCString() })
    expect(valid.storable && valid.freshUntil).toBe(now + 60_000)
    const aged = judge({ 'cache-control': 'max-age=100', age: '40' })
    expect(aged.storable && aged.freshUntil).toBe(now + 60_000)
  })

  test('no freshness and no route ttl: stored only with a Last-Modified heuristic', () => {
    const noTtl = resolveOptions({})
    const plain = assess(noTtl, 'GET', '/x', 'h', {}, 200, {}, now)
    expect(plain.storable).toBe(false)
    const lm = assess(
      noTtl,
      'GET',
      '/x',
      'h',
      {},
      200,
      { 'last-modified': new Date(now - 100_000_000).toUTCString(), date: new Date(now).toUTCString() },
      now,
    )
    expect(lm.storable && lm.freshUntil).toBe(now + 10_000_000)
  })

  test('Cache-Control parsing handles quotes, case and conflicting duplicates', () => {
    expect(parseCacheControl('Max-Age=5, no-cache="Set-Cookie, X", public')).toEqual({
      'max-age': '5',
      'no-cache': 'Set-Cookie, X',
      public: true,
    })
    expect(parseCacheControl('max-age=5, max-age=50')['max-age']).toBe('0')
  })
})

describe('HTTP-dates (RFC 9110 §5.6.7)', () => {
  const at = Date.UTC(2050, 7, 18, 2, 1, 18)
  test.each([
    ['Thu, 18 Aug 2050 02:01:18 GMT', at],
    ['Thursday, 18-Aug-50 02:01:18 GMT', at],
    ['Thu Aug 18 02:01:18 2050', at],
    ['Sun Nov  6 08:49:37 1994', Date.UTC(1994, 10, 6, 8, 49, 37)],
    ['THU, 18 aug 2050 02:01:18 gmt', at],
  ])('%s is a date', (text, expected) => {
    expect(parseHttpDate(text, now)).toBe(expected)
  })

  test.each([
    'Thu, 18 Aug 2050 02:01:18 UTC',
    'Thu 18 Aug 2050 02:01:18 GMT',
    'Thu, 18  Aug 2050 02:01:18 GMT',
    'Thu, 18-Aug-2050 02:01:18 GMT',
    'Thu, 18 Aug 2050 2:01:18 GMT',
    'Thu, 18 Aug 2050\r\n 02:01:18 GMT',
    'Thu, 31 Feb 2050 02:01:18 GMT',
    '2050-08-18T02:01:18Z',
    '0',
    '',
  ])('%j is not a date', (text) => {
    expect(parseHttpDate(text, now)).toBeUndefined()
  })

  test('an RFC 850 year is the nearest one no more than 50 years ahead', () => {
    const in2026 = Date.UTC(2026, 0, 1)
    expect(
      new Date(parseHttpDate('Thursday, 18-Aug-50 02:01:18 GMT', in2026) as number).getUTCFullYear(),
    ).toBe(2050)
    expect(new Date(parseHttpDate('Friday, 18-Aug-80 02:01:18 GMT', in2026) as number).getUTCFullYear()).toBe(
      1980,
    )
    expect(new Date(parseHttpDate('Friday, 01-Jan-76 00:00:00 GMT', in2026) as number).getUTCFullYear()).toBe(
      2076,
    )
  })

  test('invalid Expires values mean expired, never a future date', () => {
    for (const expires of [
      'Thu, 18 Aug 2050 02:01:18 UTC',
      'Thu 18 Aug 2050 02:01:18 GMT',
      'Thu, 18-Aug-2050 02:01:18 GMT',
    ]) {
      expect(judge({ expires, date: new Date(now).toUTCString() }).storable).toBe(false)
    }
  })
})

describe('Age and Cache-Control syntax', () => {
  test.each([
    ['7200, 0', 7200],
    ['0, 7200', 0],
    [['7200', '0'], 7200],
    ['abc', 0],
    ['-7200', 0],
    ['7200.0', 0],
    ['99999999999', 2_147_483_648],
  ] as const)('Age %j is %i seconds', (value, seconds) => {
    expect(parseAge(value as string | string[])).toBe(seconds)
  })

  test('Age: 7200, 0 makes a max-age=3600 response stale', () => {
    expect(judge({ 'cache-control': 'max-age=3600', age: '7200, 0' }).storable).toBe(false)
  })

  test('whitespace around = is not the directive', () => {
    expect(parseCacheControl('max-age =3600')).toEqual({})
    expect(parseCacheControl('max-age= 3600, public')).toEqual({ public: true })
    expect(judge({ 'cache-control': 'max-age =3600' }, {}).storable && 'ttl').toBe('ttl')
  })
})

describe('targeted fields (RFC 9213)', () => {
  test.each([
    ['max-age=60', { 'max-age': '60' }],
    ['foobar, max-age=3600', { foobar: true, 'max-age': '3600' }],
    ['no-store', { 'no-store': true }],
    ['private=("set-cookie"), max-age=1', { private: true, 'max-age': '1' }],
    ['max-age=99999999999', { 'max-age': '99999999999' }],
  ])('%s parses', (text, expected) => {
    expect(parseTargeted(text)).toEqual(expected)
  })

  test.each(['max-age="60"', 'max-age=10000, &&&&&', 'MaX-aGe=3600', 'max-age=1,', 'max-age', ''])(
    '%j is invalid and ignored',
    (text) => {
      expect(parseTargeted(text)).toBeUndefined()
    },
  )

  test('a valid targeted field replaces Cache-Control and Expires; an invalid one is ignored', () => {
    const a = judge({ 'cdn-cache-control': 'max-age=30', 'cache-control': 'no-store', expires: '0' })
    expect(a.storable && a.freshUntil).toBe(now + 30_000)
    expect(judge({ 'cdn-cache-control': 'max-age="30"', 'cache-control': 'no-store' }).storable).toBe(false)
    expect(judge({ 'cdn-cache-control': 'private', 'cache-control': 'max-age=60' }).storable).toBe(false)
  })
})

describe('keys', () => {
  test('one spelling per target: quotes, braces, backticks and spaces are percent-encoded alike', () => {
    for (const [raw, viaUrl] of [
      ["/p?q='a'", new URL("http://h/p?q='a'")],
      ['/p?x={1}&y=`b`', new URL('http://h/p?x={1}&y=`b`')],
      ['/a b/<c>?d="e"', new URL('http://h/a b/<c>?d="e"')],
      ['/caf\u00e9', new URL('http://h/caf\u00e9')],
    ] as const) {
      expect(canonicalTarget(raw)).toBe(canonicalTarget(`${viaUrl.pathname}${viaUrl.search}`))
      expect(primaryKey('G', 'http', 'h', raw)).toBe(purgeKeys(viaUrl.href)[0])
    }
    expect(canonicalTarget('/%7e%41%2f')).toBe('/~A%2F')
    expect(canonicalTarget('/a/../b')).toBe('/a/../b')
  })

  test('parameters whose names decode alike never trade places (no two resources share a key)', () => {
    const names = ['id', '%69d', 'i%64', '%69%64', 'ID']
    let pairs = 0
    for (const a of names) {
      for (const b of names) {
        if (a === b) continue
        const one = primaryKey('G', 'http', 'h', `/p?${a}=1&${b}=2`)
        const two = primaryKey('G', 'http', 'h', `/p?${b}=2&${a}=1`)
        const sameDecoded = decodeURIComponent(a) === decodeURIComponent(b)
        // same decoded name: order matters to the application, so the keys differ
        if (sameDecoded) expect(one).not.toBe(two)
        else expect(one).toBe(two)
        pairs++
      }
    }
    expect(pairs).toBe(20)
  })

  test('query rules: ignored parameters leave the key, unknown ones make it null', () => {
    const rules = { allow: new Set(['page']), ignore: new Set(['utm_source']) }
    expect(keyTarget('/s?utm_source=x&page=2', rules)).toEqual({ path: '/s', target: '/s?page=2' })
    expect(keyTarget('/s?page=2&other=1', rules)).toBeNull()
  })

  test('the query is sorted by name, repeated names keep their order', () => {
    expect(sortQuery('b=2&a=1&a=0')).toBe('a=1&a=0&b=2')
  })

  test('method class, scheme, host, path and query all change the key; a trailing ? does not', () => {
    const base = primaryKey('G', 'https', 'example.com', '/p?a=1')
    expect(primaryKey('H', 'https', 'example.com', '/p?a=1')).not.toBe(base)
    expect(primaryKey('G', 'http', 'example.com', '/p?a=1')).not.toBe(base)
    expect(primaryKey('G', 'https', 'other.com', '/p?a=1')).not.toBe(base)
    expect(primaryKey('G', 'https', 'Example.COM', '/p?a=1')).toBe(base)
    expect(primaryKey('G', 'https', 'example.com', '/p?a=2')).not.toBe(base)
    expect(primaryKey('G', 'https', 'example.com', '/p')).toBe(primaryKey('G', 'https', 'example.com', '/p?'))
    expect(base).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  test('purgeKeys covers GET and HEAD over http and https', () => {
    const keys = purgeKeys('https://example.com/p?b=1&a=2')
    expect(keys).toHaveLength(4)
    expect(keys).toContain(primaryKey('H', 'http', 'example.com', '/p?a=2&b=1'))
  })
})

describe('options', () => {
  const cache = createCache({ tiers: [memoryStore()] })
  test.each([
    [{ statuses: [500] }],
    [{ statuses: [206] }],
    [{ statuses: [304] }],
    [{ maxEntryBytes: -1 }],
    [{ statusHeader: 'bad header' }],
    [{ tags: 'x' }],
    [{ allowCookies: 'yes' }],
  ])('%j is refused with E_INVALID_OPTION', (bad) => {
    let error: unknown
    try {
      createHttpCache(cache, bad as never)
    } catch (e) {
      error = e
    }
    expect(isTierCacheError(error, 'E_INVALID_OPTION')).toBe(true)
  })

  test('a first argument that is not a Cache is refused with E_INVALID_OPTION (a TypeError)', () => {
    let error: unknown
    try {
      createHttpCache({} as never)
    } catch (e) {
      error = e
    }
    expect(isTierCacheError(error, 'E_INVALID_OPTION')).toBe(true)
    expect(error).toBeInstanceOf(TypeError)
    expect(error).toMatchObject({ option: 'cache' })
  })

  test('a bad duration is refused with E_INVALID_DURATION', () => {
    expect(() => createHttpCache(cache, { ttl: 'soon' as never })).toThrow(/ttl/)
  })

  test('purgeUrl needs an absolute URL', () => {
    expect(() => purgeKeys('/relative')).toThrow(/absolute/)
  })
})
