/**
 * HTTP scenarios: how handlers write (styles, binary, streams), purges and tags, revalidation, validators, targeted Cache-Control, key spelling and query bounds.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import type { Cache } from '@tiercache/core'
import { purgeUrl } from '@tiercache/http'
import { beforeAll, expect, test } from 'vitest'
import { waitFor } from '../../promises.js'
import { get, rawRequest, type TestServer } from '../harness.js'
import { type ScenarioContext, text } from './context.js'

/** How handlers write (styles, binary, streams), purges and tags, revalidation, validators, targeted Cache-Control, key spelling and query bounds. */
export function responseScenarios(ctx: ScenarioContext): void {
  const { clock } = ctx
  let srv: TestServer
  let cache: Cache
  beforeAll(() => {
    srv = ctx.srv
    cache = ctx.cache
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
      status: 200,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      chunks: [big, big],
    }))
    const a = await get(r.url)
    expect(a.text).toBe(big + big)
    const b = await get(r.url)
    expect([b.cache, b.text.length]).toEqual(['MISS', 10_000])
  })

  test('a streamed response is stored when it fits', async () => {
    const r = srv.route({ ttl: '1m' }, () => ({
      status: 200,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
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
    const mine = srv.route({ targetedCacheControl: ['app-cache-control', 'cdn-cache-control'] }, (_req, n) =>
      text(`v${n}`, { 'app-cache-control': 'no-store', 'cdn-cache-control': 'max-age=60' }),
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
}
