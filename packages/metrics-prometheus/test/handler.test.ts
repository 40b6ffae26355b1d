import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createCache } from '@tiercache/core'
import { metricsHandler, prometheusMetrics } from '@tiercache/metrics-prometheus'
import { memoryStore } from '@tiercache/store-memory'
import express from 'express'
import Koa from 'koa'
import { type OpenMetricsContentType, Registry } from 'prom-client'
import { afterEach, describe, expect, test } from 'vitest'
import { one, parseMetrics } from './helpers.js'

const servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))))
})

async function listen(server: Server): Promise<string> {
  servers.push(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

async function withCache<T>(run: (registry: Registry) => Promise<T>): Promise<T> {
  const registry = new Registry()
  const cache = createCache({
    namespace: 'web',
    tiers: [memoryStore()],
    plugins: [prometheusMetrics({ registry })],
  })
  await cache.set('a', 1)
  await cache.get('a')
  try {
    return await run(registry)
  } finally {
    await cache.close()
  }
}

async function expectMetrics(url: string): Promise<void> {
  const res = await fetch(url)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toBe(Registry.PROMETHEUS_CONTENT_TYPE)
  expect(one(parseMetrics(await res.text()), 'cache_hits_total', { namespace: 'web' })).toBe(1)
}

describe('metricsHandler', () => {
  test('as a bare http.Server handler', async () => {
    await withCache(async (registry) => {
      const base = await listen(createServer(metricsHandler(registry)))
      await expectMetrics(`${base}/metrics`)
    })
  })

  test('mounted in a bare http.Server next to other routes', async () => {
    await withCache(async (registry) => {
      const serve = metricsHandler(registry)
      const base = await listen(
        createServer((req, res) => {
          if (req.url === '/metrics') return void serve(req, res)
          res.statusCode = 404
          res.end()
        }),
      )
      await expectMetrics(`${base}/metrics`)
      expect((await fetch(`${base}/other`)).status).toBe(404)
    })
  })

  test('as an Express route', async () => {
    await withCache(async (registry) => {
      const app = express()
      app.get('/metrics', metricsHandler(registry))
      await expectMetrics(`${await listen(createServer(app))}/metrics`)
    })
  })

  test('in Koa, with ctx.respond = false', async () => {
    await withCache(async (registry) => {
      const app = new Koa()
      const serve = metricsHandler(registry)
      app.use(async (ctx, next) => {
        if (ctx.path !== '/metrics') return next()
        ctx.respond = false
        await serve(ctx.req, ctx.res)
      })
      await expectMetrics(`${await listen(createServer(app.callback()))}/metrics`)
    })
  })

  test('HEAD gets the headers only; other methods get 405', async () => {
    await withCache(async (registry) => {
      const base = await listen(createServer(metricsHandler(registry)))
      const head = await fetch(base, { method: 'HEAD' })
      expect(head.status).toBe(200)
      expect(Number(head.headers.get('content-length'))).toBeGreaterThan(0)
      expect(await head.text()).toBe('')
      const post = await fetch(base, { method: 'POST' })
      expect(post.status).toBe(405)
      expect(post.headers.get('allow')).toBe('GET, HEAD')
    })
  })

  test('a failing collection answers 500 with the reason, and the handler does not reject', async () => {
    const registry = {
      contentType: 'text/plain',
      metrics: () => Promise.reject(new Error('collector broke')),
    }
    const base = await listen(createServer(metricsHandler(registry as never)))
    const res = await fetch(base)
    expect(res.status).toBe(500)
    expect(await res.text()).toContain('collector broke')
  })

  test('an OpenMetrics registry is served with its content type', async () => {
    // prom-client's types omit the constructor's content type argument; setContentType is typed.
    const openMetrics = new Registry<OpenMetricsContentType>()
    openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE)
    // RegistryLike is declared over Registry<PrometheusContentType>, so its types refuse an
    // OpenMetrics registry that the plugin and the handler serve correctly.
    const registry = openMetrics as unknown as Registry
    const cache = createCache({
      namespace: 'web',
      tiers: [memoryStore()],
      plugins: [prometheusMetrics({ registry })],
    })
    const res = await fetch(await listen(createServer(metricsHandler(registry))))
    expect(res.headers.get('content-type')).toBe(Registry.OPENMETRICS_CONTENT_TYPE)
    const text = await res.text()
    expect(text).toContain('# TYPE cache_hits counter')
    expect(text.trimEnd().endsWith('# EOF')).toBe(true)
    await cache.close()
  })
})
