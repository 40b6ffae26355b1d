/**
 * Validating the connection argument and option values, and opening the Kysely instance the
 * store queries: the caller's own (through `withoutPlugins()`), or one over a better-sqlite3
 * database, a `pg` pool or a `mysql2` pool that the store opens.
 *
 * @module
 */
import { InvalidOptionError } from '@tiercache/core/store'
import { Kysely, MysqlDialect, PostgresDialect, SqliteDialect } from 'kysely'
import { type ModuleImporter, openMysqlPool, openPostgresPool, openSqlite } from './drivers.js'
import type { KyselyLike, KyselyStoreConnection, SqlDialect, SqliteDatabaseLike } from './options.js'

/** Where the rows live, after validation. */
export type Source =
  | { readonly kind: 'db'; readonly db: KyselyLike }
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'sqlite-db'; readonly database: SqliteDatabaseLike }
  | { readonly kind: 'postgres'; readonly url: string }
  | { readonly kind: 'mysql'; readonly url: string }

/**
 * An `InvalidOptionError` with the factory's name in front.
 *
 * @param message - what is wrong
 * @param option - the option name
 */
export function invalid(message: string, option: string): InvalidOptionError {
  return new InvalidOptionError(`kyselyStore: ${message}`, { option })
}

/**
 * Checks the connection argument: exactly one of `db`, `sqlite`, `postgres`, `mysql`.
 *
 * @param connection - the factory's first argument
 * @throws InvalidOptionError
 */
export function parseSource(connection: KyselyStoreConnection): Source {
  if (typeof connection !== 'object' || connection === null) {
    throw invalid('the first argument must be { db } | { sqlite } | { postgres } | { mysql }', 'connection')
  }
  const c = connection as Record<string, unknown>
  const given = (['db', 'sqlite', 'postgres', 'mysql'] as const).filter((k) => c[k] !== undefined)
  if (given.length !== 1) {
    throw invalid(
      `give exactly one of db, sqlite, postgres, mysql (got ${given.length ? given.join(', ') : 'none'})`,
      'connection',
    )
  }
  const which = given[0] as 'db' | 'sqlite' | 'postgres' | 'mysql'
  const value = c[which]
  if (which === 'db') {
    const db = value as Partial<KyselyLike>
    if (typeof db.selectFrom !== 'function' || typeof db.getExecutor !== 'function') {
      throw invalid('db must be a Kysely instance', 'db')
    }
    return { kind: 'db', db: db as KyselyLike }
  }
  if (which === 'sqlite') {
    if (typeof value === 'string' && value.length > 0) return { kind: 'sqlite', path: value }
    if (typeof (value as Partial<SqliteDatabaseLike>)?.prepare === 'function') {
      return { kind: 'sqlite-db', database: value as SqliteDatabaseLike }
    }
    throw invalid("sqlite must be a file path, ':memory:' or a better-sqlite3 Database", 'sqlite')
  }
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid(`${which} must be a connection URL`, which)
  }
  return which === 'postgres' ? { kind: 'postgres', url: value } : { kind: 'mysql', url: value }
}

/**
 * Checks a positive number option.
 *
 * @param value - the option value
 * @param option - its name
 * @param fallback - returned for `undefined`
 * @param integer - whether it must be a (finite) integer
 * @throws InvalidOptionError
 */
export function positiveNumber(value: unknown, option: string, fallback: number, integer: boolean): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !(value > 0) || (integer && !Number.isSafeInteger(value))) {
    throw invalid(
      `${option} must be a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`,
      option,
    )
  }
  return value
}

/**
 * The dialect of a Kysely instance, from its adapter's class or a parent class (Kysely's
 * `SqliteAdapter`, `PostgresAdapter`, `MysqlAdapter`); `undefined` for other adapters.
 *
 * @param db - the Kysely instance
 */
export function detectDialect(db: KyselyLike): SqlDialect | undefined {
  let proto: unknown = Object.getPrototypeOf(db.getExecutor().adapter)
  while (proto !== null && proto !== undefined && proto !== Object.prototype) {
    const name = (proto as { constructor?: { name?: string } }).constructor?.name
    if (name === 'SqliteAdapter') return 'sqlite'
    if (name === 'PostgresAdapter') return 'postgres'
    if (name === 'MysqlAdapter') return 'mysql'
    proto = Object.getPrototypeOf(proto)
  }
  return undefined
}

/** What opening a connection needs beyond the source. */
export interface OpenOptions {
  /** SQLite busy timeout in milliseconds. */
  readonly busyTimeout: number
  /** Pool size for server URLs. */
  readonly poolSize: number
  /** How to import the drivers. */
  readonly importer: ModuleImporter
  /** The dialect the caller declared, if any (wins over detection). */
  readonly dialect: SqlDialect | undefined
}

/** An opened connection. */
export interface Connection {
  /** The Kysely instance the store queries (plugin-free). */
  readonly db: KyselyLike
  /** Its dialect. */
  readonly dialect: SqlDialect
  /** The better-sqlite3 database the store opened itself, for the fast path. */
  readonly sqlite: SqliteDatabaseLike | undefined
}

/**
 * Opens the Kysely instance for a source.
 *
 * @param source - validated source
 * @param options - timeouts, pool size, importer, declared dialect
 * @throws DriverNotInstalledError when the driver is missing; InvalidOptionError when the
 *   dialect of a handed instance cannot be told; the driver's error when it cannot connect
 */
export async function openConnection(source: Source, options: OpenOptions): Promise<Connection> {
  switch (source.kind) {
    case 'db': {
      // The caller's plugins (CamelCasePlugin, WithSchemaPlugin, …) would rename the store's
      // columns and tables: the store queries through a plugin-free view of the same instance.
      const db = source.db.withoutPlugins()
      const dialect = options.dialect ?? detectDialect(db)
      if (dialect === undefined) {
        throw invalid(
          "cannot tell the dialect of this Kysely instance; pass dialect: 'sqlite' | 'postgres' | 'mysql'",
          'dialect',
        )
      }
      return { db, dialect, sqlite: undefined }
    }
    case 'sqlite':
    case 'sqlite-db': {
      const database =
        source.kind === 'sqlite'
          ? await openSqlite(source.path, options.busyTimeout, options.importer)
          : source.database
      const db = new Kysely<any>({ dialect: new SqliteDialect({ database }) })
      return { db, dialect: 'sqlite', sqlite: database }
    }
    case 'postgres': {
      const pool = await openPostgresPool(source.url, options.poolSize, options.importer)
      return {
        db: new Kysely<any>({ dialect: new PostgresDialect({ pool }) }),
        dialect: 'postgres',
        sqlite: undefined,
      }
    }
    case 'mysql': {
      const pool = await openMysqlPool(source.url, options.poolSize, options.importer)
      return {
        db: new Kysely<any>({ dialect: new MysqlDialect({ pool }) }),
        dialect: 'mysql',
        sqlite: undefined,
      }
    }
  }
}
