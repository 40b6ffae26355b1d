// Issue: fallback-kysely. SQLite get hit vs a raw better-sqlite3 prepared statement doing the same
// lookup on the same file (target ≥ 0.5x); getMany(100) as one query vs 100 single gets
// (target ≥ 10x) on SQLite and, when their servers answer, PostgreSQL and MariaDB.
//
// Imports the built package (run `pnpm build` first) by path: bench/package.json does not list
// @tiercache/fallback-kysely yet.
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { kyselyStore } from '../../packages/fallback-kysely/dist/index.js'
import { measure, report, save, target } from './lib.mjs'

const ENTRIES = 10_000
const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'
const SELECT =
  'SELECT value, created_at, fresh_until, stale_until, tags FROM bench WHERE cache_key = ? AND stale_until > ?'

const now = Date.now()
const keys = Array.from({ length: ENTRIES }, (_, i) => `app:user:${i}`)
const entryFor = (i) => ({
  value: Buffer.from(
    JSON.stringify({ id: i, name: `user ${i}`, email: `user${i}@example.com`, roles: ['a', 'b'] }),
  ),
  createdAt: now,
  freshUntil: now + 3_600_000,
  staleUntil: now + 7_200_000,
  tags: [],
})

// The same pseudo-random key sequence for every contender.
const order = Array.from({ length: 4096 }, (_, i) => keys[(i * 7919) % ENTRIES])
let k = 0
const pick = () => order[k++ & 4095]
const batches = Array.from({ length: 64 }, (_, b) =>
  Array.from({ length: 100 }, (_, i) => order[(b * 100 + i) & 4095]),
)
let b = 0
const nextBatch = () => batches[b++ & 63]

async function fill(store) {
  for (let i = 0; i < ENTRIES; i += 500) {
    await store.setMany(keys.slice(i, i + 500).map((key, j) => [key, entryFor(i + j)]))
  }
}

const checks = []
const results = {}
const dir = mkdtempSync(join(os.tmpdir(), 'tiercache-bench-sql-'))
try {
  // --- SQLite: the store's fast path, its Kysely query path, and a raw statement, one file ---
  const file = join(dir, 'bench.db')
  const store = kyselyStore({ sqlite: file }, { table: 'bench', pruneInterval: 0 })
  await fill(store)
  const raw = new Database(file)
  raw.pragma('journal_mode = WAL')
  raw.pragma('synchronous = NORMAL')
  const rawGet = raw.prepare(SELECT).raw(true)
  const overKysely = kyselyStore(
    { db: new Kysely({ dialect: new SqliteDialect({ database: new Database(file) }) }) },
    { table: 'bench', owned: true, pruneInterval: 0 },
  )
  await overKysely.get(keys[0])

  const get = await measure([
    { name: 'raw better-sqlite3 prepared statement', fn: () => rawGet.get(pick(), Date.now()) },
    { name: 'kyselyStore({ sqlite }).get', fn: () => store.get(pick()) },
    { name: 'await kyselyStore({ sqlite }).get', fn: () => store.get(pick()), async: true },
    { name: 'kyselyStore({ db: Kysely over SQLite }).get', fn: () => overKysely.get(pick()), async: true },
  ])
  report('SQLite get hit (10,000 rows, WAL file)', get, 'raw better-sqlite3 prepared statement')
  checks.push(
    target(
      'SQLite get vs raw prepared statement',
      get['raw better-sqlite3 prepared statement'] / get['kyselyStore({ sqlite }).get'],
      0.5,
    ),
  )
  console.log(
    `info Kysely query path vs raw: ${(get['raw better-sqlite3 prepared statement'] / get['kyselyStore({ db: Kysely over SQLite }).get']).toFixed(2)}x`,
  )
  results.sqliteGet = get

  const set = await measure([
    {
      name: 'raw better-sqlite3 upsert',
      fn: (() => {
        const stmt = raw.prepare(
          'INSERT INTO bench (cache_key, value, created_at, fresh_until, stale_until, tags) VALUES (?, ?, ?, ?, ?, ?) ' +
            'ON CONFLICT (cache_key) DO UPDATE SET value = excluded.value, created_at = excluded.created_at, ' +
            'fresh_until = excluded.fresh_until, stale_until = excluded.stale_until, tags = excluded.tags',
        )
        const e = entryFor(1)
        return () => stmt.run(pick(), e.value, e.createdAt, e.freshUntil, e.staleUntil, null)
      })(),
    },
    {
      name: 'kyselyStore({ sqlite }).set',
      fn: (() => {
        const e = entryFor(1)
        return () => store.set(pick(), e)
      })(),
    },
  ])
  report('SQLite set (upsert of an existing key)', set, 'raw better-sqlite3 upsert')
  results.sqliteSet = set

  const many = await measure([
    {
      name: '100 single awaited gets',
      fn: async () => {
        for (const key of nextBatch()) await store.get(key)
      },
      async: true,
    },
    { name: 'getMany(100), one query', fn: () => store.getMany(nextBatch()), async: true },
  ])
  report('SQLite getMany(100) vs 100 single gets', many, '100 single awaited gets')
  checks.push(
    target(
      'SQLite getMany(100) vs 100 gets',
      many['100 single awaited gets'] / many['getMany(100), one query'],
      10,
    ),
  )
  results.sqliteGetMany = many

  raw.close()
  await overKysely.close()
  await store.close()

  // --- servers: getMany(100) vs 100 single gets ---------------------------------------------
  for (const [label, connection] of [
    ['PostgreSQL', { postgres: POSTGRES_URL }],
    ['MariaDB', { mysql: MYSQL_URL }],
  ]) {
    const server = kyselyStore(connection, {
      table: `tc_bench_${process.pid}`,
      pruneInterval: 0,
      poolSize: 4,
    })
    try {
      await server.migrate()
    } catch (error) {
      console.log(`\n## ${label}: skipped (${String(error.message).split('\n')[0]})`)
      await server.close()
      continue
    }
    try {
      await fill(server)
      const r = await measure(
        [
          {
            name: '100 single awaited gets',
            fn: async () => {
              for (const key of nextBatch()) await server.get(key)
            },
            async: true,
          },
          { name: 'getMany(100), one query', fn: () => server.getMany(nextBatch()), async: true },
        ],
        { rounds: 7, roundMs: 300 },
      )
      report(`${label} getMany(100) vs 100 single gets`, r, '100 single awaited gets')
      checks.push(
        target(
          `${label} getMany(100) vs 100 gets`,
          r['100 single awaited gets'] / r['getMany(100), one query'],
          10,
        ),
      )
      results[`${label.toLowerCase()}GetMany`] = r
    } finally {
      await server.dropSchema()
      await server.close()
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
save('sql', { results, targets: checks })
