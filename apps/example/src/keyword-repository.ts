import { type Kysely, type Selectable, sql } from 'kysely'
import type { KeywordsTable, Schema } from './database.js'
import type { Keyword, KeywordPatch, KeywordSummary, SearchResult } from './keyword.js'

function toKeyword(row: Selectable<KeywordsTable>): Keyword {
  return {
    id: row.id,
    term: row.term,
    volume: row.volume,
    difficulty: row.difficulty,
    related: JSON.parse(row.related) as string[],
    updatedAt: new Date(row.updated_at).toISOString(),
  }
}

/** Counts of the queries the repository ran, for `/stats` and the load test. */
export interface QueryCounters {
  /** Keyword reads by id. */
  reads: number
  /** Searches (each a full scan of the table). */
  searches: number
  /** Updates. */
  writes: number
}

/** Runs a search: in this thread ({@link searchKeywords}) or on the worker pool. */
export type SearchRunner = (query: string, limit: number) => Promise<SearchResult>

/**
 * Keywords whose term contains `query` (case-insensitive), the `limit` largest by volume, and
 * how many matched. A `LIKE '%query%'` cannot use an index: every search scans the whole table.
 */
export async function searchKeywords(
  db: Kysely<Schema>,
  query: string,
  limit: number,
): Promise<SearchResult> {
  const pattern = `%${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
  const rows = await db
    .selectFrom('keywords')
    .select(['id', 'term', 'volume', 'difficulty', sql<number>`count(*) over ()`.as('total')])
    .where(sql<boolean>`term LIKE ${pattern} ESCAPE '\\'`)
    .orderBy('volume', 'desc')
    .orderBy('id')
    .limit(limit)
    .execute()
  const results: KeywordSummary[] = rows.map((r) => ({
    id: r.id,
    term: r.term,
    volume: r.volume,
    difficulty: r.difficulty,
  }))
  return { query, total: rows[0]?.total ?? 0, results }
}

/**
 * The source of truth: every read here is a SQL query on the `keywords` table (the seed's
 * repository pattern, without any cache; the service adds it).
 */
export class KeywordRepository {
  readonly #db: Kysely<Schema>
  readonly #search: SearchRunner
  readonly counters: QueryCounters = { reads: 0, searches: 0, writes: 0 }

  /**
   * @param db - the database
   * @param search - where searches run; by default in this thread on `db`
   */
  constructor(db: Kysely<Schema>, search?: SearchRunner) {
    this.#db = db
    this.#search = search ?? ((query, limit) => searchKeywords(db, query, limit))
  }

  /** The keyword, or `null` when there is none with this id. */
  async findById(id: number): Promise<Keyword | null> {
    this.counters.reads++
    const row = await this.#db.selectFrom('keywords').selectAll().where('id', '=', id).executeTakeFirst()
    return row === undefined ? null : toKeyword(row)
  }

  /** See {@link searchKeywords}. */
  search(query: string, limit: number): Promise<SearchResult> {
    this.counters.searches++
    return this.#search(query, limit)
  }

  /** Applies the patch; the updated keyword, or `null` when there is none with this id. */
  async update(id: number, patch: KeywordPatch): Promise<Keyword | null> {
    this.counters.writes++
    const row = await this.#db
      .updateTable('keywords')
      .set({
        ...(patch.volume === undefined ? {} : { volume: patch.volume }),
        ...(patch.difficulty === undefined ? {} : { difficulty: patch.difficulty }),
        ...(patch.related === undefined ? {} : { related: JSON.stringify(patch.related) }),
        updated_at: Date.now(),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst()
    return row === undefined ? null : toKeyword(row)
  }

  /** Rows in the table. */
  async count(): Promise<number> {
    const row = await this.#db
      .selectFrom('keywords')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow()
    return Number(row.n)
  }
}
