/**
 * The store's queries built with Kysely, for every dialect: dialect-correct upserts
 * (`ON CONFLICT … DO UPDATE` for SQLite and PostgreSQL, `ON DUPLICATE KEY UPDATE` for MySQL),
 * `= any($1)` (PostgreSQL) or `IN (…)` batch reads, exact prefix ranges plus `LIKE … ESCAPE` / `GLOB` pattern deletes, and
 * batched pruning.
 *
 * @module
 */
import type { RemoteEntry } from '@tiercache/core/store'
import { type Expression, type Kysely, type RawBuilder, type SqlBool, sql } from 'kysely'
import {
  chunkRows,
  PLACEHOLDER_CREATED_AT,
  type SqlBackend,
  slices,
  toEntry,
  toKey,
  toNumber,
  type WriteRow,
} from './backend.js'
import type { KyselyLike, SqlDialect } from './options.js'
import { LIKE_ESCAPE, type PatternPlan } from './pattern-sql.js'
import { COLUMNS } from './schema.js'

const SELECT = [
  COLUMNS.value,
  COLUMNS.createdAt,
  COLUMNS.freshUntil,
  COLUMNS.staleUntil,
  COLUMNS.tags,
] as const
/** Rows per multi-row insert and keys per `IN (…)` list. */
const MAX_ROWS = 500
/** Value bytes per multi-row insert (MySQL's default `max_allowed_packet` is 16 MiB). */
const MAX_BYTES = 4 * 1024 * 1024

interface EntryRow {
  readonly value: unknown
  readonly created_at: unknown
  readonly fresh_until: unknown
  readonly stale_until: unknown
  readonly tags: unknown
}

const fromRow = (r: EntryRow): RemoteEntry =>
  toEntry(r.value, r.created_at, r.fresh_until, r.stale_until, r.tags)

const toValues = (row: WriteRow): Record<string, unknown> => ({
  [COLUMNS.key]: row[0],
  [COLUMNS.value]: row[1],
  [COLUMNS.createdAt]: row[2],
  [COLUMNS.freshUntil]: row[3],
  [COLUMNS.staleUntil]: row[4],
  [COLUMNS.tags]: row[5],
})

/** The store's queries over a Kysely instance. */
export class KyselyQueries implements SqlBackend {
  readonly #db: Kysely<any>
  readonly #table: string
  readonly #dialect: SqlDialect

  /**
   * @param db - the Kysely instance
   * @param table - validated table name
   * @param dialect - its dialect
   */
  constructor(db: KyselyLike, table: string, dialect: SqlDialect) {
    this.#db = db as Kysely<any>
    this.#table = table
    this.#dialect = dialect
  }

  async get(key: string, now: number): Promise<RemoteEntry | undefined> {
    const row = (await this.#db
      .selectFrom(this.#table)
      .select(SELECT)
      .where(COLUMNS.key, '=', key)
      .where(COLUMNS.staleUntil, '>', now)
      .executeTakeFirst()) as EntryRow | undefined
    return row === undefined || toNumber(row.created_at) < 0 ? undefined : fromRow(row)
  }

  async getMany(keys: readonly string[], now: number): Promise<(RemoteEntry | undefined)[]> {
    const out = new Array<RemoteEntry | undefined>(keys.length).fill(undefined)
    if (keys.length === 0) return out
    const found = new Map<string, RemoteEntry>()
    for (const part of keys.length <= MAX_ROWS ? [keys] : slices(keys, MAX_ROWS)) {
      // PostgreSQL: one array parameter (`= any($1)`) parses and plans much faster than a list of
      // hundreds of parameters. MySQL has no arrays: `IN (…)`.
      const matchKeys =
        this.#dialect === 'postgres'
          ? sql<SqlBool>`${sql.ref(COLUMNS.key)} = any(${sql.val([...part])}::text[])`
          : sql<SqlBool>`${sql.ref(COLUMNS.key)} in (${sql.join(part.map((k) => sql.val(k)))})`
      const rows = (await this.#db
        .selectFrom(this.#table)
        .select([COLUMNS.key, ...SELECT])
        .where(matchKeys)
        .where(COLUMNS.staleUntil, '>', now)
        .execute()) as (EntryRow & { cache_key: unknown })[]
      for (const r of rows) if (toNumber(r.created_at) >= 0) found.set(toKey(r.cache_key), fromRow(r))
    }
    for (let i = 0; i < keys.length; i++) out[i] = found.get(keys[i] as string)
    return out
  }

  async has(key: string, now: number): Promise<boolean> {
    const row = await this.#db
      .selectFrom(this.#table)
      .select(sql<number>`1`.as('one'))
      .where(COLUMNS.key, '=', key)
      .where(COLUMNS.staleUntil, '>', now)
      .where(COLUMNS.createdAt, '>=', 0)
      .executeTakeFirst()
    return row !== undefined
  }

  async lease(row: WriteRow, now: number): Promise<boolean> {
    const db = this.#db
    await db
      .deleteFrom(this.#table)
      .where(COLUMNS.key, '=', row[0])
      .where(COLUMNS.staleUntil, '<=', now)
      .execute()
    if (this.#dialect === 'mysql') {
      // Another placeholder is replaced; otherwise insert unless the key holds an entry.
      const taken = await db
        .updateTable(this.#table)
        .set({ [COLUMNS.value]: row[1], [COLUMNS.staleUntil]: row[4] })
        .where(COLUMNS.key, '=', row[0])
        .where(COLUMNS.createdAt, '=', PLACEHOLDER_CREATED_AT)
        .executeTakeFirst()
      if (Number(taken.numUpdatedRows) > 0) return true
      const inserted = await db.insertInto(this.#table).values(toValues(row)).ignore().executeTakeFirst()
      return Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0
    }
    const result = await db
      .insertInto(this.#table)
      .values(toValues(row))
      .onConflict((oc) =>
        oc
          .column(COLUMNS.key)
          .doUpdateSet((eb) => ({
            [COLUMNS.value]: eb.ref(`excluded.${COLUMNS.value}`),
            [COLUMNS.staleUntil]: eb.ref(`excluded.${COLUMNS.staleUntil}`),
          }))
          .where(sql.ref(`${this.#table}.${COLUMNS.createdAt}`), '=', PLACEHOLDER_CREATED_AT),
      )
      .executeTakeFirst()
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0
  }

  async conditionalSet(
    row: WriteRow,
    token: Buffer | undefined,
    createdAt: number | undefined,
    now: number,
  ): Promise<boolean> {
    if (row[1] === undefined) {
      let del = this.#db
        .deleteFrom(this.#table)
        .where(COLUMNS.key, '=', row[0])
        .where(COLUMNS.staleUntil, '>', now)
      del =
        token !== undefined
          ? del.where(COLUMNS.createdAt, '=', PLACEHOLDER_CREATED_AT).where(COLUMNS.value, '=', token)
          : del.where(COLUMNS.createdAt, '=', createdAt as number)
      return Number((await del.executeTakeFirst()).numDeletedRows) > 0
    }
    let query = this.#db
      .updateTable(this.#table)
      .set({
        [COLUMNS.value]: row[1],
        [COLUMNS.createdAt]: row[2],
        [COLUMNS.freshUntil]: row[3],
        [COLUMNS.staleUntil]: row[4],
        [COLUMNS.tags]: row[5],
      })
      .where(COLUMNS.key, '=', row[0])
      .where(COLUMNS.staleUntil, '>', now)
    query =
      token !== undefined
        ? query.where(COLUMNS.createdAt, '=', PLACEHOLDER_CREATED_AT).where(COLUMNS.value, '=', token)
        : query.where(COLUMNS.createdAt, '=', createdAt as number)
    const result = await query.executeTakeFirst()
    return Number(result.numUpdatedRows) > 0
  }

  async set(row: WriteRow): Promise<void> {
    await this.#upsert(this.#db, [row])
  }

  async setMany(rows: readonly WriteRow[], expired: readonly string[]): Promise<void> {
    const chunks = chunkRows(rows, MAX_ROWS, MAX_BYTES)
    if (chunks.length <= 1 && expired.length === 0) {
      if (chunks[0]) await this.#upsert(this.#db, chunks[0])
      return
    }
    await this.#db.transaction().execute(async (trx) => {
      for (const chunk of chunks) await this.#upsert(trx, chunk)
      for (const part of slices(expired, MAX_ROWS)) {
        await trx.deleteFrom(this.#table).where(COLUMNS.key, 'in', part).execute()
      }
    })
  }

  async delete(key: string): Promise<boolean> {
    const result = await this.#db.deleteFrom(this.#table).where(COLUMNS.key, '=', key).executeTakeFirst()
    return result.numDeletedRows > 0n
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    let n = 0
    for (const part of slices(keys, MAX_ROWS)) {
      const result = await this.#db.deleteFrom(this.#table).where(COLUMNS.key, 'in', part).executeTakeFirst()
      n += Number(result.numDeletedRows)
    }
    return n
  }

  async clearAll(): Promise<void> {
    await this.#db.deleteFrom(this.#table).execute()
  }

  async deleteByPattern(plan: PatternPlan): Promise<number> {
    let query = this.#db.deleteFrom(this.#table)
    if (plan.kind === 'exact') {
      query = query.where(COLUMNS.key, '=', plan.key)
    } else {
      if (plan.prefix !== '') query = query.where(COLUMNS.key, '>=', plan.prefix)
      if (plan.upper !== undefined) query = query.where(COLUMNS.key, '<', plan.upper)
      if (!plan.rangeOnly) query = query.where(this.#matches(plan))
    }
    const result = await query.executeTakeFirst()
    return Number(result.numDeletedRows)
  }

  async pruneBatch(now: number, limit: number): Promise<number> {
    const t = sql.table(this.#table)
    const key = sql.ref(COLUMNS.key)
    const stale = sql.ref(COLUMNS.staleUntil)
    const lim = sql.lit(Math.floor(limit))
    let query: RawBuilder<unknown>
    if (this.#dialect === 'mysql') {
      // MySQL cannot LIMIT an IN-subquery, but can LIMIT a single-table DELETE.
      query = sql`delete from ${t} where ${stale} <= ${now} order by ${stale} limit ${lim}`
    } else if (this.#dialect === 'sqlite') {
      query = sql`delete from ${t} where rowid in (select rowid from ${t} where ${stale} <= ${now} limit ${lim}) and ${stale} <= ${now}`
    } else {
      query = sql`delete from ${t} where ${key} in (select ${key} from ${t} where ${stale} <= ${now} limit ${lim}) and ${stale} <= ${now}`
    }
    const result = await query.execute(this.#db)
    return Number(result.numAffectedRows ?? 0n)
  }

  async stats(now: number): Promise<{ entries: number; bytes: number }> {
    const length = this.#dialect === 'postgres' ? 'octet_length' : 'length'
    const row = (await this.#db
      .selectFrom(this.#table)
      .select([
        sql<unknown>`count(*)`.as('entries'),
        sql<unknown>`coalesce(sum(${sql.raw(length)}(${sql.ref(COLUMNS.value)})), 0)`.as('bytes'),
      ])
      .where(COLUMNS.staleUntil, '>', now)
      .where(COLUMNS.createdAt, '>=', 0)
      .executeTakeFirst()) as { entries: unknown; bytes: unknown } | undefined
    return { entries: toNumber(row?.entries ?? 0), bytes: toNumber(row?.bytes ?? 0) }
  }

  /** The dialect's exact, case-sensitive pattern match on the key column. */
  #matches(plan: PatternPlan & { kind: 'match' }): Expression<SqlBool> {
    const key = sql.ref(COLUMNS.key)
    const escapeChar = sql.lit(LIKE_ESCAPE)
    switch (this.#dialect) {
      case 'sqlite':
        // SQLite's LIKE ignores ASCII case; GLOB does not.
        return sql<SqlBool>`${key} glob ${plan.glob}`
      case 'mysql':
        // The key is VARBINARY (byte-wise LIKE, where `_` is one byte): match on its UTF-8 text
        // with a binary collation so `_` is one character and case matters.
        return sql<SqlBool>`convert(${key} using utf8mb4) collate utf8mb4_bin like ${plan.like} escape ${escapeChar}`
      default:
        return sql<SqlBool>`${key} like ${plan.like} escape ${escapeChar}`
    }
  }

  async #upsert(db: Kysely<any>, rows: readonly WriteRow[]): Promise<void> {
    const insert = db.insertInto(this.#table).values(rows.map(toValues))
    if (this.#dialect === 'mysql') {
      const v = (column: string) => sql`values(${sql.ref(column)})`
      await insert
        .onDuplicateKeyUpdate({
          [COLUMNS.value]: v(COLUMNS.value),
          [COLUMNS.createdAt]: v(COLUMNS.createdAt),
          [COLUMNS.freshUntil]: v(COLUMNS.freshUntil),
          [COLUMNS.staleUntil]: v(COLUMNS.staleUntil),
          [COLUMNS.tags]: v(COLUMNS.tags),
        })
        .execute()
      return
    }
    await insert
      .onConflict((oc) =>
        oc.column(COLUMNS.key).doUpdateSet((eb) => ({
          [COLUMNS.value]: eb.ref(`excluded.${COLUMNS.value}`),
          [COLUMNS.createdAt]: eb.ref(`excluded.${COLUMNS.createdAt}`),
          [COLUMNS.freshUntil]: eb.ref(`excluded.${COLUMNS.freshUntil}`),
          [COLUMNS.staleUntil]: eb.ref(`excluded.${COLUMNS.staleUntil}`),
          [COLUMNS.tags]: eb.ref(`excluded.${COLUMNS.tags}`),
        })),
      )
      .execute()
  }
}
