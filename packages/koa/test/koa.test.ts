import { Readable } from 'node:stream'
import Router from '@koa/router'
import type { Cache } from '@tiercache/core'
import { httpCache } from '@tiercache/koa'
import { get, makeCache, rawRequest, SkewClock, type TierKind } from '@tiercache/test-kit/http'
import Koa from 'koa'
import compress from 'koa-compress'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { listen } from './harness.js'

const big = JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i}` })) })
const binary = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256))

describe.each<TierKind>(['memory', 'memory+redis'])('koa specifics over %s', (kind) => {
  const clock = new SkewClock()
  let cache: Cache
  let close: () => Promise<void>
  let origin: string
  const calls: Record<string, number> = {}
  const count = (name: string) => {
    calls[name] = (calls[name] ?? 0) + 1
  }

  beforeAll(async () => {
    cache = makeCache(kind, clock).cache
    const mw = () => httpCache(cache, { ttl: '1m', clock })
    const router = new Router()
    router.get('/string', mw(), (ctx) => {
      count('string')
      ctx.body = '<p>hello</p>'
    })
    router.get('/buffer', mw(), (ctx) => {
      count('buffer')
      ctx.body = binary
    })
    router.get('/object', mw(), (ctx) => {
      count('object')
      ctx.body = { hello: 'world', n: calls.object }
    })
    router.get('/stream', mw(), (ctx) => {
      count('stream')
      ctx.type = 'text/plain'
      ctx.body = Readable.from(['a', 'b', 'c'].map((s) => Buffer.from(s.repeat(1000))))
    })
    router.get('/web-stream', mw(), (ctx) => {
      count('web-stream')
      ctx.type = 'text/plain'
      ctx.body = new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode('web'))
          c.close()
        },
      })
    })
    router.get('/after', mw(), compress({ threshold: 0 }), (ctx) => {
      count('after')
      ctx.type = 'json'
      ctx.body = big
    })
    router.get('/proxied', mw(), (ctx) => {
      count('proxied')
      ctx.body = `${ctx.protocol}://${ctx.hostname}`
    })
    const before = new Router()
    before.get('/before', mw(), (ctx) => {
      count('before')
      ctx.type = 'json'
      ctx.body = big
    })
    const outer = new Koa()
    outer.silent = true
    outer.use(compress({ threshold: 0 }))
    outer.use(before.routes())
    outer.use(router.routes())
    ;({ origin, close } = await listen(outer))
  })
  afterAll(async () => {
    await close?.()
    await cache?.close()
  })

  test.each([
    ['string', 'text/html; charset=utf-8'],
    ['buffer', 'application/octet-stream'],
    ['object', 'application/json; charset=utf-8'],
    ['stream', 'text/plain; charset=utf-8'],
  ])('a %s body is stored and replayed byte for byte', async (name, type) => {
    const url = `${origin}/${name}`
    const a = await fetch(url, { headers: { 'accept-encoding': 'identity' } })
    const bodyA = Buffer.from(await a.arrayBuffer())
    const b = await fetch(url, { headers: { 'accept-encoding': 'identity' } })
    const bodyB = Buffer.from(await b.arrayBuffer())
    expect([a.headers.get('x-cache'), b.headers.get('x-cache')]).toEqual(['MISS', 'HIT'])
    expect(b.headers.get('content-type')).toBe(type)
    expect(bodyB.equals(bodyA)).toBe(true)
    if (name === 'buffer') expect(bodyB.equals(binary)).toBe(true)
    if (name === 'stream') expect(bodyB.length).toBe(3000)
    expect(calls[name]).toBe(1)
  })

  test('a web ReadableStream body is not stored', async () => {
    await get(`${origin}/web-stream`)
    expect((await get(`${origin}/web-stream`)).cache).toBe('MISS')
    expect(calls['web-stream']).toBe(2)
  })

  test('koa-compress mounted before the middleware compresses hits too', async () => {
    await get(`${origin}/before`, { 'accept-encoding': 'gzip' })
    const b = await get(`${origin}/before`, { 'accept-encoding': 'gzip' })
    expect([b.cache, b.res.headers.get('content-encoding'), b.text]).toEqual(['HIT', 'gzip', big])
    expect(b.res.headers.get('vary')).toBe('Accept-Encoding')
    // koa-compress sets Vary: Accept-Encoding before the handler runs, so identity is its own variant
    const plain = () => rawRequest(`${origin}/before`, { headers: { 'accept-encoding': 'identity' } })
    expect((await plain()).headers['x-cache']).toBe('MISS')
    const again = await plain()
    expect([again.headers['x-cache'], again.headers['content-encoding'], again.body.toString()]).toEqual([
      'HIT',
      undefined,
      big,
    ])
    expect(calls.before).toBe(2)
  })

  test('koa-compress mounted after the middleware: compressed variants per Accept-Encoding', async () => {
    await get(`${origin}/after`, { 'accept-encoding': 'gzip' })
    const b = await get(`${origin}/after`, { 'accept-encoding': 'gzip' })
    expect([b.cache, b.res.headers.get('content-encoding'), b.text]).toEqual(['HIT', 'gzip', big])
    const identity = await rawRequest(`${origin}/after`, { headers: { 'accept-encoding': 'identity' } })
    expect([
      identity.headers['x-cache'],
      identity.headers['content-encoding'],
      identity.body.toString(),
    ]).toEqual(['MISS', undefined, big])
    expect(calls.after).toBe(2)
  })

  test('X-Forwarded-Host is ignored unless app.proxy is on', async () => {
    const url = `${origin}/proxied`
    const a = await rawRequest(url, { headers: { 'x-forwarded-host': 'a.example' } })
    const b = await rawRequest(url, { headers: { 'x-forwarded-host': 'b.example' } })
    expect([a.headers['x-cache'], b.headers['x-cache']]).toEqual(['MISS', 'HIT'])
    expect(b.body.toString()).toBe('http://127.0.0.1')
  })
})

describe('koa with app.proxy', () => {
  const clock = new SkewClock()
  let cache: Cache
  let close: () => Promise<void>
  let origin: string
  beforeAll(async () => {
    cache = makeCache('memory', clock).cache
    const app = new Koa()
    app.proxy = true
    const router = new Router()
    router.get('/p', httpCache(cache, { ttl: '1m', clock }), (ctx) => {
      ctx.body = `${ctx.protocol}://${ctx.hostname}`
    })
    app.use(router.routes())
    ;({ origin, close } = await listen(app))
  })
  afterAll(async () => {
    await close?.()
    await cache?.close()
  })

  test('X-Forwarded-Host and -Proto count', async () => {
    const url = `${origin}/p`
    const h = (host: string, proto: string) => ({ 'x-forwarded-host': host, 'x-forwarded-proto': proto })
    const rs = []
    for (const [host, proto] of [
      ['a.example', 'https'],
      ['b.example', 'https'],
      ['a.example', 'http'],
      ['a.example', 'https'],
    ] as const) {
      rs.push(await rawRequest(url, { headers: h(host, proto) }))
    }
    expect(rs.map((r) => r.headers['x-cache'])).toEqual(['MISS', 'MISS', 'MISS', 'HIT'])
    expect(rs[3]?.body.toString()).toBe('https://a.example')
  })
})
