/**
 * The durable SQL tier: a `Store` on Kysely (`kyselyStore`), with SQLite through better-sqlite3
 * by default and PostgreSQL or MySQL/MariaDB by URL or by a Kysely instance you hand in.
 *
 * @module
 */
export { DriverNotInstalledError } from './errors.js'
export { KyselyStore, kyselyStore } from './kysely-store.js'
export {
  DEFAULT_BUSY_TIMEOUT,
  DEFAULT_MAX_ENTRY_BYTES,
  DEFAULT_POOL_SIZE,
  DEFAULT_PRUNE_BATCH_SIZE,
  DEFAULT_PRUNE_INTERVAL,
  type KyselyLike,
  type KyselyStoreConnection,
  type KyselyStoreOptions,
  type PruneOptions,
  type SqlDialect,
  type SqliteDatabaseLike,
  type SqliteStatementLike,
} from './options.js'
export { DEFAULT_TABLE, MYSQL_MAX_KEY_BYTES } from './schema.js'
