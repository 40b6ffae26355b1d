import { randomBytes } from 'node:crypto'
import type { Cache } from '@tiercache/core'
import { sameList } from './headers.js'
import { variantKey } from './key.js'
import type { Found, StoredResponse } from './types.js'

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

/**
 * Stores captured responses: the entry under its primary or variant key and, when responses vary,
 * the variant index, within the route's bound on distinct query strings per path.
 */
export class ResponseWriter {
  readonly #store: Cache
  readonly #now: () => number
  readonly #budget: QueryBudget
  readonly #error: (error: unknown) => void

  /**
   * @param store - the namespaced cache holding the responses
   * @param now - time source (epoch ms)
   * @param maxQueryVariants - distinct query strings stored per path (`Infinity`: no bound)
   * @param onError - receives failed writes
   */
  constructor(store: Cache, now: () => number, maxQueryVariants: number, onError: (error: unknown) => void) {
    this.#store = store
    this.#now = now
    this.#budget = new QueryBudget(maxQueryVariants)
    this.#error = onError
  }

  /**
   * Writes a captured response (and the variant index) to the cache; resolves once
   * every write settled (never rejects).
   */
  write(
    found: Found,
    entry: StoredResponse,
    values: readonly string[] | null,
    keepUntil: number,
    tags: readonly string[],
  ): Promise<void> {
    const now = this.#now()
    const t = found.target
    if (t.query && !this.#budget.admit(t.path, found.pk, keepUntil, now)) return Promise.resolve()
    const ttl = Math.max(1, Math.min(keepUntil - now, 2 ** 31 * 1000))
    const opts = tags.length > 0 ? { ttl, tags } : { ttl }
    const fail = (error: unknown): void => this.#error(error)
    if (entry.vary === null || values === null) {
      return this.#store.set(found.pk, entry, opts).catch(fail)
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
        this.#store
          .set(found.pk, index, { ttl: Math.max(1, Math.min(index.until - now, 2 ** 31 * 1000)) })
          .catch(fail),
      )
    }
    writes.push(this.#store.set(variantKey(found.pk, index.gen, values), entry, opts).catch(fail))
    return Promise.all(writes).then(() => undefined)
  }
}
