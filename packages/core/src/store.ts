/**
 * The Store contract.
 *
 * A store is dumb: it keeps entries and their metadata under string keys and declares what it
 * can do. The engine owns every semantic: freshness, grace, tags, backfill, stampedes,
 * namespaces. Implement {@link Store} to add a backend and prove it with
 * `runStoreSuite` from `@tiercache/store-test-suite`.
 *
 * Rules every store follows:
 * - Keys are opaque strings of at most a few KiB, always well-formed UTF-16 without NUL (the
 *   engine refuses others). The engine builds them as `<namespace>:<key>`, where a namespace path
 *   never contains glob characters; a store never interprets `:` except in {@link Store.clear}.
 * - `get` never returns an entry whose `staleUntil` has passed (physical expiry), and never
 *   throws for a missing key.
 * - Failures throw `StoreError` (code `E_STORE` or more specific) naming the store, the
 *   operation and the cause. An entry above `maxEntryBytes` is refused with
 *   `ValueTooLargeError` (`E_VALUE_TOO_LARGE`) and the key is left as it was.
 * - A store never closes or destroys a client it was handed unless it was told it owns it.
 *
 * @module
 */

/**
 * One cached value with its metadata. Every time is absolute, in epoch milliseconds.
 *
 * @typeParam V - the value type: the live value for memory stores, `Uint8Array` (the
 *   serialized bytes) for remote stores
 */
export interface StoreEntry<V = unknown> {
  /** The value: live for `kind: 'memory'` stores, serialized bytes for `kind: 'remote'` stores. */
  readonly value: V
  /** When the value was produced (epoch ms). Tag invalidations compare against it. */
  readonly createdAt: number
  /** Logical expiry (epoch ms): after it the value is stale and only served under grace. */
  readonly freshUntil: number
  /**
   * Physical expiry (epoch ms): `freshUntil` plus grace. A store must not return the entry after
   * it and may drop it at any time after. `NEVER` (`Number.MAX_SAFE_INTEGER`) means no expiry.
   */
  readonly staleUntil: number
  /** Tags for invalidation. Empty for untagged entries. */
  readonly tags: readonly string[]
  /**
   * Size in bytes of the serialized value. The engine sets it on entries it gives to memory
   * stores, which use it for byte accounting; remote stores may ignore it.
   */
  readonly size?: number
}

/** An entry as a remote store receives and returns it: the value is the serialized bytes. */
export type RemoteEntry = StoreEntry<Uint8Array>

/**
 * What a store can do beyond the required `get`, `set`, `delete` and `clear`. Declare only what
 * the backend really does; the engine falls back to single operations for missing batch
 * capabilities and refuses pattern deletes on a cache whose tiers cannot all do them.
 */
export interface StoreCapabilities {
  /** {@link Store.getMany} reads many keys in one round trip. */
  readonly getMany?: boolean
  /** {@link Store.setMany} writes many entries in one round trip. */
  readonly setMany?: boolean
  /** {@link Store.deleteMany} deletes many keys in one round trip. */
  readonly deleteMany?: boolean
  /** {@link Store.deleteByPattern} deletes keys matching a glob. */
  readonly deleteByPattern?: boolean
  /** {@link Store.has} checks presence without reading the value. */
  readonly has?: boolean
  /** {@link Store.stats} reports entries, bytes, connection state and memory. */
  readonly stats?: boolean
  /** {@link Store.close} releases resources. */
  readonly close?: boolean
  /**
   * {@link Store.lease} and {@link Store.conditionalSet}: atomic placeholders and
   * compare-and-set writes. A `shared` store with it takes back-fills and loader results that can
   * never resurrect a value another instance deleted or replaced; see the coherence section of
   * core's README.
   */
  readonly conditionalSet?: boolean
}

/** Every capability, once: the type makes a capability added to the interface a compile error here. */
const CAPABILITY_FLAGS: Readonly<Record<keyof StoreCapabilities, true>> = {
  getMany: true,
  setMany: true,
  deleteMany: true,
  deleteByPattern: true,
  has: true,
  stats: true,
  close: true,
  conditionalSet: true,
}

/**
 * Every capability a store can declare in {@link StoreCapabilities}, in a fixed order: the
 * optional methods named after themselves, then `conditionalSet` (which also needs `lease`).
 * For store tests and tooling that go through them all.
 */
export const STORE_CAPABILITIES: readonly (keyof StoreCapabilities)[] = Object.freeze(
  Object.keys(CAPABILITY_FLAGS) as (keyof StoreCapabilities)[],
)

/**
 * `memory`: an in-process store that keeps live values and may answer `get` synchronously
 * (the engine's L1). `remote`: a store that keeps serialized bytes (Redis, SQL, Keyv, files).
 */
export type StoreKind = 'memory' | 'remote'

/**
 * Who sees a store's contents. `local`: one process or host only (a memory store, a SQLite file
 * per instance); invalidations from other instances arrive over the bus and are applied to it.
 * `shared`: every instance reads and writes the same data (Redis, PostgreSQL, MariaDB); other
 * instances' writes reach it directly.
 */
export type StoreScope = 'local' | 'shared'

/**
 * What {@link Store.conditionalSet} requires the key to hold: the placeholder written by
 * {@link Store.lease} with this `lease` token, or an entry whose `createdAt` is exactly this.
 */
export type SetCondition = { readonly lease: string } | { readonly createdAt: number }

/** A pair given to {@link Store.setMany}. */
export type StoreSetItem<V = unknown> = readonly [key: string, entry: StoreEntry<V>]

/** What {@link Store.stats} reports. Every field is optional: report what the backend knows. */
export interface StoreStats {
  /** Number of entries held. */
  readonly entries?: number
  /** Bytes held by entries (serialized size). */
  readonly bytes?: number
  /** Upper bound on `bytes`, when the store has one. */
  readonly maxBytes?: number
  /** Entries evicted for space since creation. */
  readonly evictions?: number
  /** Whether the backend connection is up. */
  readonly connected?: boolean
  /** Memory the backend server reports using, in bytes (Redis `used_memory`). */
  readonly usedMemory?: number
  /** Operations that failed since creation. */
  readonly errors?: number
}

/** A value or a promise of it. Memory stores answer synchronously; remote stores asynchronously. */
export type MaybePromise<T> = T | Promise<T>

/**
 * The contract between the engine and a backend.
 *
 * @typeParam V - the entry value type (`unknown` for memory stores, `Uint8Array` for remote ones)
 * @example
 * ```ts
 * const store: Store<Uint8Array> = {
 *   name: 'map', kind: 'remote', capabilities: {},
 *   get: (key) => { const e = map.get(key); return e && e.staleUntil > Date.now() ? e : undefined },
 *   set: (key, entry) => { map.set(key, entry) },
 *   delete: (key) => map.delete(key),
 *   clear: (ns) => { for (const k of map.keys()) if (!ns || k.startsWith(`${ns}:`)) map.delete(k) },
 * }
 * ```
 */
export interface Store<V = unknown> {
  /**
   * Short lowercase name of the backend (`memory`, `redis`, `sql`, `keyv`, …). The engine names
   * a tier's level `l<position>_<name>`, for example `l2_redis`, in stats and metrics.
   */
  readonly name: string
  /** Whether the store keeps live values (`memory`) or bytes (`remote`). */
  readonly kind: StoreKind
  /**
   * Whether the data is private to this process or host (`local`) or seen by every instance
   * (`shared`). The engine applies other instances' invalidations to every local tier, never
   * back-fills a shared tier from a local one, and treats what a local tier held before a bus gap
   * as stale. Every store should declare it (the conformance suite checks); when it is missing the
   * engine assumes `local` for `kind: 'memory'` and `shared` otherwise.
   */
  readonly scope?: StoreScope
  /** The optional operations this store really supports. */
  readonly capabilities: StoreCapabilities
  /**
   * Longest lifetime, in milliseconds, this tier should hold an entry. Backfills and writes into
   * the tier are capped to it. Omit for no cap.
   */
  readonly maxTtl?: number | undefined
  /** Largest entry, in bytes, the store accepts. Omit for no limit. */
  readonly maxEntryBytes?: number | undefined

  /**
   * Reads an entry. Returns `undefined` for a missing or physically expired key.
   * Memory stores should answer synchronously.
   */
  get(key: string): MaybePromise<StoreEntry<V> | undefined>
  /**
   * Writes an entry, replacing any previous one. Expires it physically at `entry.staleUntil`.
   * @throws ValueTooLargeError when the entry exceeds {@link Store.maxEntryBytes}
   */
  set(key: string, entry: StoreEntry<V>): MaybePromise<void>
  /** Deletes a key. Resolves `true` when it existed (stores that cannot tell may resolve `true`). */
  delete(key: string): MaybePromise<boolean>
  /**
   * Deletes every key in a namespace: keys that start with `namespace + ':'`. An empty string
   * deletes every key this store holds (for a shared backend: every key under the store's own
   * prefix, never anything else). Keys of a neighbouring namespace (`users` vs `users2`) survive.
   */
  clear(namespace: string): MaybePromise<void>
  /** Reads many keys; the result has one slot per key, in order. Capability `getMany`. */
  getMany?(keys: readonly string[]): MaybePromise<(StoreEntry<V> | undefined)[]>
  /** Writes many entries. Capability `setMany`. */
  setMany?(items: readonly StoreSetItem<V>[]): MaybePromise<void>
  /** Deletes many keys; resolves how many existed (or the number asked). Capability `deleteMany`. */
  deleteMany?(keys: readonly string[]): MaybePromise<number>
  /**
   * Deletes every key matching a glob (`*`, `?`, `\` escapes; see `parsePattern`). The engine
   * always passes a pattern anchored in a namespace. Resolves how many keys were deleted.
   * Capability `deleteByPattern`.
   */
  deleteByPattern?(pattern: string): MaybePromise<number>
  /** True when the key holds an entry that is not physically expired. Capability `has`. */
  has?(key: string): MaybePromise<boolean>
  /**
   * Writes a placeholder owned by `token` under `key` if the key holds no live entry (it is
   * missing, physically expired, or holds another placeholder, which is replaced), expiring after
   * `ttl` milliseconds. Resolves `true` when it was written, `false` when the key holds an entry.
   * A placeholder is never returned by `get`, `getMany` or `has`; `delete`, `deleteMany`,
   * `deleteByPattern` and `clear` remove it; `set` and `setMany` replace it. Capability
   * `conditionalSet`.
   */
  lease?(key: string, token: string, ttl: number): MaybePromise<boolean>
  /**
   * Writes `entry` only if the key still holds what `condition` names, atomically: the
   * placeholder of lease `condition.lease`, or a live entry created at `condition.createdAt`.
   * An entry already past its `staleUntil` deletes the key instead, under the same condition
   * (the engine releases an unused lease that way). Resolves whether it wrote (or deleted).
   * Capability `conditionalSet`.
   * @throws ValueTooLargeError when the entry exceeds {@link Store.maxEntryBytes}
   */
  conditionalSet?(key: string, entry: StoreEntry<V>, condition: SetCondition): MaybePromise<boolean>
  /** Reports what the store knows about itself. Capability `stats`. */
  stats?(): MaybePromise<StoreStats>
  /**
   * Releases resources it owns. Calling it twice is harmless. Clients it was handed stay open
   * unless the store was told it owns them. Capability `close`.
   */
  close?(): MaybePromise<void>
  /**
   * Subscribes to connection state changes (`true` when the backend answers again, `false`
   * when it is lost). Returns an unsubscribe function. Optional.
   */
  onStatusChange?(listener: (connected: boolean) => void): () => void
}
