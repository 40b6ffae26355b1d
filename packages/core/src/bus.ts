/**
 * Cross-instance contracts: the invalidation bus and the distributed lock. Core defines them;
 * `@tiercache/store-redis` implements them (`redisBus`, `redisLock`).
 *
 * @module
 */

/** What a bus message asks other instances to do with their local (L1) copies. */
export type BusMessageType = 'set' | 'delete' | 'pattern' | 'tags' | 'clear'

/**
 * A message on the invalidation bus. Carries keys, patterns or tags, never values.
 * Keys and patterns are relative to the root namespace (the same on every instance that shares
 * the namespace), for example `users:1` for key `1` of `cache.namespace('users')`.
 */
export interface BusMessage {
  /** Id of the sending instance; an instance ignores its own messages. */
  readonly instanceId: string
  /** Root namespace of the sender; instances of other namespaces ignore the message. */
  readonly namespace: string
  /** The operation. */
  readonly type: BusMessageType
  /** For `set` and `delete`: the keys whose local copies must be dropped. */
  readonly keys?: readonly string[]
  /** For `pattern`: the glob (already prefixed with any child namespace path). */
  readonly pattern?: string
  /** For `tags`: the invalidated tags. */
  readonly tags?: readonly string[]
  /** For `tags`: the invalidation time (epoch ms) on the sender. */
  readonly at?: number
  /** For `clear`: the namespace path relative to the root (`''` for the whole namespace). */
  readonly prefix?: string
  /**
   * For `set`: true when the value came from a loader (`getOrSet`, a refresh), not from the
   * caller. Instances drop their local copies all the same; a relay between regions skips it,
   * since each region loads from its own source of truth and a load changes nothing there.
   */
  readonly load?: boolean
}

/** Callbacks a bus delivers to. */
export interface BusHandlers {
  /** A message from another instance (the bus may also deliver own messages; the engine drops them). */
  message(message: BusMessage): void
  /**
   * The bus was disconnected and is back: messages may have been missed, so the engine flushes
   * its local tiers.
   */
  reconnected(): void
  /** Optional: the bus lost its connection. */
  disconnected?(): void
}

/** Counters a bus reports for metrics. */
export interface BusStats {
  /** Messages published successfully. */
  readonly sent: number
  /** Messages received from other instances. */
  readonly received: number
  /** Publishes that failed for good (dropped after retries, or queue overflow). */
  readonly failed: number
  /** Messages waiting to be retried. */
  readonly queued: number
  /** Whether the subscription connection is up. */
  readonly connected: boolean
}

/**
 * A pub/sub channel between cache instances that share lower tiers, used to drop stale L1
 * copies. Implementations retry failed publishes from a bounded queue.
 */
export interface Bus {
  /** Starts delivering messages to `handlers`. Called once by the engine. */
  subscribe(handlers: BusHandlers): void | Promise<void>
  /** Publishes a message. Must not reject: failures are counted and retried or dropped. */
  publish(message: BusMessage): void | Promise<void>
  /** Counters for metrics. Optional. */
  stats?(): BusStats
  /** Unsubscribes and releases connections it owns. */
  close?(): void | Promise<void>
}

/** A held distributed lock. */
export interface LockHandle {
  /** Releases the lock if still held by this handle (compare-and-delete). Never rejects. */
  release(): Promise<void>
}

/** Options for {@link DistributedLock.acquire}. */
export interface LockAcquireOptions {
  /** How long the lock lives if never released, in milliseconds (the loader's budget). */
  readonly ttl: number
  /** How long to wait for a held lock, in milliseconds. `0` tries once. */
  readonly wait: number
  /** Aborts the wait. */
  readonly signal?: AbortSignal
}

/**
 * A cross-instance lock so only one instance runs a loader for a key (`getOrSet` with
 * `lock: redisLock(...)`). The engine re-reads the shared tiers after acquiring, so waiters
 * read the value the winner wrote; on a wait timeout the engine runs the loader anyway.
 */
export interface DistributedLock {
  /**
   * Acquires the lock for `key`, waiting up to `options.wait` ms.
   * @returns a handle, or `undefined` when the wait ended without the lock. Rejects only on
   *   backend errors (the engine then runs the loader without the lock).
   */
  acquire(key: string, options: LockAcquireOptions): Promise<LockHandle | undefined>
  /** Releases connections it owns. */
  close?(): void | Promise<void>
}
