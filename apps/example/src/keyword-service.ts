import { type Cache, cached } from 'tiercache'
import {
  type Keyword,
  type KeywordPatch,
  normalizeQuery,
  SEARCH_LIMIT,
  type SearchResult,
} from './keyword.js'
import type { KeywordRepository } from './keyword-repository.js'

/** The service behind the routes. */
export interface KeywordService {
  /** The keyword, or `null`. */
  getKeyword(id: number): Promise<Keyword | null>
  /** The top matches for a raw query (normalized here). */
  search(q: string): Promise<SearchResult>
  /** Changes a keyword; the updated keyword, or `null` when there is none. */
  updateKeyword(id: number, patch: KeywordPatch): Promise<Keyword | null>
}

/** How long a search result stays cached (service and HTTP response cache). */
export const SEARCH_TTL = '5m'

/** The tag every cached value that shows keyword `id` carries. */
export const keywordTag = (id: number): string => `keyword:${id}`

/** The service without any cache: every call is a SQL query (the load test's "cache off"). */
export class DirectKeywordService implements KeywordService {
  protected readonly repo: KeywordRepository

  constructor(repo: KeywordRepository) {
    this.repo = repo
  }

  getKeyword(id: number): Promise<Keyword | null> {
    return this.repo.findById(id)
  }

  search(q: string): Promise<SearchResult> {
    return this.repo.search(normalizeQuery(q), SEARCH_LIMIT)
  }

  updateKeyword(id: number, patch: KeywordPatch): Promise<Keyword | null> {
    return this.repo.update(id, patch)
  }
}

/**
 * The seed's service pattern on tiercache:
 *
 * - `getKeyword` is memoized with the `@cached` decorator (the seed's `cache_decorator`) under
 *   `keyword:<id>`, on the default cache (`setDefaultCache`). A missing id is cached as `null`.
 * - `search` uses `getOrSet` under `search:<query>` and tags the result with `keyword:<id>` for
 *   every keyword it lists.
 * - `updateKeyword` writes the database first, then deletes `keyword:<id>` and invalidates the
 *   tag `keyword:<id>`: the searches that list it (here and in the HTTP response cache) go too,
 *   on this instance and, through the Redis bus, on every other.
 *
 * Consistency: every keyword a search lists is shown as it is now. A keyword whose new volume
 * would move it into a search it is not listed in appears there when that search expires
 * (`SEARCH_TTL`); enumerating every query a term matches on each update would cost more than
 * it saves.
 */
export class CachedKeywordService extends DirectKeywordService {
  readonly #cache: Cache

  constructor(repo: KeywordRepository, cache: Cache) {
    super(repo)
    this.#cache = cache
  }

  @cached('keyword', { ttl: '10m', key: (id: number) => String(id) })
  override getKeyword(id: number): Promise<Keyword | null> {
    return super.getKeyword(id)
  }

  override search(q: string): Promise<SearchResult> {
    const query = normalizeQuery(q)
    return this.#cache.getOrSet(
      `search:${query}`,
      async (ctx) => {
        const result = await this.repo.search(query, SEARCH_LIMIT)
        ctx.setTags(result.results.map((k) => keywordTag(k.id)))
        return result
      },
      { ttl: SEARCH_TTL },
    )
  }

  override async updateKeyword(id: number, patch: KeywordPatch): Promise<Keyword | null> {
    const updated = await super.updateKeyword(id, patch)
    if (updated !== null) {
      await Promise.all([this.#cache.delete(`keyword:${id}`), this.#cache.invalidateTags([keywordTag(id)])])
    }
    return updated
  }
}
