import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type { MethodClass } from './key.js'

/** What the cache needs to know about a request. Adapters build it from the framework's request. */
export interface RequestInfo {
  /** Request method, upper case. */
  readonly method: string
  /** `http` or `https`, as the framework's trust-proxy setting resolves it. */
  readonly protocol: string
  /** Host name without port, as the framework's trust-proxy setting resolves it. */
  readonly host: string
  /** Path and query as the client sent them (`/a/b?x=1`), before any router rewrote them. */
  readonly url: string
  /**
   * The request's header object (lower-case names). On a miss the cache removes the conditional
   * headers (`If-None-Match`, `If-Modified-Since`) from it so the handler produces a full
   * response, and answers them itself.
   */
  readonly headers: IncomingHttpHeaders
}

/** One stored header: lower-case name and value. */
export type StoredHeader = readonly [name: string, value: string | readonly string[]]

/**
 * A stored response: the value of one cache entry per variant. Plain data (the body is bytes),
 * so any tier can hold it.
 */
export interface StoredResponse {
  /** Entry kind: a response. */
  readonly t: 'r'
  /** Status code. */
  readonly status: number
  /**
   * Headers to replay: hop-by-hop headers, `Set-Cookie`, `Content-Length`, `Age`, the tag header
   * and the cache's own status headers removed; `Date` added when the handler set none.
   */
  readonly headers: readonly StoredHeader[]
  /** Body bytes (empty for a stored HEAD response). */
  readonly body: Uint8Array
  /** `Content-Length` of a stored HEAD response (its body is not known); otherwise null. */
  readonly length: number | null
  /** When the response was received (epoch ms). */
  readonly storedAt: number
  /** The `Age` the response carried when received, in seconds. */
  readonly age: number
  /** Fresh until this time (epoch ms). */
  readonly freshUntil: number
  /** May be served stale while a background request refreshes it until this time (epoch ms). */
  readonly swrUntil: number
  /** May be served stale instead of an error until this time (epoch ms). */
  readonly sieUntil: number
  /** `must-revalidate` or `proxy-revalidate`: never served stale, whatever the request allows. */
  readonly mustRevalidate: boolean
  /** The `ETag`, or null. */
  readonly etag: string | null
  /** True when `etag` was made by the cache from the body (never sent to the handler as a validator). */
  readonly generatedEtag?: boolean
  /** `no-cache`: validated with the handler before every reuse. */
  readonly noCache?: boolean
  /** `Last-Modified` as epoch ms, or null. */
  readonly lastModified: number | null
  /** Lower-case names from `Vary`, or null. */
  readonly vary: readonly string[] | null
  /**
   * The http-cache-semantics policy (`CachePolicy#toObject()`), holding only the request headers
   * `Vary` names, never `Cookie` or `Authorization`. `CachePolicy.fromObject` restores it.
   */
  readonly policy: object
}

/** The entry under a URL's primary key when its responses carry `Vary`. */
export interface VariantIndex {
  /** Entry kind: a variant index. */
  readonly t: 'v'
  /** Lower-case header names the variants differ by. */
  readonly vary: readonly string[]
  /** Generation: variant keys include it, so replacing or deleting the index orphans old variants. */
  readonly gen: string
  /** Expiry of the longest-lived variant written under this generation (epoch ms). */
  readonly until: number
}

/** What an adapter sends: a stored response plus per-request headers. */
export interface Reply {
  /** Status to send. */
  readonly status: number
  /** Stored headers to set. */
  readonly headers: readonly StoredHeader[]
  /** Per-request headers (`Age`, `Content-Length`, status headers) as a flat name/value list. */
  readonly extra: readonly string[]
  /** Body to send, or null for none (304, HEAD, 204). */
  readonly body: Uint8Array | null
}

/** How an adapter must go on with a request. */
export type Plan =
  | {
      /** Answer from the cache. */
      readonly kind: 'serve'
      readonly reply: Reply
      /** When set, a background refresh is wanted: call it with a function that dispatches a request through the app. */
      readonly revalidate: Revalidation | undefined
    }
  | {
      /** Run the handler without the cache. */
      readonly kind: 'pass'
      /** Headers to add to the response (e.g. `X-Cache: BYPASS`), as a flat name/value list. */
      readonly extra: readonly string[]
      /** Call when the response is complete (unsafe methods: invalidates on success). */
      readonly settle: ((status: number, headers: OutgoingHttpHeaders) => void) | undefined
    }
  | {
      /** Run the handler and report its response to `capture`. */
      readonly kind: 'miss'
      readonly capture: Capture
    }

/** Starts a background refresh; `dispatch` runs a synthetic request through the application. */
export type Revalidation = (
  source: import('node:http').IncomingMessage,
  dispatch: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void,
) => void

/** What the cache decides once the handler's status and headers are known. */
export type HeadDecision =
  | {
      /** Send the handler's response with these extra headers (flat name/value list) and without `remove`. */
      readonly kind: 'send'
      readonly extra: readonly string[]
      readonly remove: readonly string[]
      /** Send 304 instead of the handler's status (the body is captured, not sent). */
      readonly notModified: boolean
    }
  | {
      /** Drop the handler's response and send this instead (stale-if-error). */
      readonly kind: 'replace'
      readonly reply: Reply
    }

/** The handler's response as it is produced, reported by an adapter on a miss. */
export interface Capture {
  /** True for a background revalidation request: the response goes nowhere but the cache. */
  readonly background: boolean
  /** The handler's final status and headers (call once, before any body). */
  head(status: number, headers: OutgoingHttpHeaders): HeadDecision
  /** Body bytes as sent. Returns false once the body outgrew `maxEntryBytes` (stop reporting). */
  chunk(bytes: Uint8Array): boolean
  /** The body is complete. */
  end(): void
  /** The response will not be complete or cannot be captured (client gone, unsupported body): store nothing. */
  abandon(): void
  /** The handler failed: returns a stale reply to send instead, when stale-if-error allows one. */
  fail(error?: unknown): Reply | undefined
}

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

/** A lookup result: where the response is (or would be) stored, and the response if any. */
export interface Found {
  readonly cls: MethodClass
  /** The URL's primary key. */
  readonly pk: string
  /** The request's keys and canonical path. */
  readonly target: Target
  /** The variant index under the primary key, when responses vary. */
  readonly index: VariantIndex | undefined
  /** The key of the entry (variant key when there is an index): also the collapsing key. */
  readonly key: string
  readonly entry: StoredResponse | undefined
}
