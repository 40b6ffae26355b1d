import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runStoreSuite } from '@tiercache/store-test-suite'
import { tempDir, uniqueTable } from '@tiercache/test-kit'
import { freePort } from '@tiercache/test-servers'
import { afterAll, describe, expect, test } from 'vitest'
import { type KyselyStoreConnection, kyselyStore } from '../src/index.js'
import { dropStoreTables, MYSQL_URL, POSTGRES_URL, serverKysely } from './helpers.js'

const capabilities = {
  getMany: true,
  setMany: true,
  deleteMany: true,
  deleteByPattern: true,
  has: true,
  stats: true,
  close: true,
  conditionalSet: true,
}

const { dir, remove: removeDir } = tempDir('tiercache-conformance')
const serverTables = { postgres: new Set<string>(), mysql: new Set<string>() }

afterAll(async () => {
  removeDir()
  for (const kind of ['postgres', 'mysql'] as const) {
    const db = serverKysely(kind)
    try {
      await dropStoreTables(db, serverTables[kind])
    } finally {
      await db.destroy()
    }
  }
})

/** Each store gets a table of its own, so `clear('')` in one test never touches another. */
const suites: [string, () => KyselyStoreConnection, keyof typeof serverTables | undefined][] = [
  ['SQLite file', () => ({ sqlite: join(dir, 'conformance.db') }), undefined],
  ['SQLite :memory:', () => ({ sqlite: ':memory:' }), undefined],
  ['PostgreSQL', () => ({ postgres: POSTGRES_URL }), 'postgres'],
  ['MariaDB', () => ({ mysql: MYSQL_URL }), 'mysql'],
]

/** Connections that fail every call: a database file under a file, servers on a port nothing listens on. */
const blocker = join(dir, 'not-a-directory')
writeFileSync(blocker, '')
const failing: Record<string, (() => Promise<KyselyStoreConnection>) | undefined> = {
  'SQLite file': async () => ({ sqlite: join(blocker, 'cache.db') }),
  'SQLite :memory:': undefined,
  PostgreSQL: async () => ({ postgres: `postgres://postgres@127.0.0.1:${await freePort()}/test` }),
  MariaDB: async () => ({ mysql: `mysql://root@127.0.0.1:${await freePort()}/test` }),
}

for (const [name, connection, server] of suites) {
  const down = failing[name]
  runStoreSuite({
    describe,
    test,
    expect,
    create: () => {
      const table = uniqueTable()
      if (server) serverTables[server].add(table)
      return kyselyStore(connection(), { table, maxEntryBytes: 1024 * 1024, poolSize: 4 })
    },
    ...(down
      ? { failing: async () => kyselyStore(await down(), { table: uniqueTable(), poolSize: 1 }) }
      : {}),
    capabilities,
    // Generous: the check right after a write must not race a busy CI machine.
    ttlGranularity: 100,
    name: `kyselyStore conformance (${name})`,
  })
}
