import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type { Cache } from '@tiercache/core'
import { type Assessment, assess, storedPolicy } from './assess.js'
import type { Flight } from './flight.js'
import { first, parseHttpDate, storedHeaders, varyValue } from './headers.js'
import type { ResolvedOptions } from './options.js'
import { notModified } from './request.js'
import type {
  Capture,
  Found,
  HeadDecision,
  Reply,
  RequestInfo,
  StoredHeader,
  StoredResponse,
} from './types.js'

/** What a capture needs of the HTTP cache that started it (the `HttpCache` is one). */
export interface CaptureHost {
  /** The validated options. */
  readonly options: ResolvedOptions
  /** The namespaced cache holding the responses. */
  readonly store: Pick<Cache, 'delete'>
  /** The reply for a stored response. */
  reply(
    method: string,
    headers: IncomingHttpHeaders,
    e: StoredResponse,
    now: number,
    state: 'HIT' | 'STALE' | 'REVALIDATED',
    detail?: string,
  ): Reply
  /** Stores a captured response; resolves once every write settled (never rejects). */
  write(
    found: Found,
    entry: StoredResponse,
    values: readonly string[] | null,
    keepUntil: number,
    tags: readonly string[],
  ): Promise<void>
  /** The tags of a captured response. */
  tagsFor(req: RequestInfo, headers: OutgoingHttpHeaders): readonly string[]
  /** The status headers of a miss. */
  missHeaders(detail: string, stored: boolean): string[]
  /** The weak ETag of a body. */
  weakEtag(body: Uint8Array): string
  /** Reports an error to `onError`. */
  error(error: unknown): void
  /** Called once when the capture is done; `written` resolves once its response is stored. */
  release(capture: MissCapture, written?: Promise<void>): void
}

/** Response headers a 304 never changes in the stored response (RFC 9111 §3.2). */
const KEPT_ON_304 = new Set(['content-length'])

/** What a captured response will be stored as, once its body is complete. */
interface Pending {
  readonly entry: Omit<StoredResponse, 'body'>
  readonly values: readonly string[] | null
  readonly keepUntil: number
  readonly tags: readonly string[]
}

/** The handler's response on a miss, captured for the cache and for collapsed requests. */
export class MissCapture implements Capture {
  readonly background: boolean
  readonly flight: Flight | undefined
  readonly pk: string
  /** Set when the URL was purged while the handler ran: nothing is stored. */
  invalidated = false
  readonly #http: CaptureHost
  readonly #req: RequestInfo
  readonly #found: Found
  readonly #stale: StoredResponse | undefined
  readonly #store: boolean
  readonly #conditional: IncomingHttpHeaders | undefined
  readonly #detail: string
  /** The handler was asked to validate the stored response (`If-None-Match` / `If-Modified-Since`). */
  readonly #validated: boolean
  #chunks: Uint8Array[] = []
  #size = 0
  #capturing = false
  #done = false
  #pending: Pending | undefined

  constructor(
    http: CaptureHost,
    req: RequestInfo,
    found: Found,
    stale: StoredResponse | undefined,
    flight: Flight | undefined,
    store: boolean,
    background: boolean,
    conditional: IncomingHttpHeaders | undefined,
    detail: string,
    validated: boolean,
  ) {
    this.#http = http
    this.#req = req
    this.#found = found
    this.pk = found.pk
    this.#stale = stale
    this.flight = flight
    this.#store = store
    this.background = background
    this.#conditional = conditional
    this.#detail = detail
    this.#validated = validated
  }

  /** The client's request headers, with its own conditional headers back in place. */
  #clientHeaders(): IncomingHttpHeaders {
    const c = this.#conditional
    const h = { ...this.#req.headers }
    delete h['if-none-match']
    delete h['if-modified-since']
    return c === undefined ? h : { ...h, ...c }
  }

  head(status: number, headers: OutgoingHttpHeaders): HeadDecision {
    const http = this.#http
    const o = http.options
    const now = o.now()
    const stale = this.#stale
    if (status === 304 && this.#validated && stale !== undefined) return this.#freshen(stale, headers, now)
    if (
      status >= 500 &&
      stale !== undefined &&
      stale.status < 500 &&
      now < stale.sieUntil &&
      !this.background
    ) {
      this.#finish()
      return { kind: 'replace', reply: this.#staleReply(now) }
    }
    const req = this.#req
    const a: Assessment =
      this.#store && status !== 304
        ? assess(o, req.method, req.url, req.host, req.headers, status, headers, now)
        : { storable: false, reason: 'status' }
    const remove: string[] = []
    if (o.tagHeader !== undefined && headers[o.tagHeader] !== undefined) remove.push(o.tagHeader)
    if (a.storable) {
      const drop = new Set(remove)
      if (o.statusHeader !== undefined) drop.add(o.statusHeader)
      drop.add('cache-status')
      const stored: StoredHeader[] = storedHeaders(headers, drop)
      if (headers.date === undefined) stored.push(['date', new Date(now).toUTCString()])
      const etag = first(headers.etag as string | string[] | undefined)
      const length = first(headers['content-length'] as string | undefined)
      this.#pending = {
        entry: {
          t: 'r',
          status,
          headers: stored,
          length: this.#found.cls === 'H' && length !== undefined ? Number(length) || 0 : null,
          storedAt: now,
          age: a.age,
          freshUntil: a.freshUntil,
          swrUntil: a.swrUntil,
          sieUntil: a.sieUntil,
          mustRevalidate: a.mustRevalidate,
          noCache: a.noCache,
          etag: etag ?? null,
          lastModified: parseHttpDate(headers['last-modified'] as string | undefined, now) ?? null,
          vary: a.vary,
          policy: storedPolicy(a.policy()),
        },
        values: a.vary === null ? null : a.vary.map((n) => varyValue(req.headers, n)),
        keepUntil: a.keepUntil,
        tags: http.tagsFor(req, headers),
      }
      this.#capturing = this.#found.cls === 'G'
    } else {
      // Nothing to share: waiters run the handler themselves, now.
      this.flight?.settle(undefined)
    }
    const c = this.#conditional
    const isNotModified =
      c !== undefined &&
      status >= 200 &&
      status < 300 &&
      notModified(
        c,
        first(headers.etag as string | string[] | undefined),
        parseHttpDate(headers['last-modified'] as string | undefined, now) ?? null,
        now,
      )
    return {
      kind: 'send',
      extra: http.missHeaders(this.#detail, a.storable),
      remove,
      notModified: isNotModified,
    }
  }

  /**
   * The handler answered 304 to the validators of the stored response: the stored response,
   * updated with the 304's headers (all but `Content-Length`, RFC 9111 §3.2) and its freshness
   * recomputed, is stored again and sent instead.
   */
  #freshen(stale: StoredResponse, headers: OutgoingHttpHeaders, now: number): HeadDecision {
    const http = this.#http
    const o = http.options
    const merged: OutgoingHttpHeaders = {}
    for (const [name, value] of stale.headers) merged[name] = value as string | string[]
    const drop = new Set<string>(['cache-status'])
    if (o.statusHeader !== undefined) drop.add(o.statusHeader)
    if (o.tagHeader !== undefined) drop.add(o.tagHeader)
    const update = storedHeaders(headers, drop)
    for (const [name, value] of update) if (!KEPT_ON_304.has(name)) merged[name] = value as string | string[]
    // A handler's 304 carries no Date of its own (Node adds it when sending): it was made now.
    if (headers.date === undefined) merged.date = new Date(now).toUTCString()
    if (stale.generatedEtag === true && headers.etag === undefined) delete merged.etag
    const req = this.#req
    const a = assess(o, req.method, req.url, req.host, req.headers, stale.status, merged, now)
    if (!a.storable) {
      // Not storable any more (e.g. the 304 says no-store): serve it once, drop it.
      this.#finish()
      void http.store.delete(this.#found.key).catch((error: unknown) => http.error(error))
      const once: StoredResponse = { ...stale, headers: storedHeaders(merged, drop), storedAt: now, age: 0 }
      return {
        kind: 'replace',
        reply: http.reply(req.method, this.#clientHeaders(), once, now, 'REVALIDATED'),
      }
    }
    const etag = first(merged.etag as string | string[] | undefined)
    const entry: StoredResponse = {
      ...stale,
      headers: storedHeaders(merged, drop),
      storedAt: now,
      age: a.age,
      freshUntil: a.freshUntil,
      swrUntil: a.swrUntil,
      sieUntil: a.sieUntil,
      mustRevalidate: a.mustRevalidate,
      noCache: a.noCache,
      etag: etag ?? (stale.generatedEtag === true ? stale.etag : null),
      lastModified: parseHttpDate(merged['last-modified'] as string | undefined, now) ?? null,
      // the stored policy object is informational: a revalidation keeps it rather than rebuild it
      policy: stale.policy,
    }
    const values = stale.vary === null ? null : stale.vary.map((n) => varyValue(req.headers, n))
    this.flight?.settle({ entry, values, found: this.#found })
    const written = this.invalidated
      ? undefined
      : http.write(this.#found, entry, values, a.keepUntil, http.tagsFor(req, merged))
    this.#finish(written)
    return {
      kind: 'replace',
      reply: http.reply(req.method, this.#clientHeaders(), entry, now, 'REVALIDATED'),
    }
  }

  chunk(bytes: Uint8Array): boolean {
    if (!this.#capturing) return false
    this.#size += bytes.byteLength
    if (this.#size > this.#http.options.maxEntryBytes) {
      this.#capturing = false
      this.#chunks = []
      this.#pending = undefined
      this.flight?.settle(undefined)
      return false
    }
    this.#chunks.push(bytes)
    return true
  }

  end(): void {
    if (this.#done) return
    const p = this.#pending
    this.#pending = undefined
    if (p === undefined) {
      this.#finish()
      return
    }
    const http = this.#http
    const chunks = this.#chunks
    const body =
      chunks.length === 1 && Buffer.isBuffer(chunks[0]) ? chunks[0] : Buffer.concat(chunks, this.#size)
    let entry: StoredResponse = { ...p.entry, body }
    if (entry.etag === null && http.options.etag && entry.status === 200 && this.#found.cls === 'G') {
      const etag = http.weakEtag(body)
      entry = { ...entry, etag, generatedEtag: true, headers: [...entry.headers, ['etag', etag]] }
    }
    this.flight?.settle({ entry, values: p.values, found: this.#found })
    const written = this.invalidated
      ? undefined
      : http.write(this.#found, entry, p.values, p.keepUntil, p.tags)
    this.#finish(written)
  }

  abandon(): void {
    this.#finish()
  }

  fail(error?: unknown): Reply | undefined {
    this.#finish()
    const now = this.#http.options.now()
    const stale = this.#stale
    if (stale === undefined || this.background || stale.status >= 500 || !(now < stale.sieUntil))
      return undefined
    const e = error as { status?: unknown; statusCode?: unknown } | undefined
    const status =
      typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : 500
    if (status < 500) return undefined
    return this.#staleReply(now)
  }

  #staleReply(now: number): Reply {
    return this.#http.reply(
      this.#req.method,
      this.#clientHeaders(),
      this.#stale as StoredResponse,
      now,
      'STALE',
      'stale-if-error',
    )
  }

  #finish(written?: Promise<void>): void {
    if (this.#done) return
    this.#done = true
    this.#capturing = false
    this.#pending = undefined
    this.#chunks = []
    this.flight?.settle(undefined)
    this.#http.release(this, written)
  }
}
