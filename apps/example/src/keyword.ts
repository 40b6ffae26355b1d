/** A keyword as the API returns it. */
export interface Keyword {
  readonly id: number
  readonly term: string
  /** Monthly searches. */
  readonly volume: number
  /** Ranking difficulty, 1-100. */
  readonly difficulty: number
  /** Terms on the same subject. */
  readonly related: readonly string[]
  /** Last change, ISO 8601. */
  readonly updatedAt: string
}

/** A search hit. */
export interface KeywordSummary {
  readonly id: number
  readonly term: string
  readonly volume: number
  readonly difficulty: number
}

/** The answer to a search: the top matches by volume and how many rows matched. */
export interface SearchResult {
  /** The normalized query. */
  readonly query: string
  /** Rows whose term contains the query. */
  readonly total: number
  /** The first `limit` of them, by volume. */
  readonly results: readonly KeywordSummary[]
}

/** Fields `PUT /keywords/:id` may change. The term is the keyword's identity and stays. */
export interface KeywordPatch {
  readonly volume?: number
  readonly difficulty?: number
  readonly related?: readonly string[]
}

/** A request the service refuses, with the HTTP status to answer. */
export class BadRequestError extends Error {
  readonly status = 400
  constructor(message: string) {
    super(message)
    this.name = 'BadRequestError'
  }
}

/** Shortest and longest accepted query, in characters. */
export const QUERY_LENGTH = { min: 2, max: 64 } as const

/** Search hits returned per query. */
export const SEARCH_LIMIT = 20

/** True when `text` holds a C0 or C1 control character or DEL (NUL would end SQLite's LIKE pattern early). */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true
  }
  return false
}

/**
 * Lower-cases, trims and collapses spaces; throws {@link BadRequestError} when too short or long,
 * or when it holds a control character (tabs and newlines included), so `q=%00%00` cannot turn
 * into a pattern that matches every keyword.
 */
export function normalizeQuery(q: unknown): string {
  if (typeof q !== 'string') throw new BadRequestError('q is required: /search?q=coffee')
  if (hasControl(q)) throw new BadRequestError('q must not contain control characters')
  const query = q.trim().toLowerCase().replace(/\s+/g, ' ')
  if (query.length < QUERY_LENGTH.min || query.length > QUERY_LENGTH.max) {
    throw new BadRequestError(`q must be ${QUERY_LENGTH.min} to ${QUERY_LENGTH.max} characters`)
  }
  return query
}

/** Parses a keyword id from a path segment; throws {@link BadRequestError} when it is not one. */
export function parseId(raw: unknown): number {
  const id = typeof raw === 'string' && /^[1-9]\d{0,9}$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isSafeInteger(id)) throw new BadRequestError('the id must be a positive integer')
  return id
}

/** Validates a `PUT` body. */
export function parsePatch(body: unknown): KeywordPatch {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequestError('the body must be a JSON object with volume, difficulty and/or related')
  }
  const b = body as Record<string, unknown>
  const unknown = Object.keys(b).filter((k) => k !== 'volume' && k !== 'difficulty' && k !== 'related')
  if (unknown.length > 0) {
    throw new BadRequestError(`cannot change ${unknown.join(', ')}: only volume, difficulty and related`)
  }
  const patch: { volume?: number; difficulty?: number; related?: string[] } = {}
  if (b.volume !== undefined) {
    if (!Number.isSafeInteger(b.volume) || (b.volume as number) < 0) {
      throw new BadRequestError('volume must be a non-negative integer')
    }
    patch.volume = b.volume as number
  }
  if (b.difficulty !== undefined) {
    if (!Number.isInteger(b.difficulty) || (b.difficulty as number) < 1 || (b.difficulty as number) > 100) {
      throw new BadRequestError('difficulty must be an integer from 1 to 100')
    }
    patch.difficulty = b.difficulty as number
  }
  if (b.related !== undefined) {
    if (
      !Array.isArray(b.related) ||
      b.related.length > 20 ||
      !b.related.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 100)
    ) {
      throw new BadRequestError('related must be an array of at most 20 non-empty strings')
    }
    patch.related = b.related as string[]
  }
  if (Object.keys(patch).length === 0) throw new BadRequestError('nothing to change')
  return patch
}
