/**
 * Connections: handed vs owned Kysely instances and better-sqlite3 databases, dialect
 * detection, missing drivers, bad options, unreachable servers, `migrate: false`, close.
 */
import { isTierCacheError, StoreError } from '@tiercache/core'
import { uniqueTable } from '@tiercache/test-kit'
import Database from 'better-sqlite3'
import { CamelCasePlugin, Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely'
import pg from 'pg'
import { afterAll, describe, expect, test } from 'vitest'
import { loadDriver } from '../src/drivers.js'
import { DriverNotInstalledError, kyselyStore } from '../src/index.js'
import { dropStoreTables, entry, handedDatabase, POSTGRES_URL, serverKysely, text } from './helpers.js'

const pgTables = new Set<string>()
afterAll(async () => {
  const db = serverKysely('postgres')
  try {
    await dropStoreTables(db, pgTables)
  } finally {
    await db.destroy()
  }
})

const moduleNotFound = (name: string): Error =>
  Object.assign(new Error(`Cannot find package '${name}' imported from /app/node_modules/x.js`), {
    code: 'ERR_MODULE_NOT_FOUND',
  })

async function rejection(promise: unknown): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

describe('handed and owned connections', () => {
  test('a handed Kysely instance stays open after close(); owned: true destroys it', async () => {
    const handed = new Kysely<any>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) })
    const store = kyselyStore({ db: handed }, { table: uniqueTable() })
    await store.set('ns:k', entry('v'))
    expect(text(await store.get('ns:k'))).toBe('v')
    expect(store.dialect).toBe('sqlite')
    await store.close()
    const { rows } = await sql<{ one: number }>`select 1 as one`.execute(handed)
    expect(rows).toEqual([{ one: 1 }])

    const owned = kyselyStore({ db: handed }, { table: uniqueTable(), owned: true })
    await owned.set('ns:k', entry('v'))
    await owned.close()
    await expect(sql`select 1`.execute(handed)).rejects.toThrow()
  })

  test("the handed instance's plugins do not rename the store's columns", async () => {
    const handed = new Kysely<any>({
      dialect: new SqliteDialect({ database: new Database(':memory:') }),
      plugins: [new CamelCasePlugin({ upperCase: true })],
    })
    const store = kyselyStore({ db: handed }, { table: uniqueTable() })
    await store.set('ns:k', entry('v', { tags: ['t'] }))
    expect(await store.get('ns:k')).toMatchObject({ tags: ['t'] })
    expect((await store.getMany(['ns:k'])).map(text)).toEqual(['v'])
    expect(await store.prune()).toBe(0)
    await store.close()
    await handed.destroy()
  })

  test('a handed better-sqlite3 Database stays open unless owned, and gets the fast path', async () => {
    const database = new Database(':memory:')
    const store = kyselyStore({ sqlite: handedDatabase(database) }, { table: uniqueTable() })
    await store.set('ns:k', entry('v'))
    // Once ready, the fast path answers synchronously.
    const got = store.get('ns:k')
    expect(got instanceof Promise).toBe(false)
    expect(text(got as Awaited<typeof got>)).toBe('v')
    await store.close()
    expect(database.open).toBe(true)

    const owned = kyselyStore({ sqlite: handedDatabase(database) }, { table: uniqueTable(), owned: true })
    await owned.migrate()
    await owned.close()
    expect(database.open).toBe(false)
  })

  test('a handed PostgreSQL Kysely instance: dialect detected, pool left open', async () => {
    const table = uniqueTable()
    pgTables.add(table)
    const handed = new Kysely<any>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: POSTGRES_URL, max: 2 }) }),
    })
    try {
      const store = kyselyStore({ db: handed, table })
      expect(store.dialect).toBeUndefined()
      await store.set('ns:k', entry('v'))
      expect(store.dialect).toBe('postgres')
      expect(text(await store.get('ns:k'))).toBe('v')
      await store.close()
      await store.close()
      const { rows } = await sql<{ n: string }>`select count(*) as n from ${sql.table(table)}`.execute(handed)
      expect(Number(rows[0]?.n)).toBe(1)
    } finally {
      await handed.destroy()
    }
  })

  test('a Kysely instance of an unknown dialect needs the dialect option', async () => {
    const handed = new Kysely<any>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) })
    // Hide the adapter's class name, as a third-party dialect would.
    const executor = handed.getExecutor()
    const disguise = (db: Kysely<any>): Kysely<any> =>
      new Proxy(db, {
        get(target, prop, receiver) {
          if (prop === 'getExecutor') return () => ({ adapter: {} }) as unknown as typeof executor
          if (prop === 'withoutPlugins') return () => disguise(target.withoutPlugins())
          return Reflect.get(target, prop, receiver)
        },
      })
    const disguised = disguise(handed)
    const store = kyselyStore({ db: disguised })
    const error = await rejection(store.get('ns:k'))
    expect(isTierCacheError(error, 'E_INVALID_OPTION')).toBe(true)
    expect((error as Error).message).toContain('dialect')
    await store.close()
    const explicit = kyselyStore({ db: handed }, { dialect: 'sqlite', table: uniqueTable() })
    await explicit.set('ns:k', entry('v'))
    expect(text(await explicit.get('ns:k'))).toBe('v')
    await explicit.close()
    await handed.destroy()
  })
})

describe('missing drivers', () => {
  test('a missing package becomes E_DRIVER_MISSING naming the package to install', async () => {
    for (const [driver, option] of [
      ['better-sqlite3', 'sqlite'],
      ['pg', 'postgres'],
      ['mysql2', 'mysql'],
    ] as const) {
      const error = await rejection(
        loadDriver(driver, option, async (name) => {
          throw moduleNotFound(name)
        }),
      )
      expect(error).toBeInstanceOf(DriverNotInstalledError)
      expect(error).toMatchObject({ code: 'E_DRIVER_MISSING', driver, store: 'sql' })
      expect((error as Error).message).toContain(`pnpm add ${driver}`)
    }
  })

  test("Node's own error for a package that is not installed is recognised", async () => {
    const error = await rejection(loadDriver('tiercache-no-such-driver', 'sqlite'))
    expect(error).toBeInstanceOf(DriverNotInstalledError)
    expect((error as Error).message).toContain('is not installed: run `pnpm add tiercache-no-such-driver`')
  })

  test('a driver that fails to load for another reason says so', async () => {
    const error = await rejection(
      loadDriver('better-sqlite3', 'sqlite', async () => {
        throw new Error('Could not locate the bindings file')
      }),
    )
    expect((error as Error).message).toContain('could not load the package "better-sqlite3"')
    expect((error as Error).message).toContain('Could not locate the bindings file')
  })

  test('the store reports the missing driver from its first operation, and every one after', async () => {
    for (const connection of [
      { sqlite: ':memory:' },
      { postgres: POSTGRES_URL },
      { mysql: 'mysql://root@127.0.0.1:3306/test' },
    ]) {
      const store = kyselyStore(connection, {
        importModule: async (name: string) => {
          throw moduleNotFound(name)
        },
      } as object)
      const first = await rejection(store.get('ns:k'))
      expect(isTierCacheError(first, 'E_DRIVER_MISSING')).toBe(true)
      expect(await rejection(store.migrate())).toBeInstanceOf(DriverNotInstalledError)
      expect(await store.stats()).toEqual({ connected: false, errors: 2 })
      await store.close()
    }
  })
})

describe('options', () => {
  test('bad options throw InvalidOptionError (InvalidDurationError for durations) at once', () => {
    const bad: [unknown, unknown][] = [
      [{}, {}],
      [{ sqlite: ':memory:', postgres: POSTGRES_URL }, {}],
      [{ sqlite: '' }, {}],
      [{ sqlite: 42 }, {}],
      [{ postgres: '' }, {}],
      [{ db: {} }, {}],
      [{ sqlite: ':memory:' }, { table: 'bad-name' }],
      [{ sqlite: ':memory:' }, { table: 'x'.repeat(41) }],
      [{ sqlite: ':memory:' }, { table: '1abc' }],
      [{ sqlite: ':memory:' }, { maxEntryBytes: 0 }],
      [{ sqlite: ':memory:' }, { maxEntryBytes: -1 }],
      [{ sqlite: ':memory:' }, { pruneBatchSize: 1.5 }],
      [{ sqlite: ':memory:' }, { pruneInterval: -1 }],
      [{ sqlite: ':memory:' }, { pruneInterval: 'soon' }],
      [{ sqlite: ':memory:' }, { busyTimeout: -5 }],
      [{ sqlite: ':memory:' }, { poolSize: 0 }],
      [{ sqlite: ':memory:' }, { owned: 'yes' }],
      [{ sqlite: ':memory:' }, { migrate: 1 }],
      [{ sqlite: ':memory:' }, { dialect: 'oracle' }],
      [{ sqlite: ':memory:' }, { name: '' }],
      [{ sqlite: ':memory:' }, { clock: {} }],
      [{ sqlite: ':memory:' }, { maxTtl: 'nope' }],
    ]
    for (const [connection, options] of bad) {
      let error: unknown
      try {
        kyselyStore(connection as never, options as never)
      } catch (e) {
        error = e
      }
      const label = JSON.stringify([connection, options])
      const duration = 'pruneInterval' in (options as object) || 'maxTtl' in (options as object)
      expect(isTierCacheError(error, duration ? 'E_INVALID_DURATION' : 'E_INVALID_OPTION'), label).toBe(true)
      expect(error, label).toBeInstanceOf(duration ? RangeError : TypeError)
    }
  })

  test('defaults and accepted options', () => {
    const store = kyselyStore({ sqlite: ':memory:' })
    expect(store.name).toBe('sql')
    expect(store.kind).toBe('remote')
    expect(store.table).toBe('tiercache_entries')
    expect(store.maxEntryBytes).toBe(8 * 1024 * 1024)
    expect(store.maxTtl).toBeUndefined()
    const custom = kyselyStore(
      { sqlite: ':memory:', table: 'merged_in_first_argument' },
      { name: 'sqlite', maxEntryBytes: Number.POSITIVE_INFINITY, maxTtl: '7d', pruneInterval: 0 },
    )
    expect(custom.name).toBe('sqlite')
    expect(custom.table).toBe('merged_in_first_argument')
    expect(custom.maxEntryBytes).toBeUndefined()
    expect(custom.maxTtl).toBe(7 * 86_400_000)
  })

  test('migrate: false leaves the schema to migrate(); until then operations fail', async () => {
    const store = kyselyStore({ sqlite: ':memory:' }, { migrate: false, table: uniqueTable() })
    const error = await rejection(store.get('ns:k'))
    expect(error).toBeInstanceOf(StoreError)
    expect(error).toMatchObject({ code: 'E_STORE', store: 'sql', operation: 'get', key: 'ns:k' })
    expect((error as Error).message).toMatch(/no such table/)
    await store.migrate()
    await store.set('ns:k', entry('v'))
    expect(text(await store.get('ns:k'))).toBe('v')
    await store.close()
  })
})

describe('failures and close', () => {
  test('an unreachable server gives StoreError and stats().connected === false', async () => {
    const store = kyselyStore({ postgres: 'postgres://postgres@127.0.0.1:1/test' }, { table: uniqueTable() })
    const error = await rejection(store.set('ns:k', entry('v')))
    expect(error).toBeInstanceOf(StoreError)
    expect(error).toMatchObject({ code: 'E_STORE', store: 'sql', operation: 'set', key: 'ns:k' })
    expect((error as Error).cause).toBeDefined()
    const stats = await store.stats()
    expect(stats.connected).toBe(false)
    expect(stats.errors).toBeGreaterThanOrEqual(1)
    await store.close()
  })

  test('operations after close() reject with StoreError; close() twice is harmless', async () => {
    const store = kyselyStore({ sqlite: ':memory:' }, { table: uniqueTable() })
    await store.set('ns:k', entry('v'))
    await store.close()
    await store.close()
    const error = await rejection(store.get('ns:k'))
    expect(error).toBeInstanceOf(StoreError)
    expect((error as Error).message).toContain('closed')
    await expect(store.prune()).rejects.toThrow(/closed/)
  })

  test('close() while the first operation is still connecting waits for it and releases it', async () => {
    const store = kyselyStore({ postgres: POSTGRES_URL }, { table: uniqueTable() })
    pgTables.add(store.table)
    const pending = Promise.resolve(store.set('ns:k', entry('v')))
    await store.close()
    await pending.then(
      () => undefined,
      (error: unknown) => expect(error).toBeInstanceOf(StoreError),
    )
  })
})
