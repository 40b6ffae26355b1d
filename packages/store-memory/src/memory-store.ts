import {
  type Clock,
  compilePattern,
  InvalidOptionError,
  parseDuration,
  preciseNow,
  type Store,
  type StoreCapabilities,
  type StoreEntry,
  type StoreSetItem,
  type StoreStats,
  systemClock,
  ValueTooLargeError,
} from '@tiercache/core/store'
import { LRUCache } from 'lru-cache'
import type { MemoryStoreOptions, MemoryStorePolicy } from './options.js'
import { WindowTinyLfu } from './tinylfu.js'

/** Default `maxBytes`: 100 MiB. */
export const DEFAULT_MAX_BYTES: number = 100 * 1024 * 1024

const CAPABILITIES: StoreCapabilities = Object.freeze({
  getMany: true,
  setMany: true,
  deleteMany: true,
  deleteByPattern: true,
  has: true,
  stats: true,
  close: true,
})

function positive(value: unknown, option: string, allowInfinity: boolean): number | undefined {
  if (value === undefined) return undefined
  if (
    typeof value !== 'number' ||
    Number.isNaN(value) ||
    value <= 0 ||
    (!allowInfinity && !Number.isFinite(value))
  ) {
    throw new InvalidOptionError(`memoryStore: ${option} must be a positive number, got ${String(value)}`, {
      option,
    })
  }
  return value
}

/**
 * The L1 tier: live values in an LRU bounded by serialized bytes and/or entry count, expired
 * lazily from each entry's `staleUntil` (no timer per entry), with a synchronous `get`.
 *
 * Values are kept by reference: treat cached objects as immutable, or mutate a copy.
 */
export class MemoryStore implements Store<unknown> {
  /** Tier name used in stats and metrics. */
  readonly name: string
  /** Always `memory`: live values, synchronous reads. */
  readonly kind: 'memory' = 'memory'
  /** Always `'local'`: the values live in this process only. */
  readonly scope: 'local' = 'local'
  /** Every optional capability. */
  readonly capabilities: StoreCapabilities = CAPABILITIES
  /** Longest lifetime in this tier, in ms, if capped. */
  readonly maxTtl?: number
  /** Largest entry in bytes. */
  readonly maxEntryBytes?: number
  /** The byte bound (`Infinity` when only `maxEntries` applies). */
  readonly maxBytes: number
  /** The entry-count bound (`Infinity` when only `maxBytes` applies). */
  readonly maxEntries: number
  /** The eviction policy in use. */
  readonly policy: MemoryStorePolicy

  /** The LRU (policy `'lru'`); never used (and not allocated) when the policy is `'tinylfu'`. */
  readonly #lru: LRUCache<string, StoreEntry<unknown>>
  /** The W-TinyLFU (policy `'tinylfu'`), else undefined. */
  readonly #tlfu: WindowTinyLfu<StoreEntry<unknown>> | undefined
  /** Whether the LRU accounts bytes (it refuses sizes when only `maxEntries` bounds it). */
  readonly #sized: boolean
  /** Coarse time for the read path; precise time for writes. */
  readonly #now: () => number
  readonly #preciseNow: () => number
  #evictions = 0

  /** @param options - bounds, clock and name; see {@link MemoryStoreOptions} */
  constructor(options: MemoryStoreOptions = {}) {
    const maxBytes = positive(options.maxBytes, 'maxBytes', true) ?? DEFAULT_MAX_BYTES
    const maxEntries = positive(options.maxEntries, 'maxEntries', true) ?? Number.POSITIVE_INFINITY
    if (!Number.isFinite(maxBytes) && !Number.isFinite(maxEntries)) {
      throw new InvalidOptionError(
        'memoryStore: an unbounded memory store is refused; set maxBytes or maxEntries',
        {
          option: 'maxBytes',
        },
      )
    }
    const maxEntryBytes =
      positive(options.maxEntryBytes, 'maxEntryBytes', true) ??
      (Number.isFinite(maxBytes) ? Math.floor(maxBytes / 4) : Number.POSITIVE_INFINITY)
    if (Number.isFinite(maxBytes) && maxEntryBytes > maxBytes) {
      throw new InvalidOptionError('memoryStore: maxEntryBytes must not exceed maxBytes', {
        option: 'maxEntryBytes',
      })
    }
    const policy = options.policy ?? 'lru'
    if (policy !== 'lru' && policy !== 'tinylfu') {
      throw new InvalidOptionError(`memoryStore: policy must be 'lru' or 'tinylfu', got ${String(policy)}`, {
        option: 'policy',
      })
    }
    this.policy = policy
    this.name = options.name ?? 'memory'
    this.maxBytes = maxBytes
    this.maxEntries = maxEntries
    if (Number.isFinite(maxEntryBytes)) this.maxEntryBytes = maxEntryBytes
    if (options.maxTtl !== undefined) this.maxTtl = parseDuration(options.maxTtl, 'maxTtl')
    const clock: Clock = options.clock ?? systemClock
    this.#now = clock === systemClock ? systemClock.now : () => clock.now()
    this.#preciseNow = clock === systemClock ? preciseNow : () => clock.now()
    const lruOptions: LRUCache.Options<string, StoreEntry<unknown>, unknown> = {
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') this.#evictions++
      },
    } as LRUCache.Options<string, StoreEntry<unknown>, unknown>
    if (Number.isFinite(maxEntries)) Object.assign(lruOptions, { max: Math.floor(maxEntries) })
    if (Number.isFinite(maxBytes)) Object.assign(lruOptions, { maxSize: Math.floor(maxBytes) })
    this.#sized = Number.isFinite(maxBytes)
    if (policy === 'tinylfu') {
      this.#tlfu = new WindowTinyLfu(
        maxBytes,
        maxEntries === Number.POSITIVE_INFINITY ? maxEntries : Math.floor(maxEntries),
      )
      this.#lru = undefined as unknown as LRUCache<string, StoreEntry<unknown>>
    } else {
      this.#tlfu = undefined
      this.#lru = new LRUCache(lruOptions)
    }
  }

  /** Reads an entry synchronously; `undefined` when missing or past `staleUntil`. */
  get(key: string): StoreEntry<unknown> | undefined {
    const tlfu = this.#tlfu
    const entry = tlfu === undefined ? this.#lru.get(key) : tlfu.get(key)
    if (entry === undefined) return undefined
    if (entry.staleUntil <= this.#now()) {
      if (tlfu === undefined) this.#lru.delete(key)
      else tlfu.delete(key)
      return undefined
    }
    return entry
  }

  /**
   * Stores an entry. Its byte size is `entry.size` (set by the engine from the serialized
   * form); an entry already past `staleUntil` just removes the key.
   * @throws ValueTooLargeError when `entry.size` exceeds `maxEntryBytes` (the key is left as it was)
   */
  set(key: string, entry: StoreEntry<unknown>): void {
    const size = entry.size ?? 1
    if (this.maxEntryBytes !== undefined && size > this.maxEntryBytes) {
      throw new ValueTooLargeError(size, this.maxEntryBytes, { store: this.name, operation: 'set', key })
    }
    if (entry.staleUntil <= this.#preciseNow()) {
      this.delete(key)
      return
    }
    const tlfu = this.#tlfu
    if (tlfu !== undefined) tlfu.set(key, entry, size >= 1 ? Math.ceil(size) : 1)
    else if (this.#sized) this.#lru.set(key, entry, { size: size >= 1 ? Math.ceil(size) : 1 })
    else this.#lru.set(key, entry)
  }

  /** Deletes a key; `true` when it existed. */
  delete(key: string): boolean {
    return this.#tlfu === undefined ? this.#lru.delete(key) : this.#tlfu.delete(key)
  }

  /** Deletes every key under `namespace + ':'`, or everything for `''`. */
  clear(namespace: string): void {
    if (namespace === '') {
      if (this.#tlfu === undefined) this.#lru.clear()
      else this.#tlfu.clear()
      return
    }
    const prefix = `${namespace}:`
    this.#deleteWhere((key) => key.startsWith(prefix))
  }

  /** Reads many keys, one slot per key. */
  getMany(keys: readonly string[]): (StoreEntry<unknown> | undefined)[] {
    const out = new Array<StoreEntry<unknown> | undefined>(keys.length)
    for (let i = 0; i < keys.length; i++) out[i] = this.get(keys[i] as string)
    return out
  }

  /** Writes many entries. Throws on the first entry that is too large; earlier ones stay written. */
  setMany(items: readonly StoreSetItem<unknown>[]): void {
    for (const [key, entry] of items) this.set(key, entry)
  }

  /** Deletes many keys; returns how many existed. */
  deleteMany(keys: readonly string[]): number {
    let n = 0
    for (const key of keys) if (this.delete(key)) n++
    return n
  }

  /** Deletes keys matching a glob; returns how many. Cost: one pass over all keys. */
  deleteByPattern(pattern: string): number {
    return this.#deleteWhere(compilePattern(pattern))
  }

  /** True when the key holds an unexpired entry. Does not change recency. */
  has(key: string): boolean {
    const entry = this.#tlfu === undefined ? this.#lru.peek(key) : this.#tlfu.peek(key)
    return entry !== undefined && entry.staleUntil > this.#now()
  }

  /** Entries, bytes, the byte bound and evictions so far. */
  stats(): StoreStats {
    const tlfu = this.#tlfu
    return {
      entries: tlfu === undefined ? this.#lru.size : tlfu.size,
      bytes: tlfu === undefined ? (this.#lru.calculatedSize ?? 0) : this.#sized ? tlfu.bytes : 0,
      ...(Number.isFinite(this.maxBytes) ? { maxBytes: this.maxBytes } : {}),
      evictions: tlfu === undefined ? this.#evictions : tlfu.evictions,
    }
  }

  /** Drops every entry. Safe to call more than once. */
  close(): void {
    if (this.#tlfu === undefined) this.#lru.clear()
    else this.#tlfu.clear()
  }

  #deleteWhere(match: (key: string) => boolean): number {
    const doomed: string[] = []
    const keys = this.#tlfu === undefined ? this.#lru.keys() : this.#tlfu.keys()
    for (const key of keys) if (match(key)) doomed.push(key)
    for (const key of doomed) this.delete(key)
    return doomed.length
  }
}

/**
 * Creates the L1 memory tier.
 *
 * @param options - bounds (`maxBytes` defaults to 100 MiB), clock and name
 * @throws InvalidOptionError (`E_INVALID_OPTION`) for an unbounded store or bad bounds
 * @example
 * ```ts
 * import { createCache } from '@tiercache/core'
 * import { memoryStore } from '@tiercache/store-memory'
 * const cache = createCache({ tiers: [memoryStore({ maxBytes: 50 * 2 ** 20, maxEntries: 100_000 })] })
 * ```
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  return new MemoryStore(options)
}
