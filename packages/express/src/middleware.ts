import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Cache } from '@tiercache/core'
import {
  captureNodeResponse,
  createHttpCache,
  type HttpCache,
  type HttpCacheOptions,
  type Plan,
  settleNodeResponse,
  writeNodeResponse,
} from '@tiercache/http'

/** The parts of an Express application the middleware uses: it is a request handler, maybe mounted. */
export interface ExpressApp {
  (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void
  /** The application this one is mounted in. */
  readonly parent?: unknown
}

/** The parts of an Express request the middleware reads (Express 4 and 5). */
export interface ExpressRequest extends IncomingMessage {
  /** Host name; honours the `trust proxy` setting (`X-Forwarded-Host`). */
  readonly hostname: string | undefined
  /** `http` or `https`; honours the `trust proxy` setting (`X-Forwarded-Proto`). */
  readonly protocol: string
  /** The URL before routers stripped their mount paths. */
  readonly originalUrl: string
  /** The application handling the request. */
  readonly app: ExpressApp
}

/** Express middleware, with the neutral cache it runs on. */
export interface ExpressMiddleware {
  (req: ExpressRequest, res: ServerResponse, next: (error?: unknown) => void): void
  /** The framework-neutral cache behind this middleware. */
  readonly http: HttpCache
  /** Removes every stored response of an absolute URL, in every tier and instance. */
  purge(url: string | URL): Promise<void>
}

function noop(): void {}

/** The outermost application: background revalidations are dispatched from the top. */
function topApp(app: ExpressApp): ExpressApp {
  let a = app
  while (typeof a.parent === 'function') a = a.parent as ExpressApp
  return a
}

function run(req: ExpressRequest, res: ServerResponse, next: (error?: unknown) => void, plan: Plan): void {
  if (plan.kind === 'serve') {
    writeNodeResponse(res, plan.reply)
    plan.revalidate?.(req, (r, s) => topApp(req.app)(r, s, noop))
    return
  }
  if (plan.kind === 'pass') {
    const { extra, settle } = plan
    for (let i = 0; i < extra.length; i += 2) res.setHeader(extra[i] as string, extra[i + 1] as string)
    if (settle !== undefined) settleNodeResponse(res, settle)
    next()
    return
  }
  captureNodeResponse(res, plan.capture)
  next()
}

/**
 * Express middleware that caches responses of the routes it is mounted on (GET and HEAD only),
 * following RFC 9111 and RFC 5861; see `@tiercache/http` for the rules and every option.
 * `X-Forwarded-*` headers count only as far as Express's `trust proxy` setting allows.
 *
 * @param cache - a tiercache instance (`createCache`)
 * @param options - e.g. `{ ttl: '5m', staleWhileRevalidate: '1m' }`
 * @throws InvalidOptionError (`E_INVALID_OPTION`) for bad options
 * @example
 * ```ts
 * import { httpCache } from '@tiercache/express'
 *
 * app.get('/products/:id', httpCache(cache, { ttl: '5m' }), (req, res) => {
 *   res.json(loadProduct(req.params.id))
 * })
 * ```
 */
export function httpCache(cache: Cache, options?: HttpCacheOptions): ExpressMiddleware {
  const http = createHttpCache(cache, options)
  const middleware = (req: ExpressRequest, res: ServerResponse, next: (error?: unknown) => void): void => {
    const plan = http.begin({
      method: req.method ?? 'GET',
      protocol: req.protocol,
      host: req.hostname ?? '',
      url: req.originalUrl ?? req.url ?? '/',
      headers: req.headers,
    })
    if (plan instanceof Promise) {
      plan.then(
        (p) => run(req, res, next, p),
        () => next(),
      )
    } else run(req, res, next, plan)
  }
  return Object.assign(middleware, { http, purge: (url: string | URL) => http.purge(url) })
}
