/**
 * Behaviour scenarios over real HTTP, run by every adapter's suite (and by the http package on
 * a bare node:http server), on the memory tier and on memory + Redis.
 */
import { randomBytes } from 'node:crypto'
import { type Cache, isTierCacheError } from '@tiercache/core'
import { type ChaosStore, chaosStore } from '@tiercache/core/testing'
import { purgeUrl } from '@tiercache/http'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  get,
  type Harness,
  makeCache,
  rawRequest,
  SkewClock,
  type TestServer,
  type TierKind,
  waitFor,
} from './harness.js'

const text = (body: string, headers: Record<string, string | string[]> = {}, status = 200) => ({
  status,
  headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
  body,
})

export function runScenarios(
  harness: Harness,
  kinds: readonly TierKind[] = ['memory', 'memory+redis'],
): void {
  describe.each(kinds)(`${harness.name} over %s`, (kind) => {
    const clock = new SkewClock()
    let cache: Cache
    let srv: TestServer
    beforeAll(async () => {
      cache = makeCache(kind, clock).cache
      srv = await harness.start(cache, { clock })
    })
    afterAll(async () => {
      await srv?.close()
      await cache?.close()
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

    test.each([
      ['no-store'],
      ['private, max-age=60'],
      ['no-cache'],
      ['s-maxage=0, max-age=60'],
      ['max-age=0'],
    ])('Cache-Control: %s is respected (not stored)', async (cc) => {
      const r = srv.route({ ttl: '1m' }, (_req, n) => text(`v${n}`, { 'cache-control': cc }))
      await get(r.url)
      const b = await get(r.url)
      expect([b.cache, b.text]).toEqual(['MISS', 'v2'])
      expect(b.res.headers.get('cache-control')).toBe(cc)
    })

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

    test('the handler’s Cache-Control is kept; the route TTL applies only when it sets none', async () => {
      const own = srv.route({ ttl: '1h' }, (_req, n) =>
        text(`v${n}`, { 'cache-control': 'public, max-age=2' }),
      )
      const none = srv.route({ ttl: '10s' }, (_req, n) => text(`v${n}`))
      await get(own.url)
      await get(none.url)
      const hit = await get(own.url)
      expect([hit.cache, hit.res.headers.get('cache-control')]).toEqual(['HIT', 'public, max-age=2'])
      expect((await get(none.url)).res.headers.get('cache-control')).toBeNull()
      clock.advance(3000)
      expect((await get(own.url)).cache).toBe('MISS')
      expect((await get(none.url)).cache).toBe('HIT')
      clock.advance(8000)
      expect((await get(none.url)).cache).toBe('MISS')
    })

    test('Expires and Age from the handler count toward freshness', async () => {
      const r = srv.route({}, () =>
        text('x', {
          expires: new Date(clock.now() + 60_000).toUTCString(),
          date: new Date(clock.now()).toUTCString(),
        }),
      )
      const aged = srv.route({}, () => text('y', { 'cache-control': 'max-age=10', age: '9' }))
      await get(r.url)
      expect((await get(r.url)).cache).toBe('HIT')
      await get(aged.url)
      clock.advance(1500)
      const b = await get(aged.url)
      // stale now: the handler is asked again (it may answer a conditional request with 304)
      expect(['MISS', 'REVALIDATED']).toContain(b.cache)
      expect(aged.calls).toBe(2)
    })

    // fetch() adds `Cache-Control: no-cache` to conditional requests, so these go through node:http.
    const cond = async (url: string, headers: Record<string, string>) => {
      const r = await rawRequest(url, { headers })
      return { status: r.status, cache: r.headers['x-cache'], text: r.body.toString(), headers: r.headers }
    }

    test('If-None-Match and If-Modified-Since get a 304 from the stored response', async () => {
      const lm = new Date(Date.now() - 86_400_000).toUTCString()
      const r = srv.route({ ttl: '1m' }, () => text('body', { etag: '"abc"', 'last-modified': lm }))
      await get(r.url)
      const inm = await cond(r.url, { 'if-none-match': 'W/"abc"' })
      expect([inm.status, inm.cache, inm.text]).toEqual([304, 'HIT', ''])
      expect(inm.headers.etag).toBe('"abc"')
      expect(inm.headers.age).toBeDefined()
      expect((await cond(r.url, { 'if-none-match': '"other"' })).status).toBe(200)
      expect((await cond(r.url, { 'if-modified-since': new Date().toUTCString() })).status).toBe(304)
      const older = new Date(Date.now() - 2 * 86_400_000).toUTCString()
      expect((await cond(r.url, { 'if-modified-since': older })).status).toBe(200)
      expect(r.calls).toBe(1)
    })

    test('a conditional miss answers 304 itself and still stores the full response', async () => {
      const r = srv.route({ ttl: '1m' }, () => text('full body', { etag: '"v1"' }))
      const first = await cond(r.url, { 'if-none-match': '"v1"' })
      expect([first.status, first.cache, first.text]).toEqual([304, 'MISS', ''])
      const full = await get(r.url)
      expect([full.status, full.cache, full.text]).toEqual([200, 'HIT', 'full body'])
      expect(r.calls).toBe(1)
    })

    test('statusHeader and cacheStatus are configurable', async () => {
      const r = srv.route({ ttl: '1m', statusHeader: 'x-edge', cacheStatus: 'tiercache' }, () => text('x'))
      const off = srv.route({ ttl: '1m', statusHeader: false }, () => text('x'))
      const a = await get(r.url)
      expect(a.res.headers.get('x-edge')).toBe('MISS')
      expect(a.res.headers.get('cache-status')).toBe('tiercache; fwd=uri-miss; stored')
      const b = await get(r.url)
      expect(b.res.headers.get('x-edge')).toBe('HIT')
      expect(b.res.headers.get('cache-status')).toMatch(/^tiercache; hit; ttl=\d+$/)
      expect(b.cache).toBeNull()
      await get(off.url)
      expect((await get(off.url)).cache).toBeNull()
    })

    test('100 concurrent cold requests to a slow route run the handler once', async () => {
      // lockTimeout far above the test's duration on a saturated machine: this checks
      // collapsing, not the timeout (which lets waiters run the handler themselves)
      const r = srv.route({ ttl: '1m', lockTimeout: '2m' }, (_req, n) => ({
        ...text(`slow ${n}`),
        delay: 150,
      }))
      const all = await Promise.all(Array.from({ length: 100 }, () => get(r.url)))
      expect(r.calls).toBe(1)
      expect(new Set(all.map((a) => a.text))).toEqual(new Set(['slow 1']))
      expect(all.filter((a) => a.cache === 'MISS')).toHaveLength(1)
    })

    test('after the lock timeout waiters run the handler themselves', async () => {
      const r = srv.route({ ttl: '1m', lockTimeout: 30 }, (_req, n) => ({ ...text(`slow ${n}`), delay: 200 }))
      await Promise.all(Array.from({ length: 4 }, () => get(r.url)))
      expect(r.calls).toBe(4)
    })

    test('stale-while-revalidate serves the stale response and refreshes it in the background', async () => {
      const r = srv.route({}, (_req, n) =>
        text(`v${n}`, { 'cache-control': 'max-age=1, stale-while-revalidate=60' }),
      )
      await get(r.url)
      clock.advance(2000)
      const stale = await get(r.url)
      expect([stale.cache, stale.text]).toEqual(['STALE', 'v1'])
      await waitFor(async () => (await get(r.url)).text === 'v2', 3000, 'the background refresh')
      expect((await get(r.url)).cache).toBe('HIT')
      expect(r.calls).toBe(2)
    })

    test('a route staleWhileRevalidate applies, but never to must-revalidate responses', async () => {
      const r = srv.route({ ttl: 1000, staleWhileRevalidate: '1m' }, (_req, n) => text(`v${n}`))
      const strict = srv.route({ staleWhileRevalidate: '1m' }, (_req, n) =>
        text(`v${n}`, { 'cache-control': 'max-age=1, must-revalidate' }),
      )
      await get(r.url)
      await get(strict.url)
      clock.advance(2000)
      expect((await get(r.url)).cache).toBe('STALE')
      const s = await get(strict.url)
      expect([s.cache, s.text]).toEqual(['MISS', 'v2'])
    })

    test('a request max-stale serves an expired response, unless it says must-revalidate', async () => {
      // expired responses are kept only while a stale window (here the route's staleIfError) allows
      const loose = srv.route({ staleIfError: '1m' }, (_req, n) =>
        text(`v${n}`, { 'cache-control': 'max-age=1' }),
      )
      const strict = srv.route({ staleIfError: '1m' }, (_req, n) =>
        text(`v${n}`, { 'cache-control': 'max-age=1, must-revalidate' }),
      )
      await get(loose.url)
      await get(strict.url)
      clock.advance(3000)
      const a = await get(loose.url, { 'cache-control': 'max-stale=60' })
      expect([a.cache, a.text]).toEqual(['STALE', 'v1'])
      const b = await get(strict.url, { 'cache-control': 'max-stale=60' })
      expect([b.cache, b.text]).toEqual(['MISS', 'v2'])
    })

    test('stale-if-error serves the stored response instead of a 5xx or a thrown error', async () => {
      const r = srv.route({}, (_req, n) =>
        n === 1 ? text('good', { 'cache-control': 'max-age=1, stale-if-error=60' }) : text('bad', {}, 500),
      )
      const thrown = srv.route({ ttl: 1000, staleIfError: '1m' }, (_req, n) =>
        n === 1 ? text('fine') : { throws: 503 },
      )
      await get(r.url)
      await get(thrown.url)
      clock.advance(2000)
      const a = await get(r.url)
      expect([a.status, a.cache, a.text]).toEqual([200, 'STALE', 'good'])
      const b = await get(thrown.url)
      expect([b.status, b.cache, b.text]).toEqual([200, 'STALE', 'fine'])
      clock.advance(120_000)
      expect((await get(r.url)).status).toBe(500)
    })

    test.each(['end', 'writeHead', 'write', 'pipe', 'next'] as const)(
      'a handler failing with %s after stale-if-error: the stale response is sent, nothing crashes',
      async (style) => {
        const r = srv.route({}, (_req, n) =>
          n === 1
            ? {
                ...text('good', { 'cache-control': 'max-age=1, stale-if-error=60' }),
                style: style === 'next' ? 'end' : style,
              }
            : { status: 503, headers: { 'content-type': 'text/plain' }, body: 'origin down', style },
        )
        expect((await get(r.url)).text).toBe('good')
        clock.advance(2000)
        const a = await get(r.url)
        expect([a.status, a.cache, a.text]).toEqual([200, 'STALE', 'good'])
        // the handler's own writes after the replacement are discarded: give them time to land
        await new Promise((resolve) => setTimeout(resolve, 50))
        const b = await rawRequest(r.url, { headers: { 'if-none-match': '"nope"' } })
        expect([b.status, b.body.toString()]).toEqual([200, 'good'])
        expect(r.calls).toBe(3)
      },
    )

    test.each(['end', 'writeHead', 'write', 'pipe'] as const)(
      'a handler answering 304 with %s freshens the stored response',
      async (style) => {
        const r = srv.route({}, (req, n) =>
          n > 1 && req.headers['if-none-match'] === '"s1"'
            ? { status: 304, headers: { etag: '"s1"', 'cache-control': 'max-age=60' }, style }
            : { ...text('kept', { etag: '"s1"', 'cache-control': 'max-age=1' }), style },
        )
        await get(r.url)
        clock.advance(2000)
        const a = await get(r.url)
        expect([a.status, a.cache, a.text]).toEqual([200, 'REVALIDATED', 'kept'])
        await new Promise((resolve) => setTimeout(resolve, 50))
        expect((await get(r.url)).cache).toBe('HIT')
        expect(r.calls).toBe(2)
      },
    )

    test('binary bodies come back byte-identical', async () => {
      const bytes = randomBytes(70_000)
      const r = srv.route({ ttl: '1m' }, () => ({
        headers: { 'content-type': 'application/octet-stream' },
        body: bytes,
      }))
      await get(r.url)
      const res = await fetch(r.url)
      expect(res.headers.get('x-cache')).toBe('HIT')
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true)
    })

    test('a body above maxEntryBytes streams through unstored', async () => {
      const big = 'x'.repeat(5000)
      const r = srv.route({ ttl: '1m', maxEntryBytes: 4096 }, () => ({
        ...text(''),
        body: undefined,
        chunks: [big, big],
      }))
      const a = await get(r.url)
      expect(a.text).toBe(big + big)
      const b = await get(r.url)
      expect([b.cache, b.text.length]).toEqual(['MISS', 10_000])
    })

    test('a streamed response is stored when it fits', async () => {
      const r = srv.route({ ttl: '1m' }, () => ({
        ...text(''),
        body: undefined,
        chunks: ['one,', Buffer.from('two,'), 'three'],
      }))
      expect((await get(r.url)).text).toBe('one,two,three')
      const b = await get(r.url)
      expect([b.cache, b.text]).toEqual(['HIT', 'one,two,three'])
    })

    test('purgeUrl removes a URL; tags from the route and the tag header invalidate', async () => {
      const r = srv.route({ ttl: '1m', tags: ['products'] }, (_req, n) =>
        text(`v${n}`, { 'cache-tag': `p1 shelf-${n}` }),
      )
      const a = await get(r.url)
      expect(a.res.headers.get('cache-tag')).toBeNull()
      expect((await get(r.url)).cache).toBe('HIT')
      await purgeUrl(cache, r.url)
      expect((await get(r.url)).text).toBe('v2')
      await cache.invalidateTags(['p1'])
      expect((await get(r.url)).text).toBe('v3')
      await cache.invalidateTags(['products'])
      expect((await get(r.url)).text).toBe('v4')
      expect((await get(r.url)).cache).toBe('HIT')
    })

    test('a client cannot force a handler run with no-cache unless honorRequestNoCache is on', async () => {
      const r = srv.route({ ttl: '1m' }, (_req, n) => text(`v${n}`))
      await get(r.url)
      for (const h of [{ 'cache-control': 'no-cache' }, { pragma: 'no-cache' }]) {
        const again = await get(r.url, h)
        expect([again.cache, again.text]).toEqual(['HIT', 'v1'])
      }
      expect(r.calls).toBe(1)
      const honoured = srv.route({ ttl: '1m', honorRequestNoCache: true }, (_req, n) => text(`v${n}`))
      await get(honoured.url)
      const fresh = await get(honoured.url, { 'cache-control': 'no-cache' })
      expect([fresh.cache, fresh.text]).toEqual(['MISS', 'v2'])
      expect((await get(honoured.url)).text).toBe('v2')
    })

    test('only-if-cached answers 504 on a miss without running the handler', async () => {
      const other = srv.route({ ttl: '1m' }, () => text('x'))
      expect((await get(other.url, { 'cache-control': 'only-if-cached' })).status).toBe(504)
      expect(other.calls).toBe(0)
    })

    test('a stale response is revalidated with its validators; a 304 freshens it and keeps its body', async () => {
      const seen: (string | undefined)[] = []
      const r = srv.route({}, (req, n) => {
        seen.push(req.headers['if-none-match'] as string | undefined)
        if (n > 1 && req.headers['if-none-match'] === '"e1"') {
          return { status: 304, headers: { etag: '"e1"', 'cache-control': 'max-age=60', 'x-version': '2' } }
        }
        return text('body one', { etag: '"e1"', 'cache-control': 'max-age=1', 'x-version': '1' })
      })
      await get(r.url)
      clock.advance(2000)
      const b = await get(r.url)
      expect([b.status, b.cache, b.text, b.res.headers.get('x-version')]).toEqual([
        200,
        'REVALIDATED',
        'body one',
        '2',
      ])
      expect(b.res.headers.get('cache-control')).toBe('max-age=60')
      const c = await get(r.url)
      expect([c.cache, c.text, c.res.headers.get('x-version')]).toEqual(['HIT', 'body one', '2'])
      expect(seen).toEqual([undefined, '"e1"'])
    })

    test('a client validator is answered by the cache, never passed to the handler', async () => {
      const seen: (string | undefined)[] = []
      const r = srv.route({}, (req) => {
        seen.push(req.headers['if-none-match'] as string | undefined)
        return text('body', { etag: '"e9"', 'cache-control': 'max-age=1' })
      })
      await get(r.url)
      clock.advance(2000)
      const c = await rawRequest(r.url, { headers: { 'if-none-match': '"other"' } })
      expect(c.status).toBe(200)
      expect(seen).toEqual([undefined, '"e9"'])
    })

    test('a stored response without an ETag gets a weak one; conditional requests then get 304', async () => {
      const r = srv.route({ ttl: '1m' }, () => text('no tag here'))
      const off = srv.route({ ttl: '1m', etag: false }, () => text('no tag here'))
      await get(r.url)
      const offMiss = await rawRequest(off.url)
      const hit = await rawRequest(r.url)
      const tag = hit.headers.etag as string
      // ours, or the framework's own (Express tags every res.send)
      expect(tag).toMatch(/^W\/".+"$/)
      const cond = await rawRequest(r.url, { headers: { 'if-none-match': tag } })
      expect([cond.status, cond.body.length]).toEqual([304, 0])
      // etag: false: a hit carries only what the handler sent (none, or the framework's own)
      expect((await rawRequest(off.url)).headers.etag).toBe(offMiss.headers.etag)
    })

    test('CDN-Cache-Control (RFC 9213) wins over Cache-Control; targetedCacheControl names others', async () => {
      const cdn = srv.route({}, (_req, n) =>
        text(`v${n}`, { 'cdn-cache-control': 'max-age=60', 'cache-control': 'no-store' }),
      )
      const off = srv.route({ targetedCacheControl: false }, (_req, n) =>
        text(`v${n}`, { 'cdn-cache-control': 'max-age=60', 'cache-control': 'no-store' }),
      )
      const mine = srv.route(
        { targetedCacheControl: ['app-cache-control', 'cdn-cache-control'] },
        (_req, n) => text(`v${n}`, { 'app-cache-control': 'no-store', 'cdn-cache-control': 'max-age=60' }),
      )
      const invalid = srv.route({}, (_req, n) =>
        text(`v${n}`, { 'cdn-cache-control': 'max-age="60"', 'cache-control': 'no-store' }),
      )
      for (const route of [cdn, off, mine, invalid]) await get(route.url)
      expect((await get(cdn.url)).cache).toBe('HIT')
      expect((await get(off.url)).cache).toBe('MISS')
      expect((await get(mine.url)).cache).toBe('MISS')
      expect((await get(invalid.url)).cache).toBe('MISS')
      expect((await get(cdn.url)).res.headers.get('cdn-cache-control')).toBe('max-age=60')
    })

    test('a response with explicit freshness is stored whatever its status; must-understand needs a known one', async () => {
      const gone = srv.route({}, (_req, n) => text(`v${n}`, { 'cache-control': 'max-age=60' }, 410))
      const odd = srv.route({}, (_req, n) =>
        text(`v${n}`, { 'cache-control': 'max-age=60, no-store, must-understand' }, 599),
      )
      const known = srv.route({}, (_req, n) =>
        text(`v${n}`, { 'cache-control': 'max-age=60, no-store, must-understand' }, 200),
      )
      for (const route of [gone, odd, known]) await rawRequest(route.url)
      expect((await rawRequest(gone.url)).headers['x-cache']).toBe('HIT')
      expect((await rawRequest(odd.url)).headers['x-cache']).toBe('MISS')
      expect((await rawRequest(known.url)).headers['x-cache']).toBe('HIT')
    })

    test('keys have one spelling: an unsafe request with quotes in its query invalidates the stored GET', async () => {
      const r = srv.route({ ttl: '1m' }, (req, n) => text(`${req.method} ${n}`))
      const url = `${r.url}?q='a'&x={1}&y=\`b\``
      await rawRequest(url)
      expect((await rawRequest(url)).headers['x-cache']).toBe('HIT')
      await rawRequest(url, { method: 'POST' })
      await waitFor(async () => (await rawRequest(url)).headers['x-cache'] === 'MISS', 2000, 'invalidation')
      await rawRequest(url)
      await purgeUrl(cache, url)
      expect((await rawRequest(url)).headers['x-cache']).toBe('MISS')
    })

    test('parameters whose names decode alike keep their order in the key', async () => {
      const r = srv.route({ ttl: '1m' }, (req) => text(req.url.split('?')[1] as string))
      await rawRequest(`${r.url}?id=1&%69d=2`)
      const other = await rawRequest(`${r.url}?%69d=2&id=1`)
      expect([other.headers['x-cache'], other.body.toString()]).toEqual(['MISS', '%69d=2&id=1'])
      expect((await rawRequest(`${r.url}?id=1&%69d=2`)).headers['x-cache']).toBe('HIT')
    })

    test('query.allow bypasses unknown parameters; query.maxVariants bounds the entries of one path', async () => {
      const r = srv.route({ ttl: '1m', query: { allow: ['page'], ignore: ['utm_source'] } }, (_req, n) =>
        text(`v${n}`),
      )
      await get(`${r.url}?page=1`)
      expect((await get(`${r.url}?page=1&utm_source=mail`)).cache).toBe('HIT')
      expect((await get(`${r.url}?page=1&evil=${Math.random()}`)).cache).toBe('BYPASS')
      const bounded = srv.route({ ttl: '1m', query: { maxVariants: 5 } }, (_req, n) => text(`v${n}`))
      for (let i = 0; i < 20; i++) await get(`${bounded.url}?r=${i}`)
      let hits = 0
      for (let i = 0; i < 20; i++) if ((await get(`${bounded.url}?r=${i}`)).cache === 'HIT') hits++
      expect(hits).toBe(5)
      expect((await get(bounded.url)).cache).toBe('MISS')
      expect((await get(bounded.url)).cache).toBe('HIT')
    })
  })
}

/** Two app instances sharing Redis (each with its own memory tier and a bus), and store failures. */
export function runDistributedScenarios(harness: Harness): void {
  describe(`${harness.name}: two instances sharing Redis`, () => {
    const clock = new SkewClock()
    let a: { cache: Cache; srv: TestServer }
    let b: { cache: Cache; srv: TestServer }
    beforeAll(async () => {
      const one = makeCache('memory+redis', clock)
      const two = makeCache('memory+redis', clock, one.prefix)
      a = { cache: one.cache, srv: await harness.start(one.cache, { clock }) }
      b = { cache: two.cache, srv: await harness.start(two.cache, { clock }) }
    })
    afterAll(async () => {
      await a?.srv.close()
      await b?.srv.close()
      await a?.cache.close()
      await b?.cache.close()
    })

    /** The same route on both instances (routes are named in registration order). */
    function both(options: Parameters<TestServer['route']>[0], handle: Parameters<TestServer['route']>[1]) {
      return [a.srv.route(options, handle), b.srv.route(options, handle)] as const
    }

    test('a response stored by one instance is a hit on the other', async () => {
      const [ra, rb] = both({ ttl: '1m' }, (_req, n) => text(`v${n}`))
      expect((await get(ra.url)).cache).toBe('MISS')
      const other = await get(rb.url)
      expect([other.cache, other.text]).toEqual(['HIT', 'v1'])
      expect(rb.calls).toBe(0)
    })

    test('a purge on one instance is seen by the other', async () => {
      const [ra, rb] = both({ ttl: '1m' }, (_req, n) => text(`v${n}`))
      await get(ra.url)
      expect((await get(rb.url)).cache).toBe('HIT')
      expect((await get(rb.url)).cache).toBe('HIT')
      await a.srv.purge(ra.url)
      await waitFor(async () => (await get(rb.url)).cache === 'MISS', 3000, 'the purge to reach instance b')
      expect(rb.calls).toBe(1)
    })

    test('tag invalidation on one instance is seen by the other', async () => {
      const [ra, rb] = both({ ttl: '1m', tags: ['catalog'] }, (_req, n) => text(`v${n}`))
      await get(ra.url)
      expect((await get(rb.url)).cache).toBe('HIT')
      await a.cache.invalidateTags(['catalog'])
      await waitFor(async () => (await get(rb.url)).cache === 'MISS', 3000, 'the tag invalidation to reach b')
    })
  })

  describe(`${harness.name}: store failures fall through to the handler`, () => {
    const clock = new SkewClock()
    let chaos: ChaosStore<any>
    let cache: Cache
    let srv: TestServer
    beforeAll(async () => {
      cache = makeCache('memory+redis', clock, undefined, (s) => {
        chaos = chaosStore(s)
        return chaos
      }).cache
      srv = await harness.start(cache, { clock })
    })
    afterAll(async () => {
      chaos?.heal()
      await srv?.close()
      await cache?.close()
    })

    test('a hanging shared tier is given up after lookupTimeout', async () => {
      const errors: unknown[] = []
      const onError = (error: unknown) => void errors.push(error)
      const r = srv.route({ ttl: '1m', lookupTimeout: 50, onError }, (_req, n) => text(`v${n}`))
      chaos.hang()
      const started = Date.now()
      const res = await get(r.url)
      expect([res.status, res.text]).toEqual([200, 'v1'])
      expect(Date.now() - started).toBeLessThan(2000)
      chaos.heal()
      // The give-up is reported with a stable code, never as a bare Error.
      const timeout = errors.find((e) => isTierCacheError(e, 'E_STORE_TIMEOUT'))
      expect(timeout).toMatchObject({ operation: 'lookup', timeout: 50 })
    })

    test('requests arriving during a slow shared-tier lookup and handler run are collapsed into one run', async () => {
      // Each lookup past the in-process tier takes 40 ms and the handler 10 ms; requests arrive
      // every 2 ms for 150 ms, so many look up while the first flight runs and ends. Each of
      // them must join the flight or find its response: one handler run.
      const r = srv.route({ ttl: '1m', lockTimeout: '2m' }, (_req, n) => ({ ...text(`v${n}`), delay: 10 }))
      chaos.delay(40, ['get', 'getMany'])
      try {
        const all: Promise<{ text: string }>[] = []
        for (let i = 0; i < 75; i++) {
          all.push(get(r.url))
          await new Promise((resolve) => setTimeout(resolve, 2))
        }
        const texts = new Set((await Promise.all(all)).map((a) => a.text))
        expect(r.calls).toBe(1)
        expect(texts).toEqual(new Set(['v1']))
      } finally {
        chaos.heal()
      }
    })

    test('a failing shared tier is a miss, and the in-process tier still serves', async () => {
      const r = srv.route({ ttl: '1m' }, (_req, n) => text(`v${n}`))
      chaos.fail()
      expect((await get(r.url)).text).toBe('v1')
      expect((await get(r.url)).cache).toBe('HIT')
      chaos.heal()
    })
  })
}
