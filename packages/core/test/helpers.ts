import type { Bus, DistributedLock, Store } from '../src/index.js'
import { ValueTooLargeError } from '../src/index.js'
import type {
  BusHandlers,
  BusMessage,
  LockHandle,
  StoreCapabilities,
  StoreEntry,
  StoreSetItem,
} from '../src/store-kit.js'
import { compilePattern } from '../src/store-kit.js'
import type { ManualClock } from '../src/testing/index.js'

/** A minimal synchronous memory store (the real one lives in @tiercache/store-memory). */
export function localStore(
  clock: { now(): number },
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
  clock: { now(): number },
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

/** An in-process bus hub: every bus made by `connect()` hears every other. */
export function busHub() {
  const members = new Set<{ handlers: BusHandlers | undefined }>()
  const sent: BusMessage[] = []
  return {
    sent,
    connect(): Bus & { reconnect(): void } {
      const me: { handlers: BusHandlers | undefined } = { handlers: undefined }
      members.add(me)
      return {
        subscribe(handlers) {
          me.handlers = handlers
        },
        publish(message) {
          sent.push(message)
          for (const m of members) m.handlers?.message(structuredClone(message))
        },
        reconnect() {
          me.handlers?.reconnected()
        },
        close() {
          members.delete(me)
        },
      }
    },
  }
}

/** An in-process distributed lock shared by every lock made by `connect()`. */
export function lockHub(clock: ManualClock | { now(): number }) {
  const held = new Map<string, { token: number; until: number }>()
  let next = 1
  const waiters: (() => void)[] = []
  return {
    held,
    connect(): DistributedLock {
      return {
        async acquire(key, { ttl, wait }) {
          const deadline = Date.now() + wait
          for (;;) {
            const cur = held.get(key)
            if (cur === undefined || cur.until <= clock.now()) {
              const token = next++
              held.set(key, { token, until: clock.now() + ttl })
              const handle: LockHandle = {
                async release() {
                  if (held.get(key)?.token === token) held.delete(key)
                  for (const w of waiters.splice(0)) w()
                },
              }
              return handle
            }
            if (Date.now() >= deadline) return undefined
            await new Promise<void>((resolve) => {
              waiters.push(resolve)
              setTimeout(resolve, 5)
            })
          }
        },
      }
    },
  }
}

/** A promise you resolve from outside. */
export function deferred<T = void>() {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Catches an error from a promise or function. */
export async function caught(fn: () => unknown): Promise<any> {
  try {
    await fn()
  } catch (e) {
    return e
  }
  throw new Error('expected an error')
}
