import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runStoreSuite } from '@tiercache/store-test-suite'
import { afterAll, describe, expect, test } from 'vitest'
import { type KyselyStoreConnection, kyselyStore } from '../src/index.js'
import { dropStoreTables, MYSQL_URL, POSTGRES_URL, serverKysely, uniqueTable } from './helpers.js'

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

const dir = mkdtempSync(join(tmpdir(), 'tiercache-conformance-'))
const serverTables = { postgres: new Set<string>(), mysql: new Set<string>() }

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
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

for (const [name, connection, server] of suites) {
  runStoreSuite({
    describe,
    test,
    expect,
    create: () => {
      const table = uniqueTable()
      if (server) serverTables[server].add(table)
      return kyselyStore(connection(), { table, maxEntryBytes: 1024 * 1024, poolSize: 4 })
    },
    capabilities,
    // Generous: the check right after a write must not race a busy CI machine.
    ttlGranularity: 100,
    name: `kyselyStore conformance (${name})`,
  })
}
