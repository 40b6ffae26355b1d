import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import type { Cache } from '@tiercache/core'
import {
  captureNodeResponse,
  createHttpCache,
  type HttpCache,
  type HttpCacheOptions,
  purgeUrl,
  settleNodeResponse,
  writeNodeResponse,
} from '@tiercache/http'
import { type Harness, Routes, serve, type TestServer } from '@tiercache/test-kit/http'

/** The neutral cache on a bare node:http server: the smallest possible adapter. */
export const nodeHarness: Harness = {
  name: 'node:http',
  async start(cache: Cache, options = {}): Promise<TestServer> {
    const routes = new Routes()
    const caches = new Map<string, HttpCache>()
    const handle = async (name: string, req: IncomingMessage, res: ServerResponse): Promise<void> => {
      const reply = await routes.answer(name, {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
      })
      if (reply.throws !== undefined) {
        res.statusCode = reply.throws
        res.end('failed')
        return
      }
      const status = reply.status ?? 200
      const body = reply.body ?? ''
      switch (reply.style) {
        case 'end':
        case 'next':
          res.statusCode = status
          for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v)
          res.end(body)
          return
        case 'writeHead':
          res.writeHead(status, reply.headers ?? {})
          res.end(body)
          return
        case 'write':
          res.statusCode = status
          for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v)
          res.write(body)
          res.end()
          return
        case 'pipe':
          res.statusCode = status
          for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v)
          Readable.from([Buffer.from(body)]).pipe(res)
          return
      }
      res.statusCode = reply.status ?? 200
      for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v)
      if (reply.chunks) for (const c of reply.chunks) res.write(c)
      else if (reply.body !== undefined) {
        res.setHeader('content-length', Buffer.byteLength(reply.body))
        res.write(reply.body)
      }
      res.end()
    }
    const server = createServer((req, res) => {
      const name = /^\/r\/(\w+)/.exec(req.url ?? '')?.[1] ?? ''
      let http = caches.get(name)
      if (http === undefined) {
        http = createHttpCache(cache, {
          clock: options.clock,
          ...routes.get(name)?.options,
        } as HttpCacheOptions)
        caches.set(name, http)
      }
      const host = (req.headers.host ?? '').replace(/:\d+$/, '')
      void Promise.resolve(
        http.begin({
          method: req.method ?? 'GET',
          protocol: 'http',
          host,
          url: req.url ?? '/',
          headers: req.headers,
        }),
      ).then((plan) => {
        if (plan.kind === 'serve') {
          writeNodeResponse(res, plan.reply)
          plan.revalidate?.(req, (r, s) => server.emit('request', r, s))
          return
        }
        if (plan.kind === 'pass') {
          for (let i = 0; i < plan.extra.length; i += 2)
            res.setHeader(plan.extra[i] as string, plan.extra[i + 1] as string)
          const settle = plan.settle
          if (settle) settleNodeResponse(res, settle)
        } else captureNodeResponse(res, plan.capture)
        return handle(name, req, res)
      })
    })
    const { origin, close } = await serve(server)
    return {
      origin,
      route: (o, h) => routes.add(origin, o, h),
      purge: (url) => purgeUrl(cache, url),
      close,
    }
  },
}
