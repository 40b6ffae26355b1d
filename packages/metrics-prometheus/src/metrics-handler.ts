import type { RegistryLike } from './options.js'

/** The request fields {@link metricsHandler} reads (a Node `IncomingMessage` satisfies it). */
export interface MetricsRequest {
  /** HTTP method; `GET` and `HEAD` are served. */
  readonly method?: string | undefined
}

/** The response methods {@link metricsHandler} uses (a Node `ServerResponse` satisfies it). */
export interface MetricsResponse {
  /** Status code to send. */
  statusCode: number
  /** Sets a header. */
  setHeader(name: string, value: string | number): unknown
  /** Sends the body and ends the response. */
  end(body?: string): unknown
}

/**
 * A Node `(req, res)` handler serving a registry in the Prometheus text format (or OpenMetrics,
 * when the registry was made with that content type). Mount it on `/metrics`: as an Express
 * route, in Koa after `ctx.respond = false`, or as a bare `http.createServer` handler. `GET` and
 * `HEAD` get 200, other methods 405; a failing collection gets 500 with its message. The
 * returned promise never rejects.
 *
 * @param registry - the registry to serve, e.g. `prometheusMetrics().registry`
 * @returns the handler; it resolves once the response is sent
 * @example
 * ```ts
 * const metrics = prometheusMetrics()
 * const cache = createCache({ tiers: [memoryStore()], plugins: [metrics] })
 * http.createServer(metricsHandler(metrics.registry)).listen(9464)
 * ```
 */
export function metricsHandler(
  registry: Pick<RegistryLike, 'metrics' | 'contentType'>,
): (req: MetricsRequest, res: MetricsResponse) => Promise<void> {
  return async (req, res) => {
    const method = req.method ?? 'GET'
    if (method !== 'GET' && method !== 'HEAD') {
      res.statusCode = 405
      res.setHeader('Allow', 'GET, HEAD')
      res.setHeader('Content-Type', 'text/plain; charset=utf-8')
      res.end('Method Not Allowed\n')
      return
    }
    let body: string
    try {
      body = await registry.metrics()
    } catch (error) {
      res.statusCode = 500
      res.setHeader('Content-Type', 'text/plain; charset=utf-8')
      res.end(`metrics collection failed: ${error instanceof Error ? error.message : String(error)}\n`)
      return
    }
    res.statusCode = 200
    res.setHeader('Content-Type', registry.contentType)
    res.setHeader('Content-Length', Buffer.byteLength(body))
    res.setHeader('Cache-Control', 'no-store')
    res.end(method === 'HEAD' ? undefined : body)
  }
}
