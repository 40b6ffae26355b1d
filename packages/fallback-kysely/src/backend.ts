/**
 * The contract between the store (validation, readiness, errors, timers) and the two query
 * implementations: prepared better-sqlite3 statements for the embedded SQLite fast path, and
 * Kysely queries for every dialect.
 *
 * @module
 */
import { type MaybePromise, NEVER, type RemoteEntry } from '@tiercache/core/store'
import type { PatternPlan } from './pattern-sql.js'

/** A row ready to write: key, value bytes, three epoch-ms times, tags as JSON or `null`. */
export type WriteRow = readonly [
  key: string,
  value: Buffer,
  createdAt: number,
  freshUntil: number,
  staleUntil: number,
  tags: string | null,
]

/** What a query implementation does. Times are epoch ms; `now` is passed in by the store. */
export interface SqlBackend {
  /** The entry under `key` unless missing or `stale_until <= now`. */
  get(key: string, now: number): MaybePromise<RemoteEntry | undefined>
  /** One slot per key, in order, in one query per chunk of keys. */
  getMany(keys: readonly string[], now: number): MaybePromise<(RemoteEntry | undefined)[]>
  /** Whether `key` holds a row with `stale_until > now`. */
  has(key: string, now: number): MaybePromise<boolean>
  /** Upserts one row. */
  set(row: WriteRow): MaybePromise<void>
  /** Upserts rows (keys unique) and deletes `expired` keys, atomically where the dialect can. */
  setMany(rows: readonly WriteRow[], expired: readonly string[]): MaybePromise<void>
  /** Deletes a row; `true` when one existed. */
  delete(key: string): MaybePromise<boolean>
  /** Deletes rows; resolves how many existed. */
  deleteMany(keys: readonly string[]): MaybePromise<number>
  /** Deletes every row of the table. */
  clearAll(): MaybePromise<void>
  /** Deletes the rows a pattern plan matches (also used for namespace prefixes). */
  deleteByPattern(plan: PatternPlan): MaybePromise<number>
  /** Deletes up to `limit` rows with `stale_until <= now`; resolves how many. */
  pruneBatch(now: number, limit: number): MaybePromise<number>
  /** Unexpired entries and their value bytes. */
  stats(now: number): MaybePromise<{ entries: number; bytes: number }>
  /**
   * Writes a lease placeholder row (see {@link placeholderRow}) unless `key` holds a live entry;
   * an expired row or another placeholder is replaced. Resolves whether it was written.
   */
  lease(row: WriteRow, now: number): MaybePromise<boolean>
  /**
   * Replaces the live row of `row[0]` with `row` only if it is the placeholder with value `token`
   * (`createdAt` undefined) or an entry created at `createdAt`; deletes it instead when `row[1]`
   * is undefined (an expired entry). Resolves whether it did.
   */
  conditionalSet(
    row: WriteRow,
    token: Buffer | undefined,
    createdAt: number | undefined,
    now: number,
  ): MaybePromise<boolean>
}

/** `created_at` of a lease placeholder row: never a real creation time. */
export const PLACEHOLDER_CREATED_AT = -1

/** A lease placeholder row: the token as its value, `created_at` -1, expiring at `until`. */
export function placeholderRow(key: string, token: string, until: number): WriteRow {
  return [key, Buffer.from(token, 'utf8'), PLACEHOLDER_CREATED_AT, 0, until, null]
}

const NO_TAGS: readonly string[] = Object.freeze([])
const EMPTY = Buffer.alloc(0)

/** Turns a column value into a safe integer (PostgreSQL returns `bigint` columns as strings). */
export function toNumber(value: unknown): number {
  return typeof value === 'number' ? value : Number(value)
}

/** Turns a stored key (a string, or a Buffer from MySQL's VARBINARY) into a string. */
export function toKey(value: unknown): string {
  return typeof value === 'string' ? value : Buffer.from(value as Uint8Array).toString('utf8')
}

/**
 * Builds the entry a store returns from column values.
 *
 * @param value - BLOB / bytea / LONGBLOB as returned by the driver
 * @param createdAt - created_at column
 * @param freshUntil - fresh_until column
 * @param staleUntil - stale_until column
 * @param tags - tags column (JSON text or null)
 */
export function toEntry(
  value: unknown,
  createdAt: unknown,
  freshUntil: unknown,
  staleUntil: unknown,
  tags: unknown,
): RemoteEntry {
  return {
    value: value == null ? EMPTY : Buffer.isBuffer(value) ? value : Buffer.from(value as Uint8Array),
    createdAt: toNumber(createdAt),
    freshUntil: toNumber(freshUntil),
    staleUntil: toNumber(staleUntil),
    tags: tags == null || tags === '' ? NO_TAGS : (JSON.parse(toKey(tags)) as string[]),
  }
}

/** Clamps a time to what a 64-bit integer column keeps: integers, at most `NEVER`. */
export function toStoredTime(ms: number): number {
  return ms >= NEVER ? NEVER : Number.isInteger(ms) ? ms : Math.floor(ms)
}

/** A Buffer view of bytes, without copying. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/**
 * Splits rows into chunks of at most `maxRows` rows and, past the first row, `maxBytes` value
 * bytes, so one statement stays within parameter and packet limits.
 *
 * @param rows - rows to split
 * @param maxRows - rows per chunk
 * @param maxBytes - value bytes per chunk (a single larger row gets a chunk of its own)
 */
export function chunkRows(rows: readonly WriteRow[], maxRows: number, maxBytes: number): WriteRow[][] {
  const chunks: WriteRow[][] = []
  let current: WriteRow[] = []
  let bytes = 0
  for (const row of rows) {
    const size = row[1].byteLength
    if (current.length > 0 && (current.length >= maxRows || bytes + size > maxBytes)) {
      chunks.push(current)
      current = []
      bytes = 0
    }
    current.push(row)
    bytes += size
  }
  if (current.length > 0) chunks.push(current)
  return chunks
}

/**
 * Splits a list into slices of at most `size` items.
 *
 * @param items - the list
 * @param size - slice length
 */
export function slices<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
