/**
 * Loading the optional database drivers (`better-sqlite3`, `pg`, `mysql2`) with dynamic
 * `import()`, and opening the connections the store owns. A missing driver becomes a
 * {@link DriverNotInstalledError} that names the package to install.
 *
 * @module
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { MysqlPool, PostgresPool } from 'kysely'
import { DriverNotInstalledError } from './errors.js'
import type { SqliteDatabaseLike } from './options.js'

/** Loads a module by name. Tests inject one to simulate a missing package. */
export type ModuleImporter = (specifier: string) => Promise<unknown>

/** The default importer: Node's dynamic `import()`, resolved from this package's location. */
export const nodeImport: ModuleImporter = (specifier) => import(specifier)

/**
 * Imports an optional driver and returns its CommonJS `module.exports` (the `default` export of
 * the ESM namespace when there is one).
 *
 * @param driver - npm package name
 * @param option - the connection option that needs it, for the error message
 * @param importer - how to import it
 * @throws DriverNotInstalledError when the import fails
 */
export async function loadDriver(
  driver: string,
  option: string,
  importer: ModuleImporter = nodeImport,
): Promise<unknown> {
  let mod: unknown
  try {
    mod = await importer(driver)
  } catch (cause) {
    throw new DriverNotInstalledError(driver, option, cause)
  }
  const ns = mod as { default?: unknown }
  return ns.default ?? mod
}

type SqliteConstructor = new (
  filename: string,
  options?: { timeout?: number; fileMustExist?: boolean },
) => SqliteDatabaseLike

/**
 * Opens a SQLite database with better-sqlite3: WAL journal (for files), `synchronous = NORMAL`
 * (a commit survives a process crash; only an OS crash or power loss can drop the last
 * commits) and a busy timeout. Creates the parent folder of a file path.
 *
 * @param filename - file path or `':memory:'`
 * @param busyTimeout - milliseconds a write waits for a lock
 * @param importer - how to import better-sqlite3
 */
export async function openSqlite(
  filename: string,
  busyTimeout: number,
  importer?: ModuleImporter,
): Promise<SqliteDatabaseLike> {
  const Database = (await loadDriver('better-sqlite3', 'sqlite', importer)) as SqliteConstructor
  const memory = filename === ':memory:' || filename === ''
  if (!memory && !filename.startsWith('file:')) mkdirSync(dirname(filename), { recursive: true })
  const db = new Database(filename, { timeout: busyTimeout })
  try {
    if (!memory) db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma(`busy_timeout = ${Math.floor(busyTimeout)}`)
  } catch (error) {
    db.close()
    throw error
  }
  return db
}

/**
 * Opens a `pg` pool for a connection URL.
 *
 * @param url - `postgres://user:password@host:port/database`
 * @param max - largest number of connections
 * @param importer - how to import pg
 */
export async function openPostgresPool(
  url: string,
  max: number,
  importer?: ModuleImporter,
): Promise<PostgresPool> {
  const pg = (await loadDriver('pg', 'postgres', importer)) as {
    Pool: new (config: {
      connectionString: string
      max: number
    }) => PostgresPool & {
      on(event: 'error', listener: (error: unknown) => void): unknown
    }
  }
  const pool = new pg.Pool({ connectionString: url, max })
  // An idle client losing its connection must not crash the process; the next query fails
  // and is reported as a StoreError instead.
  pool.on('error', () => {})
  return pool
}

/**
 * Opens a `mysql2` pool for a connection URL.
 *
 * @param url - `mysql://user:password@host:port/database`
 * @param connectionLimit - largest number of connections
 * @param importer - how to import mysql2
 */
export async function openMysqlPool(
  url: string,
  connectionLimit: number,
  importer?: ModuleImporter,
): Promise<MysqlPool> {
  const mysql = (await loadDriver('mysql2', 'mysql', importer)) as {
    createPool(config: { uri: string; connectionLimit: number; charset: string }): MysqlPool
  }
  return mysql.createPool({ uri: url, connectionLimit, charset: 'utf8mb4_bin' })
}
