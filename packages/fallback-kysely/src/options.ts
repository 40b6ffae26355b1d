import type { Clock, Duration, StoreScope } from '@tiercache/core'
import type { Kysely } from 'kysely'

/** Default `maxEntryBytes`: 8 MiB. */
export const DEFAULT_MAX_ENTRY_BYTES: number = 8 * 1024 * 1024
/** Default `pruneInterval`: 60 seconds, in milliseconds. */
export const DEFAULT_PRUNE_INTERVAL: number = 60_000
/** Default `pruneBatchSize`: 1,000 rows per statement. */
export const DEFAULT_PRUNE_BATCH_SIZE: number = 1000
/** Default SQLite `busyTimeout`: 5 seconds, in milliseconds. */
export const DEFAULT_BUSY_TIMEOUT: number = 5000
/** Default `poolSize` for `{ postgres }` and `{ mysql }` URLs. */
export const DEFAULT_POOL_SIZE: number = 10

/**
 * The part of a `Kysely` instance the store uses. Any `Kysely<any>` fits; the store never
 * checks `instanceof`, so a second copy of kysely in the tree is fine.
 */
export type KyselyLike = Pick<
  Kysely<any>,
  | 'selectFrom'
  | 'insertInto'
  | 'deleteFrom'
  | 'schema'
  | 'destroy'
  | 'getExecutor'
  | 'executeQuery'
  | 'connection'
  | 'introspection'
  | 'withPlugin'
  | 'withoutPlugins'
  | 'transaction'
>

/**
 * The part of a better-sqlite3 `Database` the store uses (typed by its methods, so the store
 * does not depend on better-sqlite3's types).
 */
export interface SqliteDatabaseLike {
  /** Compiles a statement. */
  prepare(sql: string): SqliteStatementLike
  /** Runs a pragma; with `{ simple: true }` returns the first column of the first row. */
  pragma(source: string, options?: { simple?: boolean }): unknown
  /** Wraps a function in a transaction (`BEGIN` … `COMMIT`, `ROLLBACK` on throw). */
  transaction<F extends (...args: any[]) => any>(fn: F): F
  /** Closes the database. */
  close(): unknown
  /** False once closed. */
  readonly open: boolean
}

/** A prepared better-sqlite3 statement, typed by the methods the store uses. */
export interface SqliteStatementLike {
  /** First row or `undefined`. */
  get(...params: unknown[]): unknown
  /** Every row. */
  all(...params: unknown[]): unknown[]
  /** Rows one by one (Kysely streams with it). */
  iterate(...params: unknown[]): IterableIterator<unknown>
  /** Executes a write; `changes` is the number of affected rows. */
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint }
  /** Switches row shape to arrays (`true`) instead of objects. */
  raw(toggle?: boolean): SqliteStatementLike
  /** Whether the statement returns rows. */
  readonly reader: boolean
}

/** SQL dialects the store speaks. `mysql` covers MySQL 8 and MariaDB 10.5+. */
export type SqlDialect = 'sqlite' | 'postgres' | 'mysql'

/**
 * Where the store keeps its rows: exactly one of `db`, `sqlite`, `postgres` or `mysql`.
 *
 * - `{ db }`: an existing Kysely instance. The store never destroys it unless `owned: true`.
 * - `{ sqlite }`: a file path or `':memory:'` (opened with better-sqlite3 in WAL mode,
 *   `synchronous = NORMAL` and a busy timeout), or an open better-sqlite3 `Database` (not closed
 *   unless `owned: true`). Needs the optional peer `better-sqlite3`.
 * - `{ postgres }`: a connection URL (`postgres://user@host:5432/db`); the store opens and owns
 *   a `pg` pool. Needs the optional peer `pg`.
 * - `{ mysql }`: a connection URL (`mysql://user@host:3306/db`); the store opens and owns a
 *   `mysql2` pool. Needs the optional peer `mysql2`.
 */
export type KyselyStoreConnection =
  | { readonly db: KyselyLike }
  | { readonly sqlite: string | SqliteDatabaseLike }
  | { readonly postgres: string }
  | { readonly mysql: string }

/** Options for {@link kyselyStore}, given as its second argument (or merged into the first). */
export interface KyselyStoreOptions {
  /**
   * Table that holds the entries. Letters, digits and `_`, starting with a letter or `_`, at
   * most 48 characters. The migration bookkeeping lives in `<table>_migrations` and
   * `<table>_migrations_lock`.
   * @default 'tiercache_entries'
   */
  readonly table?: string
  /**
   * Whether the store owns the connection and releases it in `close()`: destroys the Kysely
   * instance (closing its pool or SQLite database). Connections the store opened itself
   * (`sqlite` path, `postgres`, `mysql` URLs) are always owned.
   * @default false for a handed `db` or better-sqlite3 `Database`, true otherwise
   */
  readonly owned?: boolean
  /**
   * Whether the table is private to this instance (`local`: a SQLite file per process or host;
   * other instances' invalidations reach it over the bus) or shared by every instance (`shared`:
   * PostgreSQL, MySQL/MariaDB, or one SQLite file every instance opens).
   * @default `local` for `{ sqlite }`, a better-sqlite3 `Database`, and a handed `db` whose
   *   `dialect` option is `'sqlite'`; `shared` otherwise
   */
  readonly scope?: StoreScope
  /**
   * The dialect of a handed Kysely instance. Detected from its adapter (`SqliteAdapter`,
   * `PostgresAdapter`, `MysqlAdapter` and their subclasses) when omitted; set it for a
   * third-party dialect whose adapter has another name.
   * @default detected
   */
  readonly dialect?: SqlDialect
  /**
   * Run the schema migrations on first use. With `false`, run `migrate()` yourself (for
   * example in a deploy step) before the store is used.
   * @default true
   */
  readonly migrate?: boolean
  /**
   * Largest entry value, in bytes. A larger value is refused with `ValueTooLargeError` and the
   * key keeps its previous entry. `Infinity` removes the limit (the database's own limits then
   * apply: MySQL's `max_allowed_packet`, 1 GB for PostgreSQL `bytea` and SQLite).
   * @default 8_388_608 (8 MiB)
   */
  readonly maxEntryBytes?: number
  /**
   * Longest lifetime an entry may have in this tier, as a duration (milliseconds or `'7d'`).
   * The engine caps writes and backfills to it.
   * @default no cap
   */
  readonly maxTtl?: Duration
  /**
   * How often expired rows are pruned in the background, as a duration (milliseconds or
   * `'1m'`). The timer is unref'd, so it never keeps the process alive. `0` disables it; call
   * `prune()` yourself then.
   * @default 60_000 (60 seconds)
   */
  readonly pruneInterval?: Duration
  /**
   * Rows deleted per statement when pruning. The store yields to the event loop between
   * batches, so reads are never blocked for long.
   * @default 1_000
   */
  readonly pruneBatchSize?: number
  /**
   * SQLite busy timeout, in milliseconds: how long a write waits for another connection's lock
   * before failing with `SQLITE_BUSY`. Only for `{ sqlite: path }`.
   * @default 5_000
   */
  readonly busyTimeout?: number
  /**
   * Largest number of pooled connections for `{ postgres }` and `{ mysql }` URLs.
   * @default 10
   */
  readonly poolSize?: number
  /**
   * Time source for expiry filters and pruning (epoch ms).
   * @default the core's system clock
   */
  readonly clock?: Clock
  /**
   * Name of the tier in stats and metrics (the level becomes `l<position>_<name>`).
   * @default 'sql'
   */
  readonly name?: string
}

/** Options for `store.prune({ batchSize })`. */
export interface PruneOptions {
  /**
   * Rows deleted per statement.
   * @default the store's `pruneBatchSize` (1_000)
   */
  readonly batchSize?: number
}
