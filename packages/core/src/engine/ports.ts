/**
 * The two small interfaces between the engine and warming: what the read path tells warming
 * ({@link AccessTracker}) and what warming may ask of the engine ({@link WarmingHost}). Neither
 * side imports the other.
 *
 * @module
 */
import type { TimeUnit } from '../duration.js'
import type { Emitter } from '../events.js'
import type { StoreEntry } from '../store.js'
import type { Loader, WarmingStats } from '../types.js'
import type { LoadOptions, LoadRequest } from './options.js'

/**
 * An entry as the engine stores it in L1: the entry plus the warming fields an L1 hit updates in
 * place (the key's hot record, and reads counted within the current window).
 */
export interface LocalEntry extends StoreEntry<unknown> {
  /** The key's hot record (owned by warming), once it is hot. */
  hot: object | undefined
  /** Reads of this entry within window `win`. */
  reads: number
  /** The counting window `reads` belongs to. */
  win: number
}

/** What the read path reports to warming. */
export interface AccessTracker {
  /**
   * An L1 hit. The loader, its options and the caller's key are known for `getOrSet` and `wrap`
   * (positional, so the hit path allocates nothing).
   */
  touchL1(rel: string, entry: LocalEntry, loader?: Loader<any>, opts?: LoadOptions, key?: string): void
  /** A new L1 entry is about to be written. */
  linkL1(rel: string, entry: LocalEntry): void
  /** A read that did not hit L1: a miss (`entry` undefined) or a hit in a lower tier. */
  touch(rel: string, entry: StoreEntry<unknown> | undefined, request?: LoadRequest): void
  /** Resolves when the warm restore (if asked) is done. */
  readonly ready: Promise<void>
  stats(): WarmingStats
  close(): void
}

/** Why the engine refreshes a key in the background. */
export type RefreshReason = 'refresh-ahead' | 'warming'

/** What warming may ask of the engine. */
export interface WarmingHost {
  readonly emitter: Emitter
  /** What a bare number of time means in the cache's options. */
  readonly timeUnit: TimeUnit
  now(): number
  setTimer(fn: () => void, ms: number): unknown
  clearTimer(handle: unknown): void
  /** A fresh L1 entry, without counting a read. */
  peekL1(rel: string): StoreEntry<unknown> | undefined
  /** True when the first tier is a memory store. */
  readonly hasL1: boolean
  /** Starts a background refresh unless one runs; resolves when it ends. */
  refresh(
    request: LoadRequest,
    current: StoreEntry<unknown> | undefined,
    reason: RefreshReason,
  ): Promise<void> | undefined
  /** The cache-wide `getOrSet` defaults. */
  readonly defaults: LoadOptions
  background(p: Promise<unknown>): void
  /** Writes an internal record (the hot-key snapshot) to every shared tier. */
  writeInternal(name: string, value: unknown, ttl: number): Promise<void>
  /** Reads an internal record from the first shared tier that has it. */
  readInternal(name: string): Promise<unknown>
  /** Reads keys into L1 without counting reads. */
  preload(rels: readonly string[]): Promise<void>
  reportError(error: unknown, operation: string): void
}
