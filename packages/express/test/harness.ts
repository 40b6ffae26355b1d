import { createServer } from 'node:http'
import { Readable } from 'node:stream'
import type { Cache } from '@tiercache/core'
import { type ExpressMiddleware, httpCache } from '@tiercache/express'
import { type HttpCacheOptions, purgeUrl } from '@tiercache/http'
import {
  type Harness,
  type Listening,
  Routes,
  type SpecReply,
  serve,
  type TestServer,
} from '@tiercache/test-kit/http'
import express, { type Express, type Response } from 'express'

/** Sends a test reply through Express. */
export async function respond(
  res: Response,
  reply: SpecReply,
  next: (error?: unknown) => void,
): Promise<void> {
  if (reply.throws !== undefined) throw Object.assign(new Error('handler failed'), { status: reply.throws })
  const status = reply.status ?? 200
  const body = reply.body ?? ''
  switch (reply.style) {
    case 'end':
      res.status(status)
      for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v)
      res.end(body)
      return
    case 'writeHead':
      res.writeHead(status, reply.headers ?? {})
      res.end(body)
      return
    case 'write':
      res.status(status)
      for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v)
      res.write(body)
      res.end()
      return
    case 'pipe':
      res.status(status)
      for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v)
      Readable.from([Buffer.from(body)]).pipe(res)
      return
    case 'next':
      next(Object.assign(new Error('origin down'), { status }))
      return
  }
  res.status(status)
  for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v)
  if (reply.chunks) {
    for (const c of reply.chunks) res.write(c)
    res.end()
    return
  }
  res.send(reply.body ?? '')
}

/** Listens on port 0 and returns the origin and a closer. */
export function listen(app: Express): Promise<Listening> {
  return serve(createServer(app))
}

export const expressHarness: Harness = {
  name: 'express',
  async start(cache: Cache, options = {}): Promise<TestServer> {
    const app = express()
    if (options.trustProxy) app.set('trust proxy', true)
    const routes = new Routes()
    const middleware = new Map<string, ExpressMiddleware>()
    app.all(
      '/r/:name',
      (req, res, next) => {
        const name = req.params.name as string
        let mw = middleware.get(name)
        if (mw === undefined) {
          mw = httpCache(cache, { clock: options.clock, ...routes.get(name)?.options } as HttpCacheOptions)
          middleware.set(name, mw)
        }
        mw(req, res, next)
      },
      async (req, res, next) => {
        const reply = await routes.answer(req.params.name as string, {
          method: req.method,
          url: req.originalUrl,
          headers: req.headers,
        })
        await respond(res, reply, next)
      },
    )
    const { origin, close } = await listen(app)
    return {
      origin,
      route: (o, handle) => routes.add(origin, o, handle),
      purge: (url) => purgeUrl(cache, url),
      close,
    }
  },
}
