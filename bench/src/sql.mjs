// The SQL tier (@tiercache/fallback-kysely) against a raw better-sqlite3 prepared statement
// doing the same lookup, side by side in one process, plus getMany(100) against 100 single
// gets on SQLite and, when their servers answer, PostgreSQL and MariaDB.
//
//   pnpm build && node bench/src/sql.mjs            (SQL_BENCH_MS=400 for longer rounds)
//
// Prints ops/s per case (median of interleaved rounds), the ratios, and a machine line.
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { kyselyStore } from '../../packages/fallback-kysely/dist/index.js'

const ROUND_MS = Number(process.env.SQL_BENCH_MS ?? 250)
const ROUNDS = Number(process.env.SQL_BENCH_ROUNDS ?? 5)
const ENTRIES = 10_000
const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'

const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
const machine = `node ${process.version}, ${cpu}, ${os.cpus().length} cores, ${os.platform()} ${os.arch()}`

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

/** A repeatable key sequence (xorshift), so every case reads the same keys. */
function keyPicker(seed = 42) {
  let x = seed
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return keys[(x >>> 0) % ENTRIES]
  }
}

/** Runs `fn` (sync or async, one operation per call) for about `ms`; returns ops/s. */
async function timed(fn, ms, opsPerCall = 1) {
  let calls = 0
  const start = process.hrtime.bigint()
  const deadline = start + BigInt(ms * 1e6)
  let t = start
  while (t < deadline) {
    for (let i = 0; i < 64; i++) {
      const r = fn()
      if (r !== undefined && typeof r.then === 'function') await r
    }
    calls += 64
    t = process.hrtime.bigint()
  }
  return (calls * opsPerCall) / (Number(t - start) / 1e9)
}

/** Interleaves cases round by round; returns the median ops/s of each. */
async function compare(cases, opsPerCall = {}) {
  const results = Object.fromEntries(Object.keys(cases).map((k) => [k, []]))
  for (const [name, fn] of Object.entries(cases)) await timed(fn, 50, opsPerCall[name]) // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of Object.entries(cases)) {
      results[name].push(await timed(fn, ROUND_MS, opsPerCall[name]))
    }
  }
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  return Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]))
}

const fmt = (n) => `${Math.round(n).toLocaleString('en-US').padStart(12)} ops/s`
const ratio = (a, b) => `${(a / b).toFixed(2)}x`

function print(title, results) {
  console.log(`\n${title}`)
  for (const [name, ops] of Object.entries(results)) console.log(`  ${name.padEnd(48)} ${fmt(ops)}`)
}

async function fill(store) {
  for (let i = 0; i < ENTRIES; i += 500) {
    await store.setMany(keys.slice(i, i + 500).map((k, j) => [k, entryFor(i + j)]))
  }
}

const dir = mkdtempSync(join(os.tmpdir(), 'tiercache-bench-sql-'))

try {
  console.log(
    `SQL tier benchmark: ${ENTRIES.toLocaleString('en-US')} entries, ${ROUNDS} rounds of ${ROUND_MS} ms`,
  )
  console.log(machine)

  // --- SQLite: store (fast path), store (Kysely path), raw prepared statement, same file ----
  const file = join(dir, 'bench.db')
  const store = kyselyStore({ sqlite: file }, { table: 'bench', pruneInterval: 0 })
  await fill(store)

  const raw = new Database(file)
  raw.pragma('journal_mode = WAL')
  raw.pragma('synchronous = NORMAL')
  const rawGet = raw
    .prepare(
      'SELECT value, created_at, fresh_until, stale_until, tags FROM bench WHERE cache_key = ? AND stale_until > ?',
    )
    .raw(true)

  const viaKysely = new Kysely({ dialect: new SqliteDialect({ database: new Database(file) }) })
  const kyselyPath = kyselyStore({ db: viaKysely }, { table: 'bench', owned: true, pruneInterval: 0 })
  await kyselyPath.get(keys[0])

  const pick = keyPicker()
  const get = await compare({
    'raw better-sqlite3 prepared statement': () => {
      const row = rawGet.get(pick(), Date.now())
      if (row === undefined) throw new Error('miss')
    },
    'kyselyStore({ sqlite }).get (fast path)': () => {
      if (store.get(pick()) === undefined) throw new Error('miss')
    },
    'await kyselyStore({ sqlite }).get': async () => {
      if ((await store.get(pick())) === undefined) throw new Error('miss')
    },
    'kyselyStore({ db: kysely over sqlite }).get': async () => {
      if ((await kyselyPath.get(pick())) === undefined) throw new Error('miss')
    },
  })
  print('SQLite get (hit)', get)
  const base = get['raw better-sqlite3 prepared statement']
  console.log(
    `  ratio store/raw (fast path):        ${ratio(get['kyselyStore({ sqlite }).get (fast path)'], base)}`,
  )
  console.log(
    `  ratio store/raw (awaited):          ${ratio(get['await kyselyStore({ sqlite }).get'], base)}`,
  )
  console.log(
    `  ratio store/raw (Kysely query path): ${ratio(get['kyselyStore({ db: kysely over sqlite }).get'], base)}`,
  )

  const batches = Array.from({ length: 64 }, () => Array.from({ length: 100 }, pick))
  let b = 0
  const nextBatch = () => batches[b++ & 63]
  const many = await compare(
    {
      'getMany(100), one query': async () => {
        await store.getMany(nextBatch())
      },
      '100 single awaited gets': async () => {
        for (const k of nextBatch()) await store.get(k)
      },
    },
    { 'getMany(100), one query': 100, '100 single awaited gets': 100 },
  )
  print('SQLite getMany(100) vs 100 gets (keys read per second)', many)
  console.log(
    `  ratio getMany/single:               ${ratio(many['getMany(100), one query'], many['100 single awaited gets'])}`,
  )

  const write = await compare({
    'raw better-sqlite3 upsert': (() => {
      const stmt = raw.prepare(
        'INSERT INTO bench (cache_key, value, created_at, fresh_until, stale_until, tags) VALUES (?, ?, ?, ?, ?, ?) ' +
          'ON CONFLICT (cache_key) DO UPDATE SET value = excluded.value, created_at = excluded.created_at, ' +
          'fresh_until = excluded.fresh_until, stale_until = excluded.stale_until, tags = excluded.tags',
      )
      const e = entryFor(1)
      return () => stmt.run(pick(), e.value, e.createdAt, e.freshUntil, e.staleUntil, null)
    })(),
    'kyselyStore({ sqlite }).set (fast path)': (() => {
      const e = entryFor(1)
      return () => store.set(pick(), e)
    })(),
  })
  print('SQLite set (upsert of an existing key)', write)
  console.log(
    `  ratio store/raw:                    ${ratio(write['kyselyStore({ sqlite }).set (fast path)'], write['raw better-sqlite3 upsert'])}`,
  )

  raw.close()
  await kyselyPath.close()
  await store.close()

  // --- servers: getMany(100) vs 100 single gets ------------------------------------------
  for (const [label, connection] of [
    ['PostgreSQL', { postgres: POSTGRES_URL }],
    ['MariaDB', { mysql: MYSQL_URL }],
  ]) {
    const table = `tc_bench_${process.pid}`
    const server = kyselyStore(connection, { table, pruneInterval: 0, poolSize: 4 })
    try {
      await server.migrate()
    } catch (error) {
      console.log(`\n${label}: skipped (${error.message.split('\n')[0]})`)
      await server.close()
      continue
    }
    try {
      await fill(server)
      const results = await compare(
        {
          'getMany(100), one query': async () => {
            await server.getMany(nextBatch())
          },
          '100 single awaited gets': async () => {
            for (const k of nextBatch()) await server.get(k)
          },
          get: async () => {
            await server.get(pick())
          },
        },
        { 'getMany(100), one query': 100, '100 single awaited gets': 100 },
      )
      print(`${label} getMany(100) vs 100 gets (keys read per second)`, results)
      console.log(
        `  ratio getMany/single:               ${ratio(results['getMany(100), one query'], results['100 single awaited gets'])}`,
      )
    } finally {
      await server.dropSchema()
      await server.close()
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
