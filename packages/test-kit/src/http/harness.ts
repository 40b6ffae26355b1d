/**
 * The harness the HTTP scenario suite runs on: caches over the memory tier or memory + Redis
 * (unique prefixes), a skewable clock, and a server abstraction whose routes are registered at
 * run time, so one server per suite serves every scenario. An adapter implements {@link Harness}.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Cache, Clock, Store } from '@tiercache/core'
import { createCache } from '@tiercache/core'
import type { HttpCacheOptions } from '@tiercache/http'
import { memoryStore } from '@tiercache/store-memory'
import { redisBus, redisStore } from '@tiercache/store-redis'

export const REDIS_URL: string = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A clock that runs with real time plus a skew the test moves forward. */
export class SkewClock implements Clock {
  skew = 0
  now(): number {
    return Date.now() + this.skew
  }
  /** Moves time forward by `ms`. */
  advance(ms: number): void {
    this.skew += ms
  }
}

export type TierKind = 'memory' | 'memory+redis'

/** A cache for one test suite; `prefix` is shared by instances that should share Redis. */
export function makeCache(
  kind: TierKind,
  clock: Clock,
  prefix = `tc-test:http:${randomUUID().slice(0, 8)}:`,
  wrapL2?: (store: Store<any>) => Store<any>,
): { cache: Cache; prefix: string } {
  const tiers: Store<any>[] = [memoryStore({ clock, maxBytes: 64 * 2 ** 20 })]
  if (kind === 'memory+redis') {
    const l2 = redisStore({ url: REDIS_URL, prefix, clock })
    tiers.push(wrapL2 ? wrapL2(l2) : l2)
    return {
      cache: createCache({ namespace: 'app', tiers, clock, bus: redisBus({ url: REDIS_URL, prefix }) }),
      prefix,
    }
  }
  return { cache: createCache({ namespace: 'app', tiers, clock }), prefix }
}

/** What a test route handler answers. */
export interface SpecReply {
  readonly status?: number
  readonly headers?: Record<string, string | string[]>
  /** Body sent in one piece. */
  readonly body?: string | Buffer
  /** Body written in pieces (streamed). */
  readonly chunks?: readonly (string | Buffer)[]
  /** Throw an error with this status instead of answering. */
  readonly throws?: number
  /** Wait this long (ms) before answering. */
  readonly delay?: number
  /**
   * How the handler writes its response, in the framework's terms: `end` (one call with the
   * body), `writeHead` (`writeHead(status, headers)` then `end(body)`), `write` (`write(body)`
   * then `end()`), `pipe` (a stream piped into the response), `next` (an error with the status
   * handed to the framework: `next(err)` on Express, a thrown error on Koa). Default: the
   * framework's usual send.
   */
  readonly style?: 'end' | 'writeHead' | 'write' | 'pipe' | 'next'
}

export interface SpecRequest {
  readonly method: string
  readonly url: string
  readonly headers: IncomingHttpHeaders
}

export type Handler = (req: SpecRequest, call: number) => SpecReply | Promise<SpecReply>

/** A registered route: its URL and how often its handler ran. */
export interface Route {
  readonly url: string
  readonly path: string
  calls: number
}

/** A running test server for one framework. */
export interface TestServer {
  readonly origin: string
  /** Registers `/r/<name>` (every method) behind the middleware with these options. */
  route(options: HttpCacheOptions | undefined, handle: Handler): Route
  /** The middleware of a route (for `purge`). */
  purge(url: string): Promise<void>
  close(): Promise<void>
}

/** Starts a framework server; implemented by each adapter's tests. */
export interface Harness {
  readonly name: string
  start(cache: Cache, options?: { trustProxy?: boolean; clock?: Clock }): Promise<TestServer>
}

/** Shared route table logic: names, handler counting and the reply runner. */
export class Routes {
  readonly #routes = new Map<
    string,
    { options: HttpCacheOptions | undefined; handle: Handler; route: Route }
  >()
  #next = 0

  add(origin: string, options: HttpCacheOptions | undefined, handle: Handler): Route {
    const name = `n${this.#next++}`
    const path = `/r/${name}`
    const route: Route = { url: `${origin}${path}`, path, calls: 0 }
    this.#routes.set(name, { options, handle, route })
    return route
  }

  get(name: string): { options: HttpCacheOptions | undefined; handle: Handler; route: Route } | undefined {
    return this.#routes.get(name)
  }

  /** Runs a route's handler and returns its reply (after any delay). */
  async answer(name: string, req: SpecRequest): Promise<SpecReply> {
    const r = this.#routes.get(name)
    if (r === undefined) return { status: 404, body: 'no route' }
    r.route.calls++
    const reply = await r.handle(req, r.route.calls)
    if (reply.delay) await new Promise((resolve) => setTimeout(resolve, reply.delay))
    return reply
  }
}

/** The origin of a listening server. */
export function originOf(server: { address(): string | AddressInfo | null }): string {
  const a = server.address() as AddressInfo
  return `http://127.0.0.1:${a.port}`
}

/** A listening test server: its origin and a closer that drops open connections first. */
export interface Listening {
  readonly origin: string
  close(): Promise<void>
}

/** Listens on a free port of 127.0.0.1 (an adapter's app wrapped in `createServer`). */
export async function serve(server: Server): Promise<Listening> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    origin: originOf(server),
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

/** A raw request with full control of headers (fetch will not send Host or X-Forwarded-*). */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      )
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** GET through fetch, returning status, X-Cache and text. */
export async function get(
  url: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; cache: string | null; text: string; res: Response }> {
  const res = await fetch(url, { method, headers })
  const text = await res.text()
  return { status: res.status, cache: res.headers.get('x-cache'), text, res }
}
