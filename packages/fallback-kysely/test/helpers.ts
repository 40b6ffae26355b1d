/**
 * Shared test helpers: the four backends every SQL test runs on, unique table names per run,
 * and cleanup of the tables a run created on the shared PostgreSQL and MariaDB servers.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RemoteEntry } from '@tiercache/core/store'
import Database from 'better-sqlite3'
import { Kysely, MysqlDialect, PostgresDialect, sql } from 'kysely'
import { createPool } from 'mysql2'
import pg from 'pg'
import {
  type KyselyStore,
  type KyselyStoreOptions,
  kyselyStore,
  type SqliteDatabaseLike,
} from '../src/index.js'

export const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test'
export const MYSQL_URL = 'mysql://root@127.0.0.1:3306/test'

/**
 * A better-sqlite3 Database as the store's `sqlite` option. `SqliteDatabaseLike.transaction`
 * returns `F` where better-sqlite3's declarations return `Transaction<F>`, so the declarations
 * refuse a real Database that the store handles correctly.
 */
export function handedDatabase(database: Database.Database): SqliteDatabaseLike {
  return database as unknown as SqliteDatabaseLike
}

/** One backend the tests run on. */
export interface Backend {
  readonly name: string
  /** Opens a store on a table; the backend remembers the table for {@link Backend.cleanup}. */
  open(table: string, options?: KyselyStoreOptions): KyselyStore
  /** Counts the rows of a table, expired or not, with a connection of its own. */
  countRows(table: string): Promise<number>
  /** Drops a store's table behind its back. */
  dropTable(table: string): Promise<void>
  /** Drops every table the run created and removes temporary files. */
  cleanup(): Promise<void>
}

/** A Kysely instance on a server database, for inspection and cleanup. */
export function serverKysely(kind: 'postgres' | 'mysql'): Kysely<any> {
  return kind === 'postgres'
    ? new Kysely<any>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: POSTGRES_URL, max: 2 }) }),
      })
    : new Kysely<any>({
        dialect: new MysqlDialect({ pool: createPool({ uri: MYSQL_URL, connectionLimit: 2 }) }),
      })
}

/** Drops a store table and its migration tables. */
export async function dropStoreTables(db: Kysely<any>, tables: Iterable<string>): Promise<void> {
  for (const t of tables) {
    for (const name of [t, `${t}_migrations`, `${t}_migrations_lock`]) {
      await db.schema.dropTable(name).ifExists().execute()
    }
  }
}

function serverBackend(kind: 'postgres' | 'mysql'): Backend {
  const tables = new Set<string>()
  let admin: Kysely<any> | undefined
  const db = (): Kysely<any> => {
    admin ??= serverKysely(kind)
    return admin
  }
  return {
    name: kind === 'postgres' ? 'PostgreSQL' : 'MariaDB',
    open(table, options = {}) {
      tables.add(table)
      return kind === 'postgres'
        ? kyselyStore({ postgres: POSTGRES_URL }, { table, poolSize: 4, ...options })
        : kyselyStore({ mysql: MYSQL_URL }, { table, poolSize: 4, ...options })
    },
    async countRows(table) {
      const row = await db()
        .selectFrom(table)
        .select(sql<string | number>`count(*)`.as('n'))
        .executeTakeFirst()
      return Number(row?.n ?? 0)
    },
    async dropTable(table) {
      await db().schema.dropTable(table).execute()
    },
    async cleanup() {
      await dropStoreTables(db(), tables)
      await admin?.destroy()
      admin = undefined
    },
  }
}

function sqliteFileBackend(): Backend {
  let dir: string | undefined
  const file = (): string => {
    dir ??= mkdtempSync(join(tmpdir(), 'tiercache-sqlite-'))
    return join(dir, 'cache.db')
  }
  return {
    name: 'SQLite file',
    open: (table, options = {}) => kyselyStore({ sqlite: file() }, { table, ...options }),
    async countRows(table) {
      const db = new Database(file(), { readonly: true })
      try {
        return (db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n
      } finally {
        db.close()
      }
    },
    async dropTable(table) {
      const db = new Database(file())
      try {
        db.exec(`DROP TABLE "${table}"`)
      } finally {
        db.close()
      }
    },
    async cleanup() {
      if (dir) rmSync(dir, { recursive: true, force: true })
      dir = undefined
    },
  }
}

function sqliteMemoryBackend(): Backend {
  const open = new Map<string, Database.Database>()
  return {
    name: 'SQLite :memory:',
    open(table, options = {}) {
      // A handed :memory: database (owned by the store), so the test can look at its rows.
      const db = new Database(':memory:')
      open.set(table, db)
      return kyselyStore({ sqlite: handedDatabase(db) }, { table, owned: true, ...options })
    },
    async countRows(table) {
      const db = open.get(table)
      if (!db) throw new Error(`no database for ${table}`)
      return (db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n
    },
    async dropTable(table) {
      open.get(table)?.exec(`DROP TABLE "${table}"`)
    },
    async cleanup() {
      for (const db of open.values()) if (db.open) db.close()
      open.clear()
    },
  }
}

/** The four backends: SQLite file, SQLite :memory:, PostgreSQL, MariaDB. */
export function backends(): Backend[] {
  return [sqliteFileBackend(), sqliteMemoryBackend(), serverBackend('postgres'), serverBackend('mysql')]
}

/** A remote entry holding `value` as UTF-8 bytes. */
export function entry(value: string, meta: Partial<Omit<RemoteEntry, 'value'>> = {}): RemoteEntry {
  const now = Date.now()
  return {
    value: Buffer.from(value),
    createdAt: meta.createdAt ?? now,
    freshUntil: meta.freshUntil ?? now + 60_000,
    staleUntil: meta.staleUntil ?? now + 120_000,
    tags: meta.tags ?? [],
  }
}

/** The UTF-8 text of an entry's value, or undefined. */
export function text(e: RemoteEntry | undefined): string | undefined {
  return e === undefined ? undefined : Buffer.from(e.value).toString('utf8')
}
