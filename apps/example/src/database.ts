import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { type ColumnType, type Generated, Kysely, SqliteDialect } from 'kysely'

/** The `keywords` table: the service's source of truth. */
export interface KeywordsTable {
  id: Generated<number>
  term: string
  volume: number
  difficulty: number
  /** JSON array of related terms. */
  related: string
  /** Epoch milliseconds of the last change. */
  updated_at: number
}

/** Key/value facts about the database (seed version, row count). */
export interface MetaTable {
  key: string
  value: ColumnType<string, string, string>
}

/** The database schema, for Kysely. */
export interface Schema {
  keywords: KeywordsTable
  meta: MetaTable
}

/** An open source-of-truth database: Kysely for queries, the raw handle for the bulk seed. */
export interface KeywordDatabase {
  readonly db: Kysely<Schema>
  readonly sqlite: Database.Database
  /** Closes the database. */
  close(): Promise<void>
}

/**
 * Opens (and creates) the SQLite database at `path` in WAL mode, with the tables. With
 * `readonly`, opens an existing database for reading only (the search workers' connections).
 *
 * @param path - file path, created with its directory if missing
 */
export function openDatabase(path: string, options: { readonly?: boolean } = {}): KeywordDatabase {
  let sqlite: Database.Database
  if (options.readonly) {
    sqlite = new Database(path, { readonly: true, fileMustExist: true })
  } else {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
    sqlite = new Database(path)
    sqlite.pragma('journal_mode = WAL')
    sqlite.pragma('synchronous = NORMAL')
    sqlite.exec(`
      CREATE TABLE IF NOT EXISTS keywords (
        id INTEGER PRIMARY KEY,
        term TEXT NOT NULL UNIQUE,
        volume INTEGER NOT NULL,
        difficulty INTEGER NOT NULL,
        related TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `)
  }
  sqlite.pragma('busy_timeout = 5000')
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: sqlite }) })
  return {
    db,
    sqlite,
    close: () => db.destroy(),
  }
}
