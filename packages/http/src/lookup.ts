import type { IncomingHttpHeaders } from 'node:http'
import type { Cache } from '@tiercache/core'
import { varyValue } from './headers.js'
import { keyOf, keyTarget, type MethodClass, type QueryRules, variantKey } from './key.js'
import type { Found, RequestInfo, StoredResponse, Target, VariantIndex } from './types.js'

/** An in-process L1 look-up that could not answer: the key to collapse on. */
export interface Pending {
  readonly key: string
  readonly index: VariantIndex | undefined
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

/**
 * Finds a request's stored responses: its keys (memoized by raw target), the in-process look-up
 * and the look-up through every tier, which fails open.
 */
export class Lookup {
  readonly #store: Cache
  readonly #rules: QueryRules
  readonly #timeout: number
  readonly #error: (error: unknown) => void
  readonly #targets = new Map<string, Target | null>()

  /**
   * @param store - the namespaced cache holding the responses
   * @param rules - the route's query rules
   * @param timeout - longest wait for one look-up through every tier, in milliseconds
   * @param onError - receives store errors and look-up timeouts
   */
  constructor(store: Cache, rules: QueryRules, timeout: number, onError: (error: unknown) => void) {
    this.#store = store
    this.#rules = rules
    this.#timeout = timeout
    this.#error = onError
  }

  /** The request's keys, memoized by raw target; null when its query is not allowed. */
  target(req: RequestInfo): Target | null {
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

  /** In-process lookup: the entry when the in-process tier answers, else the key to collapse on. */
  peek(cls: MethodClass, pk: string, target: Target, h: IncomingHttpHeaders): Found | Pending {
    const v = this.#store.peek(pk)
    if (v === undefined) return { key: pk, index: undefined }
    if (isEntry(v)) return { cls, pk, target, index: undefined, key: pk, entry: v }
    if (!isIndex(v)) return { key: pk, index: undefined }
    const key = variantKey(
      pk,
      v.gen,
      v.vary.map((n) => varyValue(h, n)),
    )
    const e = this.#store.peek(key)
    if (!isEntry(e)) return { key, index: v }
    return { cls, pk, target, index: v, key, entry: e }
  }

  /** Lookup through every tier, failing open (errors and timeouts are misses). */
  async fetch(cls: MethodClass, pk: string, target: Target, h: IncomingHttpHeaders): Promise<Found> {
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
        this.#error(new Error(`tiercache http: lookup timed out after ${this.#timeout} ms`))
        resolve(undefined)
      }, this.#timeout)
      timer.unref?.()
      this.#store.get(key).then(
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
}
