/**
 * Fake stores over a `Map`: a synchronous memory tier and an async remote tier with call counters
 * and leases. Enough of the Store contract for engine tests; the real stores have the conformance
 * suite.
 *
 * @module
 */
import type { Store } from '@tiercache/core'
import type { StoreCapabilities, StoreEntry, StoreSetItem } from '@tiercache/core/store'
import { compilePattern, ValueTooLargeError } from '@tiercache/core/store'

/** The capabilities of a remote store without leases (`conditionalSet`): batch calls, patterns and `has`. */
export const BATCH_CAPABILITIES: StoreCapabilities = {
  getMany: true,
  setMany: true,
  deleteMany: true,
  deleteByPattern: true,
  has: true,
}

/** A minimal synchronous memory store (the real one lives in @tiercache/store-memory). */
export function localStore(
  clock: { now(): number } = Date,
  maxEntryBytes?: number,
): Store<unknown> & { map: Map<string, StoreEntry<unknown>> } {
  const map = new Map<string, StoreEntry<unknown>>()
  const live = (key: string): StoreEntry<unknown> | undefined => {
    const e = map.get(key)
    if (e === undefined) return undefined
    if (e.staleUntil <= clock.now()) {
      map.delete(key)
      return undefined
    }
    return e
  }
  return {
    name: 'memory',
    kind: 'memory',
    capabilities: { deleteByPattern: true, has: true, stats: true },
    maxEntryBytes,
    map,
    get: live,
    set(key, entry) {
      if (maxEntryBytes !== undefined && (entry.size ?? 0) > maxEntryBytes) {
        throw new ValueTooLargeError(entry.size ?? 0, maxEntryBytes, { store: 'memory' })
      }
      map.set(key, entry)
    },
    delete: (key) => map.delete(key),
    clear(ns) {
      for (const k of [...map.keys()]) if (ns === '' || k.startsWith(`${ns}:`)) map.delete(k)
    },
    deleteByPattern(pattern) {
      const match = compilePattern(pattern)
      let n = 0
      for (const k of [...map.keys()]) if (match(k) && map.delete(k)) n++
      return n
    },
    has: (key) => live(key) !== undefined,
    stats: () => ({ entries: map.size, bytes: [...map.values()].reduce((a, e) => a + (e.size ?? 0), 0) }),
  }
}

export interface RemoteMap extends Store<Uint8Array> {
  readonly map: Map<string, StoreEntry<Uint8Array>>
  readonly calls: Record<string, number>
}

/** Lease placeholders of every map given to {@link remoteStore}, shared like the map itself. */
const placeholders = new WeakMap<object, Map<string, { token: string; until: number }>>()

/**
 * An async remote store over a Map (bytes), with call counters and leases (`conditionalSet`).
 * Several caches may share one map.
 */
export function remoteStore(
  clock: { now(): number } = Date,
  options: {
    name?: string
    map?: Map<string, StoreEntry<Uint8Array>>
    maxTtl?: number
    caps?: StoreCapabilities
  } = {},
): RemoteMap {
  const map = options.map ?? new Map<string, StoreEntry<Uint8Array>>()
  let leases = placeholders.get(map)
  if (leases === undefined) {
    leases = new Map()
    placeholders.set(map, leases)
  }
  const held = leases
  const calls: Record<string, number> = {}
  const count = (op: string): void => {
    calls[op] = (calls[op] ?? 0) + 1
  }
  const live = (key: string): StoreEntry<Uint8Array> | undefined => {
    const e = map.get(key)
    if (e === undefined) return undefined
    if (e.staleUntil <= clock.now()) {
      map.delete(key)
      return undefined
    }
    return e
  }
  return {
    name: options.name ?? 'remote',
    kind: 'remote',
    capabilities: options.caps ?? {
      getMany: true,
      setMany: true,
      deleteMany: true,
      deleteByPattern: true,
      has: true,
      conditionalSet: true,
    },
    maxTtl: options.maxTtl,
    map,
    calls,
    async get(key) {
      count('get')
      return live(key)
    },
    async set(key, entry) {
      count('set')
      held.delete(key)
      map.set(key, { ...entry, value: Buffer.from(entry.value) })
    },
    async delete(key) {
      count('delete')
      held.delete(key)
      return map.delete(key)
    },
    async clear(ns) {
      count('clear')
      for (const k of [...held.keys()]) if (ns === '' || k.startsWith(`${ns}:`)) held.delete(k)
      for (const k of [...map.keys()]) if (ns === '' || k.startsWith(`${ns}:`)) map.delete(k)
    },
    async getMany(keys) {
      count('getMany')
      return keys.map(live)
    },
    async setMany(items: readonly StoreSetItem<Uint8Array>[]) {
      count('setMany')
      for (const [k, e] of items) {
        held.delete(k)
        map.set(k, { ...e, value: Buffer.from(e.value) })
      }
    },
    async deleteMany(keys) {
      count('deleteMany')
      let n = 0
      for (const k of keys) {
        held.delete(k)
        if (map.delete(k)) n++
      }
      return n
    },
    async deleteByPattern(pattern) {
      count('deleteByPattern')
      const match = compilePattern(pattern)
      let n = 0
      for (const k of [...held.keys()]) if (match(k)) held.delete(k)
      for (const k of [...map.keys()]) if (match(k) && map.delete(k)) n++
      return n
    },
    async lease(key, token, ttl) {
      count('lease')
      if (live(key) !== undefined) return false
      held.set(key, { token, until: clock.now() + ttl })
      return true
    },
    async conditionalSet(key, entry, condition) {
      count('conditionalSet')
      const current = live(key)
      if ('lease' in condition) {
        const p = held.get(key)
        if (
          current !== undefined ||
          p === undefined ||
          p.until <= clock.now() ||
          p.token !== condition.lease
        ) {
          return false
        }
      } else if (current?.createdAt !== condition.createdAt) return false
      held.delete(key)
      if (entry.staleUntil <= clock.now()) map.delete(key)
      else map.set(key, { ...entry, value: Buffer.from(entry.value) })
      return true
    },
    async has(key) {
      return live(key) !== undefined
    },
  }
}
