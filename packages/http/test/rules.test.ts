import { createCache, isTierCacheError } from '@tiercache/core'
import { createHttpCache, primaryKey, purgeKeys, sortQuery } from '@tiercache/http'
import { memoryStore } from '@tiercache/store-memory'
import CachePolicy from 'http-cache-semantics'
import { describe, expect, test } from 'vitest'
import { assess, storedPolicy } from '../src/assess.js'
import { parseCacheControl, parseVary } from '../src/headers.js'
import { resolveOptions } from '../src/options.js'

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
      a.policy.evaluateRequest({ url: '/x', method: 'GET', headers: { host: 'example.com' } }).response,
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
    const stored = JSON.stringify(storedPolicy(a.policy))
    expect(stored).not.toContain('secret')
    expect(stored).not.toContain('x-other')
    expect(stored).toContain('accept-language')
    const restored = CachePolicy.fromObject(storedPolicy(a.policy))
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

describe('keys', () => {
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

  test('a bad duration is refused with E_INVALID_DURATION', () => {
    expect(() => createHttpCache(cache, { ttl: 'soon' as never })).toThrow(/ttl/)
  })

  test('purgeUrl needs an absolute URL', () => {
    expect(() => purgeKeys('/relative')).toThrow(/absolute/)
  })
})
