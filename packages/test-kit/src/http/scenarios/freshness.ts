/**
 * HTTP scenarios: freshness from the handler, conditional requests, collapsing, stale-while-revalidate, stale-if-error and request directives.
 *
 * @module
 */
import { beforeAll, expect, test } from 'vitest'
import { waitFor } from '../../promises.js'
import { get, rawRequest, type TestServer } from '../harness.js'
import { type ScenarioContext, text } from './context.js'

/** Freshness from the handler, conditional requests, collapsing, stale-while-revalidate, stale-if-error and request directives. */
export function freshnessScenarios(ctx: ScenarioContext): void {
  const { clock } = ctx
  let srv: TestServer
  beforeAll(() => {
    srv = ctx.srv
  })

  test('the handler’s Cache-Control is kept; the route TTL applies only when it sets none', async () => {
    const own = srv.route({ ttl: '1h' }, (_req, n) => text(`v${n}`, { 'cache-control': 'public, max-age=2' }))
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
}
