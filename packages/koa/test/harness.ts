import { createServer } from 'node:http'
import { Readable } from 'node:stream'
import Router from '@koa/router'
import type { Cache } from '@tiercache/core'
import { type HttpCacheOptions, purgeUrl } from '@tiercache/http'
import { httpCache, type KoaMiddleware } from '@tiercache/koa'
import {
  type Harness,
  type Listening,
  Routes,
  type SpecReply,
  serve,
  type TestServer,
} from '@tiercache/test-kit/http'
import Koa from 'koa'

/** Sends a test reply through Koa: strings, Buffers, or a stream for chunked replies. */
export function respond(ctx: Koa.Context, reply: SpecReply): void {
  if (reply.throws !== undefined) ctx.throw(reply.throws, 'handler failed')
  if (reply.style === 'next') ctx.throw(reply.status ?? 500, 'origin down')
  if (reply.style === 'pipe') {
    ctx.status = reply.status ?? 200
    for (const [k, v] of Object.entries(reply.headers ?? {})) ctx.set(k, v)
    ctx.body = Readable.from([Buffer.from(reply.body ?? '')])
    return
  }
  ctx.status = reply.status ?? 200
  for (const [k, v] of Object.entries(reply.headers ?? {})) ctx.set(k, v)
  if (reply.chunks) ctx.body = Readable.from(reply.chunks.map((c) => Buffer.from(c)))
  else ctx.body = reply.body ?? ''
}

/** Listens on port 0 and returns the origin and a closer. */
export function listen(app: Koa): Promise<Listening> {
  return serve(createServer(app.callback()))
}

export const koaHarness: Harness = {
  name: 'koa',
  async start(cache: Cache, options = {}): Promise<TestServer> {
    const app = new Koa()
    app.silent = true
    if (options.trustProxy) app.proxy = true
    const router = new Router()
    const routes = new Routes()
    const middleware = new Map<string, KoaMiddleware>()
    router.all(
      '/r/:name',
      (ctx, next) => {
        const name = ctx.params.name as string
        let mw = middleware.get(name)
        if (mw === undefined) {
          mw = httpCache(cache, { clock: options.clock, ...routes.get(name)?.options } as HttpCacheOptions)
          middleware.set(name, mw)
        }
        return mw(ctx, next)
      },
      async (ctx) => {
        const reply = await routes.answer(ctx.params.name as string, {
          method: ctx.method,
          url: ctx.originalUrl,
          headers: ctx.headers,
        })
        respond(ctx, reply)
      },
    )
    app.use(router.routes())
    const { origin, close } = await listen(app)
    return {
      origin,
      route: (o, handle) => routes.add(origin, o, handle),
      purge: (url) => purgeUrl(cache, url),
      close,
    }
  },
}
