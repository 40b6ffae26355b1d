/**
 * The table layout and its versioned Kysely migrations.
 *
 * One row per key: `cache_key` (primary key, compared byte-wise in every dialect), `value` (the
 * serialized bytes), `created_at`, `fresh_until`, `stale_until` (epoch ms as 64-bit integers;
 * `NEVER` = 2^53-1 fits), `tags` (a JSON array as text, `NULL` for none), and an index on
 * `stale_until` for expiry filters and pruning.
 *
 * Migrations are idempotent (`IF NOT EXISTS`) and recorded in `<table>_migrations`, guarded by
 * Kysely's migration lock (an advisory lock on PostgreSQL, `GET_LOCK` on MySQL).
 *
 * @module
 */
import { InvalidOptionError } from '@tiercache/core/store'
import { type Kysely, type Migration, Migrator, sql } from 'kysely'
import type { KyselyLike, SqlDialect } from './options.js'

/** Column names. */
export const COLUMNS: {
  readonly key: 'cache_key'
  readonly value: 'value'
  readonly createdAt: 'created_at'
  readonly freshUntil: 'fresh_until'
  readonly staleUntil: 'stale_until'
  readonly tags: 'tags'
} = Object.freeze({
  key: 'cache_key',
  value: 'value',
  createdAt: 'created_at',
  freshUntil: 'fresh_until',
  staleUntil: 'stale_until',
  tags: 'tags',
})

/** Default table name. */
export const DEFAULT_TABLE = 'tiercache_entries'

/**
 * Longest key MySQL/MariaDB can keep, in UTF-8 bytes: the `VARBINARY` key column's length,
 * which is InnoDB's largest index key (3,072 bytes). SQLite and PostgreSQL have no such limit.
 */
export const MYSQL_MAX_KEY_BYTES = 3072

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,39}$/

/**
 * Checks a table name: a letter or `_`, then letters, digits or `_`, at most 40 characters (so
 * `<table>_migrations_lock` and `<table>_stale_until_idx` fit PostgreSQL's 63-byte limit).
 *
 * @param table - the name to check
 * @throws InvalidOptionError (`E_INVALID_OPTION`)
 */
export function validateTable(table: unknown): string {
  if (typeof table !== 'string' || !TABLE_NAME.test(table)) {
    throw new InvalidOptionError(
      `kyselyStore: table must be 1-40 characters of A-Z a-z 0-9 _ starting with a letter or _, got ${JSON.stringify(String(table)).slice(0, 80)}`,
      { option: 'table' },
    )
  }
  return table
}

/** Names of the bookkeeping tables and the index for a store table. */
export function schemaNames(table: string): {
  readonly migrations: string
  readonly migrationsLock: string
  readonly staleIndex: string
} {
  return {
    migrations: `${table}_migrations`,
    migrationsLock: `${table}_migrations_lock`,
    staleIndex: `${table}_stale_until_idx`,
  }
}

function isDuplicateIndex(error: unknown): boolean {
  const e = error as { errno?: unknown; code?: unknown }
  return e?.errno === 1061 || e?.code === 'ER_DUP_KEYNAME'
}

/**
 * The migrations for a table in a dialect, by name (applied in name order).
 *
 * @param table - validated table name
 * @param dialect - the SQL dialect
 */
export function schemaMigrations(table: string, dialect: SqlDialect): Record<string, Migration> {
  const { staleIndex } = schemaNames(table)
  return {
    '0001_create_entries': {
      async up(db: Kysely<any>): Promise<void> {
        let create = db.schema.createTable(table).ifNotExists()
        if (dialect === 'postgres') {
          create = create
            .addColumn(COLUMNS.key, sql`text collate "C"`, (c) => c.primaryKey())
            .addColumn(COLUMNS.value, 'bytea', (c) => c.notNull())
            .addColumn(COLUMNS.createdAt, 'bigint', (c) => c.notNull())
            .addColumn(COLUMNS.freshUntil, 'bigint', (c) => c.notNull())
            .addColumn(COLUMNS.staleUntil, 'bigint', (c) => c.notNull())
            .addColumn(COLUMNS.tags, 'text')
        } else if (dialect === 'mysql') {
          create = create
            .addColumn(COLUMNS.key, sql`varbinary(${sql.raw(String(MYSQL_MAX_KEY_BYTES))})`, (c) =>
              c.primaryKey(),
            )
            .addColumn(COLUMNS.value, sql`longblob`, (c) => c.notNull())
            .addColumn(COLUMNS.createdAt, 'bigint', (c) => c.notNull())
            .addColumn(COLUMNS.freshUntil, 'bigint', (c) => c.notNull())
            .addColumn(COLUMNS.staleUntil, 'bigint', (c) => c.notNull())
            .addColumn(COLUMNS.tags, sql`mediumtext character set utf8mb4 collate utf8mb4_bin`)
        } else {
          create = create
            .addColumn(COLUMNS.key, 'text', (c) => c.primaryKey().notNull())
            .addColumn(COLUMNS.value, 'blob', (c) => c.notNull())
            .addColumn(COLUMNS.createdAt, 'integer', (c) => c.notNull())
            .addColumn(COLUMNS.freshUntil, 'integer', (c) => c.notNull())
            .addColumn(COLUMNS.staleUntil, 'integer', (c) => c.notNull())
            .addColumn(COLUMNS.tags, 'text')
        }
        await create.execute()
        // MySQL 8 has no CREATE INDEX IF NOT EXISTS; an index left by an interrupted run is fine.
        const index = db.schema.createIndex(staleIndex).on(table).column(COLUMNS.staleUntil)
        if (dialect === 'mysql') {
          await index.execute().catch((error: unknown) => {
            if (!isDuplicateIndex(error)) throw error
          })
        } else {
          await index.ifNotExists().execute()
        }
      },
      async down(db: Kysely<any>): Promise<void> {
        await db.schema.dropTable(table).ifExists().execute()
      },
    },
  }
}

/**
 * Brings the table to the latest schema. Safe to run concurrently from several stores and
 * processes: Kysely's migration lock serialises PostgreSQL and MySQL; on SQLite, where two
 * connections can race to record the same migration, a failed run is retried and finds the
 * work done.
 *
 * @param db - the Kysely instance
 * @param table - validated table name
 * @param dialect - the SQL dialect
 * @throws the migrator's error after three failed runs
 */
export async function migrateSchema(db: KyselyLike, table: string, dialect: SqlDialect): Promise<void> {
  const names = schemaNames(table)
  const migrations = schemaMigrations(table, dialect)
  const migrator = new Migrator({
    db: db as Kysely<any>,
    provider: { getMigrations: async () => migrations },
    migrationTableName: names.migrations,
    migrationLockTableName: names.migrationsLock,
  })
  let lastError: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    const { error } = await migrator.migrateToLatest()
    if (error === undefined) return
    lastError = error
  }
  throw lastError
}
