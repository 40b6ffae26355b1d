/**
 * HTTP scenarios: methods, ranges, the cache key, credentials and cookies, statuses and Vary.
 *
 * @module
 */
import type { Cache } from '@tiercache/core'
import { purgeUrl } from '@tiercache/http'
import { beforeAll, expect, test } from 'vitest'
import { waitFor } from '../../promises.js'
import { get, rawRequest, type TestServer } from '../harness.js'
import { type ScenarioContext, text } from './context.js'

/** Methods, ranges, the cache key, credentials and cookies, statuses and Vary. */
export function requestScenarios(ctx: ScenarioContext): void {
  const { clock } = ctx
  let srv: TestServer
  let cache: Cache
  beforeAll(() => {
    srv = ctx.srv
    cache = ctx.cache
  })

  test('a GET is stored and served again with Age and X-Cache', async () => {
    const r = srv.route({ ttl: '1m' }, (_req, n) => text(`hello ${n}`))
    const a = await get(r.url)
    expect([a.status, a.cache, a.text]).toEqual([200, 'MISS', 'hello 1'])
    clock.advance(3000)
    const b = await get(r.url)
    expect([b.status, b.cache, b.text]).toEqual([200, 'HIT', 'hello 1'])
    expect(Number(b.res.headers.get('age'))).toBeGreaterThanOrEqual(3)
    expect(b.res.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    expect(r.calls).toBe(1)
  })

  test('HEAD is answered from the GET entry, without a body and with its length', async () => {
    const r = srv.route({ ttl: '1m' }, () => text('0123456789'))
    await get(r.url)
    const h = await rawRequest(r.url, { method: 'HEAD' })
    expect(h.status).toBe(200)
    expect(h.headers['x-cache']).toBe('HIT')
    expect(h.headers['content-length']).toBe('10')
    expect(h.body.length).toBe(0)
    expect(r.calls).toBe(1)
  })

  test('a HEAD miss is stored as a HEAD response and purged with the URL', async () => {
    const r = srv.route({ ttl: '1m' }, () => text('abcdef'))
    expect((await rawRequest(r.url, { method: 'HEAD' })).headers['x-cache']).toBe('MISS')
    const again = await rawRequest(r.url, { method: 'HEAD' })
    expect(again.headers['x-cache']).toBe('HIT')
    expect(again.headers['content-length']).toBe('6')
    await purgeUrl(cache, r.url)
    expect((await rawRequest(r.url, { method: 'HEAD' })).headers['x-cache']).toBe('MISS')
    // a GET is still a miss: HEAD entries never answer GET
    expect((await get(r.url)).cache).toBe('MISS')
  })

  test('a HEAD that falls back on an expired GET entry never overwrites it with an empty body', async () => {
    const r = srv.route({ ttl: 1000, staleIfError: '1m' }, (_req, n) => text(`body ${n}`))
    await get(r.url)
    clock.advance(2000)
    const h = await rawRequest(r.url, { method: 'HEAD' })
    expect([h.status, h.body.length]).toEqual([200, 0])
    const g = await get(r.url)
    expect(g.text).toMatch(/^body \d$/)
    const again = await get(r.url)
    expect([again.cache, again.text]).toEqual(['HIT', g.text])
  })

  test('POST and other unsafe methods are neither served nor stored', async () => {
    const r = srv.route({ ttl: '1m' }, (_req, n) => text(`post ${n}`))
    expect((await get(r.url, {}, 'POST')).text).toBe('post 1')
    expect((await get(r.url, {}, 'POST')).text).toBe('post 2')
    expect(r.calls).toBe(2)
  })

  test('a successful unsafe request invalidates the URL; a failed one does not', async () => {
    const r = srv.route({ ttl: '1m' }, (req, n) =>
      req.method === 'PUT' ? text('no', {}, 500) : text(`v${n}`),
    )
    await get(r.url)
    expect((await get(r.url)).cache).toBe('HIT')
    await get(r.url, {}, 'PUT')
    expect((await get(r.url)).cache).toBe('HIT')
    await get(r.url, {}, 'DELETE')
    await waitFor(async () => (await get(r.url)).cache === 'MISS', 2000, 'invalidation')
  })

  test('an unsafe request invalidates a same-host Location target', async () => {
    const target = srv.route({ ttl: '1m' }, (_req, n) => text(`item ${n}`))
    const r = srv.route({}, () => text('created', { location: target.path }, 201))
    await get(target.url)
    expect((await get(target.url)).cache).toBe('HIT')
    await get(r.url, {}, 'POST')
    await waitFor(async () => (await get(target.url)).cache === 'MISS', 2000, 'invalidation')
  })

  test('a single byte range is answered from a stored response; several ranges get all of it', async () => {
    const r = srv.route({ ttl: '1m' }, () => text('0123456789', { etag: '"v1"' }))
    await get(r.url)
    const part = await rawRequest(r.url, { headers: { range: 'bytes=2-5' } })
    expect([part.status, part.body.toString(), part.headers['content-range']]).toEqual([
      206,
      '2345',
      'bytes 2-5/10',
    ])
    expect(part.headers['content-length']).toBe('4')
    expect(part.headers['x-cache']).toBe('HIT')
    const suffix = await rawRequest(r.url, { headers: { range: 'bytes=-3' } })
    expect([suffix.status, suffix.body.toString()]).toEqual([206, '789'])
    const open = await rawRequest(r.url, { headers: { range: 'bytes=7-' } })
    expect([open.status, open.body.toString()]).toEqual([206, '789'])
    const outside = await rawRequest(r.url, { headers: { range: 'bytes=10-' } })
    expect([outside.status, outside.headers['content-range']]).toEqual([416, 'bytes */10'])
    const several = await rawRequest(r.url, { headers: { range: 'bytes=0-1,4-5' } })
    expect([several.status, several.body.toString()]).toEqual([200, '0123456789'])
    const stale = await rawRequest(r.url, { headers: { range: 'bytes=0-1', 'if-range': '"v0"' } })
    expect([stale.status, stale.body.toString()]).toEqual([200, '0123456789'])
    const same = await rawRequest(r.url, { headers: { range: 'bytes=0-1', 'if-range': '"v1"' } })
    expect([same.status, same.body.toString()]).toEqual([206, '01'])
    expect(r.calls).toBe(1)
  })

  test('a range request that misses runs the handler with its Range; a full 200 is stored', async () => {
    let seen: string | undefined
    const r = srv.route({ ttl: '1m' }, (req) => {
      seen = req.headers.range as string | undefined
      return text('abcdef')
    })
    const first = await rawRequest(r.url, { headers: { range: 'bytes=0-1' } })
    expect([first.status, seen]).toEqual([200, 'bytes=0-1'])
    const again = await rawRequest(r.url, { headers: { range: 'bytes=0-1' } })
    expect([again.status, again.body.toString(), again.headers['x-cache']]).toEqual([206, 'ab', 'HIT'])
    expect(r.calls).toBe(1)
  })

  test('ranges: false makes range requests bypass the cache', async () => {
    const r = srv.route({ ttl: '1m', ranges: false }, () => text('0123456789'))
    await get(r.url)
    const ranged = await get(r.url, { range: 'bytes=0-3' })
    expect(ranged.cache).toBe('BYPASS')
    expect(r.calls).toBe(2)
  })

  test('the key sorts the query; a different query is another entry', async () => {
    const r = srv.route({ ttl: '1m' }, (req) => text(`q=${req.url.split('?')[1]}`))
    expect((await get(`${r.url}?a=1&b=2`)).cache).toBe('MISS')
    const sorted = await get(`${r.url}?b=2&a=1`)
    expect([sorted.cache, sorted.text]).toEqual(['HIT', 'q=a=1&b=2'])
    expect((await get(`${r.url}?a=1&b=3`)).cache).toBe('MISS')
  })

  test('the key covers the host; X-Forwarded-Host is ignored without trust proxy', async () => {
    const r = srv.route({ ttl: '1m' }, (req) => text(`host ${req.headers.host}`))
    const a = await rawRequest(r.url, { headers: { host: 'a.example' } })
    const b = await rawRequest(r.url, { headers: { host: 'b.example' } })
    expect([a.headers['x-cache'], b.headers['x-cache']]).toEqual(['MISS', 'MISS'])
    expect(b.body.toString()).toBe('host b.example')
    const spoofed = await rawRequest(r.url, {
      headers: { host: 'a.example', 'x-forwarded-host': 'evil.example' },
    })
    expect(spoofed.headers['x-cache']).toBe('HIT')
    expect(spoofed.body.toString()).toBe('host a.example')
  })

  test('requests with Authorization or Cookie bypass by default', async () => {
    const r = srv.route({ ttl: '1m' }, (_req, n) => text(`v${n}`))
    await get(r.url)
    expect((await get(r.url, { authorization: 'Bearer x' })).cache).toBe('BYPASS')
    expect((await get(r.url, { cookie: 'sid=1' })).cache).toBe('BYPASS')
    expect(r.calls).toBe(3)
  })

  test('allowAuthorization stores only responses that say public, s-maxage or must-revalidate', async () => {
    const plain = srv.route({ ttl: '1m', allowAuthorization: true }, (_req, n) => text(`v${n}`))
    const pub = srv.route({ allowAuthorization: true }, (_req, n) =>
      text(`v${n}`, { 'cache-control': 'public, max-age=60' }),
    )
    const auth = { authorization: 'Bearer x' }
    await get(plain.url, auth)
    expect((await get(plain.url, auth)).cache).toBe('MISS')
    await get(pub.url, auth)
    expect((await get(pub.url, auth)).cache).toBe('HIT')
  })

  test('allowCookies serves requests with cookies; Vary: Cookie keeps users apart', async () => {
    const r = srv.route({ ttl: '1m', allowCookies: true }, (req) =>
      text(`user ${req.headers.cookie}`, { vary: 'Cookie' }),
    )
    expect((await get(r.url, { cookie: 'u=1' })).text).toBe('user u=1')
    expect((await get(r.url, { cookie: 'u=2' })).text).toBe('user u=2')
    const again = await get(r.url, { cookie: 'u=1' })
    expect([again.cache, again.text]).toEqual(['HIT', 'user u=1'])
  })

  test('a response with Set-Cookie is never stored', async () => {
    const r = srv.route({ ttl: '1m' }, (_req, n) =>
      text(`v${n}`, { 'set-cookie': `s=${n}; HttpOnly`, 'cache-control': 'public, max-age=60' }),
    )
    await get(r.url)
    const b = await get(r.url)
    expect([b.cache, b.text]).toEqual(['MISS', 'v2'])
  })

  test('collapsed requests never receive another client’s Set-Cookie response', async () => {
    const r = srv.route({ ttl: '1m' }, (_req, n) => ({
      ...text(`v${n}`, { 'set-cookie': `s=${n}` }),
      delay: 100,
    }))
    const all = await Promise.all(Array.from({ length: 6 }, () => fetch(r.url)))
    const cookies = all.map((res) => res.headers.get('set-cookie'))
    expect(new Set(cookies).size).toBe(6)
    expect(r.calls).toBe(6)
  })

  test.each([
    [404, false],
    [301, true],
    [308, true],
    [206, false],
    [500, false],
    [503, false],
  ])('status %i stored by default: %s', async (status, stored) => {
    const r = srv.route({ ttl: '1m' }, (_req, n) =>
      text(`s${n}`, status === 301 || status === 308 ? { location: '/elsewhere' } : {}, status),
    )
    await rawRequest(r.url)
    const b = await rawRequest(r.url)
    expect(b.status).toBe(status)
    expect(b.headers['x-cache']).toBe(stored ? 'HIT' : 'MISS')
  })

  test('statuses opts in to other codes', async () => {
    const r = srv.route({ ttl: '1m', statuses: [200, 404] }, () => text('gone', {}, 404))
    await get(r.url)
    expect((await get(r.url)).cache).toBe('HIT')
  })

  test.each([['no-store'], ['private, max-age=60'], ['no-cache'], ['s-maxage=0, max-age=60'], ['max-age=0']])(
    'Cache-Control: %s is respected (not stored)',
    async (cc) => {
      const r = srv.route({ ttl: '1m' }, (_req, n) => text(`v${n}`, { 'cache-control': cc }))
      await get(r.url)
      const b = await get(r.url)
      expect([b.cache, b.text]).toEqual(['MISS', 'v2'])
      expect(b.res.headers.get('cache-control')).toBe(cc)
    },
  )

  test.each([['*'], ['Accept, *'], [' * ']])('Vary: "%s" is never stored', async (vary) => {
    const r = srv.route({ ttl: '1m' }, (_req, n) => text(`v${n}`, { vary }))
    await get(r.url)
    expect((await get(r.url)).cache).toBe('MISS')
  })

  test('Vary produces separate variants', async () => {
    const r = srv.route({ ttl: '1m' }, (req) =>
      text(`lang ${req.headers['accept-language']}`, { vary: 'Accept-Language' }),
    )
    expect((await get(r.url, { 'accept-language': 'en' })).text).toBe('lang en')
    expect((await get(r.url, { 'accept-language': 'fr' })).text).toBe('lang fr')
    const en = await get(r.url, { 'accept-language': 'en' })
    const fr = await get(r.url, { 'accept-language': 'fr' })
    expect([en.cache, en.text, fr.cache, fr.text]).toEqual(['HIT', 'lang en', 'HIT', 'lang fr'])
    expect(r.calls).toBe(2)
    await purgeUrl(cache, r.url)
    expect((await get(r.url, { 'accept-language': 'fr' })).cache).toBe('MISS')
  })
}
