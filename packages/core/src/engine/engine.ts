import type { DistributedLock } from '../bus.js'
import { optionalDuration } from '../duration.js'
import { CacheClosedError, InvalidOptionError, InvalidValueError } from '../errors.js'
import { heapSizeAfterSerialize } from '../heap-size.js'
import { normalizeTags, TagRegistry } from '../tags.js'
import type {
  CacheEvents,
  CacheOptions,
  CacheStats,
  GetOrSetOptions,
  Loader,
  ObservedOperation,
  OperationObserver,
  SetManyItem,
  SetOptions,
} from '../types.js'
import { Warming } from '../warming.js'
import { BusSync } from './bus-sync.js'
import { EngineContext } from './context.js'
import { isThenable, makeMeta } from './entries.js'
import { Fence } from './fence.js'
import { FlightTable } from './flights.js'
import { Loads } from './get-or-set.js'
import { LeaseBook } from './leases.js'
import { MutationPipeline } from './mutations.js'
import { Observers } from './observers.js'
import {
  defaultLoadOptions,
  type LoadOptions,
  resolveLoadOptions,
  resolveWriteOptions,
  type WriteOptions,
} from './options.js'
import type { AccessTracker, WarmingHost } from './ports.js'
import { ReadPath } from './read-path.js'
import { Stats } from './stats.js'
import { TagSync } from './tag-sync.js'
import { type Tier, TierSet } from './tier-set.js'
import { TierWriter } from './tier-writer.js'
import { type Write, WritePath } from './write-path.js'

/**
 * The tier engine: one per `createCache`, shared by every namespaced view. It composes the parts
 * (context, tiers, fence, read and write paths, the mutation pipeline, loads, bus and tag sync,
 * observers, stats) and is the only thing `cache.ts` talks to.
 */
export class Engine {
  readonly ctx: EngineContext
  readonly tiers: TierSet
  readonly observers: Observers
  readonly lock: DistributedLock | undefined
  readonly warming: AccessTracker | undefined
  readonly #defaults: LoadOptions
  readonly #registry: TagRegistry
  readonly #fence = new Fence()
  readonly #read: ReadPath
  readonly #write: WritePath
  readonly #flights: FlightTable
  readonly #loads: Loads
  readonly #mutations: MutationPipeline
  readonly #bus: BusSync | undefined
  readonly #stats: Stats

  constructor(options: CacheOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError('createCache needs an options object with tiers', { option: 'tiers' })
    }
    const ctx = new EngineContext(options)
    this.ctx = ctx
    const tagSyncInterval = optionalDuration(
      options.tagSyncInterval,
      options.bus ? Number.POSITIVE_INFINITY : 1000,
      'tagSyncInterval',
      ctx.timeUnit,
    )
    const maxTracked = options.maxTrackedTags ?? 50_000
    if (!Number.isInteger(maxTracked) || maxTracked < 1) {
      throw new InvalidOptionError('maxTrackedTags must be a positive integer', { option: 'maxTrackedTags' })
    }
    this.#registry = new TagRegistry(maxTracked)
    this.#defaults = defaultLoadOptions(options, ctx.timeUnit)
    const busWait = optionalDuration(options.busWait, 250, 'busWait', ctx.timeUnit)
    this.observers = new Observers(options.l1SampleEvery, ctx.logger)
    this.tiers = new TierSet(ctx, options.tiers)
    const tiers = this.tiers
    this.lock = options.lock
    const leases = new LeaseBook(ctx, tiers)
    const tagSync = new TagSync(ctx, tiers, this.#registry, tagSyncInterval, () =>
      this.#mutations.flush('tags-overflow'),
    )
    const writer = new TierWriter(ctx, tiers)
    this.#read = new ReadPath(
      ctx,
      tiers,
      this.#fence,
      leases,
      this.#registry,
      tagSync,
      this.observers,
      options.bus !== undefined,
      writer,
    )
    this.#write = new WritePath(ctx, tiers, writer)
    this.#bus = options.bus ? new BusSync(ctx, options.bus, busWait) : undefined
    this.#flights = new FlightTable(ctx, this.#fence, tiers.all)
    this.#loads = new Loads(
      ctx,
      tiers,
      this.#read,
      this.#write,
      this.#flights,
      this.#fence,
      this.#registry,
      this.observers,
      options.lock,
      this.#bus,
      leases,
    )
    this.#mutations = new MutationPipeline(
      ctx,
      tiers,
      this.#fence,
      this.#read,
      this.#write,
      tagSync,
      this.#registry,
      this.#bus,
    )
    this.#mutations.onFlush(() => this.#loads.clearBackoff())
    this.#stats = new Stats(ctx, tiers)
    for (const tier of tiers.all) {
      if (typeof tier.store.onStatusChange === 'function') {
        tier.unsubscribe = tier.store.onStatusChange((connected) => {
          tier.connected = connected
          ctx.emitter.emit('tier:status', { level: tier.level, connected })
        })
      }
    }
    if (this.#bus !== undefined) {
      // Nothing a local file held before this instance listened to the bus is known current.
      this.#read.horizon = this.#registry.fence(ctx.preciseNow())
      this.#bus.subscribe(
        (m) => void this.#mutations.receive(m).catch((error) => ctx.reportError(error, 'bus', undefined)),
        () => this.#mutations.flush('bus-reconnect'),
      )
    }
    if (options.warming !== undefined && options.warming.enabled !== false) {
      this.warming = new Warming(this.#warmingHost(), options.warming)
      this.#read.tracker = this.warming
      writer.tracker = this.warming
    }
  }

  #warmingHost(): WarmingHost {
    const ctx = this.ctx
    return {
      emitter: ctx.emitter,
      timeUnit: ctx.timeUnit,
      now: () => ctx.now(),
      setTimer: ctx.setTimer,
      clearTimer: ctx.clearTimer,
      peekL1: (rel) => this.#read.l1Fresh(rel, false),
      hasL1: this.tiers.l1 !== undefined,
      refresh: (request, current, reason) => this.#loads.refresh(request, current, reason),
      defaults: this.#defaults,
      background: (p) => ctx.background(p),
      writeInternal: (name, value, ttl) => this.#writeInternal(name, value, ttl),
      readInternal: (name) => this.#readInternal(name),
      preload: async (rels) => {
        await this.#read.getMany(rels, false)
      },
      reportError: (error, operation) => ctx.reportError(error, operation, undefined),
    }
  }

  // ---------------------------------------------------------------------------------------------
  // What the cache view uses

  get root(): string {
    return this.ctx.root
  }

  get maxKeyBytes(): number {
    return this.ctx.maxKeyBytes
  }

  get closed(): boolean {
    return this.ctx.closed
  }

  get emitter(): EngineContext['emitter'] {
    return this.ctx.emitter
  }

  get observing(): boolean {
    return this.observers.observing
  }

  assertOpen(): void {
    this.ctx.assertOpen()
  }

  /** Resolves per-call `getOrSet` options against the cache defaults. Throws on bad input. */
  resolveLoadOptions(o: GetOrSetOptions | undefined): LoadOptions {
    return resolveLoadOptions(o, this.#defaults, this.ctx.timeUnit)
  }

  /** What a bare number of time means in this cache's options and calls. */
  get timeUnit(): EngineContext['timeUnit'] {
    return this.ctx.timeUnit
  }

  /** Resolves write options (ttl, grace, tags). Throws on bad input. */
  resolveSetOptions(o: SetOptions | undefined): WriteOptions {
    return resolveWriteOptions(o, this.#defaults, this.ctx.timeUnit)
  }

  /** Reports a write or invalidation to observers when its promise settles. */
  track<T>(operation: ObservedOperation, t0: number, p: Promise<T>): Promise<T> {
    return this.observers.track(operation, this.tiers.last.level, t0, p)
  }

  addObserver(observer: OperationObserver): () => void {
    return this.observers.add(observer)
  }

  get(rel: string): Promise<unknown> {
    return this.#read.get(rel)
  }

  /** Synchronous L1-only read (no counters for misses, no lower tiers). */
  peek(rel: string): unknown {
    return this.#read.l1Fresh(rel)?.value
  }

  has(rel: string): Promise<boolean> {
    this.ctx.assertOpen()
    return this.#read.has(rel)
  }

  getMany(rels: readonly string[]): Promise<unknown[]> {
    return this.#read.getMany(rels)
  }

  getOrSet(rel: string, key: string, loader: Loader<any>, opts: LoadOptions): Promise<unknown> {
    return this.#loads.getOrSet(rel, key, loader, opts)
  }

  #prepare(rel: string, value: unknown, o: WriteOptions, now: number): Write {
    if (value === undefined)
      throw new InvalidValueError('undefined cannot be cached (use null for "no value")')
    const bytes = this.ctx.serializer.serialize(value)
    const size = heapSizeAfterSerialize(this.ctx.serializer, bytes)
    const createdAt = this.#registry.createdAt(now)
    return { rel, value, bytes, size, meta: makeMeta(now, createdAt, o.ttl, o.grace, o.tags) }
  }

  /** Writes one value through every tier. */
  async set(rel: string, value: unknown, o: WriteOptions): Promise<void> {
    const write = this.#prepare(rel, value, o, this.ctx.preciseNow())
    this.ctx.assertOpen()
    await this.#mutations.set([write])
  }

  /** Writes many values; every input is validated and serialized before any tier is touched. */
  async setMany(items: readonly { rel: string; item: SetManyItem }[]): Promise<void> {
    const now = this.ctx.preciseNow()
    const writes = items.map(({ rel, item }) =>
      this.#prepare(rel, item.value, this.resolveSetOptions(item), now),
    )
    this.ctx.assertOpen()
    if (writes.length > 0) await this.#mutations.set(writes)
  }

  async delete(rel: string): Promise<boolean> {
    this.ctx.assertOpen()
    return (await this.#mutations.delete([rel])) > 0
  }

  async deleteMany(rels: readonly string[]): Promise<number> {
    this.ctx.assertOpen()
    if (rels.length === 0) return 0
    return this.#mutations.delete(rels)
  }

  /** Deletes keys matching `relPattern` (already prefixed with the child path, escaped). */
  async deleteByPattern(relPattern: string): Promise<number> {
    this.ctx.assertOpen()
    return this.#mutations.deleteByPattern(relPattern)
  }

  async invalidateTags(tags: readonly string[]): Promise<void> {
    const list = normalizeTags(tags)
    this.ctx.assertOpen()
    if (list.length > 0) await this.#mutations.invalidateTags(list)
  }

  /** Clears a namespace path relative to the root (`''` = the whole root namespace). */
  async clear(prefix: string): Promise<void> {
    this.ctx.assertOpen()
    await this.#mutations.clear(prefix)
  }

  /** Drops every local copy, keeping the shared tiers. */
  flushLocal(reason: CacheEvents['flush']['reason']): void {
    this.#mutations.flush(reason)
  }

  getStats(): CacheStats {
    return this.#stats.get(this.warming)
  }

  refreshStats(): Promise<CacheStats> {
    return this.#stats.refresh(this.warming)
  }

  // ---------------------------------------------------------------------------------------------
  // Internal records (the warm-restart snapshot)

  async #writeInternal(name: string, value: unknown, ttl: number): Promise<void> {
    const now = this.ctx.preciseNow()
    const meta = makeMeta(now, now, ttl, 0, [])
    const entry = { value: this.ctx.serializer.serialize(value), ...meta }
    const key = `${this.ctx.root}#warm:${name}`
    await this.tiers.each(this.tiers.remote, 'set', (tier) => tier.store.set(key, entry), { key })
  }

  async #readInternal(name: string): Promise<unknown> {
    const key = `${this.ctx.root}#warm:${name}`
    for (const tier of [...this.tiers.shared, ...this.tiers.persistent]) {
      if (tier.memory) continue
      try {
        const entry = await this.tiers.guard(tier, 'get', () => tier.store.get(key))
        if (entry !== undefined && entry.staleUntil > this.ctx.now()) {
          return this.ctx.serializer.deserialize(entry.value as Uint8Array)
        }
      } catch (error) {
        this.ctx.reportError(error, 'get', tier, key)
      }
    }
    return undefined
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  async close(): Promise<void> {
    const ctx = this.ctx
    if (ctx.closed) return
    ctx.closed = true
    this.#flights.abortAll(new CacheClosedError())
    await ctx.drain(1000)
    this.warming?.close()
    const closing: Promise<unknown>[] = []
    const attempt = (what: string, fn: () => unknown): void => {
      try {
        const r = fn()
        if (isThenable(r as Promise<unknown>)) {
          closing.push(
            (r as Promise<unknown>).catch((error) =>
              ctx.logger.warn({ err: error }, `tiercache: ${what} close failed`),
            ),
          )
        }
      } catch (error) {
        ctx.logger.warn({ err: error }, `tiercache: ${what} close failed`)
      }
    }
    const bus = this.#bus?.bus
    if (bus?.close) attempt('bus', () => bus.close!())
    if (this.lock?.close) attempt('lock', () => this.lock!.close!())
    this.tiers.release()
    for (const tier of this.tiers.all as readonly Tier[]) {
      if (tier.store.close) attempt(tier.level, () => tier.store.close!())
    }
    // A client that hangs on disconnect must not hang close(): give up waiting after 5 s.
    let timer: ReturnType<typeof setTimeout> | undefined
    const limit = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        ctx.logger.warn({}, 'tiercache: close() stopped waiting for tiers after 5 s')
        resolve()
      }, 5000)
      timer.unref?.()
    })
    await Promise.race([Promise.all(closing), limit])
    clearTimeout(timer)
    ctx.emitter.clear()
  }
}
