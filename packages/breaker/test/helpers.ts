import type { Store, StoreStats } from '@tiercache/core'
import type { MaybePromise, StoreEntry, StoreSetItem } from '@tiercache/core/store'
import { memoryStore } from '@tiercache/store-memory'

/**
 * Makes a synchronous store answer through promises and call itself `remote`, like a network
 * store. Every call resolves on a later microtask, never synchronously.
 */
export function asyncStore<V>(inner: Store<V>, name = 'remote'): Store<V> {
  const later = <T>(fn: () => MaybePromise<T>): Promise<T> => Promise.resolve().then(fn)
  return {
    name,
    kind: 'remote',
    capabilities: inner.capabilities,
    maxEntryBytes: inner.maxEntryBytes,
    maxTtl: inner.maxTtl,
    get: (key: string) => later(() => inner.get(key)),
    set: (key: string, entry: StoreEntry<V>) => later(() => inner.set(key, entry)),
    delete: (key: string) => later(() => inner.delete(key)),
    clear: (namespace: string) => later(() => inner.clear(namespace)),
    getMany: (keys: readonly string[]) => later(() => inner.getMany!(keys)),
    setMany: (items: readonly StoreSetItem<V>[]) => later(() => inner.setMany!(items)),
    deleteMany: (keys: readonly string[]) => later(() => inner.deleteMany!(keys)),
    deleteByPattern: (pattern: string) => later(() => inner.deleteByPattern!(pattern)),
    has: (key: string) => later(() => inner.has!(key)),
    stats: (): Promise<StoreStats> => later(() => inner.stats!()),
    close: () => later(() => inner.close?.()),
  }
}

/** A fresh memory store big enough for tests. */
export function memory(): Store<unknown> {
  return memoryStore({ maxBytes: 16 * 1024 * 1024, maxEntryBytes: 1024 * 1024 })
}

/** A byte entry of `size` bytes (or of the UTF-8 of `text`), fresh for a minute. */
export function entry(text: string, meta: Partial<Omit<StoreEntry, 'value'>> = {}): StoreEntry<Uint8Array> {
  const value = new TextEncoder().encode(text)
  const now = Date.now()
  return {
    value,
    createdAt: meta.createdAt ?? now,
    freshUntil: meta.freshUntil ?? now + 60_000,
    staleUntil: meta.staleUntil ?? now + 120_000,
    tags: meta.tags ?? [],
    size: meta.size ?? value.byteLength,
  }
}

/** The text of an entry written by {@link entry}, or undefined. */
export function text(e: StoreEntry<unknown> | undefined): string | undefined {
  return e === undefined ? undefined : new TextDecoder().decode(e.value as Uint8Array)
}
