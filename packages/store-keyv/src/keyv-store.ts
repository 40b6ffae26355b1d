import {
  compilePattern,
  DeserializationError,
  InvalidOptionError,
  isTierCacheError,
  NEVER,
  parseDuration,
  type RemoteEntry,
  type Store,
  type StoreCapabilities,
  StoreError,
  type StoreScope,
  type StoreSetItem,
  StoreTimeoutError,
  timerDelay,
  ValueTooLargeError,
} from '@tiercache/core/store'
import { clearingNamespaces, newGeneration, stampOf } from './generations.js'
import type { KeyvAdapterLike, KeyvClearMode, KeyvLike, KeyvStoreOptions } from './options.js'
import { fromStored, fromStoredMarker, toStored, toStoredMarker } from './stored-value.js'

/** Keys deleted per adapter call when a scan deletes many. */
const DELETE_BATCH = 500

type Listing = () => AsyncIterable<readonly unknown[]> | Iterable<readonly unknown[]>

function isAdapter(value: unknown): value is KeyvAdapterLike {
  if (typeof value !== 'object' || value === null) return false
  const a = value as Record<string, unknown>
  return (
    typeof a.get === 'function' &&
    typeof a.set === 'function' &&
    typeof a.delete === 'function' &&
    typeof a.clear === 'function'
  )
}

function isKeyv(value: unknown): value is KeyvLike {
  return (
    isAdapter(value) &&
    typeof (value as Partial<KeyvLike>).getRaw === 'function' &&
    isAdapter((value as Partial<KeyvLike>).store)
  )
}

function message(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause)
}

/**
 * A tier on a Keyv storage adapter.
 *
 * The store talks to the adapter directly, not through `Keyv`'s methods: Keyv swallows adapter
 * failures in some methods, re-prefixes keys, and only trusts the iterators of adapters it knows.
 * Entries are kept in Keyv's serialized shape (see the README), so adapter-side expiry keeps
 * working and a Keyv instance on the same adapter can still read them as strings.
 */
export class KeyvStore implements Store<Uint8Array> {
  /** Tier name used in stats, metrics and errors. */
  readonly name: string
  /** Always `remote`: the store keeps serialized bytes. */
  readonly kind: 'remote' = 'remote'
  /** `shared` or `local`; see {@link KeyvStoreOptions.scope}. */
  readonly scope: StoreScope
  /** What the adapter really supports; see the README's capability table. */
  readonly capabilities: StoreCapabilities
  /** Longest lifetime in this tier, in ms, if capped. */
  readonly maxTtl?: number
  /** Largest entry value in bytes, if limited. */
  readonly maxEntryBytes?: number
  /** Prepended to every key written to the adapter. */
  readonly prefix: string
  /** How `clear(namespace)` is made exact. */
  readonly clearMode: KeyvClearMode

  readonly #adapter: KeyvAdapterLike
  readonly #keyv: KeyvLike | undefined
  readonly #owned: boolean
  readonly #closeTimeout: number
  readonly #now: () => number
  readonly #list: Listing | undefined
  /** A `Map`-like adapter answers in process, so batches are plain loops. */
  readonly #inProcess: boolean
  /** Rejecters of the adapter calls in flight; an `error` event fails them all. */
  readonly #inFlight = new Set<(error: unknown) => void>()
  #closed = false
  readonly #onError = (error: unknown): void => {
    for (const fail of this.#inFlight) fail(error)
  }

  /**
   * @param keyvOrAdapter - a Keyv instance (its storage adapter is used) or a storage adapter
   * @param options - see {@link KeyvStoreOptions}
   */
  constructor(keyvOrAdapter: KeyvLike | KeyvAdapterLike, options: KeyvStoreOptions = {}) {
    const keyv = isKeyv(keyvOrAdapter) ? keyvOrAdapter : undefined
    const adapter = keyv ? keyv.store : keyvOrAdapter
    if (!isAdapter(adapter)) {
      throw new InvalidOptionError(
        'keyvStore: expected a Keyv instance or a Keyv storage adapter (an object with get, set, delete and clear)',
        { option: 'keyvOrAdapter' },
      )
    }
    const name = options.name ?? 'keyv'
    if (typeof name !== 'string' || name.length === 0) {
      throw new InvalidOptionError('keyvStore: name must be a non-empty string', { option: 'name' })
    }
    const prefix = options.prefix ?? 'tc:'
    if (typeof prefix !== 'string') {
      throw new InvalidOptionError('keyvStore: prefix must be a string', { option: 'prefix' })
    }
    if (options.owned !== undefined && typeof options.owned !== 'boolean') {
      throw new InvalidOptionError('keyvStore: owned must be a boolean', { option: 'owned' })
    }
    const max = options.maxEntryBytes
    if (max !== undefined && (typeof max !== 'number' || !(max > 0))) {
      throw new InvalidOptionError(`keyvStore: maxEntryBytes must be a positive number, got ${String(max)}`, {
        option: 'maxEntryBytes',
      })
    }
    const clock = options.clock
    if (clock !== undefined && typeof clock?.now !== 'function') {
      throw new InvalidOptionError('keyvStore: clock must have a now() method', { option: 'clock' })
    }

    const a = adapter as KeyvAdapterLike & { [Symbol.iterator]?: unknown }
    let list: Listing | undefined
    if (typeof a.iterator === 'function') list = () => a.iterator!(a.namespace)
    else if (typeof a.entries === 'function' && typeof a[Symbol.iterator] === 'function')
      list = () => a.entries!()
    const inProcess = list !== undefined && typeof a.iterator !== 'function'

    const clearMode = options.clearMode ?? (list ? 'scan' : 'generations')
    if (clearMode !== 'scan' && clearMode !== 'generations') {
      throw new InvalidOptionError(`keyvStore: clearMode must be 'scan' or 'generations'`, {
        option: 'clearMode',
      })
    }
    if (clearMode === 'scan' && !list) {
      throw new InvalidOptionError(
        "keyvStore: clearMode 'scan' needs an adapter that can list its keys (an iterator() method or a Map); use 'generations'",
        { option: 'clearMode' },
      )
    }

    this.name = name
    const scope = options.scope ?? (inProcess ? 'local' : 'shared')
    if (scope !== 'local' && scope !== 'shared') {
      throw new InvalidOptionError(`keyvStore: scope must be 'local' or 'shared', got ${String(scope)}`, {
        option: 'scope',
      })
    }
    this.scope = scope
    this.prefix = prefix
    this.clearMode = clearMode
    if (max !== undefined && Number.isFinite(max)) this.maxEntryBytes = max
    if (options.maxTtl !== undefined) this.maxTtl = parseDuration(options.maxTtl, 'maxTtl')
    this.#adapter = adapter
    this.#keyv = keyv
    this.#owned = options.owned ?? false
    this.#closeTimeout =
      options.closeTimeout === undefined ? 5000 : parseDuration(options.closeTimeout, 'closeTimeout')
    this.#now = clock ? () => clock.now() : Date.now
    this.#list = clearMode === 'scan' ? list : undefined
    this.#inProcess = inProcess
    this.capabilities = Object.freeze({
      getMany: inProcess || typeof a.getMany === 'function',
      setMany: inProcess || typeof a.setMany === 'function',
      deleteMany: inProcess || typeof a.deleteMany === 'function',
      deleteByPattern: clearMode === 'scan',
      close: true,
    })
    // Keyv adapters report many failures only as 'error' events. Listening keeps an emitter
    // without listeners from throwing, and lets each operation notice a failure during it.
    a.on?.('error', this.#onError)
  }

  /** Reads an entry; `undefined` when missing, past `staleUntil`, or cleared. */
  async get(key: string): Promise<RemoteEntry | undefined> {
    return (await this.#read([key], 'get'))[0]
  }

  /** Reads many keys, one slot per key, in one adapter round trip when it has `getMany`. */
  async getMany(keys: readonly string[]): Promise<(RemoteEntry | undefined)[]> {
    return keys.length === 0 ? [] : this.#read(keys, 'getMany')
  }

  /**
   * Writes an entry that the adapter expires at `entry.staleUntil`.
   * @throws ValueTooLargeError when the value exceeds `maxEntryBytes` (the key is left as it was)
   */
  async set(key: string, entry: RemoteEntry): Promise<void> {
    this.#checkSize(key, entry, 'set')
    await this.#write([[key, entry]], 'set')
  }

  /**
   * Writes many entries, in one adapter round trip when it has `setMany`.
   * @throws ValueTooLargeError when any value exceeds `maxEntryBytes` (then nothing is written)
   */
  async setMany(items: readonly StoreSetItem<Uint8Array>[]): Promise<void> {
    for (const [key, entry] of items) this.#checkSize(key, entry, 'setMany')
    if (items.length > 0) await this.#write(items, 'setMany')
  }

  /** Deletes a key; `true` when the adapter says it existed (or cannot tell). */
  async delete(key: string): Promise<boolean> {
    const adapterKey = this.#entryKey(key)
    const existed = await this.#call('delete', key, () => this.#adapter.delete(adapterKey))
    return existed !== false
  }

  /**
   * Deletes many keys; resolves how many existed, or the number asked when the adapter's
   * `deleteMany` only says whether any did.
   */
  async deleteMany(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0
    return this.#deleteKeys(
      keys.map((k) => this.#entryKey(k)),
      'deleteMany',
    )
  }

  /**
   * Deletes every key under `namespace + ':'` (`''`: every key under the store's prefix).
   * `'scan'` mode deletes them; `'generations'` mode makes them unreadable at once and lets the
   * backend drop them when their TTL ends.
   */
  async clear(namespace: string): Promise<void> {
    if (this.clearMode === 'generations') {
      const marker = this.#markerKey(namespace)
      await this.#call('clear', undefined, () => this.#adapter.set(marker, toStoredMarker(newGeneration())))
      return
    }
    const under = this.prefix + (namespace === '' ? '' : `${namespace}:`)
    await this.#scanAndDelete('clear', (adapterKey) => adapterKey.startsWith(under))
  }

  /**
   * Deletes keys matching a glob; resolves how many unexpired entries were deleted. Only in
   * `'scan'` mode (capability `deleteByPattern`). Costs one pass over the adapter's keys.
   */
  async deleteByPattern(pattern: string): Promise<number> {
    const match = compilePattern(pattern)
    if (this.clearMode !== 'scan') {
      throw new StoreError(`${this.name} deleteByPattern needs clearMode 'scan'`, {
        store: this.name,
        operation: 'deleteByPattern',
      })
    }
    const prefix = this.prefix
    return this.#scanAndDelete(
      'deleteByPattern',
      (adapterKey) => adapterKey.startsWith(prefix) && match(adapterKey.slice(prefix.length)),
    )
  }

  /**
   * Fails the operations still waiting on the adapter with `E_CLOSED`. A handed adapter is left
   * open (the store stops listening to it); an owned one (`owned: true`) is disconnected within
   * `closeTimeout`. Safe to call twice; later operations fail with `E_CLOSED`.
   * @throws StoreTimeoutError (`E_STORE_TIMEOUT`) when the owned adapter does not disconnect in time
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const closed = new StoreError(`${this.name} store is closed`, { store: this.name }, 'E_CLOSED')
    for (const fail of this.#inFlight) fail(closed)
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      if (!this.#owned) return
      const disconnect = Promise.resolve().then(() =>
        this.#keyv ? this.#keyv.disconnect() : this.#adapter.disconnect?.(),
      )
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new StoreTimeoutError(this.#closeTimeout, { store: this.name, operation: 'close' })),
          timerDelay(this.#closeTimeout),
        )
        timer.unref?.()
      })
      await Promise.race([disconnect, timeout]).catch((cause: unknown) => {
        throw cause instanceof StoreTimeoutError ? cause : this.#failure('close', undefined, cause)
      })
    } finally {
      clearTimeout(timer)
      // A handed adapter gets its listeners back as they were; an owned one keeps the store's
      // listener, so errors it emits after a failed disconnect cannot crash the process.
      if (!this.#owned) {
        const a = this.#adapter
        if (typeof a.off === 'function') a.off('error', this.#onError)
        else a.removeListener?.('error', this.#onError)
      }
    }
  }

  #entryKey(key: string): string {
    return this.clearMode === 'generations' ? `${this.prefix}e:${key}` : this.prefix + key
  }

  #markerKey(namespace: string): string {
    return `${this.prefix}g:${namespace}`
  }

  #checkSize(key: string, entry: RemoteEntry, operation: string): void {
    const size = entry.value.byteLength
    if (this.maxEntryBytes !== undefined && size > this.maxEntryBytes) {
      throw new ValueTooLargeError(size, this.maxEntryBytes, { store: this.name, operation, key })
    }
  }

  /**
   * Runs one adapter call and maps its failure to a `StoreError`. An `error` event emitted
   * while the call is in flight fails it too: adapters such as `@keyv/redis` report a failed
   * command only as an event (and answer as if the key were missing), and keep retrying a lost
   * connection instead of rejecting.
   */
  async #call<T>(operation: string, key: string | undefined, fn: () => T | PromiseLike<T>): Promise<T> {
    if (this.#closed) {
      throw new StoreError(`${this.name} store is closed`, { store: this.name, operation, key }, 'E_CLOSED')
    }
    let fail!: (error: unknown) => void
    const failed = new Promise<never>((_, reject) => {
      fail = reject
    })
    this.#inFlight.add(fail)
    const call = Promise.resolve().then(fn)
    // If the event wins, the adapter's own later rejection has nowhere to go.
    call.catch(() => {})
    try {
      return await Promise.race([call, failed])
    } catch (cause) {
      // close() fails waiting calls with its own E_CLOSED error.
      throw isTierCacheError(cause, 'E_CLOSED') ? cause : this.#failure(operation, key, cause)
    } finally {
      this.#inFlight.delete(fail)
    }
  }

  #failure(operation: string, key: string | undefined, cause: unknown): StoreError {
    return new StoreError(`${this.name} ${operation} failed: ${message(cause)}`, {
      store: this.name,
      operation,
      key,
      cause,
    })
  }

  /** Reads raw values for adapter keys, one slot per key. */
  async #readRaw(adapterKeys: string[], operation: string, key: string | undefined): Promise<unknown[]> {
    const a = this.#adapter
    if (adapterKeys.length === 1) {
      const only = adapterKeys[0] as string
      return [await this.#call(operation, key, () => a.get(only))]
    }
    if (typeof a.getMany === 'function' && !this.#inProcess) {
      const values = await this.#call(operation, key, () => a.getMany!(adapterKeys))
      return adapterKeys.map((_, i) => values[i])
    }
    return this.#call(operation, key, () => Promise.all(adapterKeys.map((k) => a.get(k))))
  }

  /** Reads entries; in generations mode the markers come in the same round trip. */
  async #read(keys: readonly string[], operation: string): Promise<(RemoteEntry | undefined)[]> {
    const single = keys.length === 1 ? keys[0] : undefined
    const adapterKeys = keys.map((k) => this.#entryKey(k))
    let stamps: (string | undefined)[] = []
    let raws: unknown[]
    if (this.clearMode === 'generations') {
      const markers = this.#markerPlan(keys)
      const all = await this.#readRaw([...adapterKeys, ...markers.keys], operation, single)
      raws = all.slice(0, keys.length)
      stamps = markers.stamps(all.slice(keys.length))
    } else {
      raws = await this.#readRaw(adapterKeys, operation, single)
    }
    const now = this.#now()
    const dead: string[] = []
    const out = raws.map((raw, i) => {
      if (raw === undefined || raw === null) return undefined
      const adapterKey = adapterKeys[i] as string
      let stored: ReturnType<typeof fromStored>
      try {
        stored = fromStored(raw)
      } catch (cause) {
        throw new DeserializationError(`${this.name} ${operation}: ${message(cause)}`, {
          store: this.name,
          operation,
          key: keys[i],
          cause,
        })
      }
      // A value under our key that we did not write for it: there is no entry.
      if (stored.key !== adapterKey) return undefined
      if (stored.entry.staleUntil <= now || (stamps[i] !== undefined && stored.stamp !== stamps[i])) {
        dead.push(adapterKey)
        return undefined
      }
      return stored.entry
    })
    // Adapters without TTLs (a Map, SQL tables) keep expired values, and generations mode leaves
    // cleared ones: drop what was found dead. A failure here does not fail the read.
    if (dead.length > 0) await this.#deleteKeys(dead, operation).catch(() => 0)
    return out
  }

  /**
   * The marker keys to read for `keys` (deduplicated) and a function that turns their values
   * into each key's expected stamp.
   */
  #markerPlan(keys: readonly string[]): {
    keys: string[]
    stamps: (values: readonly unknown[]) => string[]
  } {
    const index = new Map<string, number>()
    const perKey = keys.map((key) =>
      clearingNamespaces(key).map((ns) => {
        const markerKey = this.#markerKey(ns)
        let at = index.get(markerKey)
        if (at === undefined) {
          at = index.size
          index.set(markerKey, at)
        }
        return at
      }),
    )
    return {
      keys: [...index.keys()],
      stamps: (values) => {
        const tokens = values.map(fromStoredMarker)
        return perKey.map((slots) => stampOf(slots.map((at) => tokens[at] as string)))
      },
    }
  }

  async #write(items: readonly StoreSetItem<Uint8Array>[], operation: string): Promise<void> {
    const single = items.length === 1 ? items[0]?.[0] : undefined
    let stamps: string[] | undefined
    if (this.clearMode === 'generations') {
      const markers = this.#markerPlan(items.map(([key]) => key))
      stamps = markers.stamps(await this.#readRaw(markers.keys, operation, single))
    }
    const now = this.#now()
    const writes: { key: string; value: string; ttl?: number }[] = []
    const expired: string[] = []
    items.forEach(([key, entry], i) => {
      const adapterKey = this.#entryKey(key)
      if (entry.staleUntil <= now) {
        expired.push(adapterKey)
        return
      }
      const value = toStored(adapterKey, entry, stamps?.[i] ?? '')
      if (entry.staleUntil >= NEVER) writes.push({ key: adapterKey, value })
      else writes.push({ key: adapterKey, value, ttl: Math.max(1, Math.ceil(entry.staleUntil - now)) })
    })
    const a = this.#adapter
    if (writes.length === 1) {
      const { key, value, ttl } = writes[0]!
      await this.#call(operation, single, () => a.set(key, value, ttl))
    } else if (writes.length > 1) {
      if (typeof a.setMany === 'function' && !this.#inProcess) {
        await this.#call(operation, single, () => a.setMany!(writes))
      } else {
        await this.#call(operation, single, () =>
          Promise.all(writes.map((w) => a.set(w.key, w.value, w.ttl))),
        )
      }
    }
    // An entry written already expired replaces nothing: the key is simply gone.
    if (expired.length > 0) await this.#deleteKeys(expired, operation)
  }

  /** Deletes adapter keys in batches; resolves how many existed (or were asked). */
  async #deleteKeys(adapterKeys: string[], operation: string): Promise<number> {
    const a = this.#adapter
    let count = 0
    for (let i = 0; i < adapterKeys.length; i += DELETE_BATCH) {
      const batch = adapterKeys.slice(i, i + DELETE_BATCH)
      const key = batch.length === 1 ? batch[0] : undefined
      if (batch.length > 1 && typeof a.deleteMany === 'function' && !this.#inProcess) {
        const any = await this.#call(operation, key, () => a.deleteMany!(batch))
        count += any === false ? 0 : batch.length
      } else {
        const results = await this.#call(operation, key, () => Promise.all(batch.map((k) => a.delete(k))))
        for (const existed of results) if (existed !== false) count++
      }
    }
    return count
  }

  /**
   * Lists every value in the adapter, keeps those this store wrote whose key passes `select`,
   * and deletes them. Resolves how many of them had not expired.
   */
  async #scanAndDelete(operation: string, select: (adapterKey: string) => boolean): Promise<number> {
    const list = this.#list!
    const doomed: string[] = []
    let live = 0
    await this.#call(operation, undefined, async () => {
      const now = this.#now()
      for await (const pair of list()) {
        let stored: ReturnType<typeof fromStored>
        try {
          stored = fromStored(pair[1])
        } catch {
          continue // not a value this store wrote
        }
        if (!select(stored.key)) continue
        doomed.push(stored.key)
        if (stored.entry.staleUntil > now) live++
      }
    })
    await this.#deleteKeys(doomed, operation)
    return live
  }
}

/**
 * Creates a tier on a Keyv instance or a Keyv storage adapter.
 *
 * @param keyvOrAdapter - a `Keyv` instance (the store uses its storage adapter) or an adapter
 *   such as `new KeyvRedis(url)` or a `Map`
 * @param options - name, key prefix, clear mode, ownership, limits; see {@link KeyvStoreOptions}
 * @throws InvalidOptionError (`E_INVALID_OPTION`) for something that is not an adapter, or bad options
 * @example
 * ```ts
 * import KeyvRedis from '@keyv/redis'
 * import { createCache } from '@tiercache/core'
 * import { keyvStore } from '@tiercache/store-keyv'
 * import { memoryStore } from '@tiercache/store-memory'
 *
 * const l2 = keyvStore(new KeyvRedis('redis://127.0.0.1:6379', { namespace: 'cache' }), { owned: true })
 * const cache = createCache({ tiers: [memoryStore(), l2] })
 * ```
 */
export function keyvStore(
  keyvOrAdapter: KeyvLike | KeyvAdapterLike,
  options: KeyvStoreOptions = {},
): KeyvStore {
  return new KeyvStore(keyvOrAdapter, options)
}
