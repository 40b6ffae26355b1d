import {
  type Clock,
  isTierCacheError,
  type MaybePromise,
  parseDuration,
  parsePattern,
  type RemoteEntry,
  type SetCondition,
  type Store,
  type StoreCapabilities,
  StoreError,
  type StoreScope,
  type StoreSetItem,
  type StoreStats,
  systemClock,
  ValueTooLargeError,
} from '@tiercache/core'
import { asBuffer, placeholderRow, type SqlBackend, toStoredTime, type WriteRow } from './backend.js'
import { invalid, openConnection, parseSource, positiveNumber, type Source } from './connection.js'
import { type ModuleImporter, nodeImport } from './drivers.js'
import { KyselyQueries } from './kysely-queries.js'
import {
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
} from './options.js'
import { planPattern } from './pattern-sql.js'
import { PruneTimer } from './prune-timer.js'
import { DEFAULT_TABLE, migrateSchema, schemaNames, validateTable } from './schema.js'
import { SqliteStatements } from './sqlite-statements.js'

const CAPABILITIES: StoreCapabilities = Object.freeze({
  getMany: true,
  setMany: true,
  deleteMany: true,
  deleteByPattern: true,
  has: true,
  stats: true,
  close: true,
  conditionalSet: true,
})

/** Internal extras for tests: an importer to simulate a missing driver. */
interface InternalOptions {
  readonly importModule?: ModuleImporter
}

function isThenable<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

/**
 * The L3 tier: entries in a SQL table through Kysely. SQLite (via better-sqlite3) is the
 * embedded default; PostgreSQL and MySQL/MariaDB work the same way.
 *
 * The schema is created by versioned, idempotent migrations on first use (or by
 * {@link KyselyStore.migrate}); expired rows are filtered out of every read and pruned in
 * batches on an unref'd timer and by {@link KyselyStore.prune}. On `{ sqlite }` connections the
 * hot operations run as prepared better-sqlite3 statements and answer synchronously once the
 * schema is ready.
 */
export class KyselyStore implements Store<Uint8Array> {
  /** Tier name used in stats and metrics (default `sql`, so the level reads `l3_sql`). */
  readonly name: string
  /** Always `remote`: the store keeps serialized bytes. */
  readonly kind: 'remote' = 'remote'
  /**
   * `local` (a SQLite file of this instance) or `shared` (PostgreSQL, MySQL); see
   * {@link KyselyStoreOptions.scope}.
   */
  readonly scope: StoreScope
  /** Every optional capability. */
  readonly capabilities: StoreCapabilities = CAPABILITIES
  /** Longest lifetime in this tier, in ms, if capped. */
  readonly maxTtl?: number
  /** Largest value in bytes, unless unlimited. */
  readonly maxEntryBytes?: number
  /** The table holding the entries. */
  readonly table: string

  readonly #source: Source
  readonly #owned: boolean
  readonly #autoMigrate: boolean
  readonly #pruneBatchSize: number
  readonly #busyTimeout: number
  readonly #poolSize: number
  readonly #clock: Clock
  readonly #now: () => number
  readonly #preciseNow: () => number
  readonly #importer: ModuleImporter
  #dialect: SqlDialect | undefined
  #db: KyselyLike | undefined
  /** The better-sqlite3 database of a `{ sqlite }` connection, for the fast path. */
  #sqlite: SqliteDatabaseLike | undefined
  #connecting: Promise<KyselyLike> | undefined
  #readying: Promise<SqlBackend> | undefined
  #migrated = false
  #backend: SqlBackend | undefined
  /** The SQLite fast path, when the backend answers synchronously. */
  #fast: SqliteStatements | undefined
  #closed = false
  #closing: Promise<void> | undefined
  #errors = 0
  readonly #pruner: PruneTimer

  /**
   * @param connection - `{ db }`, `{ sqlite }`, `{ postgres }` or `{ mysql }` (see
   *   {@link KyselyStoreConnection}); may also carry the options
   * @param options - table, ownership, limits, pruning; see {@link KyselyStoreOptions}
   */
  constructor(connection: KyselyStoreConnection & KyselyStoreOptions, options: KyselyStoreOptions = {}) {
    const o: KyselyStoreOptions & InternalOptions = { ...connection, ...options }
    this.#source = parseSource(connection)
    this.table = validateTable(o.table ?? DEFAULT_TABLE)
    const kind = this.#source.kind
    if (o.owned !== undefined && typeof o.owned !== 'boolean')
      throw invalid('owned must be a boolean', 'owned')
    this.#owned = kind === 'db' || kind === 'sqlite-db' ? o.owned === true : true
    if (o.migrate !== undefined && typeof o.migrate !== 'boolean') {
      throw invalid('migrate must be a boolean', 'migrate')
    }
    this.#autoMigrate = o.migrate ?? true
    if (o.dialect !== undefined && !['sqlite', 'postgres', 'mysql'].includes(o.dialect)) {
      throw invalid(`dialect must be 'sqlite', 'postgres' or 'mysql', got ${String(o.dialect)}`, 'dialect')
    }
    this.#dialect =
      kind === 'sqlite' || kind === 'sqlite-db'
        ? 'sqlite'
        : kind === 'postgres'
          ? 'postgres'
          : kind === 'mysql'
            ? 'mysql'
            : o.dialect
    if (o.scope !== undefined && o.scope !== 'local' && o.scope !== 'shared') {
      throw invalid(`scope must be 'local' or 'shared', got ${String(o.scope)}`, 'scope')
    }
    this.scope = o.scope ?? (this.#dialect === 'sqlite' ? 'local' : 'shared')
    const maxEntryBytes = positiveNumber(o.maxEntryBytes, 'maxEntryBytes', DEFAULT_MAX_ENTRY_BYTES, false)
    if (Number.isFinite(maxEntryBytes)) this.maxEntryBytes = Math.floor(maxEntryBytes)
    if (o.maxTtl !== undefined) this.maxTtl = parseDuration(o.maxTtl, 'maxTtl')
    const interval =
      o.pruneInterval === undefined ? DEFAULT_PRUNE_INTERVAL : parseDuration(o.pruneInterval, 'pruneInterval')
    this.#pruneBatchSize = positiveNumber(o.pruneBatchSize, 'pruneBatchSize', DEFAULT_PRUNE_BATCH_SIZE, true)
    this.#busyTimeout =
      o.busyTimeout === undefined
        ? DEFAULT_BUSY_TIMEOUT
        : o.busyTimeout === 0
          ? 0
          : positiveNumber(o.busyTimeout, 'busyTimeout', DEFAULT_BUSY_TIMEOUT, true)
    this.#poolSize = positiveNumber(o.poolSize, 'poolSize', DEFAULT_POOL_SIZE, true)
    if (o.name !== undefined && (typeof o.name !== 'string' || o.name.length === 0)) {
      throw invalid('name must be a non-empty string', 'name')
    }
    this.name = o.name ?? 'sql'
    if (o.clock !== undefined && typeof o.clock?.now !== 'function') {
      throw invalid('clock must have a now() method', 'clock')
    }
    this.#clock = o.clock ?? systemClock
    const clock = this.#clock
    this.#now = clock === systemClock ? systemClock.now : () => clock.now()
    this.#preciseNow = clock === systemClock ? Date.now : () => clock.now()
    this.#importer = o.importModule ?? nodeImport
    const pruneInterval = Number.isFinite(interval) ? Math.min(interval, 2_147_483_647) : 0
    this.#pruner = new PruneTimer(
      clock,
      pruneInterval,
      () => this.prune(),
      () => this.#closed,
    )
  }

  /** The SQL dialect, once known (detected from a handed Kysely instance on first use). */
  get dialect(): SqlDialect | undefined {
    return this.#dialect
  }

  /**
   * Runs the schema migrations now (they also run on first use unless `migrate: false`).
   * Idempotent and safe to run from several stores or processes at once.
   *
   * @throws StoreError (`E_STORE`, operation `migrate`) when the database refuses
   */
  async migrate(): Promise<void> {
    const db = await this.#connect()
    try {
      await migrateSchema(db, this.table, this.#dialect as SqlDialect)
      this.#migrated = true
    } catch (error) {
      throw this.#fail('migrate', undefined, error)
    }
  }

  /**
   * Drops the table and its migration bookkeeping (`<table>_migrations`,
   * `<table>_migrations_lock`): for tests and uninstalls. Every entry is lost; the next
   * operation migrates again unless `migrate: false`.
   *
   * @throws StoreError (`E_STORE`, operation `dropSchema`)
   */
  async dropSchema(): Promise<void> {
    const db = await this.#connect()
    this.#backend = undefined
    this.#fast = undefined
    this.#migrated = false
    this.#readying = undefined
    this.#pruner.stop()
    const names = schemaNames(this.table)
    try {
      for (const t of [this.table, names.migrations, names.migrationsLock]) {
        await db.schema.dropTable(t).ifExists().execute()
      }
    } catch (error) {
      throw this.#fail('dropSchema', undefined, error)
    }
  }

  /**
   * Deletes expired rows (`staleUntil` passed) in batches, yielding to the event loop between
   * batches. Runs on its own every `pruneInterval`.
   *
   * @param options - `batchSize`: rows per statement (default: the store's `pruneBatchSize`)
   * @returns the number of rows deleted
   * @throws StoreError (`E_STORE`, operation `prune`)
   */
  async prune(options: PruneOptions = {}): Promise<number> {
    const batchSize = positiveNumber(options.batchSize, 'batchSize', this.#pruneBatchSize, true)
    const backend = await this.#ready('prune')
    let total = 0
    for (;;) {
      if (this.#closed) return total
      let n: number
      try {
        n = await backend.pruneBatch(this.#preciseNow(), batchSize)
      } catch (error) {
        throw this.#fail('prune', undefined, error)
      }
      total += n
      if (n < batchSize) return total
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
  }

  /** Reads an entry; `undefined` when missing or past `staleUntil` (filtered in the query). */
  get(key: string): MaybePromise<RemoteEntry | undefined> {
    const fast = this.#fast
    if (fast !== undefined) {
      try {
        return fast.get(key, this.#now())
      } catch (error) {
        throw this.#fail('get', key, error)
      }
    }
    return this.#call('get', key, (b) => b.get(key, this.#now()))
  }

  /**
   * Writes an entry (one upsert). An entry already past `staleUntil` deletes the key instead.
   * @throws ValueTooLargeError when `entry.value` exceeds `maxEntryBytes` (the key is left as it was)
   */
  set(key: string, entry: RemoteEntry): MaybePromise<void> {
    const row = this.#row(key, entry, 'set')
    if (row === undefined) return this.#call('set', key, (b) => this.#discard(b.delete(key)))
    const fast = this.#fast
    if (fast !== undefined) {
      try {
        fast.set(row)
        return
      } catch (error) {
        throw this.#fail('set', key, error)
      }
    }
    return this.#call('set', key, (b) => b.set(row))
  }

  /**
   * Inserts a lease placeholder row (`created_at` -1, the token as value) unless the key holds a
   * live row. Reads never return it; every write and delete of the key removes or replaces it.
   */
  lease(key: string, token: string, ttl: number): MaybePromise<boolean> {
    const now = this.#preciseNow()
    const row = placeholderRow(key, token, now + Math.max(1, Math.ceil(ttl)))
    const fast = this.#fast
    if (fast !== undefined) {
      try {
        return fast.lease(row, now)
      } catch (error) {
        throw this.#fail('lease', key, error)
      }
    }
    return this.#call('lease', key, (b) => b.lease(row, now))
  }

  /**
   * Writes an entry only if the key still holds the placeholder of `condition.lease`, or a live
   * entry created at `condition.createdAt` (one conditional `UPDATE`). An entry already past its
   * `staleUntil` deletes the key instead, under the same condition (one conditional `DELETE`).
   * @throws ValueTooLargeError when `entry.value` exceeds `maxEntryBytes`
   */
  conditionalSet(key: string, entry: RemoteEntry, condition: SetCondition): MaybePromise<boolean> {
    const now = this.#preciseNow()
    // An entry already expired deletes the key under the same condition (a released lease).
    const row = this.#row(key, entry, 'conditionalSet') ?? ([key, undefined] as unknown as WriteRow)
    const token = 'lease' in condition ? Buffer.from(condition.lease, 'utf8') : undefined
    const createdAt = 'lease' in condition ? undefined : condition.createdAt
    const fast = this.#fast
    if (fast !== undefined) {
      try {
        return fast.conditionalSet(row, token, createdAt, now)
      } catch (error) {
        throw this.#fail('conditionalSet', key, error)
      }
    }
    return this.#call('conditionalSet', key, (b) => b.conditionalSet(row, token, createdAt, now))
  }

  /** Deletes a key; `true` when a row existed. */
  delete(key: string): MaybePromise<boolean> {
    return this.#call('delete', key, (b) => b.delete(key))
  }

  /**
   * Deletes every key that starts with `namespace + ':'` with an exact key-range condition on
   * the primary-key index; `''` deletes every row of the table.
   */
  clear(namespace: string): MaybePromise<void> {
    if (namespace === '') return this.#call('clear', undefined, (b) => b.clearAll())
    const plan = planPattern([{ type: 'literal', value: `${namespace}:` }, { type: 'star' }])
    return this.#call('clear', undefined, (b) => this.#discard(b.deleteByPattern(plan)))
  }

  /** Reads many keys in one query (per 256 keys on SQLite, 500 elsewhere); one slot per key. */
  getMany(keys: readonly string[]): MaybePromise<(RemoteEntry | undefined)[]> {
    return this.#call('getMany', undefined, (b) => b.getMany(keys, this.#now()))
  }

  /**
   * Writes many entries in one transaction (multi-row upserts on PostgreSQL and MySQL).
   * Checks every size first: one entry above `maxEntryBytes` refuses the whole batch.
   */
  setMany(items: readonly StoreSetItem<Uint8Array>[]): MaybePromise<void> {
    const rows = new Map<string, WriteRow>()
    const expired = new Set<string>()
    for (const [key, entry] of items) {
      const row = this.#row(key, entry, 'setMany')
      rows.delete(key)
      expired.delete(key)
      if (row === undefined) expired.add(key)
      else rows.set(key, row)
    }
    if (rows.size === 0 && expired.size === 0) return
    return this.#call('setMany', undefined, (b) => b.setMany([...rows.values()], [...expired]))
  }

  /** Deletes many keys; resolves how many rows existed. */
  deleteMany(keys: readonly string[]): MaybePromise<number> {
    if (keys.length === 0) return 0
    return this.#call('deleteMany', undefined, (b) => b.deleteMany(keys))
  }

  /**
   * Deletes keys matching a glob. The literal prefix becomes a key range on the index; the rest
   * becomes `LIKE … ESCAPE '!'` (PostgreSQL, MySQL on the key's UTF-8 text with a binary
   * collation) or `GLOB` (SQLite), all case-sensitive, with `%`, `_`, `!`, `*`, `?` and `[`
   * escaped so they match literally.
   *
   * @throws InvalidPatternError for an empty pattern or a trailing lone backslash
   */
  deleteByPattern(pattern: string): MaybePromise<number> {
    const plan = planPattern(parsePattern(pattern))
    return this.#call('deleteByPattern', undefined, (b) => b.deleteByPattern(plan))
  }

  /** True when the key holds an unexpired row. */
  has(key: string): MaybePromise<boolean> {
    return this.#call('has', key, (b) => b.has(key, this.#now()))
  }

  /**
   * Unexpired entries and their value bytes (one `count(*)`/`sum()` query, which scans the
   * table), whether the database answered, and failed operations so far.
   */
  async stats(): Promise<StoreStats> {
    try {
      const backend = await this.#ready('stats')
      const { entries, bytes } = await backend.stats(this.#now())
      return { entries, bytes, connected: true, errors: this.#errors }
    } catch {
      return { connected: false, errors: this.#errors }
    }
  }

  /**
   * Stops the prune timer and, when the store owns the connection, destroys the Kysely instance
   * (closing its pool or SQLite database). A handed instance stays open. Safe to call twice.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) this.#closing = this.#shutdown()
    return this.#closing
  }

  async #shutdown(): Promise<void> {
    this.#closed = true
    this.#pruner.stop()
    const readying = this.#readying
    if (readying !== undefined) await readying.catch(() => {})
    const connecting = this.#connecting
    if (connecting !== undefined) await connecting.catch(() => {})
    await this.#pruner.running
    this.#backend = undefined
    this.#fast = undefined
    const db = this.#db
    this.#db = undefined
    if (db === undefined || !this.#owned) return
    try {
      await db.destroy()
    } catch (error) {
      throw this.#fail('close', undefined, error)
    }
  }

  /** Validates an entry for writing: the row, or `undefined` when it is already expired. */
  #row(key: string, entry: RemoteEntry, operation: string): WriteRow | undefined {
    const size = entry.value.byteLength
    if (this.maxEntryBytes !== undefined && size > this.maxEntryBytes) {
      throw new ValueTooLargeError(size, this.maxEntryBytes, { store: this.name, operation, key })
    }
    const staleUntil = toStoredTime(entry.staleUntil)
    if (staleUntil <= this.#preciseNow()) return undefined
    return [
      key,
      asBuffer(entry.value),
      toStoredTime(entry.createdAt),
      toStoredTime(entry.freshUntil),
      staleUntil,
      entry.tags.length === 0 ? null : JSON.stringify(entry.tags),
    ]
  }

  #discard(result: MaybePromise<unknown>): MaybePromise<void> {
    return isThenable(result) ? result.then(() => undefined) : undefined
  }

  /** Runs an operation on the backend (after readiness), wrapping driver errors. */
  #call<T>(
    operation: string,
    key: string | undefined,
    run: (b: SqlBackend) => MaybePromise<T>,
  ): MaybePromise<T> {
    const backend = this.#backend
    if (backend === undefined) {
      return this.#ready(operation, key).then((b) => this.#settle(operation, key, run, b))
    }
    return this.#settle(operation, key, run, backend)
  }

  #settle<T>(
    operation: string,
    key: string | undefined,
    run: (b: SqlBackend) => MaybePromise<T>,
    backend: SqlBackend,
  ): MaybePromise<T> {
    let result: MaybePromise<T>
    try {
      result = run(backend)
    } catch (error) {
      throw this.#fail(operation, key, error)
    }
    if (!isThenable(result)) return result
    return result.then(undefined, (error: unknown) => {
      throw this.#fail(operation, key, error)
    })
  }

  #fail(operation: string, key: string | undefined, cause: unknown): StoreError {
    this.#errors++
    // Errors of our own (a missing driver, a closed store, a bad dialect) pass through as they are.
    if (isTierCacheError(cause)) return cause as StoreError
    const reason = cause instanceof Error ? cause.message : String(cause)
    return new StoreError(`sql ${operation} failed on table ${this.table}: ${reason}`, {
      store: this.name,
      operation,
      key,
      cause,
    })
  }

  /** Opens the connection (once), migrates when asked to, and prepares the queries. */
  #ready(operation: string, key?: string): Promise<SqlBackend> {
    if (this.#backend !== undefined) return Promise.resolve(this.#backend)
    if (this.#closed) return Promise.reject(this.#fail(operation, key, new Error('the store is closed')))
    if (this.#readying === undefined) {
      const readying = this.#prepare()
      this.#readying = readying
      readying.catch(() => {
        // Let the next call try again (the database may come up later).
        if (this.#readying === readying) this.#readying = undefined
      })
    }
    return this.#readying.catch((error: unknown) => {
      throw this.#fail(operation, key, error)
    })
  }

  async #prepare(): Promise<SqlBackend> {
    const db = await this.#connect()
    if (this.#autoMigrate && !this.#migrated) {
      await migrateSchema(db, this.table, this.#dialect as SqlDialect)
      this.#migrated = true
    }
    if (this.#closed) throw new Error('the store is closed')
    let backend: SqlBackend
    const database = this.#sqlite
    if (database !== undefined) {
      const fast = new SqliteStatements(database, this.table)
      this.#fast = fast
      backend = fast
    } else {
      backend = new KyselyQueries(db, this.table, this.#dialect as SqlDialect)
    }
    this.#backend = backend
    this.#pruner.start()
    return backend
  }

  /** Opens the connection once (a failed attempt is retried by the next call). */
  #connect(): Promise<KyselyLike> {
    if (this.#closed)
      return Promise.reject(this.#fail('connect', undefined, new Error('the store is closed')))
    if (this.#connecting === undefined) {
      const connecting = this.#open()
      this.#connecting = connecting
      connecting.catch(() => {
        if (this.#connecting === connecting) this.#connecting = undefined
      })
    }
    return this.#connecting
  }

  async #open(): Promise<KyselyLike> {
    const { db, sqlite, dialect } = await openConnection(this.#source, {
      busyTimeout: this.#busyTimeout,
      poolSize: this.#poolSize,
      importer: this.#importer,
      dialect: this.#dialect,
    })
    if (this.#closed && this.#owned) {
      await db.destroy()
      throw new Error('the store is closed')
    }
    this.#dialect = dialect
    this.#sqlite = sqlite
    this.#db = db
    return db
  }
}

/**
 * Creates the L3 SQL tier.
 *
 * @param connection - `{ db: kysely }`, `{ sqlite: './cache.db' | ':memory:' | database }`,
 *   `{ postgres: url }` or `{ mysql: url }`, optionally with the options merged in
 * @param options - `table`, `owned`, `maxEntryBytes`, `pruneInterval`, …; see
 *   {@link KyselyStoreOptions}
 * @throws InvalidOptionError (`E_INVALID_OPTION`) for bad options, at once
 * @example
 * ```ts
 * import { createCache } from '@tiercache/core'
 * import { memoryStore } from '@tiercache/store-memory'
 * import { kyselyStore } from '@tiercache/fallback-kysely'
 *
 * const cache = createCache({
 *   tiers: [memoryStore(), kyselyStore({ sqlite: './cache.db' }, { table: 'cache_entries' })],
 * })
 * ```
 */
export function kyselyStore(
  connection: KyselyStoreConnection & KyselyStoreOptions,
  options: KyselyStoreOptions = {},
): KyselyStore {
  return new KyselyStore(connection, options)
}
