/**
 * Differential test of pattern deletes (issue 16): on SQLite, PostgreSQL, MariaDB, Redis and the
 * memory store, a pattern deletes exactly the keys a reference glob matcher (written from the
 * documented semantics, `support/reference-glob.ts`) selects, and answers how many it deleted.
 * Keys and patterns come from an alphabet of the characters each backend's own syntax treats
 * specially (`%`, `_`, `[`, `]`, `!`, `^`, `\`, `*`, `?`, `-`), plus non-ASCII, upper case and
 * spaces; some patterns are `escapePattern` of a stored key, which must delete that key alone.
 */
import { randomUUID } from 'node:crypto'
import { escapePattern, type Store } from '@tiercache/core'
import type { StoreEntry } from '@tiercache/core/store'
import { type KyselyStore, kyselyStore, type SqliteDatabaseLike } from '@tiercache/fallback-kysely'
import { memoryStore } from '@tiercache/store-memory'
import { redisStore } from '@tiercache/store-redis'
import Database from 'better-sqlite3'
import fc from 'fast-check'
import { Kysely, MysqlDialect, PostgresDialect } from 'kysely'
import { createPool } from 'mysql2'
import pg from 'pg'
import { afterAll, describe, expect, test } from 'vitest'
import { referenceEscape, referenceMatch } from './support/reference-glob.js'
import { check } from './support/settings.js'

const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test'
const MYSQL_URL = 'mysql://root@127.0.0.1:3306/test'
const REDIS_URL = 'redis://127.0.0.1:6379'

const run = randomUUID().slice(0, 8)
const table = (name: string): string => `tc_fuzz_${name}_${run}`

/** Characters that each backend's own pattern syntax treats specially, and a few that it folds. */
const ALPHABET = [
  'a',
  'b',
  'A',
  '-',
  ':',
  '.',
  ' ',
  '%',
  '_',
  '[',
  ']',
  '!',
  '^',
  '$',
  '\\',
  '*',
  '?',
  'é',
  'É',
  '🌍',
  '日',
]
const PATTERN_UNITS = [
  ...ALPHABET.filter((c) => c !== '\\' && c !== '*' && c !== '?'),
  '*',
  '*',
  '?',
  '?',
  '\\*',
  '\\?',
  '\\\\',
  '\\%',
  '\\a',
]

const keyArb = fc.string({ unit: fc.constantFrom(...ALPHABET), minLength: 0, maxLength: 5 })
const globArb = fc
  .string({ unit: fc.constantFrom(...PATTERN_UNITS), minLength: 1, maxLength: 6 })
  .filter((p) => !/(^|[^\\])(\\\\)*\\$/.test(p))

/** A key the pattern matches: each `*` filled with 0-3 characters, each `?` with one. */
const instance = (pattern: string): fc.Arbitrary<string> => {
  const parts: fc.Arbitrary<string>[] = []
  const chars = Array.from(pattern)
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string
    if (c === '\\') parts.push(fc.constant(chars[++i] as string))
    else if (c === '*') parts.push(fc.string({ unit: fc.constantFrom(...ALPHABET), maxLength: 3 }))
    else if (c === '?') parts.push(fc.constantFrom(...ALPHABET))
    else parts.push(fc.constant(c))
  }
  return fc.tuple(...parts).map((p) => p.join(''))
}

/** A near miss: a matching key with one character replaced, dropped or added. */
const nearMiss = (pattern: string): fc.Arbitrary<string> =>
  fc
    .tuple(
      instance(pattern),
      fc.nat(),
      fc.constantFrom(...ALPHABET),
      fc.constantFrom('replace', 'drop', 'add'),
    )
    .map(([key, at, c, how]) => {
      const points = Array.from(key)
      const i = points.length === 0 ? 0 : at % points.length
      if (how === 'replace' && points.length > 0) points[i] = c
      else if (how === 'drop') points.splice(i, 1)
      else points.splice(i, 0, c)
      return points.join('')
    })

const caseArb = fc.tuple(globArb, fc.boolean()).chain(([glob, literal]) =>
  fc
    .tuple(
      fc.array(keyArb, { maxLength: 4 }),
      fc.array(instance(glob), { minLength: 1, maxLength: 4 }),
      fc.array(nearMiss(glob), { minLength: 1, maxLength: 6 }),
      fc.nat(),
    )
    .map(([random, matching, near, pick]) => {
      const keys = [...new Set([...random, ...matching, ...near])]
      // Sometimes the literal pattern of one stored key, the way `escapePattern(userInput)` is used.
      return { keys, pattern: literal ? escapePattern(keys[pick % keys.length] as string) : glob }
    }),
)

function entry(key: string): StoreEntry<Uint8Array> {
  const now = Date.now()
  return {
    value: Buffer.from(key),
    createdAt: now,
    freshUntil: now + 600_000,
    staleUntil: now + 600_000,
    tags: [],
  }
}

interface Backend {
  readonly store: Store<any>
  close(): Promise<void>
}

const serverDb = (kind: 'postgres' | 'mysql'): Kysely<any> =>
  kind === 'postgres'
    ? new Kysely<any>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: POSTGRES_URL, max: 2 }) }),
      })
    : new Kysely<any>({
        dialect: new MysqlDialect({ pool: createPool({ uri: MYSQL_URL, connectionLimit: 2 }) }),
      })

async function dropTables(kind: 'postgres' | 'mysql', name: string): Promise<void> {
  const db = serverDb(kind)
  try {
    for (const t of [name, `${name}_migrations`, `${name}_migrations_lock`])
      await db.schema.dropTable(t).ifExists().execute()
  } finally {
    await db.destroy()
  }
}

const backends: [string, () => Backend][] = [
  ['memory', () => ({ store: memoryStore(), close: async () => {} })],
  [
    'Redis',
    () => {
      const prefix = `tc-fuzz:${run}:`
      const store = redisStore({ url: REDIS_URL, prefix })
      return {
        store,
        close: async () => {
          await store.clear('')
          await store.close()
        },
      }
    },
  ],
  [
    'SQLite',
    () => {
      // SqliteDatabaseLike declares `transaction` as returning `F`, better-sqlite3 `Transaction<F>`.
      const db = new Database(':memory:') as unknown as SqliteDatabaseLike
      const store: KyselyStore = kyselyStore({ sqlite: db }, { table: table('sqlite'), owned: true })
      return { store, close: () => store.close() }
    },
  ],
  [
    'PostgreSQL',
    () => {
      const store = kyselyStore({ postgres: POSTGRES_URL }, { table: table('pg'), poolSize: 2 })
      return {
        store,
        close: async () => {
          await store.close()
          await dropTables('postgres', table('pg'))
        },
      }
    },
  ],
  [
    'MariaDB',
    () => {
      const store = kyselyStore({ mysql: MYSQL_URL }, { table: table('my'), poolSize: 2 })
      return {
        store,
        close: async () => {
          await store.close()
          await dropTables('mysql', table('my'))
        },
      }
    },
  ],
]

describe('pattern deletes match the reference glob matcher on every backend', () => {
  test('the reference matcher and escape agree with the documented examples', () => {
    expect(referenceMatch('user:*', 'user:1:x')).toBe(true)
    expect(referenceMatch('user:?', 'user:🌍')).toBe(true)
    expect(referenceMatch('user:?', 'user:ab')).toBe(false)
    expect(referenceMatch('*-1', 'a-1')).toBe(true)
    expect(referenceMatch('a\\*', 'a*')).toBe(true)
    expect(referenceMatch('a\\*', 'ab')).toBe(false)
    expect(referenceMatch('%', 'x')).toBe(false)
    expect(referenceMatch('_', 'x')).toBe(false)
    expect(referenceMatch('[ab]', 'a')).toBe(false)
    expect(referenceEscape('a*b?c\\')).toBe(escapePattern('a*b?c\\'))
  })

  for (const [index, [name, make]] of backends.entries()) {
    describe(name, () => {
      let backend: Backend
      afterAll(async () => {
        await backend?.close()
      })

      test(`deleteByPattern deletes exactly what the reference selects (${name})`, async () => {
        backend = make()
        const store = backend.store
        let n = 0
        await check(40 + index, 150, [caseArb], async ({ keys, pattern }) => {
          const ns = `n${(n++).toString(36)}`
          const full = keys.map((k) => `${ns}:${k}`)
          if (store.setMany) await store.setMany(full.map((k) => [k, entry(k)] as const))
          else for (const k of full) await store.set(k, entry(k))
          const glob = `${ns}:${pattern}`
          const deleted = await store.deleteByPattern!(glob)
          const expectedGone = full.filter((k) => referenceMatch(glob, k))
          const found = store.getMany
            ? await store.getMany(full)
            : await Promise.all(full.map((k) => store.get(k)))
          const actualGone = full.filter((_, i) => found[i] === undefined)
          expect(
            { pattern, gone: actualGone, deleted },
            `${name}: ${JSON.stringify(pattern)} over ${JSON.stringify(keys)}`,
          ).toEqual({
            pattern,
            gone: expectedGone,
            deleted: expectedGone.length,
          })
          await store.clear(ns)
        })
      })
    })
  }
})
