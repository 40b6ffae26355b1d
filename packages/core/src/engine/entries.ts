import { addDuration } from '../duration.js'
import type { MaybePromise, StoreEntry } from '../store.js'
import type { LocalEntry } from './ports.js'

/** Entry metadata without the value. */
export interface Meta {
  readonly createdAt: number
  readonly freshUntil: number
  readonly staleUntil: number
  readonly tags: readonly string[]
}

/** A value found in a tier. */
export interface Found {
  readonly value: unknown
  readonly entry: StoreEntry<unknown>
  /** Index of the tier it was found in. */
  readonly tier: number
  /** Serialized size in bytes (for L1 accounting on back-fill). */
  readonly size: number
}

/** True for a promise (or any thenable). */
export function isThenable<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | undefined)?.then === 'function'
}

/** The metadata of a new entry: fresh for `ttl`, then stale for `grace`. */
export function makeMeta(
  now: number,
  createdAt: number,
  ttl: number,
  grace: number,
  tags: readonly string[],
): Meta {
  const freshUntil = addDuration(now, ttl)
  return { createdAt, freshUntil, staleUntil: addDuration(freshUntil, grace), tags }
}

/**
 * Builds an entry as one literal with a fixed property order. Object spread would give nearly
 * every entry its own hidden class, making every read of an entry field megamorphic.
 */
export function makeEntry<V>(value: V, m: Meta, size: number): StoreEntry<V> {
  return {
    value,
    createdAt: m.createdAt,
    freshUntil: m.freshUntil,
    staleUntil: m.staleUntil,
    tags: m.tags,
    size,
  }
}

/**
 * Builds an L1 entry: the entry fields plus three the engine keeps for warming (the hot-key
 * record, and reads counted within the current window), so an L1 hit can be tracked with a few
 * writes on the object it just read. Every L1 entry has this one shape.
 */
export function makeLocalEntry(value: unknown, m: Meta, size: number): LocalEntry {
  return {
    value,
    createdAt: m.createdAt,
    freshUntil: m.freshUntil,
    staleUntil: m.staleUntil,
    tags: m.tags,
    size,
    hot: undefined,
    reads: 0,
    win: -1,
  }
}
