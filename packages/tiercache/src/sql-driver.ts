import { createRequire } from 'node:module'
import { isAbsolute, resolve } from 'node:path'
import { DriverNotInstalledError } from '@tiercache/fallback-kysely'

/** The `kyselyStore` connection for a `fallbackDb` value. */
export type SqlConnection = { sqlite: string } | { postgres: string } | { mysql: string }

/** Maps `fallbackDb` (a SQLite path or a database URL) to a `kyselyStore` connection. */
export function sqlConnection(db: string): SqlConnection {
  if (/^postgres(ql)?:\/\//i.test(db)) return { postgres: db }
  if (/^(mysql|mariadb):\/\//i.test(db)) return { mysql: db.replace(/^mariadb:/i, 'mysql:') }
  return { sqlite: db.replace(/^sqlite:(\/\/)?/i, '') }
}

/** `fallbackDb` for people: the SQLite file's absolute path, or a URL without credentials. */
export function describeDb(db: string): string {
  const c = sqlConnection(db)
  if ('sqlite' in c) {
    const file = c.sqlite
    return `sqlite ${file === ':memory:' || isAbsolute(file) ? file : resolve(file)}`
  }
  const u = new URL('postgres' in c ? c.postgres : c.mysql)
  return `${u.protocol.replace(':', '')} ${u.hostname}:${u.port}${u.pathname}`
}

/** Resolves a package name from this package's location; throws when it is not installed. */
export type PackageResolver = (name: string) => string

const nodeResolve: PackageResolver = (name) => createRequire(import.meta.url).resolve(name)

/**
 * Checks, when the cache is created, that the driver the SQL tier needs is installed:
 * `better-sqlite3` for SQLite (the default), `pg` for PostgreSQL, `mysql2` for MySQL. They are
 * optional peers, so a cache without the SQL tier (`fallbackToDb: false`) needs none.
 *
 * @param db - the `fallbackDb` value
 * @param resolvePackage - how to look a package up (tests pass one that fails)
 * @throws DriverNotInstalledError (`E_DRIVER_MISSING`, `driver` = the package) naming the
 *   package to install and the way to do without the SQL tier
 */
export function assertSqlDriver(db: string, resolvePackage: PackageResolver = nodeResolve): void {
  const c = sqlConnection(db)
  const [driver, option] =
    'sqlite' in c ? ['better-sqlite3', 'sqlite'] : 'postgres' in c ? ['pg', 'postgres'] : ['mysql2', 'mysql']
  try {
    resolvePackage(driver)
  } catch (cause) {
    const error = new DriverNotInstalledError(driver, option, cause)
    error.message = `createDistributedCache: the SQL tier (fallbackToDb, on by default) keeps values in ${describeDb(db)} and needs the package "${driver}", which is not installed: run \`npm install ${driver}\` (or pnpm add ${driver}), or set fallbackToDb: false (TIERCACHE_FALLBACK_TO_DB=false) to run without the SQL tier`
    throw error
  }
}
