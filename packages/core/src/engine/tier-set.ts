import { addDuration, timerDelay } from '../duration.js'
import { InvalidOptionError, isTierCacheError, StoreError, StoreTimeoutError } from '../errors.js'
import type { MaybePromise, Store, StoreStats } from '../store.js'
import { validateStore } from '../store-validation.js'
import type { EngineContext } from './context.js'
import { isThenable, type Meta } from './entries.js'

/**
 * One tier with its capabilities normalised once (a flag counts only when its method exists) and
 * its counters.
 */
export interface Tier {
  readonly store: Store<any>
  readonly index: number
  /** `l<index+1>_<name>`, the label in stats and metrics. */
  readonly level: string
  /** `kind: 'memory'`: live values under keys relative to the root namespace, synchronous hits. */
  readonly memory: boolean
  /** `scope: 'local'`: private to this process or host; the bus invalidates it. */
  readonly local: boolean
  /** A local tier that is not memory (a SQLite file): what it held before a bus gap is stale. */
  readonly persistent: boolean
  /** A shared tier with atomic placeholders and compare-and-set writes. */
  readonly conditional: boolean
  readonly maxTtl: number | undefined
  readonly maxEntryBytes: number | undefined
  readonly getMany: boolean
  readonly setMany: boolean
  readonly deleteMany: boolean
  readonly deleteByPattern: boolean
  readonly stats: boolean
  hits: number
  misses: number
  sets: number
  deletes: number
  errors: number
  skipped: number
  refused: number
  connected: boolean | undefined
  reported: StoreStats
  reportedAt: number
  unsubscribe: (() => void) | undefined
}

/** The outcome of one tier's part in an operation run on several tiers. */
export type TierOutcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: unknown }

const claimedMemoryStores = new WeakSet<object>()

function buildTier(store: Store<any>, index: number): Tier {
  validateStore(store, index)
  const caps = store.capabilities ?? {}
  const memory = store.kind === 'memory'
  const local = (store.scope ?? (memory ? 'local' : 'shared')) === 'local'
  return {
    store,
    index,
    level: `l${index + 1}_${store.name}`,
    memory,
    local,
    persistent: local && !memory,
    conditional:
      !local &&
      caps.conditionalSet === true &&
      typeof store.lease === 'function' &&
      typeof store.conditionalSet === 'function',
    maxTtl: store.maxTtl,
    maxEntryBytes: store.maxEntryBytes,
    getMany: caps.getMany === true && typeof store.getMany === 'function',
    setMany: caps.setMany === true && typeof store.setMany === 'function',
    deleteMany: caps.deleteMany === true && typeof store.deleteMany === 'function',
    deleteByPattern: caps.deleteByPattern === true && typeof store.deleteByPattern === 'function',
    stats: caps.stats === true && typeof store.stats === 'function',
    hits: 0,
    misses: 0,
    sets: 0,
    deletes: 0,
    errors: 0,
    skipped: 0,
    refused: 0,
    connected: undefined,
    reported: {},
    reportedAt: 0,
    unsubscribe: undefined,
  }
}

/**
 * The ordered tiers of one cache and the guarded way to call them: every remote call is bounded
 * by `tierTimeout`, synchronous throws become rejections, and failures are reported once.
 */
export class TierSet {
  readonly all: readonly Tier[]
  /** L1 when the first tier is a memory store (the synchronous hit path). */
  readonly l1: Tier | undefined
  /** `scope: 'local'` tiers, top first. */
  readonly locals: readonly Tier[]
  /** `scope: 'shared'` tiers, top first. */
  readonly shared: readonly Tier[]
  /** Shared tiers bottom first: the order every write and invalidation reaches them in. */
  readonly sharedBottomUp: readonly Tier[]
  /** Tiers that keep bytes (not memory). */
  readonly remote: readonly Tier[]
  /** Local tiers that are not memory. */
  readonly persistent: readonly Tier[]
  readonly last: Tier
  readonly #ctx: EngineContext

  constructor(ctx: EngineContext, stores: readonly Store<any>[]) {
    this.#ctx = ctx
    if (!Array.isArray(stores) || stores.length === 0) {
      throw new InvalidOptionError('createCache needs at least one tier in `tiers`', { option: 'tiers' })
    }
    const built = stores.map(buildTier)
    const claimed: Store<any>[] = []
    for (const tier of built) {
      if (!tier.memory) continue
      if (claimedMemoryStores.has(tier.store)) {
        for (const s of claimed) claimedMemoryStores.delete(s)
        throw new InvalidOptionError(
          `tiers[${tier.index}] (${tier.store.name}) is a memory store already used by another cache; create one per cache`,
          { option: 'tiers' },
        )
      }
      claimedMemoryStores.add(tier.store)
      claimed.push(tier.store)
    }
    this.all = built
    this.l1 = built[0]?.memory ? built[0] : undefined
    this.locals = built.filter((t) => t.local)
    this.shared = built.filter((t) => !t.local)
    this.sharedBottomUp = [...this.shared].reverse()
    this.remote = built.filter((t) => !t.memory)
    this.persistent = built.filter((t) => t.persistent)
    this.last = built[built.length - 1] as Tier
  }

  /** The key a tier stores for a key relative to the root namespace. */
  keyIn(tier: Tier, rel: string): string {
    return tier.memory ? rel : this.#ctx.remoteKey(rel)
  }

  /**
   * Runs a tier operation, turning synchronous throws into rejections and bounding remote calls
   * by `tierTimeout`.
   */
  guard<T>(tier: Tier, operation: string, run: () => MaybePromise<T>): Promise<T> {
    let result: MaybePromise<T>
    try {
      result = run()
    } catch (error) {
      return Promise.reject(error)
    }
    if (!isThenable(result)) return Promise.resolve(result)
    const ctx = this.#ctx
    const timeout = ctx.tierTimeout
    if (tier.memory || !(timeout < Number.POSITIVE_INFINITY)) return result
    return new Promise<T>((resolve, reject) => {
      const timer = ctx.setTimer(() => {
        reject(new StoreTimeoutError(timeout, { store: tier.store.name, operation }))
      }, timerDelay(timeout))
      ;(result as Promise<T>).then(
        (v) => {
          ctx.clearTimer(timer)
          if (tier.connected === false && tier.store.onStatusChange === undefined) tier.connected = true
          resolve(v)
        },
        (e) => {
          ctx.clearTimer(timer)
          reject(e)
        },
      )
    })
  }

  /** Like {@link TierSet.guard}, but a failure is reported and resolves as an outcome. */
  attempt<T>(
    tier: Tier,
    operation: string,
    run: () => MaybePromise<T>,
    key?: string,
  ): Promise<TierOutcome<T>> {
    return this.guard(tier, operation, run).then(
      (value): TierOutcome<T> => ({ ok: true, value }),
      (error: unknown): TierOutcome<T> => {
        this.#ctx.reportError(error, operation, tier, key)
        return { ok: false, error }
      },
    )
  }

  /**
   * Runs `run` on each tier, in parallel or (`sequential`) one after the other in the order
   * given. A failing tier is reported and never rejects the call; in strict mode the first failure
   * is thrown once every tier is done.
   */
  async each<T>(
    tiers: readonly Tier[],
    operation: string,
    run: (tier: Tier) => MaybePromise<T>,
    options: { readonly key?: string; readonly sequential?: boolean } = {},
  ): Promise<TierOutcome<T>[]> {
    let outcomes: TierOutcome<T>[]
    if (options.sequential === true) {
      outcomes = []
      for (const tier of tiers)
        outcomes.push(await this.attempt(tier, operation, () => run(tier), options.key))
    } else {
      outcomes = await Promise.all(
        tiers.map((tier) => this.attempt(tier, operation, () => run(tier), options.key)),
      )
    }
    this.throwIfStrict(outcomes, operation, options.key)
    return outcomes
  }

  /** In strict mode, throws the first failure among `outcomes`. */
  throwIfStrict(outcomes: readonly TierOutcome<unknown>[], operation: string, key?: string): void {
    if (!this.#ctx.strict) return
    for (const o of outcomes) {
      if (o.ok) continue
      throw isTierCacheError(o.error)
        ? o.error
        : new StoreError(`${operation} failed in a tier`, { operation, key, cause: o.error })
    }
  }

  /** An entry's times capped by a tier's `maxTtl`. */
  cap<M extends Meta>(tier: Tier, m: M, now: number): M {
    if (tier.maxTtl === undefined) return m
    const limit = addDuration(now, tier.maxTtl)
    if (m.staleUntil <= limit) return m
    return { ...m, freshUntil: Math.min(m.freshUntil, limit), staleUntil: limit }
  }

  /** Stops listening to status changes and releases memory stores for another cache. */
  release(): void {
    for (const tier of this.all) {
      tier.unsubscribe?.()
      if (tier.memory) claimedMemoryStores.delete(tier.store)
    }
  }
}
