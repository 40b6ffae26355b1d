import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Cache } from '@tiercache/core'
import {
  captureBody,
  createHttpCache,
  type HeadDecision,
  type HttpCache,
  type HttpCacheOptions,
  type Plan,
  type Reply,
} from '@tiercache/http'

/** The parts of a Koa application the middleware uses. */
export interface KoaApp {
  callback(): (req: IncomingMessage, res: ServerResponse) => unknown
}

/** The parts of a Koa context the middleware uses (Koa 2 and 3). */
export interface KoaContext {
  readonly method: string
  /** `http` or `https`; honours `app.proxy` (`X-Forwarded-Proto`). */
  readonly protocol: string
  /** Host name; honours `app.proxy` (`X-Forwarded-Host`). */
  readonly hostname: string
  /** The URL before routers rewrote it. */
  readonly originalUrl: string
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly response: { readonly headers: OutgoingHttpHeaders }
  readonly app: KoaApp
  status: number
  body: unknown
  respond?: boolean | undefined
  set(field: string, value: string | string[]): void
  remove(field: string): void
}

/** Koa middleware, with the neutral cache it runs on. */
export interface KoaMiddleware {
  (ctx: KoaContext, next: () => Promise<unknown>): Promise<void>
  /** The framework-neutral cache behind this middleware. */
  readonly http: HttpCache
  /** Removes every stored response of an absolute URL, in every tier and instance. */
  purge(url: string | URL): Promise<void>
}

const callbacks = new WeakMap<KoaApp, (req: IncomingMessage, res: ServerResponse) => unknown>()

function dispatcher(app: KoaApp): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    let cb = callbacks.get(app)
    if (cb === undefined) {
      cb = app.callback()
      callbacks.set(app, cb)
    }
    void cb(req, res)
  }
}

const EMPTY = Buffer.alloc(0)

function send(ctx: KoaContext, reply: Reply): void {
  const res = ctx.res
  ctx.status = reply.status
  // Stored headers first: with Content-Type already set, Koa's body setter does not guess one.
  for (const [name, value] of reply.headers) res.setHeader(name, value)
  // Koa turns a null body into 204 unless the status has no body anyway.
  const body = reply.body ?? (reply.status === 204 || reply.status === 304 ? null : EMPTY)
  ctx.body = body === null || Buffer.isBuffer(body) ? body : Buffer.from(body)
  const x = reply.extra
  for (let i = 0; i < x.length; i += 2) {
    const name = x[i] as string
    // Koa's body setter already set Content-Length from the bytes (HEAD replies keep ours)
    if (name === 'content-length' && reply.body !== null) continue
    res.setHeader(name, x[i + 1] as string)
  }
}

/** Goes on with a plan: a hit is answered synchronously, the rest runs the handler. */
function follow(ctx: KoaContext, next: () => Promise<unknown>, plan: Plan): Promise<void> {
  if (plan.kind === 'serve') {
    send(ctx, plan.reply)
    plan.revalidate?.(ctx.req, dispatcher(ctx.app))
    return DONE
  }
  return run(ctx, next, plan)
}

const DONE: Promise<void> = Promise.resolve()

async function run(
  ctx: KoaContext,
  next: () => Promise<unknown>,
  plan: Exclude<Plan, { kind: 'serve' }>,
): Promise<void> {
  if (plan.kind === 'pass') {
    for (let i = 0; i < plan.extra.length; i += 2)
      ctx.set(plan.extra[i] as string, plan.extra[i + 1] as string)
    await next()
    plan.settle?.(ctx.status, ctx.response.headers)
    return
  }
  const capture = plan.capture
  try {
    await next()
  } catch (error) {
    const stale = capture.fail(error)
    if (stale === undefined) throw error
    for (const name of ctx.res.getHeaderNames()) ctx.res.removeHeader(name)
    return send(ctx, stale)
  }
  if (ctx.respond === false || ctx.res.headersSent) {
    capture.abandon() // the handler wrote to ctx.res itself
    return
  }
  let d: HeadDecision
  try {
    d = capture.head(ctx.status, ctx.response.headers)
  } catch {
    capture.abandon()
    return
  }
  if (d.kind === 'replace') {
    for (const name of ctx.res.getHeaderNames()) ctx.res.removeHeader(name)
    send(ctx, d.reply)
    if (capture.background) ctx.respond = false
    return
  }
  for (const name of d.remove) ctx.remove(name)
  for (let i = 0; i < d.extra.length; i += 2) ctx.set(d.extra[i] as string, d.extra[i + 1] as string)
  if (ctx.method === 'HEAD') capture.end()
  else {
    const body = captureBody(capture, ctx.body, !d.notModified && !capture.background)
    if (body !== ctx.body) {
      // Koa drops Content-Length when a stream body is replaced; the tee sends the same bytes.
      const length = ctx.response.headers['content-length']
      ctx.body = body
      if (length !== undefined && typeof (body as { pipe?: unknown }).pipe === 'function') {
        ctx.set('Content-Length', String(length))
      }
    }
  }
  if (d.notModified) ctx.status = 304
  if (capture.background) ctx.respond = false
}

/**
 * Koa middleware that caches responses of the routes it is mounted on (GET and HEAD only),
 * following RFC 9111 and RFC 5861; see `@tiercache/http` for the rules and every option. Any
 * body kind is stored: string, Buffer, JSON object, and streams (teed as they are sent, stored
 * when they fit `maxEntryBytes`). `X-Forwarded-*` headers count only when `app.proxy` is on.
 *
 * @param cache - a tiercache instance (`createCache`)
 * @param options - e.g. `{ ttl: '5m', staleWhileRevalidate: '1m' }`
 * @throws InvalidOptionError (`E_INVALID_OPTION`) for bad options
 * @example
 * ```ts
 * import { httpCache } from '@tiercache/koa'
 *
 * router.get('/products/:id', httpCache(cache, { ttl: '5m' }), async (ctx) => {
 *   ctx.body = await loadProduct(ctx.params.id)
 * })
 * ```
 */
export function httpCache(cache: Cache, options?: HttpCacheOptions): KoaMiddleware {
  const http = createHttpCache(cache, options)
  // Not an async function: a hit answers synchronously and returns one shared resolved promise.
  const middleware = (ctx: KoaContext, next: () => Promise<unknown>): Promise<void> => {
    const begun = http.begin({
      method: ctx.method,
      protocol: ctx.protocol,
      host: ctx.hostname,
      url: ctx.originalUrl,
      headers: ctx.req.headers,
    })
    if (begun instanceof Promise) return begun.then((plan) => follow(ctx, next, plan))
    return follow(ctx, next, begun)
  }
  return Object.assign(middleware, { http, purge: (url: string | URL) => http.purge(url) })
}
