import { createHash } from 'node:crypto'
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Cache } from '@tiercache/core'
import { type CaptureHost, MissCapture } from './capture.js'
import { Flight, type FlightOutcome } from './flight.js'
import { first, sameList, varyValue } from './headers.js'
import type { MethodClass, QueryRules } from './key.js'
import { Lookup, type Pending } from './lookup.js'
import { syntheticRequest } from './node.js'
import { type HttpCacheOptions, type ResolvedOptions, resolveOptions } from './options.js'
import { invalidationTargets, purgeKeys } from './purge.js'
import { storedReply } from './reply.js'
import { type RequestDirectives, requestDirectives, usable } from './request.js'
import { ResponseWriter } from './response-writer.js'
import { responseTags } from './tags.js'
import type { Found, Plan, Reply, RequestInfo, Revalidation, StoredResponse, Target } from './types.js'

/** Methods that never invalidate (RFC 9110 §9.2.1 safe methods). */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT'])

/** Request headers a background revalidation does not copy. */
const NOT_FORWARDED = new Set([
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'range',
  'cache-control',
  'pragma',
  'content-length',
  'transfer-encoding',
])

/** State shared by every HttpCache over one cache and namespace (flights, revalidations). */
interface Shared {
  readonly flights: Map<string, Flight>
  readonly revalidating: Set<string>
  readonly jobs: WeakMap<object, Found>
  readonly active: Set<MissCapture>
}

const sharedState = new WeakMap<Cache, Map<string, Shared>>()

function shared(cache: Cache, namespace: string): Shared {
  let byNs = sharedState.get(cache)
  if (byNs === undefined) {
    byNs = new Map()
    sharedState.set(cache, byNs)
  }
  let s = byNs.get(namespace)
  if (s === undefined) {
    s = { flights: new Map(), revalidating: new Set(), jobs: new WeakMap(), active: new Set() }
    byNs.set(namespace, s)
  }
  return s
}

/**
 * Framework-neutral HTTP response caching over a tiercache instance. Adapters call
 * {@link HttpCache.begin} per request and follow the returned plan: serve the reply, run the
 * handler as is, or run it and report the response to the capture.
 *
 * Storage: one cache entry per response variant under a child namespace (`http` by default).
 * The key is a SHA-256 of method class (GET or HEAD), scheme, host and the canonical target
 * (one spelling of path and query, parameters sorted by decoded name). When responses carry
 * `Vary`, the primary key holds a small index naming the `Vary` headers and a generation, and
 * each variant lives under `<primary>:<generation>:<hash of the header values>`; purging deletes
 * the primary key, which orphans every variant at once.
 *
 * Hits decide freshness from the times stored with the response (computed once, when it was
 * stored or revalidated, with the RFC 9111 rules); nothing is parsed or rebuilt per hit.
 *
 * Collapsing: a request that the in-process tier cannot answer registers its flight before any
 * asynchronous step (the shared-tier look-up included), so a request arriving later either joins
 * that flight or finds the stored response in the in-process tier: a flight leaves the table only
 * once its response is written.
 */
export class HttpCache implements CaptureHost {
  /** The validated options. */
  readonly options: ResolvedOptions
  /** The namespaced cache holding the responses. */
  readonly store: Cache
  readonly #shared: Shared
  readonly #bypass: Plan
  readonly #rules: QueryRules
  readonly #find: Lookup
  readonly #writer: ResponseWriter

  constructor(cache: Cache, options: HttpCacheOptions = {}) {
    if (typeof cache?.namespace !== 'function' || typeof cache.get !== 'function') {
      throw new TypeError('createHttpCache needs a tiercache Cache (from createCache)')
    }
    this.options = resolveOptions(options)
    this.store = cache.namespace(this.options.namespace)
    this.#shared = shared(cache, this.options.namespace)
    const extra = this.#statusHeaders('BYPASS', 'fwd=bypass')
    this.#bypass = { kind: 'pass', extra, settle: undefined }
    this.#rules = { allow: this.options.queryAllow, ignore: this.options.queryIgnore }
    const onError = (error: unknown): void => this.#error(error)
    this.#find = new Lookup(this.store, this.#rules, this.options.lookupTimeout, onError)
    this.#writer = new ResponseWriter(this.store, this.options.now, this.options.maxQueryVariants, onError)
  }

  /**
   * Decides what to do with a request. Synchronous on an in-process hit, a promise when a
   * shared tier must be asked or when the request waits for a collapsed handler run.
   */
  begin(req: RequestInfo): Plan | Promise<Plan> {
    try {
      const method = req.method
      if (method !== 'GET' && method !== 'HEAD') return this.#unsafe(req)
      const h = req.headers
      const job = this.#shared.jobs.get(h)
      if (job !== undefined) return this.#backgroundMiss(req, job)
      const o = this.options
      if (
        (h.range !== undefined && !o.ranges) ||
        (h.authorization !== undefined && !o.allowAuthorization) ||
        (h.cookie !== undefined && !o.allowCookies)
      ) {
        return this.#bypass
      }
      let rd: RequestDirectives | undefined
      if (o.requestCacheControl && (h['cache-control'] !== undefined || h.pragma !== undefined)) {
        rd = requestDirectives(h, o.honorRequestNoCache)
        if (rd.noStore) return this.#bypass
      }
      const target = this.#find.target(req)
      if (target === null) return this.#bypass
      if (method === 'GET') {
        const gk = target.gk
        const found = this.#find.peek('G', gk, target, h)
        if ('entry' in found) return this.#decide(req, found, rd, undefined)
        return this.#lookup(req, 'G', gk, target, found, rd)
      }
      return this.#headLookup(req, target, rd)
    } catch (error) {
      this.#error(error)
      return this.#bypass
    }
  }

  /**
   * Removes every stored response of a URL (all variants, GET and HEAD, http and https) in
   * every tier and, through the bus, every instance. The route's `query.ignore` applies.
   *
   * @param url - absolute URL (`https://host/path?query`); the scheme does not matter
   */
  async purge(url: string | URL): Promise<void> {
    const keys = purgeKeys(url, this.#rules)
    this.#markInvalidated(new Set(keys))
    await this.store.deleteMany(keys)
  }

  /**
   * Looks past the in-process tier. With collapsing, the flight is registered first (before any
   * await): requests arriving meanwhile join it instead of looking up and running the handler.
   */
  #lookup(
    req: RequestInfo,
    cls: MethodClass,
    pk: string,
    target: Target,
    pending: Pending,
    rd: RequestDirectives | undefined,
  ): Promise<Plan> | Plan {
    if (!this.options.collapse || req.headers.range !== undefined) {
      return this.#find.fetch(cls, pk, target, req.headers).then((f) => this.#decide(req, f, rd, undefined))
    }
    const running = this.#shared.flights.get(pending.key)
    if (running !== undefined) return this.#join(running, req, rd, 0)
    const flight = this.#startFlight(pending.key)
    return this.#find.fetch(cls, pk, target, req.headers).then(
      (f) => this.#decide(req, f, rd, flight),
      (error: unknown) => {
        this.#endFlight(flight)
        throw error
      },
    )
  }

  async #headLookup(req: RequestInfo, target: Target, rd: RequestDirectives | undefined): Promise<Plan> {
    const h = req.headers
    const gp = this.#find.peek('G', target.gk, target, h)
    const g = 'entry' in gp ? gp : await this.#find.fetch('G', target.gk, target, h)
    if (g.entry !== undefined && usable(g.entry, rd, this.options.now()) !== undefined) {
      return this.#decide(req, g, rd, undefined)
    }
    const hk = target.hk
    const hp = this.#find.peek('H', hk, target, h)
    const found = 'entry' in hp ? hp : await this.#find.fetch('H', hk, target, h)
    return this.#decide(req, found.entry === undefined && g.entry !== undefined ? g : found, rd, undefined)
  }

  /**
   * Serves the stored response when it may answer, else runs the handler (conditionally when
   * the stored response has validators). `flight`: the flight this request registered before
   * its look-up, settled here when the stored response answers.
   */
  #decide(
    req: RequestInfo,
    found: Found,
    rd: RequestDirectives | undefined,
    flight: Flight | undefined,
    joined = false,
  ): Plan | Promise<Plan> {
    const e = found.entry
    const now = this.options.now()
    const own = e !== undefined && (found.cls === 'G' || req.method === 'HEAD')
    if (own) {
      const use = usable(e, rd, now)
      if (use !== undefined) {
        if (flight !== undefined) {
          flight.settle({ entry: e, values: this.#values(e, req.headers), found })
          this.#endFlight(flight)
        }
        return this.#serve(req, e, now, use === 'revalidate-in-background' ? found : undefined)
      }
    }
    if (rd?.onlyIfCached) {
      if (flight !== undefined) {
        flight.settle(undefined)
        this.#endFlight(flight)
      }
      return {
        kind: 'serve',
        reply: { status: 504, headers: [], extra: ['content-length', '0'], body: null },
        revalidate: undefined,
      }
    }
    const stale = own ? e : undefined
    const detail = e !== undefined ? 'stale' : found.index !== undefined ? 'vary-miss' : 'uri-miss'
    let f = flight
    if (f === undefined && this.options.collapse && !joined && req.headers.range === undefined) {
      const running = this.#shared.flights.get(found.key)
      if (running !== undefined) return this.#join(running, req, rd, 0)
      f = this.#startFlight(found.key)
    }
    return {
      kind: 'miss',
      capture: this.#capture(req, found, stale, f, true, false, rd?.noCache ? 'request' : detail),
    }
  }

  #values(e: StoredResponse, h: IncomingHttpHeaders): readonly string[] | null {
    return e.vary === null ? null : e.vary.map((n) => varyValue(h, n))
  }

  #startFlight(key: string): Flight {
    const flights = this.#shared.flights
    const flight: Flight = new Flight(key, this.options.lockTimeout, () => this.#endFlight(flight))
    flights.set(key, flight)
    return flight
  }

  /** Removes a flight from the table (when it is still the registered one). */
  #endFlight(flight: Flight): void {
    const flights = this.#shared.flights
    if (flights.get(flight.key) === flight) flights.delete(flight.key)
  }

  async #join(
    flight: Flight,
    req: RequestInfo,
    rd: RequestDirectives | undefined,
    depth: number,
  ): Promise<Plan> {
    const outcome: FlightOutcome = await flight.promise
    if (outcome === 'timeout' || outcome === undefined) {
      // Nothing to share: look again (it may have been stored meanwhile), then run the handler
      // uncollapsed; after a lock timeout, its response is not stored.
      const target = this.#find.target(req)
      if (target === null) return this.#bypass
      const cls: MethodClass = req.method === 'HEAD' ? 'H' : 'G'
      const pk = cls === 'G' ? target.gk : target.hk
      const p = this.#find.peek(cls, pk, target, req.headers)
      const found = 'entry' in p ? p : await this.#find.fetch(cls, pk, target, req.headers)
      if (outcome === undefined) return this.#decide(req, found, rd, undefined, true)
      return {
        kind: 'miss',
        capture: this.#capture(req, found, undefined, undefined, false, false, 'uri-miss'),
      }
    }
    const { entry, values, found } = outcome
    if (entry.vary !== null) {
      const mine = entry.vary.map((n) => varyValue(req.headers, n))
      if (values === null || !sameList(mine, values)) {
        if (depth < 2) return this.#rebegin(req, rd, depth + 1)
        return {
          kind: 'miss',
          capture: this.#capture(req, found, undefined, undefined, true, false, 'vary-miss'),
        }
      }
    }
    return this.#decide(req, { ...found, entry }, rd, undefined, true)
  }

  /** Another pass for a request whose collapsed response varied on other header values. */
  #rebegin(req: RequestInfo, rd: RequestDirectives | undefined, depth: number): Plan | Promise<Plan> {
    const target = this.#find.target(req)
    if (target === null) return this.#bypass
    const cls: MethodClass = req.method === 'HEAD' ? 'H' : 'G'
    const pk = cls === 'G' ? target.gk : target.hk
    const p = this.#find.peek(cls, pk, target, req.headers)
    if ('entry' in p) return this.#decide(req, p, rd, undefined)
    const running = this.#shared.flights.get(p.key)
    if (running !== undefined) return this.#join(running, req, rd, depth)
    return this.#lookup(req, cls, pk, target, p, rd)
  }

  #capture(
    req: RequestInfo,
    found: Found,
    stale: StoredResponse | undefined,
    flight: Flight | undefined,
    store: boolean,
    background: boolean,
    detail: string,
  ): MissCapture {
    const h = req.headers
    const conditional =
      h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined
        ? { 'if-none-match': h['if-none-match'], 'if-modified-since': h['if-modified-since'] }
        : undefined
    if (conditional !== undefined) {
      delete h['if-none-match']
      delete h['if-modified-since']
    }
    // Validate the stored response with the handler: a 304 freshens it.
    let validated = false
    if (stale !== undefined && (found.cls === 'H' || req.method === 'GET')) {
      if (stale.etag !== null && stale.generatedEtag !== true) {
        h['if-none-match'] = stale.etag
        validated = true
      }
      const lm = stale.headers.find((x) => x[0] === 'last-modified')
      if (lm !== undefined) {
        h['if-modified-since'] = String(first(lm[1] as string | string[]))
        validated = true
      }
    }
    // A HEAD response has no body: it may never be stored as the GET entry it fell back on.
    const storable = store && !(req.method === 'HEAD' && found.cls === 'G')
    const capture = new MissCapture(
      this,
      req,
      found,
      stale,
      flight,
      storable,
      background,
      conditional,
      detail,
      validated,
    )
    this.#shared.active.add(capture)
    return capture
  }

  #backgroundMiss(req: RequestInfo, found: Found): Plan {
    this.#shared.jobs.delete(req.headers)
    let flight: Flight | undefined
    if (this.options.collapse && !this.#shared.flights.has(found.key)) flight = this.#startFlight(found.key)
    return { kind: 'miss', capture: this.#capture(req, found, found.entry, flight, true, true, 'stale') }
  }

  /** Builds the reply for a stored response; `revalidate` (the lookup) when it is served stale. */
  #serve(req: RequestInfo, e: StoredResponse, now: number, revalidate: Found | undefined): Plan {
    const fresh = now < e.freshUntil
    const state = fresh ? 'HIT' : 'STALE'
    let start: Revalidation | undefined
    if (revalidate !== undefined) {
      const s = this.#shared
      if (!s.revalidating.has(revalidate.key) && !s.flights.has(revalidate.key)) {
        start = (source, dispatch) => this.#revalidate(revalidate, source, req.url, dispatch)
      }
    }
    return { kind: 'serve', reply: this.reply(req.method, req.headers, e, now, state), revalidate: start }
  }

  /** Runs a background refresh: a synthetic GET dispatched through the application. */
  #revalidate(
    found: Found,
    source: IncomingMessage,
    url: string,
    dispatch: (req: IncomingMessage, res: ServerResponse) => void,
  ): void {
    const s = this.#shared
    if (s.revalidating.has(found.key)) return
    const headers: IncomingHttpHeaders = {}
    for (const name in source.headers) {
      if (!NOT_FORWARDED.has(name)) headers[name] = source.headers[name]
    }
    const { req, res } = syntheticRequest(source, url, found.cls === 'H' ? 'HEAD' : 'GET', headers)
    s.revalidating.add(found.key)
    s.jobs.set(req.headers, found)
    const timer = setTimeout(() => s.revalidating.delete(found.key), this.options.lockTimeout)
    timer.unref?.()
    const done = (): void => {
      clearTimeout(timer)
      s.revalidating.delete(found.key)
    }
    res.once('finish', done)
    res.once('close', done)
    try {
      dispatch(req, res)
    } catch (error) {
      done()
      this.#error(error)
    }
  }

  #unsafe(req: RequestInfo): Plan {
    if (!this.options.invalidateOnUnsafe || SAFE.has(req.method)) return PASS
    return {
      kind: 'pass',
      extra: [],
      settle: (status, headers) => {
        if (status >= 200 && status < 400) this.#invalidateFor(req, headers)
      },
    }
  }

  /** RFC 9111 §4.4: purges the target URI and same-host `Location` / `Content-Location`. */
  #invalidateFor(req: RequestInfo, headers: OutgoingHttpHeaders): void {
    for (const t of invalidationTargets(req, headers)) {
      try {
        this.purge(t).catch((error: unknown) => this.#error(error))
      } catch (error) {
        this.#error(error)
      }
    }
  }

  #markInvalidated(keys: ReadonlySet<string>): void {
    for (const c of this.#shared.active) if (keys.has(c.pk)) c.invalidated = true
    // a settled flight still waiting for its write must not hand the purged response on
    const flights = this.#shared.flights
    for (const [key, flight] of flights) {
      const colon = key.indexOf(':')
      if (flight.settled && keys.has(colon === -1 ? key : key.slice(0, colon))) flights.delete(key)
    }
  }

  /** Headers naming the cache state, as a flat name/value list. */
  #statusHeaders(state: string, fwd: string): string[] {
    const o = this.options
    const out: string[] = []
    if (o.statusHeader !== undefined) out.push(o.statusHeader, state)
    if (o.cacheStatus !== undefined) out.push('cache-status', `${o.cacheStatus}; ${fwd}`)
    return out
  }

  /** @internal */
  missHeaders(detail: string, stored: boolean): string[] {
    return this.#statusHeaders('MISS', `fwd=${detail}${stored ? '; stored' : ''}`)
  }

  /** @internal Called by a capture when it is done; `written` resolves once its response is stored. */
  release(capture: MissCapture, written?: Promise<void>): void {
    this.#shared.active.delete(capture)
    const flight = capture.flight
    if (flight === undefined) return
    if (written === undefined) {
      this.#endFlight(flight)
      return
    }
    // Until the response is written (at most lockTimeout), later requests join the settled
    // flight instead of missing the in-process tier and running the handler again.
    const timer = setTimeout(() => this.#endFlight(flight), this.options.lockTimeout)
    timer.unref?.()
    void written.finally(() => {
      clearTimeout(timer)
      this.#endFlight(flight)
    })
  }

  /** @internal The weak ETag of a body. */
  weakEtag(body: Uint8Array): string {
    return `W/"${createHash('sha1').update(body).digest('base64url')}"`
  }

  /**
   * The reply for a stored response: `Age`, status headers, a 304 when the request's conditions
   * match the stored validators, a 206 / 416 for a single byte range.
   */
  reply(
    method: string,
    headers: IncomingHttpHeaders,
    e: StoredResponse,
    now: number,
    state: 'HIT' | 'STALE' | 'REVALIDATED',
    detail?: string,
  ): Reply {
    return storedReply(this.options, method, headers, e, now, state, detail)
  }

  /**
   * @internal Writes a captured response (and the variant index) to the cache; resolves once
   * every write settled (never rejects).
   */
  write(
    found: Found,
    entry: StoredResponse,
    values: readonly string[] | null,
    keepUntil: number,
    tags: readonly string[],
  ): Promise<void> {
    return this.#writer.write(found, entry, values, keepUntil, tags)
  }

  /** @internal */
  tagsFor(req: RequestInfo, headers: OutgoingHttpHeaders): readonly string[] {
    return responseTags(this.options, req, headers)
  }

  /** @internal Reports an error to `onError`. */
  error(error: unknown): void {
    this.#error(error)
  }

  #error(error: unknown): void {
    const onError = this.options.onError
    if (onError === undefined) return
    try {
      onError(error)
    } catch {}
  }
}

const PASS: Plan = { kind: 'pass', extra: [], settle: undefined }

/**
 * Creates the framework-neutral HTTP cache that the Express and Koa middleware use; use it
 * directly to write an adapter for another framework.
 *
 * @param cache - any tiercache instance (responses live in its `namespace` child, `http` by default)
 * @param options - route defaults: `ttl`, `staleWhileRevalidate`, `staleIfError`, `statuses`, …
 * @throws InvalidOptionError (`E_INVALID_OPTION`) or InvalidDurationError for bad options
 * @example
 * ```ts
 * import { createHttpCache, captureNodeResponse, writeNodeResponse } from '@tiercache/http'
 *
 * const http = createHttpCache(cache, { ttl: '5m' })
 * server.on('request', async (req, res) => {
 *   const plan = await http.begin({ method: req.method!, protocol: 'http', host: 'example.com', url: req.url!, headers: req.headers })
 *   if (plan.kind === 'serve') return writeNodeResponse(res, plan.reply)
 *   if (plan.kind === 'miss') captureNodeResponse(res, plan.capture)
 *   handler(req, res)
 * })
 * ```
 */
export function createHttpCache(cache: Cache, options?: HttpCacheOptions): HttpCache {
  return new HttpCache(cache, options)
}
