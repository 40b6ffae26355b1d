/**
 * The embedded SQLite fast path: prepared better-sqlite3 statements, answered synchronously.
 *
 * Building a Kysely query and going through its async driver costs several times the lookup
 * itself on an in-process database, so for `{ sqlite }` connections the store runs its
 * statements directly on the better-sqlite3 handle it shares with Kysely (which still runs
 * the migrations). The SQL is the same the Kysely path builds.
 *
 * @module
 */
import type { RemoteEntry } from '@tiercache/core/store'
import { PLACEHOLDER_CREATED_AT, type SqlBackend, slices, toEntry, type WriteRow } from './backend.js'
import type { SqliteDatabaseLike, SqliteStatementLike } from './options.js'
import type { PatternPlan } from './pattern-sql.js'

const SELECT_COLUMNS = 'value, created_at, fresh_until, stale_until, tags'
/** Largest `IN (…)` list per statement; statements are cached per list length. */
const MAX_IN = 256

type Row = [value: Buffer, createdAt: number, freshUntil: number, staleUntil: number, tags: string | null]
type KeyedRow = [key: string, ...Row]

/** Prepared statements over one table of one better-sqlite3 database. */
export class SqliteStatements implements SqlBackend {
  readonly #db: SqliteDatabaseLike
  readonly #table: string
  readonly #get: SqliteStatementLike
  readonly #has: SqliteStatementLike
  readonly #set: SqliteStatementLike
  readonly #delete: SqliteStatementLike
  readonly #prune: SqliteStatementLike
  readonly #lease: (row: WriteRow, now: number) => boolean
  readonly #setIfLease: SqliteStatementLike
  readonly #setIfCreated: SqliteStatementLike
  readonly #deleteIfLease: SqliteStatementLike
  readonly #deleteIfCreated: SqliteStatementLike
  readonly #getMany = new Map<number, SqliteStatementLike>()
  readonly #adhoc = new Map<string, SqliteStatementLike>()
  readonly #setMany: (rows: readonly WriteRow[], expired: readonly string[]) => void
  readonly #deleteMany: (keys: readonly string[]) => number

  /**
   * @param db - an open better-sqlite3 database holding the migrated table
   * @param table - validated table name
   */
  constructor(db: SqliteDatabaseLike, table: string) {
    this.#db = db
    this.#table = `"${table}"`
    const t = this.#table
    this.#get = db
      .prepare(`SELECT ${SELECT_COLUMNS} FROM ${t} WHERE cache_key = ? AND stale_until > ?`)
      .raw(true)
    this.#has = db
      .prepare(`SELECT 1 FROM ${t} WHERE cache_key = ? AND stale_until > ? AND created_at >= 0`)
      .raw(true)
    this.#set = db.prepare(
      `INSERT INTO ${t} (cache_key, value, created_at, fresh_until, stale_until, tags) VALUES (?, ?, ?, ?, ?, ?) ` +
        'ON CONFLICT (cache_key) DO UPDATE SET value = excluded.value, created_at = excluded.created_at, ' +
        'fresh_until = excluded.fresh_until, stale_until = excluded.stale_until, tags = excluded.tags',
    )
    this.#delete = db.prepare(`DELETE FROM ${t} WHERE cache_key = ?`)
    this.#prune = db.prepare(
      `DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t} WHERE stale_until <= ? LIMIT ?) AND stale_until <= ?`,
    )
    const dropExpired = db.prepare(`DELETE FROM ${t} WHERE cache_key = ? AND stale_until <= ?`)
    const insertNew = db.prepare(
      `INSERT INTO ${t} (cache_key, value, created_at, fresh_until, stale_until, tags) VALUES (?, ?, ?, ?, ?, ?) ` +
        `ON CONFLICT (cache_key) DO UPDATE SET value = excluded.value, stale_until = excluded.stale_until WHERE ${t}.created_at = -1`,
    )
    this.#lease = db.transaction((row: WriteRow, now: number) => {
      dropExpired.run(row[0], now)
      return insertNew.run(row[0], row[1], row[2], row[3], row[4], row[5]).changes > 0
    })
    const update =
      `UPDATE ${t} SET value = ?, created_at = ?, fresh_until = ?, stale_until = ?, tags = ? ` +
      'WHERE cache_key = ? AND stale_until > ? AND created_at = ?'
    this.#setIfLease = db.prepare(`${update} AND value = ?`)
    this.#setIfCreated = db.prepare(update)
    const remove = `DELETE FROM ${t} WHERE cache_key = ? AND stale_until > ? AND created_at = ?`
    this.#deleteIfLease = db.prepare(`${remove} AND value = ?`)
    this.#deleteIfCreated = db.prepare(remove)
    const set = this.#set
    const del = this.#delete
    this.#setMany = db.transaction((rows: readonly WriteRow[], expired: readonly string[]) => {
      for (const row of rows) set.run(row[0], row[1], row[2], row[3], row[4], row[5])
      for (const key of expired) del.run(key)
    })
    this.#deleteMany = db.transaction((keys: readonly string[]) => {
      let n = 0
      for (const key of keys) n += del.run(key).changes
      return n
    })
  }

  get(key: string, now: number): RemoteEntry | undefined {
    const row = this.#get.get(key, now) as Row | undefined
    return row === undefined || row[1] < 0 ? undefined : toEntry(row[0], row[1], row[2], row[3], row[4])
  }

  getMany(keys: readonly string[], now: number): (RemoteEntry | undefined)[] {
    const out = new Array<RemoteEntry | undefined>(keys.length).fill(undefined)
    if (keys.length === 0) return out
    const found = new Map<string, RemoteEntry>()
    for (const part of keys.length <= MAX_IN ? [keys] : slices(keys, MAX_IN)) {
      const rows = this.#getManyStatement(part.length).all(...part, now) as KeyedRow[]
      for (const r of rows) if (r[2] >= 0) found.set(r[0], toEntry(r[1], r[2], r[3], r[4], r[5]))
    }
    for (let i = 0; i < keys.length; i++) out[i] = found.get(keys[i] as string)
    return out
  }

  has(key: string, now: number): boolean {
    return this.#has.get(key, now) !== undefined
  }

  set(row: WriteRow): void {
    this.#set.run(row[0], row[1], row[2], row[3], row[4], row[5])
  }

  setMany(rows: readonly WriteRow[], expired: readonly string[]): void {
    this.#setMany(rows, expired)
  }

  delete(key: string): boolean {
    return this.#delete.run(key).changes > 0
  }

  deleteMany(keys: readonly string[]): number {
    return keys.length === 0 ? 0 : this.#deleteMany(keys)
  }

  clearAll(): void {
    this.#statement(`DELETE FROM ${this.#table}`).run()
  }

  deleteByPattern(plan: PatternPlan): number {
    if (plan.kind === 'exact') return this.#delete.run(plan.key).changes
    return this.#deleteRange(plan.prefix, plan.upper, plan.rangeOnly ? undefined : plan.glob)
  }

  lease(row: WriteRow, now: number): boolean {
    return this.#lease(row, now)
  }

  conditionalSet(
    row: WriteRow,
    token: Buffer | undefined,
    createdAt: number | undefined,
    now: number,
  ): boolean {
    if (row[1] === undefined) {
      if (token !== undefined)
        return this.#deleteIfLease.run(row[0], now, PLACEHOLDER_CREATED_AT, token).changes > 0
      return this.#deleteIfCreated.run(row[0], now, createdAt).changes > 0
    }
    const args = [row[1], row[2], row[3], row[4], row[5], row[0], now]
    if (token !== undefined) return this.#setIfLease.run(...args, PLACEHOLDER_CREATED_AT, token).changes > 0
    return this.#setIfCreated.run(...args, createdAt).changes > 0
  }

  pruneBatch(now: number, limit: number): number {
    return this.#prune.run(now, limit, now).changes
  }

  stats(now: number): { entries: number; bytes: number } {
    const [entries, bytes] = this.#statement(
      `SELECT count(*), coalesce(sum(length(value)), 0) FROM ${this.#table} WHERE stale_until > ? AND created_at >= 0`,
    )
      .raw(true)
      .get(now) as [number, number]
    return { entries, bytes }
  }

  /** Deletes keys in `[prefix, upper)` that match `glob` (each part only when given). */
  #deleteRange(prefix: string, upper: string | undefined, glob: string | undefined): number {
    const where: string[] = []
    const params: string[] = []
    if (prefix !== '') {
      where.push('cache_key >= ?')
      params.push(prefix)
    }
    if (upper !== undefined) {
      where.push('cache_key < ?')
      params.push(upper)
    }
    if (glob !== undefined) {
      where.push('cache_key GLOB ?')
      params.push(glob)
    }
    const sql = `DELETE FROM ${this.#table}${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`
    return this.#statement(sql).run(...params).changes
  }

  #getManyStatement(n: number): SqliteStatementLike {
    let stmt = this.#getMany.get(n)
    if (stmt === undefined) {
      const marks = '?, '.repeat(n - 1)
      stmt = this.#db
        .prepare(
          `SELECT cache_key, ${SELECT_COLUMNS} FROM ${this.#table} WHERE cache_key IN (${marks}?) AND stale_until > ?`,
        )
        .raw(true)
      this.#getMany.set(n, stmt)
    }
    return stmt
  }

  /** A prepared statement for rarely used SQL, cached by text (a handful of shapes). */
  #statement(sql: string): SqliteStatementLike {
    let stmt = this.#adhoc.get(sql)
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql)
      this.#adhoc.set(sql, stmt)
    }
    return stmt
  }
}
