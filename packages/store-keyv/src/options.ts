import type { Clock, Duration, StoreScope } from '@tiercache/core/store'

/**
 * The part of a Keyv storage adapter (`@keyv/redis`, `@keyv/sqlite`, `@keyv/postgres`, …) the
 * store uses: Keyv's `KeyvStoreAdapter` contract, typed by its methods so the store needs no
 * `instanceof` and no types from `keyv`. A plain `Map` fits too.
 *
 * Values given to `set` are strings; `ttl` is in milliseconds.
 */
export interface KeyvAdapterLike {
  /** Reads a value; `undefined` (or `null`) when missing. */
  get(key: string): unknown
  /** Writes a value that expires after `ttl` milliseconds (no expiry when omitted). */
  set(key: string, value: string, ttl?: number): unknown
  /** Deletes a key; `true` when it existed. */
  delete(key: string): unknown
  /** Deletes everything in the adapter's namespace. The store never calls it. */
  clear(): unknown
  /** Reads many keys in one round trip, one slot per key. */
  getMany?(keys: string[]): Promise<readonly unknown[]>
  /** Writes many values in one round trip. */
  setMany?(entries: { key: string; value: string; ttl?: number }[]): unknown
  /** Deletes many keys in one round trip; `true` when any existed. */
  deleteMany?(keys: string[]): unknown
  /**
   * Lists `[key, value]` pairs of a namespace (keys without the adapter's own prefix). The store
   * uses it for `clear(namespace)` and `deleteByPattern`.
   */
  iterator?(namespace?: string): AsyncIterable<readonly unknown[]>
  /** `Map`-like adapters: lists `[key, value]` pairs. Used when there is no `iterator`. */
  entries?(): Iterable<readonly unknown[]>
  /** Closes the connection. Called by `close()` only when the store owns the adapter. */
  disconnect?(): unknown
  /** The adapter's own namespace (its key prefix), passed to `iterator`. */
  namespace?: string | undefined
  /** Subscribes to adapter events; the store listens to `error`. */
  on?(event: 'error', listener: (error: unknown) => void): unknown
  /** Unsubscribes (Node `EventEmitter`, Keyv's and hookified's emitters). */
  off?(event: 'error', listener: (error: unknown) => void): unknown
  /** Unsubscribes (older emitters). */
  removeListener?(event: 'error', listener: (error: unknown) => void): unknown
}

/**
 * The part of a `Keyv` instance the store uses: its storage adapter, and `disconnect()` for an
 * owned instance. The store talks to the adapter directly (see the README for why).
 */
export interface KeyvLike {
  /** The storage adapter (`new Keyv(adapter)` or `new Keyv({ store })`; a `Map` by default). */
  readonly store: KeyvAdapterLike
  /** Reads a raw entry. Present on every Keyv instance; used to tell one from an adapter. */
  getRaw(key: string): Promise<unknown>
  /** Disconnects the adapter. */
  disconnect(): Promise<void>
}

/**
 * How `clear(namespace)` is made exact:
 *
 * - `'scan'`: list the adapter's keys (its `iterator`, or a `Map`'s entries) and delete those
 *   under the namespace. Also enables `deleteByPattern`. Costs one pass over every key the
 *   iterator yields, so give a shared backend's adapter its own namespace.
 * - `'generations'`: keep a generation marker per cleared namespace; an entry written under an
 *   older generation reads as missing and is deleted when read. `clear` is one write whatever the
 *   size; every read also fetches the markers of the key's parent namespaces (in the same
 *   `getMany` round trip when the adapter has one) and every write reads them first. Cleared
 *   entries stay in the backend until their TTL ends or they are read; pattern deletes are not
 *   available.
 */
export type KeyvClearMode = 'scan' | 'generations'

/** Options for {@link keyvStore}. */
export interface KeyvStoreOptions {
  /**
   * Name of the tier in stats, metrics and errors (`l2_keyv`).
   * @default 'keyv'
   */
  readonly name?: string
  /**
   * Whether the adapter's data is seen by every instance (`shared`: Redis, PostgreSQL, MongoDB,
   * … adapters) or only by this process or host (`local`: an in-memory `Map`, a file, SQLite on
   * a local disk). Other instances' invalidations are applied to a `local` tier over the bus.
   * @default 'local' for an in-process adapter (a `Map`), 'shared' otherwise
   */
  readonly scope?: StoreScope
  /**
   * Prepended to every key the store writes. `clear('')` deletes the keys under it and nothing
   * else, so stores sharing an adapter stay apart. `''` claims everything the adapter holds.
   * @default 'tc:'
   */
  readonly prefix?: string
  /**
   * How `clear(namespace)` is made exact; see {@link KeyvClearMode}.
   * @default 'scan' when the adapter can list its keys (an `iterator`, or a `Map`), else 'generations'
   */
  readonly clearMode?: KeyvClearMode
  /**
   * Whether `close()` disconnects the adapter (or the Keyv instance). A store never closes an
   * adapter it was handed unless told it owns it.
   * @default false
   */
  readonly owned?: boolean
  /**
   * Longest wait for an owned adapter to disconnect in `close()`, as a duration (milliseconds or
   * `'5s'`). Some adapters wait forever for commands queued while their server is unreachable;
   * after this long `close()` rejects with `StoreTimeoutError` (`E_STORE_TIMEOUT`) instead.
   * @default 5000
   */
  readonly closeTimeout?: Duration
  /**
   * Largest entry value, in bytes. A larger value is refused with `ValueTooLargeError` and the
   * key keeps its previous entry. Stored values are base64 text about 4/3 of this size.
   * @default no limit (the backend's own limit applies)
   */
  readonly maxEntryBytes?: number
  /**
   * Longest lifetime an entry may have in this tier, as a duration (milliseconds or `'1d'`).
   * The engine caps writes and backfills to it.
   * @default no cap
   */
  readonly maxTtl?: Duration
  /**
   * Time source (epoch ms) for TTLs and expiry checks.
   * @default the system clock
   */
  readonly clock?: Clock
}
