import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import { type Assessment, assess, storedPolicy } from './assess.js'
import type { Flight } from './flight.js'
import { first, storedHeaders, varyValue } from './headers.js'
import type { HttpCache } from './http-cache.js'
import type { MethodClass } from './key.js'
import { notModified } from './request.js'
import type {
  Capture,
  HeadDecision,
  Reply,
  RequestInfo,
  StoredHeader,
  StoredResponse,
  VariantIndex,
} from './types.js'

/** A lookup result: where the response is (or would be) stored, and the response if any. */
export interface Found {
  readonly cls: MethodClass
  /** The URL's primary key. */
  readonly pk: string
  /** The variant index under the primary key, when responses vary. */
  readonly index: VariantIndex | undefined
  /** The key of the entry (variant key when there is an index): also the collapsing key. */
  readonly key: string
  readonly entry: StoredResponse | undefined
}

/** The handler's response on a miss, captured for the cache and for collapsed requests. */
export class MissCapture implements Capture {
  readonly background: boolean
  readonly flight: Flight | undefined
  readonly pk: string
  /** Set when the URL was purged while the handler ran: nothing is stored. */
  invalidated = false
  readonly #http: HttpCache
  readonly #req: RequestInfo
  readonly #found: Found
  readonly #stale: StoredResponse | undefined
  readonly #store: boolean
  readonly #conditional: IncomingHttpHeaders | undefined
  readonly #detail: string
  #chunks: Uint8Array[] = []
  #size = 0
  #capturing = false
  #done = false
  #pending:
    | {
        readonly entry: Omit<StoredResponse, 'body'>
        readonly values: readonly string[] | null
        readonly keepUntil: number
        readonly tags: readonly string[]
      }
    | undefined

  constructor(
    http: HttpCache,
    req: RequestInfo,
    found: Found,
    stale: StoredResponse | undefined,
    flight: Flight | undefined,
    store: boolean,
    background: boolean,
    conditional: IncomingHttpHeaders | undefined,
    detail: string,
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
  }

  head(status: number, headers: OutgoingHttpHeaders): HeadDecision {
    const http = this.#http
    const o = http.options
    const now = o.now()
    if (status >= 500 && this.#stale !== undefined && now < this.#stale.sieUntil && !this.background) {
      this.#finish()
      return { kind: 'replace', reply: this.#staleReply(now) }
    }
    const req = this.#req
    const a: Assessment = this.#store
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
      const lm = first(headers['last-modified'])
      const lastModified = lm === undefined ? Number.NaN : Date.parse(lm)
      const etag = first(headers.etag)
      const length = first(headers['content-length'])
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
          etag: etag ?? null,
          lastModified: Number.isNaN(lastModified) ? null : lastModified,
          vary: a.vary,
          policy: storedPolicy(a.policy),
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
        first(headers.etag),
        (() => {
          const lm = first(headers['last-modified'])
          const t = lm === undefined ? Number.NaN : Date.parse(lm)
          return Number.isNaN(t) ? null : t
        })(),
      )
    return {
      kind: 'send',
      extra: http.missHeaders(this.#detail, a.storable),
      remove,
      notModified: isNotModified,
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
    let entry: StoredResponse | undefined
    if (p !== undefined) {
      const chunks = this.#chunks
      const body =
        chunks.length === 1 && Buffer.isBuffer(chunks[0]) ? chunks[0] : Buffer.concat(chunks, this.#size)
      entry = { ...p.entry, body }
      this.flight?.settle({ entry, values: p.values })
    }
    this.#finish()
    if (entry !== undefined && p !== undefined && !this.invalidated) {
      this.#http.write(this.#found, entry, p.values, p.keepUntil, p.tags)
    }
  }

  abandon(): void {
    this.#finish()
  }

  fail(error?: unknown): Reply | undefined {
    this.#finish()
    const now = this.#http.options.now()
    if (this.#stale === undefined || this.background || !(now < this.#stale.sieUntil)) return undefined
    const e = error as { status?: unknown; statusCode?: unknown } | undefined
    const status =
      typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : 500
    if (status < 500) return undefined
    return this.#staleReply(now)
  }

  #staleReply(now: number): Reply {
    const c = this.#conditional
    const headers = c === undefined ? this.#req.headers : { ...this.#req.headers, ...c }
    return this.#http.reply(
      this.#req.method,
      headers,
      this.#stale as StoredResponse,
      now,
      'STALE',
      'stale-if-error',
    )
  }

  #finish(): void {
    if (this.#done) return
    this.#done = true
    this.#capturing = false
    this.#pending = undefined
    this.#chunks = []
    this.flight?.settle(undefined)
    this.#http.release(this)
  }
}
