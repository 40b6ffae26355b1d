import { randomUUID } from 'node:crypto'
import type { Bus, BusMessage, DistributedLock, LockHandle } from './bus.js'
import { type Clock, clockTimers, preciseNow, systemClock } from './clock.js'
import { addDuration, NEVER, optionalDuration, parseDuration, timerDelay } from './duration.js'
import {
  CacheClosedError,
  HardTimeoutError,
  InvalidOptionError,
  InvalidValueError,
  isTierCacheError,
  LoaderFailedError,
  StoreError,
  StoreTimeoutError,
  TierCacheError,
} from './errors.js'
import { Emitter } from './events.js'
import { DEFAULT_MAX_KEY_BYTES, isPortableText, validateKey, validateNamespace } from './keys.js'
import { compilePattern, escapePattern } from './pattern.js'
import { defaultSerializer, type Serializer } from './serializer.js'
import type { MaybePromise, RemoteEntry, Store, StoreEntry, StoreStats } from './store.js'
import { validateStore } from './store-validation.js'
import { normalizeTags, TagRegistry } from './tags.js'
import type {
  CacheEvents,
  CacheOptions,
  CacheStats,
  GetOrSetOptions,
  Loader,
  LoaderContext,
  Logger,
  ObservedOperation,
  ObservedOutcome,
  OperationObserver,
  SetManyItem,
  SetOptions,
  StaleReason,
  TierStats,
} from './types.js'
import type { LocalEntry, Warming } from './warming.js'

/** Internal per-tier state. */
export interface Tier {
  readonly store: Store<any>
  readonly index: number
  readonly level: string
  readonly local: boolean
  readonly maxTtl: number | undefined
  readonly maxEntryBytes: number | undefined
  hits: number
  misses: number
  sets: number
  deletes: number
  errors: number
  skipped: number
  connected: boolean | undefined
  reported: StoreStats
  reportedAt: number
  unsubscribe: (() => void) | undefined
}

/** A value found in a tier. */
interface Found {
  readonly value: unknown
  readonly entry: StoreEntry<unknown>
  readonly tier: number
  /** Serialized size in bytes (for L1 accounting on backfill). */
  readonly size: number
}

/** Resolved getOrSet options. */
interface LoadOptions {
  ttl: number
  grace: number
  tags: readonly string[]
  graceBackoff: number
  swr: boolean
  softTimeout: number | undefined
  hardTimeout: number | undefined
  refreshAhead: number
  forceFresh: boolean
  lockTimeout: number
}

/** One loader execution per key, shared by every caller. */
interface Flight {
  readonly rel: string
  readonly key: string
  readonly loader: Loader<any>
  readonly opts: LoadOptions
  readonly createdAt: number
  invalidated: boolean
  settled: boolean
  /** Callers sharing the answer (0 for a background refresh nobody awaits). */
  callers: number
  /** How the answer came about, for observers: `hit` in tier `level`, `stale`, or `miss` (loaded). */
  outcome: ObservedOutcome
  level: string
  staleAnswered: boolean
  softExpired: boolean
  stale: Found | undefined
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
  readonly promise: Promise<unknown>
  abort: AbortController | undefined
  timers: unknown[]
}

const noop = (): void => {}
const SILENT: Logger = { debug: noop, info: noop, warn: noop, error: noop }
const claimedLocalStores = new WeakSet<object>()

/** What one tier did in an operation run on every tier. */
type TierOutcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: unknown }

/** Entry metadata without the value. */
interface Meta {
  readonly createdAt: number
  readonly freshUntil: number
  readonly staleUntil: number
  readonly tags: readonly string[]
}

/**
 * Builds an entry as one literal with a fixed property order. Object spread would give nearly
 * every entry its own hidden class, making every read of an entry field megamorphic.
 */
function makeEntry<V>(value: V, m: Meta, size: number): StoreEntry<V> {
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
function makeLocalEntry(value: unknown, m: Meta, size: number): LocalEntry {
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

function isThenable<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | undefined)?.then === 'function'
}

function ratio(hits: number, misses: number): number {
  const total = hits + misses
  return total === 0 ? 0 : hits / total
}

/**
 * The tier engine. One per `createCache`; namespaced views share it. Not exported from the
 * package: the public surface is the `Cache` view in cache.ts.
 */
export class Engine {
  readonly root: string
  readonly tiers: readonly Tier[]
  readonly serializer: Serializer
  readonly clock: Clock
  readonly now: () => number
  readonly preciseNow: () => number
  readonly setTimer: (fn: () => void, ms: number) => unknown
  readonly clearTimer: (handle: unknown) => void
  readonly emitter: Emitter
  readonly logger: Logger
  readonly maxKeyBytes: number
  readonly instanceId: string = randomUUID()
  readonly tags: TagRegistry
  readonly bus: Bus | undefined
  readonly lock: DistributedLock | undefined
  warming: Warming | undefined

  /** L1 when the first tier is a memory store (synchronous hit path). */
  readonly #l1: Tier | undefined
  readonly #localTiers: readonly Tier[]
  readonly #remoteTiers: readonly Tier[]
  readonly #firstRemote: number
  readonly #strict: boolean
  readonly #tierTimeout: number
  readonly #tagSyncInterval: number
  readonly #defaults: LoadOptions

  readonly #flights = new Map<string, Flight>()
  readonly #backoff = new Map<string, number>()
  readonly #tagFetches = new Map<string, Promise<void>>()
  #epoch = 0
  #closed = false
  readonly #background = new Set<Promise<unknown>>()

  // Operation observers (metrics). L1 hits are timed one in `l1SampleEvery`, weighted.
  #observers: OperationObserver[] = []
  /** True while an observer is registered: the hot path reads this one field. */
  observing = false
  readonly l1SampleEvery: number
  #getCountdown = 0
  #getOrSetCountdown = 0
  #timeNextGet = false
  #timeNextGetOrSet = false
  readonly #lastLevel: string

  // Overall counters.
  hits = 0
  misses = 0
  sets = 0
  deletes = 0
  loads = 0
  loadErrors = 0
  collapsed = 0
  staleServed = 0
  refreshes = 0
  errors = 0
  skipped = 0

  constructor(options: CacheOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError('createCache needs an options object with tiers', { option: 'tiers' })
    }
    const tiers = options.tiers
    if (!Array.isArray(tiers) || tiers.length === 0) {
      throw new InvalidOptionError('createCache needs at least one tier in `tiers`', { option: 'tiers' })
    }
    const root = options.namespace ?? 'cache'
    validateNamespace(root)
    this.root = root
    this.serializer = options.serializer ?? defaultSerializer
    this.clock = options.clock ?? systemClock
    const clock = this.clock
    this.now = clock === systemClock ? systemClock.now : () => clock.now()
    this.preciseNow = clock === systemClock ? preciseNow : () => clock.now()
    const timers = clockTimers(clock)
    this.setTimer = timers.set
    this.clearTimer = timers.clear
    this.logger = options.logger ?? SILENT
    this.emitter = new Emitter((error) =>
      this.logger.warn({ err: error }, 'tiercache: an event listener threw'),
    )
    this.maxKeyBytes = options.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES
    if (!Number.isInteger(this.maxKeyBytes) || this.maxKeyBytes < 1) {
      throw new InvalidOptionError('maxKeyBytes must be a positive integer', { option: 'maxKeyBytes' })
    }
    this.#strict = options.strict === true
    this.#tierTimeout = optionalDuration(options.tierTimeout, 5000, 'tierTimeout')
    this.bus = options.bus
    this.lock = options.lock
    this.#tagSyncInterval = optionalDuration(
      options.tagSyncInterval,
      options.bus ? Number.POSITIVE_INFINITY : 1000,
      'tagSyncInterval',
    )
    const maxTracked = options.maxTrackedTags ?? 50_000
    if (!Number.isInteger(maxTracked) || maxTracked < 1) {
      throw new InvalidOptionError('maxTrackedTags must be a positive integer', { option: 'maxTrackedTags' })
    }
    this.tags = new TagRegistry(maxTracked)
    this.#defaults = this.#loadOptions(options, undefined)

    const built: Tier[] = []
    for (const [index, store] of tiers.entries()) {
      validateStore(store, index)
      const local = store.kind === 'memory'
      if (local) {
        if (claimedLocalStores.has(store)) {
          throw new InvalidOptionError(
            `tiers[${index}] (${store.name}) is a memory store already used by another cache; create one per cache`,
            { option: 'tiers' },
          )
        }
        claimedLocalStores.add(store)
      }
      built.push({
        store,
        index,
        level: `l${index + 1}_${store.name}`,
        local,
        maxTtl: store.maxTtl,
        maxEntryBytes: store.maxEntryBytes,
        hits: 0,
        misses: 0,
        sets: 0,
        deletes: 0,
        errors: 0,
        skipped: 0,
        connected: undefined,
        reported: {},
        reportedAt: 0,
        unsubscribe: undefined,
      })
    }
    this.tiers = built
    this.#l1 = built[0]?.local ? built[0] : undefined
    this.#localTiers = built.filter((t) => t.local)
    this.#remoteTiers = built.filter((t) => !t.local)
    this.#firstRemote = this.#remoteTiers[0]?.index ?? built.length
    this.#lastLevel = (built[built.length - 1] as Tier).level
    const every = options.l1SampleEvery ?? 64
    if (!Number.isInteger(every) || every < 1) {
      throw new InvalidOptionError('l1SampleEvery must be a positive integer', { option: 'l1SampleEvery' })
    }
    this.l1SampleEvery = every
    for (const tier of built) {
      if (typeof tier.store.onStatusChange === 'function') {
        tier.unsubscribe = tier.store.onStatusChange((connected) => {
          tier.connected = connected
          this.emitter.emit('tier:status', { level: tier.level, connected })
        })
      }
    }
    if (this.bus) this.#subscribeBus(this.bus)
  }

  // ---------------------------------------------------------------------------------------------
  // Options

  #loadOptions(o: GetOrSetOptions | CacheOptions | undefined, base: LoadOptions | undefined): LoadOptions {
    const d = base
    const ttl = o?.ttl !== undefined ? parseDuration(o.ttl, 'ttl') : (d?.ttl ?? 3_600_000)
    const grace = o?.grace !== undefined ? parseDuration(o.grace, 'grace') : (d?.grace ?? 0)
    const refreshAhead = o?.refreshAhead ?? d?.refreshAhead ?? 0
    if (typeof refreshAhead !== 'number' || !(refreshAhead >= 0 && refreshAhead < 1)) {
      throw new InvalidOptionError('refreshAhead must be a number in [0, 1)', { option: 'refreshAhead' })
    }
    return {
      ttl,
      grace,
      tags: normalizeTags((o as GetOrSetOptions | undefined)?.tags),
      graceBackoff:
        o?.graceBackoff !== undefined
          ? parseDuration(o.graceBackoff, 'graceBackoff')
          : (d?.graceBackoff ?? 5000),
      swr: o?.staleWhileRevalidate ?? d?.swr ?? false,
      softTimeout:
        o?.softTimeout !== undefined ? parseDuration(o.softTimeout, 'softTimeout') : d?.softTimeout,
      hardTimeout:
        o?.hardTimeout !== undefined ? parseDuration(o.hardTimeout, 'hardTimeout') : d?.hardTimeout,
      refreshAhead,
      forceFresh: (o as GetOrSetOptions | undefined)?.forceFresh === true,
      lockTimeout:
        o?.lockTimeout !== undefined
          ? parseDuration(o.lockTimeout, 'lockTimeout')
          : (d?.lockTimeout ?? 10_000),
    }
  }

  /** Resolves per-call options against the cache defaults. Throws on bad input. */
  resolveLoadOptions(o: GetOrSetOptions | undefined): LoadOptions {
    return o === undefined ? this.#defaults : this.#loadOptions(o, this.#defaults)
  }

  /** Resolves write options (ttl, grace, tags). */
  resolveSetOptions(o: SetOptions | undefined): { ttl: number; grace: number; tags: readonly string[] } {
    const d = this.#defaults
    if (o === undefined) return d
    return {
      ttl: o.ttl !== undefined ? parseDuration(o.ttl, 'ttl') : d.ttl,
      grace: o.grace !== undefined ? parseDuration(o.grace, 'grace') : d.grace,
      tags: normalizeTags(o.tags),
    }
  }

  get closed(): boolean {
    return this.#closed
  }

  assertOpen(): void {
    if (this.#closed) throw new CacheClosedError()
  }

  remoteKey(rel: string): string {
    return `${this.root}:${rel}`
  }

  // ---------------------------------------------------------------------------------------------
  // Operation observers

  /** Registers an observer; returns the function that unregisters it. */
  addObserver(observer: OperationObserver): () => void {
    if (typeof observer?.observe !== 'function') {
      throw new InvalidOptionError('an operation observer needs an observe() method', { option: 'observer' })
    }
    this.#observers = [...this.#observers, observer]
    if (!this.observing) {
      this.#getCountdown = this.l1SampleEvery - 1
      this.#getOrSetCountdown = this.l1SampleEvery - 1
      this.#timeNextGet = this.l1SampleEvery === 1
      this.#timeNextGetOrSet = this.l1SampleEvery === 1
    }
    this.observing = true
    return () => {
      this.#observers = this.#observers.filter((o) => o !== observer)
      this.observing = this.#observers.length > 0
      if (!this.observing) {
        this.#timeNextGet = false
        this.#timeNextGetOrSet = false
      }
    }
  }

  /** Reports an operation that started at `t0` (a `performance.now()` reading). */
  report(
    operation: ObservedOperation,
    level: string,
    outcome: ObservedOutcome,
    t0: number,
    weight = 1,
  ): void {
    const seconds = (performance.now() - t0) / 1000
    for (const o of this.#observers) {
      try {
        o.observe(operation, level, outcome, seconds, weight)
      } catch (error) {
        this.logger.warn({ err: error }, 'tiercache: an operation observer threw')
      }
    }
  }

  /** Reports a write or invalidation when its promise settles; returns the same promise. */
  track<T>(operation: ObservedOperation, t0: number, p: Promise<T>): Promise<T> {
    p.then(
      () => this.report(operation, this.#lastLevel, 'ok', t0),
      () => this.report(operation, this.#lastLevel, 'error', t0),
    )
    return p
  }

  /** Counts an L1 hit of `get` toward the next timed one. */
  #countGetHit(): void {
    if (--this.#getCountdown <= 0) this.#timeNextGet = true
  }

  // ---------------------------------------------------------------------------------------------
  // Errors and guards

  reportError(error: unknown, operation: string, tier: Tier | undefined, key?: string): void {
    if (tier !== undefined && isTierCacheError(error, 'E_CIRCUIT_OPEN')) {
      // An open breaker refused the call at once: the tier is skipped, not failing. Counting it as
      // an error (and emitting an event per call) would flood logs and metrics during an outage.
      tier.skipped++
      this.skipped++
      if (tier.store.onStatusChange === undefined) tier.connected = false
      return
    }
    this.errors++
    if (tier) {
      tier.errors++
      if (tier.store.onStatusChange === undefined && !tier.local) tier.connected = false
    }
    if (this.emitter.listening.error) {
      this.emitter.emit('error', { error, operation, level: tier?.level, key })
    }
    this.logger.debug({ err: error, operation, level: tier?.level, key }, 'tiercache: tier operation failed')
  }

  /** Runs a tier operation, turning sync throws into rejections and bounding remote calls by tierTimeout. */
  #guard<T>(tier: Tier, operation: string, run: () => MaybePromise<T>): Promise<T> {
    let result: MaybePromise<T>
    try {
      result = run()
    } catch (error) {
      return Promise.reject(error)
    }
    if (!isThenable(result)) return Promise.resolve(result)
    const timeout = this.#tierTimeout
    if (tier.local || !(timeout < Number.POSITIVE_INFINITY)) return result
    return new Promise<T>((resolve, reject) => {
      const timer = this.setTimer(() => {
        reject(new StoreTimeoutError(timeout, { store: tier.store.name, operation }))
      }, timerDelay(timeout))
      ;(result as Promise<T>).then(
        (v) => {
          this.clearTimer(timer)
          if (tier.connected === false && tier.store.onStatusChange === undefined) tier.connected = true
          resolve(v)
        },
        (e) => {
          this.clearTimer(timer)
          reject(e)
        },
      )
    })
  }

  /** Tracks background work so it is never unhandled and close() can wait for it. */
  background(p: Promise<unknown>): void {
    const tracked = p.catch((error) => this.reportError(error, 'background', undefined))
    this.#background.add(tracked)
    void tracked.finally(() => this.#background.delete(tracked))
  }

  // ---------------------------------------------------------------------------------------------
  // Entries

  #validFresh(entry: StoreEntry<unknown>, now: number): boolean {
    return (
      entry.freshUntil > now && (entry.tags.length === 0 || this.tags.isValid(entry.tags, entry.createdAt))
    )
  }

  #cap(tier: Tier, entry: StoreEntry<any>, now: number): StoreEntry<any> {
    if (tier.maxTtl === undefined) return entry
    const limit = addDuration(now, tier.maxTtl)
    if (entry.staleUntil <= limit) return entry
    return {
      value: entry.value,
      createdAt: entry.createdAt,
      freshUntil: Math.min(entry.freshUntil, limit),
      staleUntil: limit,
      tags: entry.tags,
      size: entry.size ?? 0,
    }
  }

  /** Builds the metadata of a new entry: fresh for `ttl`, then stale for `grace`. */
  meta(now: number, createdAt: number, ttl: number, grace: number, tags: readonly string[]): Meta {
    const freshUntil = addDuration(now, ttl)
    return { createdAt, freshUntil, staleUntil: addDuration(freshUntil, grace), tags }
  }

  serialize(value: unknown): Uint8Array {
    if (value === undefined)
      throw new InvalidValueError('undefined cannot be cached (use null for "no value")')
    return this.serializer.serialize(value)
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  /** The L1 fast path: a fresh, valid L1 entry or undefined. Counts a hit. */
  l1Fresh(rel: string, count = true): StoreEntry<unknown> | undefined {
    const l1 = this.#l1
    if (l1 === undefined) return undefined
    const entry = l1.store.get(rel) as MaybePromise<StoreEntry<unknown> | undefined>
    // Memory stores answer synchronously or with a native Promise. `instanceof` needs no property
    // load: a `then` probe here would go megamorphic and miss V8's stub cache on every hit.
    if (entry === undefined || entry instanceof Promise) return undefined
    if (!this.#validFresh(entry as StoreEntry<unknown>, this.now())) return undefined
    if (!count) return entry as StoreEntry<unknown>
    l1.hits++
    this.hits++
    if (this.emitter.listening.hit) this.emitter.emit('hit', { key: rel, level: l1.level, tier: 0 })
    return entry as StoreEntry<unknown>
  }

  /** Synchronous L1-only read (no counters for misses, no lower tiers). */
  peek(rel: string): unknown {
    const entry = this.l1Fresh(rel)
    return entry === undefined ? undefined : entry.value
  }

  get(rel: string): Promise<unknown> {
    if (this.#timeNextGet) return this.#getTimed(rel)
    const entry = this.l1Fresh(rel)
    if (entry !== undefined) {
      this.warming?.touchL1(rel, entry as LocalEntry)
      if (this.observing) this.#countGetHit()
      return Promise.resolve(entry.value)
    }
    return this.#getSlow(rel, this.observing ? performance.now() : -1)
  }

  /** An L1 hit chosen for timing (one in `l1SampleEvery`), or a read that leaves L1. */
  #getTimed(rel: string): Promise<unknown> {
    const t0 = performance.now()
    const entry = this.l1Fresh(rel)
    if (entry === undefined) return this.#getSlow(rel, t0)
    this.warming?.touchL1(rel, entry as LocalEntry)
    this.#timeNextGet = this.l1SampleEvery === 1
    this.#getCountdown = this.l1SampleEvery - 1
    this.report('get', (this.#l1 as Tier).level, 'hit', t0, this.l1SampleEvery)
    return Promise.resolve(entry.value)
  }

  /** A read past L1; reported to observers when `t0 >= 0`. */
  async #getSlow(rel: string, t0: number): Promise<unknown> {
    try {
      this.assertOpen()
      const { fresh } = await this.lookup(rel, true, false)
      if (fresh !== undefined) {
        this.warming?.touch(rel, fresh.entry)
        if (t0 >= 0) this.report('get', (this.tiers[fresh.tier] as Tier).level, 'hit', t0)
        return fresh.value
      }
      this.misses++
      if (this.emitter.listening.miss) this.emitter.emit('miss', { key: rel })
      this.warming?.touch(rel, undefined)
      if (t0 >= 0) this.report('get', this.#lastLevel, 'miss', t0)
      return undefined
    } catch (error) {
      if (t0 >= 0) this.report('get', this.#lastLevel, 'error', t0)
      throw error
    }
  }

  /**
   * The `getOrSet` L1 fast path (the caller validated the input), with sampled timing; falls back
   * to {@link Engine.getOrSetSlow}.
   */
  getOrSet(rel: string, key: string, loader: Loader<any>, opts: LoadOptions): Promise<unknown> {
    if (!opts.forceFresh) {
      const timed = this.#timeNextGetOrSet
      const t0 = timed ? performance.now() : 0
      const entry = this.l1Fresh(rel)
      if (entry !== undefined) {
        if (opts.refreshAhead > 0 && this.refreshDue(entry, opts.refreshAhead)) {
          this.refreshInBackground(rel, key, loader, opts, entry, 'refresh-ahead')
        }
        this.warming?.touchL1(rel, entry as LocalEntry, loader, opts, key)
        if (timed) {
          this.#timeNextGetOrSet = this.l1SampleEvery === 1
          this.#getOrSetCountdown = this.l1SampleEvery - 1
          this.report('getOrSet', (this.#l1 as Tier).level, 'hit', t0, this.l1SampleEvery)
        } else if (this.observing && --this.#getOrSetCountdown <= 0) {
          this.#timeNextGetOrSet = true
        }
        return Promise.resolve(entry.value)
      }
      return this.getOrSetSlow(rel, key, loader, opts, timed ? t0 : this.observing ? performance.now() : -1)
    }
    return this.getOrSetSlow(rel, key, loader, opts, this.observing ? performance.now() : -1)
  }

  /**
   * Walks the tiers top-down. Returns the first fresh value (backfilling the tiers above) and the
   * best stale candidate seen on the way.
   *
   * @param skipL1 - L1 was already checked by the fast path (count its miss, start below it)
   * @param wantStale - keep looking for a stale candidate even in lower tiers
   */
  async lookup(
    rel: string,
    skipL1: boolean,
    wantStale: boolean,
    from = 0,
    onStale?: (found: Found) => void,
  ): Promise<{ fresh: Found | undefined; stale: Found | undefined }> {
    if (!isPortableText(rel)) validateKey(rel, Number.POSITIVE_INFINITY) // reads skip it on L1 hits
    const tiers = this.tiers
    const epoch = this.#epoch
    let stale: Found | undefined
    let failed = 0
    let start = from
    if (skipL1 && from === 0 && this.#l1 !== undefined) {
      const l1 = this.#l1
      l1.misses++
      const entry = l1.store.get(rel) as MaybePromise<StoreEntry<unknown> | undefined>
      if (entry !== undefined && !isThenable(entry)) {
        const now = this.now()
        if (
          entry.staleUntil > now &&
          (entry.tags.length === 0 || this.tags.isValid(entry.tags, entry.createdAt))
        ) {
          stale = { value: entry.value, entry, tier: 0, size: entry.size ?? 0 }
          onStale?.(stale)
        }
      }
      start = 1
    }
    for (let i = start; i < tiers.length; i++) {
      const tier = tiers[i] as Tier
      const key = tier.local ? rel : this.remoteKey(rel)
      let entry: StoreEntry<unknown> | undefined
      try {
        entry = await this.#guard(tier, 'get', () => tier.store.get(key))
      } catch (error) {
        this.reportError(error, 'get', tier, rel)
        tier.misses++
        if (i < 31) failed |= 1 << i
        continue
      }
      const found = entry === undefined ? undefined : await this.#decodeFound(tier, key, rel, entry)
      if (found === undefined) {
        tier.misses++
        continue
      }
      const now = this.now()
      if (found.entry.freshUntil > now) {
        tier.hits++
        this.hits++
        if (this.emitter.listening.hit) this.emitter.emit('hit', { key: rel, level: tier.level, tier: i })
        if (i > 0 && this.#epoch === epoch) this.#backfill(rel, found, i, failed)
        return { fresh: found, stale }
      }
      tier.misses++
      if (stale === undefined && wantStale) {
        stale = found
        onStale?.(found)
      }
    }
    return { fresh: undefined, stale }
  }

  /** Decodes a tier's entry into a value, checking physical expiry and tags. */
  async #decodeFound(
    tier: Tier,
    key: string,
    rel: string,
    entry: StoreEntry<unknown>,
  ): Promise<Found | undefined> {
    if (entry.staleUntil <= this.now()) return undefined
    if (entry.tags.length > 0) {
      if (!tier.local) await this.ensureTags(entry.tags)
      if (!this.tags.isValid(entry.tags, entry.createdAt)) {
        // Invalidated by tag: drop it from this tier (best effort) and treat as a miss.
        this.background(this.#guard(tier, 'delete', () => tier.store.delete(key)))
        return undefined
      }
    }
    if (tier.local) return { value: entry.value, entry, tier: tier.index, size: entry.size ?? 0 }
    const bytes = entry.value as Uint8Array
    try {
      return { value: this.serializer.deserialize(bytes), entry, tier: tier.index, size: bytes.byteLength }
    } catch (error) {
      this.reportError(error, 'deserialize', tier, rel)
      this.background(this.#guard(tier, 'delete', () => tier.store.delete(key)))
      return undefined
    }
  }

  /** Writes a value found in tier `from` into the tiers above it, with its remaining lifetime. */
  #backfill(rel: string, found: Found, from: number, skip = 0): void {
    const now = this.preciseNow()
    const meta = found.entry
    let remoteBytes: RemoteEntry | undefined
    for (let i = 0; i < from; i++) {
      const tier = this.tiers[i] as Tier
      if (i < 31 && skip & (1 << i)) continue
      if (tier.local) {
        this.#setLocal(tier, rel, found.value, meta, found.size, now)
      } else {
        remoteBytes ??=
          this.tiers[from]?.local === false
            ? (meta as RemoteEntry)
            : makeEntry(this.serializer.serialize(found.value), meta, found.size)
        const entry = this.#cap(tier, remoteBytes, now)
        const key = this.remoteKey(rel)
        this.background(
          this.#guard(tier, 'set', () => tier.store.set(key, entry)).then(
            () => void tier.sets++,
            (error) => this.reportError(error, 'backfill', tier, rel),
          ),
        )
      }
    }
  }

  /** Sets an entry in a local tier; an entry it refuses (too large) removes the key there instead. */
  #setLocal(tier: Tier, rel: string, value: unknown, meta: Meta, size: number, now: number): boolean {
    try {
      if (tier.maxEntryBytes !== undefined && size > tier.maxEntryBytes) {
        tier.store.delete(rel)
        return false
      }
      const entry = makeLocalEntry(value, this.#capMeta(tier, meta, now), size)
      this.warming?.linkL1(rel, entry)
      const result = tier.store.set(rel, entry)
      if (isThenable(result)) this.background(result)
      tier.sets++
      return true
    } catch (error) {
      this.reportError(error, 'set', tier, rel)
      try {
        tier.store.delete(rel)
      } catch {}
      return false
    }
  }

  /** Entry times capped by a tier's `maxTtl`. */
  #capMeta(tier: Tier, m: Meta, now: number): Meta {
    if (tier.maxTtl === undefined) return m
    const limit = addDuration(now, tier.maxTtl)
    if (m.staleUntil <= limit) return m
    return {
      createdAt: m.createdAt,
      freshUntil: Math.min(m.freshUntil, limit),
      staleUntil: limit,
      tags: m.tags,
    }
  }

  /** Reads many keys; results align with `rels`. */
  async getMany(rels: readonly string[], count = true): Promise<unknown[]> {
    const out = new Array<unknown>(rels.length)
    let pending: number[] = []
    const l1 = this.#l1
    for (let i = 0; i < rels.length; i++) {
      const entry = l1 ? this.l1Fresh(rels[i] as string, count) : undefined
      if (entry !== undefined) out[i] = entry.value
      else {
        if (l1 && count) l1.misses++
        pending.push(i)
      }
    }
    if (pending.length === 0) return out
    this.assertOpen()
    const epoch = this.#epoch
    for (let t = l1 ? 1 : 0; t < this.tiers.length && pending.length > 0; t++) {
      const tier = this.tiers[t] as Tier
      const keys = pending.map((i) => (tier.local ? (rels[i] as string) : this.remoteKey(rels[i] as string)))
      let entries: (StoreEntry<unknown> | undefined)[]
      try {
        entries = await this.#guard(tier, 'getMany', () =>
          tier.store.capabilities.getMany && tier.store.getMany
            ? tier.store.getMany(keys)
            : Promise.all(keys.map((k) => this.#guard(tier, 'get', () => tier.store.get(k)))),
        )
      } catch (error) {
        this.reportError(error, 'getMany', tier)
        tier.misses += pending.length
        continue
      }
      const still: number[] = []
      const now = this.now()
      for (let j = 0; j < pending.length; j++) {
        const i = pending[j] as number
        const rel = rels[i] as string
        const entry = entries[j]
        const found =
          entry === undefined ? undefined : await this.#decodeFound(tier, keys[j] as string, rel, entry)
        if (found !== undefined && found.entry.freshUntil > now) {
          if (count) {
            tier.hits++
            this.hits++
          }
          out[i] = found.value
          if (t > 0 && this.#epoch === epoch) this.#backfill(rel, found, t)
        } else {
          if (count) tier.misses++
          still.push(i)
        }
      }
      pending = still
    }
    if (count) this.misses += pending.length
    return out
  }

  // ---------------------------------------------------------------------------------------------
  // Writes

  /** Writes one value through every tier. */
  async set(rel: string, value: unknown, ttl: number, grace: number, tags: readonly string[]): Promise<void> {
    const bytes = this.serialize(value)
    this.assertOpen()
    const now = this.preciseNow()
    const createdAt = tags.length > 0 ? this.tags.createdAt(now) : now
    this.#invalidateFlight(rel)
    this.#epoch++
    await this.#writeAll(rel, value, bytes, this.meta(now, createdAt, ttl, grace, tags), now)
    this.sets++
    if (this.emitter.listening.set) this.emitter.emit('set', { key: rel })
    this.publish({ type: 'set', keys: [rel] })
  }

  async #writeAll(rel: string, value: unknown, bytes: Uint8Array, meta: Meta, now: number): Promise<void> {
    for (const tier of this.#localTiers) this.#setLocal(tier, rel, value, meta, bytes.byteLength, now)
    const remote = this.#remoteTiers
    if (remote.length === 0) return
    const key = this.remoteKey(rel)
    const entry: RemoteEntry = makeEntry(bytes, meta, bytes.byteLength)
    await this.#eachTier(
      remote,
      'set',
      async (tier) => {
        await tier.store.set(key, this.#cap(tier, entry, now))
        tier.sets++
      },
      rel,
    )
  }

  /**
   * Runs `run` on each tier in parallel, each bounded by `tierTimeout`. A tier that fails is
   * reported (counters, `error` event) and never rejects the call; in strict mode the first failure
   * is thrown once every tier is done. Resolves each tier's value (`undefined` where it failed).
   */
  async #eachTier<T>(
    tiers: readonly Tier[],
    operation: string,
    run: (tier: Tier) => MaybePromise<T>,
    key?: string,
  ): Promise<(T | undefined)[]> {
    const outcomes = await Promise.all(
      tiers.map((tier) =>
        this.#guard(tier, operation, () => run(tier)).then(
          (value): TierOutcome<T> => ({ ok: true, value }),
          (error: unknown): TierOutcome<T> => {
            this.reportError(error, operation, tier, key)
            return { ok: false, error }
          },
        ),
      ),
    )
    if (this.#strict) {
      for (const o of outcomes) {
        if (o.ok) continue
        throw isTierCacheError(o.error)
          ? o.error
          : new StoreError(`${operation} failed in a tier`, { operation, key, cause: o.error })
      }
    }
    return outcomes.map((o) => (o.ok ? o.value : undefined))
  }

  /** Writes many values; every input is validated and serialized before any tier is touched. */
  async setMany(items: readonly { rel: string; item: SetManyItem }[]): Promise<void> {
    const prepared = items.map(({ rel, item }) => {
      const o = this.resolveSetOptions(item)
      return { rel, value: item.value, bytes: this.serialize(item.value), o }
    })
    this.assertOpen()
    const now = this.preciseNow()
    this.#epoch++
    const metas = prepared.map((p) => {
      this.#invalidateFlight(p.rel)
      const createdAt = p.o.tags.length > 0 ? this.tags.createdAt(now) : now
      return this.meta(now, createdAt, p.o.ttl, p.o.grace, p.o.tags)
    })
    for (const tier of this.#localTiers) {
      for (const [i, p] of prepared.entries()) {
        this.#setLocal(tier, p.rel, p.value, metas[i] as Meta, p.bytes.byteLength, now)
      }
    }
    await this.#eachTier(this.#remoteTiers, 'setMany', async (tier) => {
      const batch = prepared.map(
        (p, i) =>
          [
            this.remoteKey(p.rel),
            this.#cap(tier, makeEntry(p.bytes, metas[i] as Meta, p.bytes.byteLength), now),
          ] as const,
      )
      if (tier.store.capabilities.setMany && tier.store.setMany) await tier.store.setMany(batch)
      else await Promise.all(batch.map(([k, e]) => this.#guard(tier, 'set', () => tier.store.set(k, e))))
      tier.sets += batch.length
    })
    this.sets += prepared.length
    this.publish({ type: 'set', keys: prepared.map((p) => p.rel) })
  }

  // ---------------------------------------------------------------------------------------------
  // Invalidation

  /** Marks in-flight loads for `rel` so their results are not written back. */
  #invalidateFlight(rel: string): void {
    const flight = this.#flights.get(rel)
    if (flight !== undefined) flight.invalidated = true
  }

  #invalidateFlights(match: (rel: string) => boolean): void {
    for (const flight of this.#flights.values()) if (match(flight.rel)) flight.invalidated = true
  }

  /** Applies a delete to the local tiers only (also used for bus messages). */
  #deleteLocal(rels: readonly string[]): number {
    let n = 0
    for (const tier of this.#localTiers) {
      for (const rel of rels) {
        try {
          const r = tier.store.delete(rel)
          if (r === true) n++
          else if (isThenable(r)) this.background(r)
        } catch (error) {
          this.reportError(error, 'delete', tier, rel)
        }
      }
    }
    return n
  }

  async deleteMany(rels: readonly string[]): Promise<number> {
    this.assertOpen()
    this.#epoch++
    for (const rel of rels) this.#invalidateFlight(rel)
    let count = this.#deleteLocal(rels)
    for (const tier of this.#localTiers) tier.deletes += rels.length
    const keys = rels.map((r) => this.remoteKey(r))
    const counts = await this.#eachTier(this.#remoteTiers, 'deleteMany', async (tier) => {
      const n =
        tier.store.capabilities.deleteMany && tier.store.deleteMany
          ? await tier.store.deleteMany(keys)
          : (
              await Promise.all(keys.map((k) => this.#guard(tier, 'delete', () => tier.store.delete(k))))
            ).filter(Boolean).length
      tier.deletes += rels.length
      return n
    })
    for (const n of counts) if (n !== undefined) count = n
    this.deletes += rels.length
    if (this.emitter.listening.delete) for (const rel of rels) this.emitter.emit('delete', { key: rel })
    this.publish({ type: 'delete', keys: rels })
    return count
  }

  async delete(rel: string): Promise<boolean> {
    this.assertOpen()
    this.#epoch++
    this.#invalidateFlight(rel)
    let existed = this.#deleteLocal([rel]) > 0
    for (const tier of this.#localTiers) tier.deletes++
    const remote = this.#remoteTiers
    if (remote.length > 0) {
      const key = this.remoteKey(rel)
      const results = await this.#eachTier(
        remote,
        'delete',
        async (tier) => {
          const r = await tier.store.delete(key)
          tier.deletes++
          return r
        },
        rel,
      )
      existed = results.some((r) => r === true) || existed
    }
    this.deletes++
    if (this.emitter.listening.delete) this.emitter.emit('delete', { key: rel })
    this.publish({ type: 'delete', keys: [rel] })
    return existed
  }

  /** Deletes keys matching `relPattern` (already prefixed with the child path, escaped). */
  async deleteByPattern(relPattern: string): Promise<number> {
    this.assertOpen()
    const unable = this.tiers.filter(
      (t) => !(t.store.capabilities.deleteByPattern && t.store.deleteByPattern),
    )
    if (unable.length > 0) {
      throw new TierCacheError(
        `deleteByPattern needs every tier to support it; ${unable.map((t) => t.level).join(', ')} cannot`,
        'E_UNSUPPORTED',
        { operation: 'deleteByPattern' },
      )
    }
    this.#epoch++
    this.#invalidateFlights(compilePattern(relPattern))
    const remotePattern = `${escapePattern(`${this.root}:`)}${relPattern}`
    const counts = await this.#eachTier(this.tiers, 'deleteByPattern', async (tier) => {
      const n = await tier.store.deleteByPattern!(tier.local ? relPattern : remotePattern)
      tier.deletes += n
      return n
    })
    let count = 0
    for (const n of counts) if (n !== undefined && n > count) count = n
    this.deletes++
    if (this.emitter.listening['delete:pattern']) this.emitter.emit('delete:pattern', { pattern: relPattern })
    this.publish({ type: 'pattern', pattern: relPattern })
    return count
  }

  /** Clears a namespace path relative to the root (`''` = the whole root namespace). */
  async clear(prefix: string): Promise<void> {
    this.assertOpen()
    this.#epoch++
    this.#clearLocal(prefix)
    const remoteNs = prefix === '' ? this.root : `${this.root}:${prefix}`
    await this.#eachTier(this.#remoteTiers, 'clear', async (tier) => {
      await tier.store.clear(remoteNs)
      if (prefix === '') {
        await tier.store.clear(this.#internalNamespace('tags'))
        await tier.store.clear(this.#internalNamespace('warm'))
      }
    })
    this.deletes++
    if (this.emitter.listening.clear) this.emitter.emit('clear', { namespace: remoteNs })
    this.publish({ type: 'clear', prefix })
  }

  #clearLocal(prefix: string): void {
    const match = prefix === '' ? () => true : (rel: string) => rel.startsWith(`${prefix}:`)
    this.#invalidateFlights(match)
    for (const tier of this.#localTiers) {
      try {
        const r = tier.store.clear(prefix)
        if (isThenable(r)) this.background(r)
      } catch (error) {
        this.reportError(error, 'clear', tier)
      }
    }
    if (prefix === '') {
      this.tags.clear()
      this.#backoff.clear()
    }
  }

  /** Drops every local copy (L1), keeping the shared tiers. */
  flushLocal(reason: CacheEvents['flush']['reason']): void {
    this.#epoch++
    this.#clearLocal('')
    if (this.emitter.listening.flush) this.emitter.emit('flush', { reason })
    this.logger.info({ reason }, 'tiercache: local tiers flushed')
  }

  /** Internal records live beside the root namespace (`<root>#tags:…`, `<root>#warm:…`), out of reach of user keys and patterns. */
  #internalNamespace(kind: 'tags' | 'warm'): string {
    return `${this.root}#${kind}`
  }

  #tagKey(tag: string): string {
    return `${this.root}#tags:${tag}`
  }

  /** Writes an internal record (e.g. the warm-restart snapshot) to every shared tier. */
  async writeInternal(name: string, value: unknown, ttl: number): Promise<void> {
    const now = this.preciseNow()
    const entry: RemoteEntry = {
      value: this.serializer.serialize(value),
      createdAt: now,
      freshUntil: addDuration(now, ttl),
      staleUntil: addDuration(now, ttl),
      tags: [],
    }
    const key = `${this.#internalNamespace('warm')}:${name}`
    await Promise.all(
      this.#remoteTiers.map((tier) =>
        this.#guard(tier, 'set', () => tier.store.set(key, entry)).catch((error) =>
          this.reportError(error, 'set', tier, key),
        ),
      ),
    )
  }

  /** Reads an internal record from the first shared tier that has it. */
  async readInternal(name: string): Promise<unknown> {
    const key = `${this.#internalNamespace('warm')}:${name}`
    for (const tier of this.#remoteTiers) {
      try {
        const entry = await this.#guard(tier, 'get', () => tier.store.get(key))
        if (entry !== undefined && entry.staleUntil > this.now())
          return this.serializer.deserialize(entry.value as Uint8Array)
      } catch (error) {
        this.reportError(error, 'get', tier, key)
      }
    }
    return undefined
  }

  async invalidateTags(tags: readonly string[]): Promise<void> {
    const list = normalizeTags(tags)
    this.assertOpen()
    if (list.length === 0) return
    const at = this.tags.invalidationAt(this.preciseNow())
    this.#epoch++
    let overflow = false
    for (const tag of list) overflow = this.tags.record(tag, at) || overflow
    if (overflow) this.flushLocal('tags-overflow')
    const bytes = this.serializer.serialize(at)
    const record: RemoteEntry = {
      value: bytes,
      createdAt: at,
      freshUntil: NEVER,
      staleUntil: NEVER,
      tags: [],
    }
    const items = list.map((tag) => [this.#tagKey(tag), record] as const)
    await this.#eachTier(this.#remoteTiers, 'invalidateTags', async (tier) => {
      if (tier.store.capabilities.setMany && tier.store.setMany) await tier.store.setMany(items)
      else await Promise.all(items.map(([k, e]) => tier.store.set(k, e)))
    })
    if (this.emitter.listening['invalidate:tags']) this.emitter.emit('invalidate:tags', { tags: list })
    this.publish({ type: 'tags', tags: list, at })
  }

  /** Makes sure the invalidation times of `tags` are known (reads tag records from shared tiers). */
  async ensureTags(tags: readonly string[]): Promise<void> {
    const now = this.now()
    const unknown = this.tags.unknown(tags, now - this.#tagSyncInterval)
    if (unknown.length === 0) return
    await Promise.all(unknown.map((tag) => this.#fetchTag(tag)))
  }

  #fetchTag(tag: string): Promise<void> {
    let pending = this.#tagFetches.get(tag)
    if (pending === undefined) {
      pending = this.#readTagRecord(tag).finally(() => this.#tagFetches.delete(tag))
      this.#tagFetches.set(tag, pending)
    }
    return pending
  }

  async #readTagRecord(tag: string): Promise<void> {
    const key = this.#tagKey(tag)
    let at = 0
    for (const tier of this.#remoteTiers) {
      try {
        const entry = await this.#guard(tier, 'get', () => tier.store.get(key))
        if (entry !== undefined) {
          at = Number(this.serializer.deserialize(entry.value as Uint8Array)) || 0
          break
        }
      } catch (error) {
        this.reportError(error, 'get', tier, key)
      }
    }
    if (this.tags.record(tag, at, this.now())) this.flushLocal('tags-overflow')
  }

  // ---------------------------------------------------------------------------------------------
  // getOrSet

  /** Starts or joins the load for `rel`. */
  getOrSetSlow(rel: string, key: string, loader: Loader<any>, opts: LoadOptions, t0 = -1): Promise<unknown> {
    this.assertOpen()
    let flight = this.#flights.get(rel)
    if (flight !== undefined) {
      this.collapsed++
      if (!flight.settled) flight.callers++
      else if (flight.staleAnswered) this.staleServed++
      if (this.emitter.listening.collapse) this.emitter.emit('collapse', { key: rel })
    } else {
      flight = this.#startFlight(rel, key, loader, opts)
      this.background(this.#runFlight(flight))
    }
    if (t0 >= 0) {
      const f = flight
      f.promise.then(
        () => this.report('getOrSet', f.level, f.outcome, t0),
        () => this.report('getOrSet', this.#lastLevel, 'error', t0),
      )
    }
    return flight.promise
  }

  #startFlight(rel: string, key: string, loader: Loader<any>, opts: LoadOptions): Flight {
    let resolve!: (v: unknown) => void
    let reject!: (e: unknown) => void
    const promise = new Promise<unknown>((res, rej) => {
      resolve = res
      reject = rej
    })
    const flight: Flight = {
      rel,
      key,
      loader,
      opts,
      createdAt: this.tags.createdAt(this.preciseNow()),
      invalidated: false,
      settled: false,
      callers: 1,
      outcome: 'miss',
      level: this.#lastLevel,
      staleAnswered: false,
      softExpired: false,
      stale: undefined,
      resolve,
      reject,
      promise,
      abort: undefined,
      timers: [],
    }
    this.#flights.set(rel, flight)
    if (opts.softTimeout !== undefined) {
      flight.timers.push(
        this.setTimer(() => {
          flight.softExpired = true
          if (flight.stale !== undefined) this.#answerStale(flight, 'soft-timeout')
        }, timerDelay(opts.softTimeout)),
      )
    }
    if (opts.hardTimeout !== undefined) {
      const hard = opts.hardTimeout
      flight.timers.push(
        this.setTimer(() => {
          flight.abort?.abort(new HardTimeoutError(hard, { key: rel }))
          if (flight.settled) return
          if (flight.stale !== undefined) this.#answerStale(flight, 'hard-timeout')
          else {
            this.loadErrors++
            this.#settle(flight, undefined, new HardTimeoutError(hard, { key: rel }))
          }
        }, timerDelay(hard)),
      )
    }
    return flight
  }

  #settle(flight: Flight, value: unknown, error?: unknown): void {
    if (flight.settled) return
    flight.settled = true
    if (error !== undefined) flight.reject(error)
    else flight.resolve(value)
  }

  #answerStale(flight: Flight, reason: StaleReason): void {
    if (flight.settled || flight.stale === undefined) return
    flight.staleAnswered = true
    flight.outcome = 'stale'
    flight.level = (this.tiers[flight.stale.tier] as Tier | undefined)?.level ?? this.#lastLevel
    this.staleServed += flight.callers
    if (this.emitter.listening.stale) this.emitter.emit('stale', { key: flight.rel, reason })
    this.#settle(flight, flight.stale.value)
  }

  #endFlight(flight: Flight): void {
    for (const t of flight.timers) this.clearTimer(t)
    flight.timers.length = 0
    if (this.#flights.get(flight.rel) === flight) this.#flights.delete(flight.rel)
  }

  async #runFlight(flight: Flight): Promise<void> {
    // The flight's promise may reject with the loader's error; callers handle it. Mark it handled
    // here so a flight nobody awaits (a background refresh) can never be an unhandled rejection.
    flight.promise.catch(noop)
    try {
      await this.#resolveFlight(flight)
    } catch (error) {
      this.#settle(flight, undefined, error)
    } finally {
      this.#endFlight(flight)
    }
  }

  async #resolveFlight(flight: Flight): Promise<void> {
    const { rel, opts } = flight
    const { fresh, stale } = await this.lookup(rel, true, true, 0, (found) => {
      flight.stale = found
      if (flight.softExpired) this.#answerStale(flight, 'soft-timeout')
    })
    if (fresh !== undefined && !opts.forceFresh) {
      this.warming?.touch(rel, fresh.entry, flight.loader, opts, flight.key)
      flight.outcome = 'hit'
      flight.level = (this.tiers[fresh.tier] as Tier).level
      this.#settle(flight, fresh.value)
      this.#endFlight(flight) // done: a call right after the answer starts afresh
      return
    }
    this.misses++
    if (this.emitter.listening.miss) this.emitter.emit('miss', { key: rel })
    this.warming?.touch(rel, undefined, flight.loader, opts, flight.key)
    flight.stale = stale ?? (fresh !== undefined ? fresh : undefined)
    if (flight.stale !== undefined) {
      const until = this.#backoff.get(rel)
      if (until !== undefined) {
        if (until > this.now()) {
          this.#answerStale(flight, 'backoff')
          return
        }
        this.#backoff.delete(rel)
      }
      if (flight.softExpired) this.#answerStale(flight, 'soft-timeout')
      else if (opts.swr && !opts.forceFresh) {
        this.refreshes++
        if (this.emitter.listening.refresh) this.emitter.emit('refresh', { key: rel, reason: 'revalidate' })
        this.#answerStale(flight, 'revalidate')
      }
    }
    if (this.lock !== undefined) {
      await this.#loadWithLock(flight, this.lock)
      return
    }
    await this.#load(flight)
  }

  async #loadWithLock(flight: Flight, lock: DistributedLock): Promise<void> {
    const { rel, opts } = flight
    const lockKey = this.remoteKey(rel)
    const ttl = opts.hardTimeout ?? Math.max(opts.lockTimeout, 30_000)
    let handle: LockHandle | undefined
    try {
      // With a stale value in hand, do not wait: serve stale if another instance is loading.
      const wait = flight.stale !== undefined ? 0 : opts.lockTimeout
      handle = await lock.acquire(lockKey, { ttl, wait })
      if (handle === undefined && flight.stale !== undefined) {
        this.#answerStale(flight, 'lock')
        return
      }
    } catch (error) {
      this.reportError(error, 'lock', undefined, rel)
    }
    try {
      // Another instance may have written the value while we waited.
      if (this.#firstRemote < this.tiers.length) {
        const again = await this.lookup(rel, false, false, this.#firstRemote)
        if (again.fresh !== undefined && !opts.forceFresh) {
          flight.outcome = 'hit'
          flight.level = (this.tiers[again.fresh.tier] as Tier).level
          this.#settle(flight, again.fresh.value)
          this.#endFlight(flight)
          return
        }
      }
      await this.#load(flight)
    } finally {
      if (handle !== undefined)
        await handle.release().catch((error) => this.reportError(error, 'unlock', undefined, rel))
    }
  }

  async #load(flight: Flight): Promise<void> {
    const { rel, opts } = flight
    let ttl = opts.ttl
    let grace = opts.grace
    let tags = opts.tags
    let skipped = false
    const staleValue = flight.stale?.value
    const ctx: LoaderContext<unknown> = {
      key: flight.key,
      stale: staleValue,
      hasStale: flight.stale !== undefined,
      get signal(): AbortSignal {
        flight.abort ??= new AbortController()
        return flight.abort.signal
      },
      skip: <V>(value?: V): V => {
        skipped = true
        return value as V
      },
      fail: (reason?: string | Error): never => {
        throw reason instanceof Error
          ? new LoaderFailedError(reason.message, { key: rel, cause: reason })
          : new LoaderFailedError(reason ?? `loader for "${flight.key}" failed`, { key: rel })
      },
      setTtl: (value) => {
        ttl = parseDuration(value, 'ttl')
      },
      setGrace: (value) => {
        grace = parseDuration(value, 'grace')
      },
      setTags: (value) => {
        tags = normalizeTags(value)
      },
    }
    this.loads++
    const started = performance.now()
    let value: unknown
    try {
      value = await flight.loader(ctx)
    } catch (error) {
      this.loadErrors++
      if (this.emitter.listening.load) {
        this.emitter.emit('load', { key: rel, duration: performance.now() - started, outcome: 'error' })
      }
      if (flight.stale !== undefined && flight.stale.entry.staleUntil > this.now()) {
        this.#backoff.set(rel, this.now() + opts.graceBackoff)
        if (!flight.settled) {
          this.reportError(error, 'loader', undefined, rel)
          this.#answerStale(flight, 'loader-error')
        }
        return
      }
      this.#settle(flight, undefined, error)
      return
    }
    if (this.emitter.listening.load) {
      this.emitter.emit('load', {
        key: rel,
        duration: performance.now() - started,
        outcome: skipped || value === undefined ? 'skip' : 'ok',
      })
    }
    this.#backoff.delete(rel)
    const invalidated = flight.invalidated || (tags.length > 0 && !this.tags.isValid(tags, flight.createdAt))
    if (skipped || value === undefined || invalidated || this.#closed) {
      this.#settle(flight, value)
      return
    }
    let bytes: Uint8Array
    try {
      bytes = this.serializer.serialize(value)
    } catch (error) {
      this.#settle(flight, undefined, error)
      return
    }
    const now = this.preciseNow()
    const meta = this.meta(now, flight.createdAt, ttl, grace, tags)
    this.#epoch++
    await this.#writeAll(rel, value, bytes, meta, now)
    this.sets++
    if (this.emitter.listening.set) this.emitter.emit('set', { key: rel })
    this.publish({ type: 'set', keys: [rel] })
    this.#settle(flight, value)
    this.#endFlight(flight) // done: a call right after the answer starts afresh
  }

  /** Starts a background refresh for a key whose loader is known (refresh-ahead, warming). */
  refreshInBackground(
    rel: string,
    key: string,
    loader: Loader<any>,
    opts: LoadOptions,
    current: StoreEntry<unknown>,
    reason: 'refresh-ahead' | 'warming',
    noCurrent = false,
  ): Promise<void> | undefined {
    if (this.#closed || this.#flights.has(rel)) return undefined
    this.refreshes++
    if (this.emitter.listening.refresh) this.emitter.emit('refresh', { key: rel, reason })
    const flight = this.#startFlight(rel, key, loader, opts)
    flight.callers = 0
    if (!noCurrent) flight.stale = { value: current.value, entry: current, tier: 0, size: current.size ?? 0 }
    const run = async (): Promise<void> => {
      flight.promise.catch(noop)
      try {
        if (this.lock !== undefined) {
          const handle = await this.lock.acquire(this.remoteKey(rel), {
            ttl: opts.hardTimeout ?? 30_000,
            wait: 0,
          })
          if (handle === undefined) return this.#settle(flight, current.value)
          try {
            await this.#load(flight)
          } finally {
            await handle.release().catch(noop)
          }
        } else {
          await this.#load(flight)
        }
      } catch (error) {
        this.#settle(flight, undefined, error)
      } finally {
        this.#endFlight(flight)
      }
    }
    const running = run()
    this.background(running)
    return running
  }

  /** True when a refresh-ahead is due for an entry (`fraction` of its TTL has elapsed). */
  refreshDue(entry: StoreEntry<unknown>, fraction: number): boolean {
    if (!(fraction > 0)) return false
    const life = entry.freshUntil - entry.createdAt
    return this.now() >= entry.createdAt + life * fraction
  }

  // ---------------------------------------------------------------------------------------------
  // Bus

  publish(message: Omit<BusMessage, 'instanceId' | 'namespace'>): void {
    const bus = this.bus
    if (bus === undefined || this.#closed) return
    const full: BusMessage = { ...message, instanceId: this.instanceId, namespace: this.root }
    try {
      const r = bus.publish(full)
      if (isThenable(r)) {
        this.background(
          r.then(
            () =>
              this.emitter.listening.bus && this.emitter.emit('bus', { direction: 'sent', type: full.type }),
            (error: unknown) => {
              this.reportError(error, 'bus.publish', undefined)
              if (this.emitter.listening.bus)
                this.emitter.emit('bus', { direction: 'failed', type: full.type })
            },
          ),
        )
      } else if (this.emitter.listening.bus) {
        this.emitter.emit('bus', { direction: 'sent', type: full.type })
      }
    } catch (error) {
      this.reportError(error, 'bus.publish', undefined)
    }
  }

  #subscribeBus(bus: Bus): void {
    try {
      const r = bus.subscribe({
        message: (m) => this.#onBusMessage(m),
        reconnected: () => this.flushLocal('bus-reconnect'),
        disconnected: () =>
          this.logger.warn(
            {},
            'tiercache: the invalidation bus is disconnected; L1 will be flushed when it reconnects',
          ),
      })
      if (isThenable(r)) this.background(r)
    } catch (error) {
      this.reportError(error, 'bus.subscribe', undefined)
    }
  }

  #onBusMessage(m: BusMessage): void {
    if (m.instanceId === this.instanceId || m.namespace !== this.root || this.#closed) return
    if (this.emitter.listening.bus) this.emitter.emit('bus', { direction: 'received', type: m.type })
    this.#epoch++
    switch (m.type) {
      case 'set':
      case 'delete': {
        const keys = m.keys ?? []
        for (const rel of keys) this.#invalidateFlight(rel)
        this.#deleteLocal(keys)
        break
      }
      case 'pattern': {
        if (typeof m.pattern !== 'string') return
        try {
          this.#invalidateFlights(compilePattern(m.pattern))
        } catch {
          return
        }
        for (const tier of this.#localTiers) {
          if (!tier.store.deleteByPattern) {
            tier.store.clear('')
            continue
          }
          try {
            const r = tier.store.deleteByPattern(m.pattern)
            if (isThenable(r)) this.background(r)
          } catch (error) {
            this.reportError(error, 'deleteByPattern', tier)
          }
        }
        break
      }
      case 'tags': {
        let overflow = false
        for (const tag of m.tags ?? []) overflow = this.tags.record(tag, m.at ?? this.now()) || overflow
        if (overflow) this.flushLocal('tags-overflow')
        break
      }
      case 'clear':
        this.#clearLocal(m.prefix ?? '')
        break
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Stats

  #tierStats(tier: Tier): TierStats {
    const store = tier.store
    if (store.capabilities.stats && store.stats && tier.local) {
      try {
        const r = store.stats()
        if (!isThenable(r)) tier.reported = r
      } catch {}
    }
    const r = tier.reported
    const connected = r.connected ?? tier.connected ?? (tier.local ? true : undefined)
    return {
      index: tier.index,
      level: tier.level,
      name: store.name,
      kind: tier.local ? 'memory' : 'remote',
      hits: tier.hits,
      misses: tier.misses,
      hitRatio: ratio(tier.hits, tier.misses),
      sets: tier.sets,
      deletes: tier.deletes,
      errors: tier.errors,
      skipped: tier.skipped,
      ...(r.entries !== undefined ? { entries: r.entries } : {}),
      ...(r.bytes !== undefined ? { bytes: r.bytes } : {}),
      ...(r.maxBytes !== undefined ? { maxBytes: r.maxBytes } : {}),
      ...(r.evictions !== undefined ? { evictions: r.evictions } : {}),
      ...(connected !== undefined ? { connected } : {}),
      ...(r.usedMemory !== undefined ? { usedMemory: r.usedMemory } : {}),
    }
  }

  getStats(): CacheStats {
    const now = this.now()
    for (const tier of this.#remoteTiers) {
      if (now - tier.reportedAt > 5000) this.background(this.#refreshTier(tier))
    }
    const tiers = this.tiers.map((t) => this.#tierStats(t))
    const l1 = tiers[0]?.index === 0 && this.#l1 ? tiers[0] : undefined
    const l2 = this.#remoteTiers[0] ? tiers[this.#remoteTiers[0].index] : undefined
    return {
      hits: this.hits,
      misses: this.misses,
      hitRatio: ratio(this.hits, this.misses),
      sets: this.sets,
      deletes: this.deletes,
      loads: this.loads,
      loadErrors: this.loadErrors,
      collapsed: this.collapsed,
      staleServed: this.staleServed,
      refreshes: this.refreshes,
      errors: this.errors,
      skipped: this.skipped,
      tiers,
      l1_cache: { size: l1?.bytes ?? 0, hit_ratio: l1?.hitRatio ?? 0, entries: l1?.entries ?? 0 },
      l2_cache: { connected: l2?.connected ?? false, used_memory: l2?.usedMemory ?? 0 },
      ...(this.warming ? { warming: this.warming.stats() } : {}),
    }
  }

  async #refreshTier(tier: Tier): Promise<void> {
    tier.reportedAt = this.now()
    const store = tier.store
    if (!(store.capabilities.stats && store.stats)) return
    try {
      tier.reported = await this.#guard(tier, 'stats', () => store.stats!())
    } catch (error) {
      this.reportError(error, 'stats', tier)
    }
  }

  async refreshStats(): Promise<CacheStats> {
    await Promise.all(this.#remoteTiers.map((t) => this.#refreshTier(t)))
    return this.getStats()
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const flight of this.#flights.values()) {
      flight.abort?.abort(new CacheClosedError())
      this.#endFlight(flight)
    }
    await Promise.race([
      Promise.allSettled([...this.#background]),
      new Promise((resolve) => setTimeout(resolve, 1000).unref()),
    ])
    this.warming?.close()
    const closing: Promise<unknown>[] = []
    const attempt = (what: string, fn: () => unknown): void => {
      try {
        const r = fn()
        if (isThenable(r as MaybePromise<unknown>)) {
          closing.push(
            (r as Promise<unknown>).catch((error) =>
              this.logger.warn({ err: error }, `tiercache: ${what} close failed`),
            ),
          )
        }
      } catch (error) {
        this.logger.warn({ err: error }, `tiercache: ${what} close failed`)
      }
    }
    if (this.bus?.close) attempt('bus', () => this.bus!.close!())
    if (this.lock?.close) attempt('lock', () => this.lock!.close!())
    for (const tier of this.tiers) {
      tier.unsubscribe?.()
      if (tier.local) claimedLocalStores.delete(tier.store)
      if (tier.store.close) attempt(tier.level, () => tier.store.close!())
    }
    // A client that hangs on disconnect must not hang close(): give up waiting after 5 s.
    let timer: ReturnType<typeof setTimeout> | undefined
    const limit = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.logger.warn({}, 'tiercache: close() stopped waiting for tiers after 5 s')
        resolve()
      }, 5000)
      timer.unref?.()
    })
    await Promise.race([Promise.all(closing), limit])
    clearTimeout(timer)
    this.emitter.clear()
  }
}
