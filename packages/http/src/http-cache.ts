import { createHash, randomBytes } from 'node:crypto'
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Cache } from '@tiercache/core'
import { InvalidOptionError, MAX_TAG_LENGTH, MAX_TAGS_PER_ENTRY, StoreTimeoutError } from '@tiercache/core'
import { type Found, MissCapture } from './capture.js'
import { Flight, type FlightOutcome } from './flight.js'
import { first, NOT_MODIFIED_HEADERS, parseHttpDate, splitTags, varyValue } from './headers.js'
import { keyOf, keyTarget, type MethodClass, type QueryRules, variantKey } from './key.js'
import { syntheticRequest } from './node.js'
import { type HttpCacheOptions, type ResolvedOptions, resolveOptions } from './options.js'
import { purgeKeys } from './purge.js'
import { rangeReply } from './range.js'
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

/** Where a request's responses live: its keys and canonical path. */
export interface Target {
  /** Primary key of GET responses. */
  readonly gk: string
  /** Primary key of stored HEAD responses. */
  readonly hk: string
  /** Canonical path (for the query-variant bound). */
  readonly path: string
  /** True when the canonical target has a query. */
  readonly query: boolean
}

/** An in-process L1 look-up that could not answer: the key to collapse on. */
interface Pending {
  readonly key: string
  readonly index: VariantIndex | undefined
}

/**
 * Distinct query strings stored per path in this process, each until its entry expires: once a
 * path holds `max` live ones, new query strings of that path are not stored.
 */
class QueryBudget {
  readonly #paths = new Map<string, Map<string, number>>()
  readonly #max: number

  constructor(max: number) {
    this.#max = max
  }

  /** True when the entry may be stored (and counts it until `until`). */
  admit(path: string, key: string, until: number, now: number): boolean {
    if (this.#max === Number.POSITIVE_INFINITY) return true
    let keys = this.#paths.get(path)
    if (keys === undefined) {
      if (this.#paths.size >= 10_000) this.#paths.delete(this.#paths.keys().next().value as string)
      keys = new Map()
      this.#paths.set(path, keys)
    }
    if (keys.has(key)) {
      keys.set(key, Math.max(until, keys.get(key) as number))
      return true
    }
    if (keys.size >= this.#max) {
      for (const [k, t] of keys) if (t <= now) keys.delete(k)
      if (keys.size >= this.#max) return false
    }
    keys.set(key, until)
    return true
  }
}

/** What a stored response offers a request at `now`. */
type Usable = 'fresh' | 'revalidate-in-background' | 'stale' | undefined

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
export class HttpCache {
  /** The validated options. */
  readonly options: ResolvedOptions
  /** The namespaced cache holding the responses. */
  readonly store: Cache
  readonly #shared: Shared
  readonly #bypass: Plan
  readonly #rules: QueryRules
  readonly #targets = new Map<string, Target | null>()
  readonly #budget: QueryBudget

  constructor(cache: Cache, options: HttpCacheOptions = {}) {
    if (typeof cache?.namespace !== 'function' || typeof cache.get !== 'function') {
      throw new InvalidOptionError('createHttpCache needs a tiercache Cache (from createCache)', {
        option: 'cache',
      })
    }
    this.options = resolveOptions(options)
    this.store = cache.namespace(this.options.namespace)
    this.#shared = shared(cache, this.options.namespace)
    const extra = this.#statusHeaders('BYPASS', 'fwd=bypass')
    this.#bypass = { kind: 'pass', extra, settle: undefined }
    this.#rules = { allow: this.options.queryAllow, ignore: this.options.queryIgnore }
    this.#budget = new QueryBudget(this.options.maxQueryVariants)
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
      const target = this.#target(req)
      if (target === null) return this.#bypass
      if (method === 'GET') {
        const gk = target.gk
        const found = this.#peek('G', gk, target, h)
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

  /** The request's keys, memoized by raw target; null when its query is not allowed. */
  #target(req: RequestInfo): Target | null {
    const raw = `${req.protocol}\n${req.host}\n${req.url}`
    const known = this.#targets.get(raw)
    if (known !== undefined) return known
    const t = keyTarget(req.url, this.#rules)
    const target =
      t === null
        ? null
        : {
            gk: keyOf('G', req.protocol, req.host, t.target),
            hk: keyOf('H', req.protocol, req.host, t.target),
            path: t.path,
            query: t.target !== t.path,
          }
    if (raw.length <= 512) {
      if (this.#targets.size >= 10_000) this.#targets.clear()
      this.#targets.set(raw, target)
    }
    return target
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
      return this.#fetch(cls, pk, target, req.headers).then((f) => this.#decide(req, f, rd, undefined))
    }
    const running = this.#shared.flights.get(pending.key)
    if (running !== undefined) return this.#join(running, req, rd, 0)
    const flight = this.#startFlight(pending.key)
    return this.#fetch(cls, pk, target, req.headers).then(
      (f) => this.#decide(req, f, rd, flight),
      (error: unknown) => {
        this.#endFlight(flight)
        throw error
      },
    )
  }

  async #headLookup(req: RequestInfo, target: Target, rd: RequestDirectives | undefined): Promise<Plan> {
    const h = req.headers
    const gp = this.#peek('G', target.gk, target, h)
    const g = 'entry' in gp ? gp : await this.#fetch('G', target.gk, target, h)
    if (g.entry !== undefined && this.#usable(g.entry, rd, this.options.now()) !== undefined) {
      return this.#decide(req, g, rd, undefined)
    }
    const hk = target.hk
    const hp = this.#peek('H', hk, target, h)
    const found = 'entry' in hp ? hp : await this.#fetch('H', hk, target, h)
    return this.#decide(req, found.entry === undefined && g.entry !== undefined ? g : found, rd, undefined)
  }

  /** In-process lookup: the entry when the in-process tier answers, else the key to collapse on. */
  #peek(cls: MethodClass, pk: string, target: Target, h: IncomingHttpHeaders): Found | Pending {
    const v = this.store.peek(pk)
    if (v === undefined) return { key: pk, index: undefined }
    if (isEntry(v)) return { cls, pk, target, index: undefined, key: pk, entry: v }
    if (!isIndex(v)) return { key: pk, index: undefined }
    const key = variantKey(
      pk,
      v.gen,
      v.vary.map((n) => varyValue(h, n)),
    )
    const e = this.store.peek(key)
    if (!isEntry(e)) return { key, index: v }
    return { cls, pk, target, index: v, key, entry: e }
  }

  /** Lookup through every tier, failing open (errors and timeouts are misses). */
  async #fetch(cls: MethodClass, pk: string, target: Target, h: IncomingHttpHeaders): Promise<Found> {
    const v = await this.#get(pk)
    if (isEntry(v)) return { cls, pk, target, index: undefined, key: pk, entry: v }
    if (!isIndex(v)) return { cls, pk, target, index: undefined, key: pk, entry: undefined }
    const key = variantKey(
      pk,
      v.gen,
      v.vary.map((n) => varyValue(h, n)),
    )
    const e = await this.#get(key)
    return { cls, pk, target, index: v, key, entry: isEntry(e) ? e : undefined }
  }

  #get(key: string): Promise<unknown> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#error(new StoreTimeoutError(this.options.lookupTimeout, { store: 'http', operation: 'lookup' }))
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

  /** How a stored response may answer a request now, if at all. */
  #usable(e: StoredResponse, rd: RequestDirectives | undefined, now: number): Usable {
    if (e.noCache === true) return undefined
    if (rd === undefined) {
      if (now < e.freshUntil) return 'fresh'
      if (now < e.swrUntil) return 'revalidate-in-background'
      return undefined
    }
    if (rd.noCache) return undefined
    const age = (e.age * 1000 + (now - e.storedAt)) / 1000
    if (rd.maxAge !== undefined && age > rd.maxAge) return undefined
    if (rd.minFresh !== undefined && (e.freshUntil - now) / 1000 < rd.minFresh) return undefined
    if (now < e.freshUntil) return 'fresh'
    if (rd.maxStale !== undefined && !e.mustRevalidate && (now - e.freshUntil) / 1000 <= rd.maxStale)
      return 'stale'
    if (now < e.swrUntil) return 'revalidate-in-background'
    return undefined
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
      const use = this.#usable(e, rd, now)
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
      const target = this.#target(req)
      if (target === null) return this.#bypass
      const cls: MethodClass = req.method === 'HEAD' ? 'H' : 'G'
      const pk = cls === 'G' ? target.gk : target.hk
      const p = this.#peek(cls, pk, target, req.headers)
      const found = 'entry' in p ? p : await this.#fetch(cls, pk, target, req.headers)
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
    const target = this.#target(req)
    if (target === null) return this.#bypass
    const cls: MethodClass = req.method === 'HEAD' ? 'H' : 'G'
    const pk = cls === 'G' ? target.gk : target.hk
    const p = this.#peek(cls, pk, target, req.headers)
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
      notModified(headers, e.etag, e.lastModified ?? storedDate(e, now), now)
    ) {
      return {
        status: 304,
        headers: e.headers.filter((h) => NOT_MODIFIED_HEADERS.has(h[0])),
        extra,
        body: null,
      }
    }
    if (headers.range !== undefined && o.ranges && method === 'GET' && status === 200 && e.length === null) {
      const ranged = rangeReply(headers, e, extra, now)
      if (ranged !== undefined) return ranged
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
    const host = req.host || 'localhost'
    const targets: string[] = [`${req.protocol}://${host}${req.url}`]
    let base: URL | undefined
    try {
      base = new URL(targets[0] as string)
    } catch {}
    for (const name of ['location', 'content-location']) {
      const v = first(headers[name] as string | string[] | undefined)
      if (v === undefined || base === undefined) continue
      try {
        const u = new URL(v, base)
        if (u.hostname === base.hostname) targets.push(u.href)
      } catch {}
    }
    for (const t of targets) {
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
    const now = this.options.now()
    const t = found.target
    if (t.query && !this.#budget.admit(t.path, found.pk, keepUntil, now)) return Promise.resolve()
    const ttl = Math.max(1, Math.min(keepUntil - now, 2 ** 31 * 1000))
    const opts = tags.length > 0 ? { ttl, tags } : { ttl }
    const fail = (error: unknown): void => this.#error(error)
    if (entry.vary === null || values === null) {
      return this.store.set(found.pk, entry, opts).catch(fail)
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
    const writes: Promise<void>[] = []
    if (write) {
      writes.push(
        this.store
          .set(found.pk, index, { ttl: Math.max(1, Math.min(index.until - now, 2 ** 31 * 1000)) })
          .catch(fail),
      )
    }
    writes.push(this.store.set(variantKey(found.pk, index.gen, values), entry, opts).catch(fail))
    return Promise.all(writes).then(() => undefined)
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

/** The stored response's `Date` (epoch ms), for `If-Modified-Since` when it has no `Last-Modified`. */
function storedDate(e: StoredResponse, now: number): number | null {
  const d = e.headers.find((h) => h[0] === 'date')
  if (d === undefined) return null
  return parseHttpDate(first(d[1] as string | string[]), now) ?? null
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
 * @throws InvalidOptionError (`E_INVALID_OPTION`) for bad options or a `cache` that is not a Cache,
 *   InvalidDurationError (`E_INVALID_DURATION`) for bad durations
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
