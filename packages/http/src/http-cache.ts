import { randomBytes } from 'node:crypto'
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Cache } from '@tiercache/core'
import { MAX_TAG_LENGTH, MAX_TAGS_PER_ENTRY } from '@tiercache/core'
import { type Found, MissCapture } from './capture.js'
import { Flight, type FlightOutcome } from './flight.js'
import { first, NOT_MODIFIED_HEADERS, splitTags, varyValue } from './headers.js'
import { type MethodClass, primaryKey, variantKey } from './key.js'
import { syntheticRequest } from './node.js'
import { type HttpCacheOptions, type ResolvedOptions, resolveOptions } from './options.js'
import { purgeKeys } from './purge.js'
import { notModified, type RequestDirectives, requestDirectives } from './request.js'
import type { Plan, Reply, RequestInfo, Revalidation, StoredResponse, VariantIndex } from './types.js'

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

function isEntry(v: unknown): v is StoredResponse {
  return (
    typeof v === 'object' &&
    v !== null &&
    (v as StoredResponse).t === 'r' &&
    (v as StoredResponse).body instanceof Uint8Array
  )
}

function isIndex(v: unknown): v is VariantIndex {
  return (
    typeof v === 'object' &&
    v !== null &&
    (v as VariantIndex).t === 'v' &&
    Array.isArray((v as VariantIndex).vary)
  )
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const TOO_MANY_TAGS = MAX_TAGS_PER_ENTRY

/**
 * Framework-neutral HTTP response caching over a tiercache instance. Adapters call
 * {@link HttpCache.begin} per request and follow the returned plan: serve the reply, run the
 * handler as is, or run it and report the response to the capture.
 *
 * Storage: one cache entry per response variant under a child namespace (`http` by default).
 * The key is a SHA-256 of method class (GET or HEAD), scheme, host, path and sorted query. When
 * responses carry `Vary`, the primary key holds a small index naming the `Vary` headers and a
 * generation, and each variant lives under `<primary>:<generation>:<hash of the header values>`;
 * purging deletes the primary key, which orphans every variant at once.
 *
 * Hits decide freshness from the times stored with the response (computed once, when it was
 * stored, with http-cache-semantics and the RFC 9111 rules); nothing is parsed or rebuilt per hit.
 */
export class HttpCache {
  /** The validated options. */
  readonly options: ResolvedOptions
  /** The namespaced cache holding the responses. */
  readonly store: Cache
  readonly #shared: Shared
  readonly #bypass: Plan

  constructor(cache: Cache, options: HttpCacheOptions = {}) {
    if (typeof cache?.namespace !== 'function' || typeof cache.get !== 'function') {
      throw new TypeError('createHttpCache needs a tiercache Cache (from createCache)')
    }
    this.options = resolveOptions(options)
    this.store = cache.namespace(this.options.namespace)
    this.#shared = shared(cache, this.options.namespace)
    const extra = this.#statusHeaders('BYPASS', 'fwd=bypass')
    this.#bypass = { kind: 'pass', extra, settle: undefined }
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
        h.range !== undefined ||
        (h.authorization !== undefined && !o.allowAuthorization) ||
        (h.cookie !== undefined && !o.allowCookies)
      ) {
        return this.#bypass
      }
      let rd: RequestDirectives | undefined
      if (o.requestCacheControl && (h['cache-control'] !== undefined || h.pragma !== undefined)) {
        rd = requestDirectives(h)
        if (rd.noStore) return this.#bypass
      }
      const gk = primaryKey('G', req.protocol, req.host, req.url)
      if (method === 'GET') {
        const found = this.#peek('G', gk, h)
        if (found !== undefined) return this.#decide(req, found, rd)
        return this.#fetch('G', gk, h).then((f) => this.#decide(req, f, rd))
      }
      return this.#headLookup(req, gk, rd)
    } catch (error) {
      this.#error(error)
      return this.#bypass
    }
  }

  /**
   * Removes every stored response of a URL (all variants, GET and HEAD, http and https) in
   * every tier and, through the bus, every instance.
   *
   * @param url - absolute URL (`https://host/path?query`); the scheme does not matter
   */
  async purge(url: string | URL): Promise<void> {
    const keys = purgeKeys(url)
    this.#markInvalidated(new Set(keys))
    await this.store.deleteMany(keys)
  }

  async #headLookup(req: RequestInfo, gk: string, rd: RequestDirectives | undefined): Promise<Plan> {
    const h = req.headers
    const g = this.#peek('G', gk, h) ?? (await this.#fetch('G', gk, h))
    if (g.entry !== undefined && this.options.now() < g.entry.freshUntil && rd === undefined) {
      return this.#decide(req, g, rd)
    }
    const hk = primaryKey('H', req.protocol, req.host, req.url)
    const found = this.#peek('H', hk, h) ?? (await this.#fetch('H', hk, h))
    return this.#decide(req, found.entry === undefined && g.entry !== undefined ? g : found, rd)
  }

  /** In-process lookup; undefined when the in-process tier cannot answer. */
  #peek(cls: MethodClass, pk: string, h: IncomingHttpHeaders): Found | undefined {
    const v = this.store.peek(pk)
    if (v === undefined) return undefined
    if (isEntry(v)) return { cls, pk, index: undefined, key: pk, entry: v }
    if (!isIndex(v)) return undefined
    const key = variantKey(
      pk,
      v.gen,
      v.vary.map((n) => varyValue(h, n)),
    )
    const e = this.store.peek(key)
    if (!isEntry(e)) return undefined
    return { cls, pk, index: v, key, entry: e }
  }

  /** Lookup through every tier, failing open (errors and timeouts are misses). */
  async #fetch(cls: MethodClass, pk: string, h: IncomingHttpHeaders): Promise<Found> {
    const v = await this.#get(pk)
    if (isEntry(v)) return { cls, pk, index: undefined, key: pk, entry: v }
    if (!isIndex(v)) return { cls, pk, index: undefined, key: pk, entry: undefined }
    const key = variantKey(
      pk,
      v.gen,
      v.vary.map((n) => varyValue(h, n)),
    )
    const e = await this.#get(key)
    return { cls, pk, index: v, key, entry: isEntry(e) ? e : undefined }
  }

  #get(key: string): Promise<unknown> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#error(new Error(`tiercache http: lookup timed out after ${this.options.lookupTimeout} ms`))
        resolve(undefined)
      }, this.options.lookupTimeout)
      timer.unref?.()
      this.store.get(key).then(
        (v) => {
          clearTimeout(timer)
          resolve(v)
        },
        (error: unknown) => {
          clearTimeout(timer)
          this.#error(error)
          resolve(undefined)
        },
      )
    })
  }

  #decide(req: RequestInfo, found: Found, rd: RequestDirectives | undefined): Plan | Promise<Plan> {
    const e = found.entry
    const now = this.options.now()
    if (e !== undefined && (found.cls === 'G' || req.method === 'HEAD')) {
      if (rd === undefined) {
        if (now < e.freshUntil) return this.#serve(req, e, now, undefined)
        if (now < e.swrUntil) return this.#serve(req, e, now, found)
      } else if (!rd.noCache) {
        const age = (e.age * 1000 + (now - e.storedAt)) / 1000
        const acceptable =
          (rd.maxAge === undefined || age <= rd.maxAge) &&
          (rd.minFresh === undefined || (e.freshUntil - now) / 1000 >= rd.minFresh)
        if (acceptable) {
          if (now < e.freshUntil) return this.#serve(req, e, now, undefined)
          if (rd.maxStale !== undefined && !e.mustRevalidate && (now - e.freshUntil) / 1000 <= rd.maxStale) {
            return this.#serve(req, e, now, undefined)
          }
          if (now < e.swrUntil) return this.#serve(req, e, now, found)
        }
      }
    }
    if (rd?.onlyIfCached) {
      return {
        kind: 'serve',
        reply: { status: 504, headers: [], extra: ['content-length', '0'], body: null },
        revalidate: undefined,
      }
    }
    const stale = e !== undefined && now < e.sieUntil ? e : undefined
    const detail = e !== undefined ? 'stale' : found.index !== undefined ? 'vary-miss' : 'uri-miss'
    return this.#miss(req, found, stale, rd?.noCache ? 'request' : detail)
  }

  #miss(
    req: RequestInfo,
    found: Found,
    stale: StoredResponse | undefined,
    detail: string,
  ): Plan | Promise<Plan> {
    const o = this.options
    let flight: Flight | undefined
    if (o.collapse) {
      const running = this.#shared.flights.get(found.key)
      if (running !== undefined) return this.#join(running, req, found, stale, detail)
      flight = this.#startFlight(found.key)
    }
    return { kind: 'miss', capture: this.#capture(req, found, stale, flight, true, false, detail) }
  }

  #startFlight(key: string): Flight {
    const flights = this.#shared.flights
    const flight: Flight = new Flight(key, this.options.lockTimeout, () => {
      if (flights.get(key) === flight) flights.delete(key)
    })
    flights.set(key, flight)
    return flight
  }

  async #join(
    flight: Flight,
    req: RequestInfo,
    found: Found,
    stale: StoredResponse | undefined,
    detail: string,
  ): Promise<Plan> {
    const outcome: FlightOutcome = await flight.promise
    if (outcome === 'timeout') {
      return { kind: 'miss', capture: this.#capture(req, found, stale, undefined, false, false, detail) }
    }
    if (outcome === undefined) {
      return { kind: 'miss', capture: this.#capture(req, found, stale, undefined, true, false, detail) }
    }
    const { entry, values } = outcome
    if (entry.vary !== null) {
      const mine = entry.vary.map((n) => varyValue(req.headers, n))
      if (values === null || !sameList(mine, values)) return this.begin(req)
    }
    return this.#serve(req, entry, this.options.now(), undefined)
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
    )
    this.#shared.active.add(capture)
    return capture
  }

  #backgroundMiss(req: RequestInfo, found: Found): Plan {
    this.#shared.jobs.delete(req.headers)
    let flight: Flight | undefined
    if (this.options.collapse && !this.#shared.flights.has(found.key)) flight = this.#startFlight(found.key)
    return { kind: 'miss', capture: this.#capture(req, found, undefined, flight, true, true, 'stale') }
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

  /**
   * The reply for a stored response: `Age`, status headers, and a 304 when the request's
   * conditions match the stored validators.
   */
  reply(
    method: string,
    headers: IncomingHttpHeaders,
    e: StoredResponse,
    now: number,
    state: 'HIT' | 'STALE',
    detail?: string,
  ): Reply {
    const age = Math.max(0, Math.floor(e.age + (now - e.storedAt) / 1000))
    const extra = ['age', String(age)]
    const o = this.options
    if (o.statusHeader !== undefined) extra.push(o.statusHeader, state)
    if (o.cacheStatus !== undefined) {
      const ttl = Math.floor((e.freshUntil - now) / 1000)
      extra.push('cache-status', `${o.cacheStatus}; hit; ttl=${ttl}${detail ? `; detail=${detail}` : ''}`)
    }
    const status = e.status
    if (
      status < 300 &&
      (headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined) &&
      notModified(headers, e.etag, e.lastModified)
    ) {
      return {
        status: 304,
        headers: e.headers.filter((h) => NOT_MODIFIED_HEADERS.has(h[0])),
        extra,
        body: null,
      }
    }
    if (status !== 204) extra.push('content-length', String(e.length ?? e.body.byteLength))
    return {
      status,
      headers: e.headers,
      extra,
      body: status === 204 || (method === 'HEAD' && e.length !== null) ? null : e.body,
    }
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

  /** RFC 9111 §4.4: the target URI and same-host `Location` / `Content-Location`. */
  #invalidateFor(req: RequestInfo, headers: OutgoingHttpHeaders): void {
    const base = `${req.protocol}://${req.host || 'localhost'}${req.url}`
    const targets = [base]
    for (const name of ['location', 'content-location']) {
      const v = first(headers[name] as string | string[] | undefined)
      if (v === undefined) continue
      try {
        const u = new URL(v, base)
        if (u.hostname === (req.host || 'localhost')) targets.push(u.href)
      } catch {}
    }
    for (const t of targets) this.purge(t).catch((error: unknown) => this.#error(error))
  }

  #markInvalidated(keys: ReadonlySet<string>): void {
    for (const c of this.#shared.active) if (keys.has(c.pk)) c.invalidated = true
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

  /** @internal Called by a capture when it is done. */
  release(capture: MissCapture): void {
    this.#shared.active.delete(capture)
    const flight = capture.flight
    if (flight !== undefined && this.#shared.flights.get(flight.key) === flight) {
      this.#shared.flights.delete(flight.key)
    }
  }

  /** @internal Writes a captured response (and the variant index) to the cache. */
  write(
    found: Found,
    entry: StoredResponse,
    values: readonly string[] | null,
    keepUntil: number,
    tags: readonly string[],
  ): void {
    const now = this.options.now()
    const ttl = Math.max(1, keepUntil - now)
    const opts = tags.length > 0 ? { ttl, tags } : { ttl }
    if (entry.vary === null || values === null) {
      this.store.set(found.pk, entry, opts).catch((error: unknown) => this.#error(error))
      return
    }
    let index = found.index
    let write = false
    if (index === undefined || !sameList(index.vary, entry.vary)) {
      index = { t: 'v', vary: entry.vary, gen: randomBytes(6).toString('base64url'), until: keepUntil }
      write = true
    } else if (index.until < keepUntil) {
      index = { ...index, until: keepUntil }
      write = true
    }
    if (write) {
      this.store
        .set(found.pk, index, { ttl: Math.max(1, index.until - now) })
        .catch((error: unknown) => this.#error(error))
    }
    this.store
      .set(variantKey(found.pk, index.gen, values), entry, opts)
      .catch((error: unknown) => this.#error(error))
  }

  /** @internal */
  tagsFor(req: RequestInfo, headers: OutgoingHttpHeaders): readonly string[] {
    const o = this.options
    const route =
      typeof o.tags === 'function'
        ? safeTags(() => (o.tags as (r: RequestInfo) => readonly string[])(req))
        : o.tags
    const fromHeader =
      o.tagHeader === undefined ? [] : splitTags(headers[o.tagHeader] as string | string[] | undefined)
    if (fromHeader.length === 0) return route
    const all = [...new Set([...route, ...fromHeader])].filter((t) => t.length <= MAX_TAG_LENGTH)
    return all.length > TOO_MANY_TAGS ? all.slice(0, TOO_MANY_TAGS) : all
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

function safeTags(fn: () => readonly string[]): readonly string[] {
  try {
    const tags = fn()
    return Array.isArray(tags)
      ? tags.filter((t) => typeof t === 'string' && t.length > 0 && t.length <= MAX_TAG_LENGTH)
      : []
  } catch {
    return []
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
