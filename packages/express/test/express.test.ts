import type { Cache } from '@tiercache/core'
import { httpCache } from '@tiercache/express'
import { purgeUrl } from '@tiercache/http'
import { get, makeCache, rawRequest, SkewClock, type TierKind } from '@tiercache/test-kit/http'
import compression from 'compression'
import express from 'express'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { listen } from './harness.js'

const big = JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i}` })) })

describe.each<TierKind>(['memory', 'memory+redis'])('express specifics over %s', (kind) => {
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
    const app = express()
    const mw = () => httpCache(cache, { ttl: '1m', clock })
    const send = (name: string) => (_req: express.Request, res: express.Response) => {
      count(name)
      res.type('application/json').send(big)
    }
    // compression mounted before the cache: the cache stores identity bytes, compression runs per response
    const before = express.Router()
    before.use(compression({ threshold: 0 }))
    before.get('/before', mw(), send('before'))
    app.use(before)
    // compression mounted after the cache: the cache stores compressed variants (Vary: Accept-Encoding)
    app.get('/after', mw(), compression({ threshold: 0 }), send('after'))
    // a router mounted under a path: the key uses the original URL
    const api = express.Router()
    api.get('/item', mw(), send('item'))
    app.use('/api', api)
    // trust proxy on a sub-application
    const proxied = express()
    proxied.set('trust proxy', true)
    proxied.get('/p', mw(), (req, res) => {
      count('p')
      res.send(`${req.protocol}://${req.hostname}`)
    })
    app.use('/proxied', proxied)
    ;({ origin, close } = await listen(app))
  })
  afterAll(async () => {
    await close?.()
    await cache?.close()
  })

  test('compression mounted before the middleware compresses hits too', async () => {
    const a = await get(`${origin}/before`, { 'accept-encoding': 'gzip' })
    const b = await get(`${origin}/before`, { 'accept-encoding': 'gzip' })
    expect([a.cache, b.cache]).toEqual(['MISS', 'HIT'])
    expect(b.res.headers.get('content-encoding')).toBe('gzip')
    expect(b.text).toBe(big)
    const plain = await rawRequest(`${origin}/before`)
    expect([plain.headers['x-cache'], plain.headers['content-encoding'], plain.body.toString()]).toEqual([
      'HIT',
      undefined,
      big,
    ])
    expect(calls.before).toBe(1)
  })

  test('compression mounted after the middleware: compressed variants per Accept-Encoding', async () => {
    await get(`${origin}/after`, { 'accept-encoding': 'gzip' })
    const b = await get(`${origin}/after`, { 'accept-encoding': 'gzip' })
    expect([b.cache, b.res.headers.get('content-encoding'), b.text]).toEqual(['HIT', 'gzip', big])
    const identity = await rawRequest(`${origin}/after`, { headers: { 'accept-encoding': 'identity' } })
    expect([identity.headers['x-cache'], identity.headers['content-encoding']]).toEqual(['MISS', undefined])
    expect(identity.body.toString()).toBe(big)
    const again = await rawRequest(`${origin}/after`, { headers: { 'accept-encoding': 'identity' } })
    expect(again.headers['x-cache']).toBe('HIT')
    expect(calls.after).toBe(2)
  })

  test('a mounted router is keyed and purged by its full URL', async () => {
    await get(`${origin}/api/item`)
    expect((await get(`${origin}/api/item`)).cache).toBe('HIT')
    await purgeUrl(cache, 'http://127.0.0.1/api/item')
    expect((await get(`${origin}/api/item`)).cache).toBe('MISS')
  })

  test('X-Forwarded-Host and -Proto count when trust proxy is on', async () => {
    const url = `${origin}/proxied/p`
    const a = await rawRequest(url, {
      headers: { 'x-forwarded-host': 'a.example', 'x-forwarded-proto': 'https' },
    })
    const b = await rawRequest(url, {
      headers: { 'x-forwarded-host': 'b.example', 'x-forwarded-proto': 'https' },
    })
    const c = await rawRequest(url, {
      headers: { 'x-forwarded-host': 'a.example', 'x-forwarded-proto': 'http' },
    })
    const d = await rawRequest(url, {
      headers: { 'x-forwarded-host': 'a.example', 'x-forwarded-proto': 'https' },
    })
    expect([a, b, c, d].map((r) => r.headers['x-cache'])).toEqual(['MISS', 'MISS', 'MISS', 'HIT'])
    expect(d.body.toString()).toBe('https://a.example')
  })
})
