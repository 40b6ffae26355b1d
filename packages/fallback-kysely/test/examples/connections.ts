import { kyselyStore, type SqliteDatabaseLike } from '@tiercache/fallback-kysely'
import type { Kysely } from 'kysely'

export function stores(database: SqliteDatabaseLike, kysely: Kysely<any>) {
  return [
    kyselyStore({ sqlite: './cache.db' }), // a file: WAL, synchronous = NORMAL, busy timeout
    kyselyStore({ sqlite: ':memory:' }), // private to this process
    kyselyStore({ sqlite: database }), // an open better-sqlite3 Database (not closed unless owned)
    kyselyStore({ postgres: 'postgres://user@host:5432/db' }), // the store opens and owns a pg pool
    kyselyStore({ mysql: 'mysql://user@host:3306/db' }), // the store opens and owns a mysql2 pool
    kyselyStore({ db: kysely }, { table: 'cache_entries' }), // your Kysely instance, never destroyed unless owned: true
  ]
}
