/**
 * The caches under test: an Express and a Koa application, each with the tiercache middleware
 * mounted in front of a small reverse-proxy handler that forwards every request to the suite's
 * origin. The handler streams the origin's response through (piped, as proxies do), forwards
 * interim responses, and reports a failed or dropped origin connection as a 502 error through
 * the framework (`next(err)` on Express, a thrown error on Koa), where stale-if-error applies.
 */
import { once } from 'node:events'
import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Cache } from '@tiercache/core'
import { createCache } from '@tiercache/core'
import { httpCache as expressCache } from '@tiercache/express'
import type { HttpCacheOptions } from '@tiercache/http'
import { httpCache as koaCache } from '@tiercache/koa'
import { memoryStore } from '@tiercache/store-memory'
import express from 'express'
import Koa from 'koa'

/** Hop-by-hop fields (RFC 9110 §7.6.1): never forwarded by a proxy. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

function connectionNamed(value: string | string[] | undefined): Set<string> {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '')
  return new Set(
    text
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s.length > 0),
  )
}

/** An origin failure, as a framework error with a status. */
export class BadGateway extends Error {
  readonly status = 502
  readonly expose = true
}

/**
 * Forwards a request to the origin and resolves with its final response. Interim responses go to
 * `onInformation`. The request's header object is read as the cache left it (the cache adds or
 * removes validators there).
 */
export function forward(
  req: IncomingMessage,
  origin: URL,
  onInformation: (status: number, headers: IncomingHttpHeaders) => void,
): Promise<IncomingMessage> {
  const named = connectionNamed(req.headers.connection)
  const headers: OutgoingHttpHeaders = {}
  for (const name in req.headers) {
    if (HOP_BY_HOP.has(name) || named.has(name)) continue
    const v = req.headers[name]
    if (v !== undefined) headers[name] = v
  }
  headers.host = origin.host
  return new Promise((resolve, reject) => {
    const up = httpRequest(
      {
        host: origin.hostname,
        port: origin.port,
        method: req.method,
        path: req.url,
        headers,
      },
      resolve,
    )
    up.on('information', (info) => onInformation(info.statusCode, info.headers))
    up.once('error', (error) => reject(new BadGateway(`origin: ${error.message}`)))
    req.pipe(up)
  })
}

/** The origin response's fields as a flat name/value list, hop-by-hop fields removed. */
export function responseFields(up: IncomingMessage): string[] {
  const named = connectionNamed(up.headers.connection)
  const out: string[] = []
  const raw = up.rawHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase()
    if (HOP_BY_HOP.has(name) || named.has(name)) continue
    out.push(raw[i] as string, raw[i + 1] as string)
  }
  return out
}

function interim(res: ServerResponse): (status: number, headers: IncomingHttpHeaders) => void {
  return (status, headers) => {
    if (res.headersSent || res.writableEnded) return
    if (status === 102) res.writeProcessing()
    else if (status === 103) {
      const hints: Record<string, string | string[]> = {}
      for (const name in headers) {
        const v = headers[name]
        if (v !== undefined && !HOP_BY_HOP.has(name)) hints[name] = v
      }
      res.writeEarlyHints(hints)
    }
  }
}

/** A running proxy: its URL, and errors the framework reported. */
export interface CacheUnderTest {
  readonly name: string
  readonly url: string
  readonly cache: Cache
  /** Errors seen by the application's error handler other than origin failures. */
  readonly errors: unknown[]
  close(): Promise<void>
}

function closer(server: Server, cache: Cache): () => Promise<void> {
  return async () => {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
    await cache.close()
  }
}

function freshCache(): Cache {
  return createCache({ namespace: 'proxy', tiers: [memoryStore({ maxBytes: 256 * 2 ** 20 })] })
}

/** Express: `app.use(httpCache(...))`, then the proxy handler, then an error handler. */
export async function expressProxy(origin: URL, options: HttpCacheOptions = {}): Promise<CacheUnderTest> {
  const cache = freshCache()
  const errors: unknown[] = []
  const app = express()
  app.disable('x-powered-by')
  app.disable('etag')
  app.use(expressCache(cache, options))
  app.use((req, res, next) => {
    forward(req, origin, interim(res)).then((up) => {
      res.writeHead(up.statusCode ?? 502, up.statusMessage ?? '', responseFields(up))
      up.pipe(res)
    }, next)
  })
  app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    if (!(error instanceof BadGateway)) errors.push(error)
    if (res.headersSent) {
      res.destroy()
      return
    }
    res.status(error instanceof BadGateway ? 502 : 500).end('bad gateway')
  })
  const server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { name: 'express', url, cache, errors, close: closer(server, cache) }
}

/** Koa: `app.use(httpCache(...))`, then the proxy handler; origin failures are thrown as 502. */
export async function koaProxy(origin: URL, options: HttpCacheOptions = {}): Promise<CacheUnderTest> {
  const cache = freshCache()
  const errors: unknown[] = []
  const app = new Koa()
  app.silent = true
  app.on('error', (error: unknown) => {
    if (!(error instanceof BadGateway)) errors.push(error)
  })
  app.use(koaCache(cache, options))
  app.use(async (ctx) => {
    const up = await forward(ctx.req, origin, interim(ctx.res))
    ctx.status = up.statusCode ?? 502
    if (up.statusMessage) ctx.message = up.statusMessage
    const fields = responseFields(up)
    for (let i = 0; i < fields.length; i += 2) ctx.append(fields[i] as string, fields[i + 1] as string)
    // Bodiless statuses: Koa drops the body (and its headers) itself when it responds.
    if (ctx.status === 204 || ctx.status === 304) up.resume()
    else ctx.body = up
  })
  const server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { name: 'koa', url, cache, errors, close: closer(server, cache) }
}

/** The cache under test for a framework name. */
export function startProxy(
  framework: 'express' | 'koa',
  origin: URL,
  options: HttpCacheOptions = {},
): Promise<CacheUnderTest> {
  return framework === 'express' ? expressProxy(origin, options) : koaProxy(origin, options)
}
