import type { IncomingMessage, ServerResponse } from 'node:http'
import { httpCache } from '@tiercache/express'
import express, { type NextFunction, type Request, type Response } from 'express'
import { Counter, Histogram, type Registry } from 'prom-client'
import { type DistributedCache, metricsHandler } from 'tiercache'
import type { KeywordDatabase } from './database.js'
import { BadRequestError, parseId, parsePatch } from './keyword.js'
import type { KeywordRepository } from './keyword-repository.js'
import { type KeywordService, keywordTag, SEARCH_TTL } from './keyword-service.js'

/** What the routes need. */
export interface AppDeps {
  readonly service: KeywordService
  readonly repo: KeywordRepository
  readonly database: KeywordDatabase
  /** The cache, or `undefined` with `CACHE=off`. */
  readonly cache: DistributedCache | undefined
  readonly registry: Registry
  readonly keywordsCount: number
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void
}

type Handler = (req: Request, res: Response) => Promise<void>

/** Passes rejections of an async handler to Express's error handler. */
const route =
  (handler: Handler) =>
  (req: Request, res: Response, next: NextFunction): void => {
    handler(req, res).catch(next)
  }

/** The Express application: routes, request metrics and errors. */
export function createApp(deps: AppDeps): express.Express {
  const { service, cache, registry } = deps
  const app = express()
  app.disable('x-powered-by')
  const startedAt = Date.now()
  let requests = 0

  const requestsTotal = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration, by method and route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  })
  app.use((req, res, next) => {
    const start = process.hrtime.bigint()
    requests++
    res.once('finish', () => {
      const path = (req.route as { path?: string } | undefined)?.path ?? 'unmatched'
      const method = req.method
      requestsTotal.inc({ method, route: path, status: String(res.statusCode) })
      duration.observe({ method, route: path }, Number(process.hrtime.bigint() - start) / 1e9)
    })
    next()
  })

  app.get('/', (_req, res) => {
    res.json({
      service: 'tiercache keyword search example',
      cache: cache === undefined ? 'off' : cache.describe(),
      routes: [
        'GET /keywords/:id',
        'GET /search?q=coffee',
        'PUT /keywords/:id  {"volume": 1234, "difficulty": 40, "related": ["..."]}',
        'GET /stats',
        'GET /metrics',
        'GET /health',
      ],
    })
  })

  app.get(
    '/keywords/:id',
    route(async (req, res) => {
      const keyword = await service.getKeyword(parseId(req.params.id))
      if (keyword === null) {
        res.status(404).json({ error: 'no such keyword' })
        return
      }
      res.json(keyword)
    }),
  )

  const searchCache = cache === undefined ? [] : [httpCache(cache, { ttl: SEARCH_TTL })]
  app.get(
    '/search',
    ...searchCache,
    route(async (req, res) => {
      const result = await service.search(req.query.q as string)
      // The HTTP response cache stores these as tags (and strips the header), so updating any
      // listed keyword drops this response too.
      if (cache !== undefined && result.results.length > 0) {
        res.setHeader('Cache-Tag', result.results.map((k) => keywordTag(k.id)).join(' '))
      }
      res.json(result)
    }),
  )

  app.put(
    '/keywords/:id',
    express.json({ limit: '16kb' }),
    route(async (req, res) => {
      const id = parseId(req.params.id)
      const updated = await service.updateKeyword(id, parsePatch(req.body))
      if (updated === null) {
        res.status(404).json({ error: 'no such keyword' })
        return
      }
      res.json(updated)
    }),
  )

  app.get(
    '/stats',
    route(async (_req, res) => {
      let cacheStats: object | null = null
      if (cache !== undefined) {
        const s = await cache.refreshStats()
        cacheStats = {
          composition: cache.describe(),
          hits: s.hits,
          misses: s.misses,
          hitRatio: s.hitRatio,
          loads: s.loads,
          loadErrors: s.loadErrors,
          collapsed: s.collapsed,
          staleServed: s.staleServed,
          errors: s.errors,
          breaker: cache.breaker?.state ?? null,
          tiers: s.tiers,
          l1_cache: s.l1_cache,
          l2_cache: s.l2_cache,
          warming: s.warming ?? null,
        }
      }
      res.json({
        cache: cache === undefined ? 'off' : 'on',
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
        keywords: deps.keywordsCount,
        requests,
        database: { ...deps.repo.counters },
        cacheStats,
      })
    }),
  )

  const serveMetrics = metricsHandler(registry)
  app.get('/metrics', (req: IncomingMessage, res: ServerResponse) => {
    void serveMetrics(req, res)
  })

  app.get(
    '/health',
    route(async (_req, res) => {
      let database = 'ok'
      try {
        deps.database.sqlite.prepare('SELECT 1').get()
      } catch (error) {
        database = `down: ${(error as Error).message}`
      }
      const cacheHealth = cache === undefined ? 'off' : await cache.health()
      const degraded = typeof cacheHealth === 'object' && cacheHealth.status !== 'ok'
      res.status(database === 'ok' ? 200 : 503).json({
        status: database !== 'ok' ? 'down' : degraded ? 'degraded' : 'ok',
        database,
        cache: cacheHealth,
      })
    }),
  )

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'not found' })
  })
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof BadRequestError) {
      res.status(400).json({ error: error.message })
      return
    }
    const status = (error as { status?: number; statusCode?: number }).status
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({ error: (error as Error).message })
      return
    }
    deps.log(
      'error',
      `request failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    )
    res.status(500).json({ error: 'internal error' })
  })
  return app
}
