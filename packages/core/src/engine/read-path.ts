import { heapSizeOfEncoded } from '../heap-size.js'
import { isPortableText, validateKey } from '../keys.js'
import type { MaybePromise, SetCondition, StoreEntry } from '../store.js'
import type { TagRegistry } from '../tags.js'
import type { EngineContext } from './context.js'
import { type Found, isThenable, makeEntry } from './entries.js'
import type { Fence } from './fence.js'
import type { LeaseBook } from './leases.js'
import type { Observers } from './observers.js'
import type { AccessTracker, LocalEntry } from './ports.js'
import type { TagSync } from './tag-sync.js'
import type { Tier, TierSet } from './tier-set.js'
import type { TierWriter } from './tier-writer.js'

/** How {@link ReadPath.lookup} walks the tiers. */
export interface LookupPlan {
  /** The fast path already checked L1: count its miss and start below it. */
  readonly skipL1: boolean
  /** Keep looking for a stale candidate in lower tiers. */
  readonly wantStale: boolean
  /** First tier to read. @default 0 */
  readonly from?: number
  /** Called with the first stale candidate as soon as it is found. */
  readonly onStale?: (found: Found) => void
  /**
   * A loaded value may be written afterwards: lease every conditional shared tier that misses,
   * for this many milliseconds, before reading further.
   */
  readonly leaseFor?: number
}

/** What {@link ReadPath.lookup} found. */
export interface Lookup {
  readonly fresh: Found | undefined
  readonly stale: Found | undefined
  /** Per tier index: what a later write into that shared tier must find there. */
  readonly expect: readonly (SetCondition | undefined)[]
  /** Bit `i` set: tier `i` failed the read (nothing is written back into it). */
  readonly failed: number
}

const NO_EXPECT: readonly (SetCondition | undefined)[] = []

/**
 * The read side: the synchronous L1 hit, the walk down the tiers, and back-fills. A back-fill is
 * written only if no invalidation covering the key overlapped the read (the {@link Fence}); into
 * a shared tier only from a shared tier below it, and only by a conditional write that a
 * concurrent invalidation on any instance defeats (the {@link LeaseBook}).
 */
export class ReadPath {
  readonly #ctx: EngineContext
  readonly #tiers: TierSet
  readonly #all: readonly Tier[]
  readonly #l1: Tier | undefined
  readonly #fence: Fence
  readonly #leases: LeaseBook
  readonly #registry: TagRegistry
  readonly #tagSync: TagSync
  readonly #obs: Observers
  /** Tier `i` has a tier below it that may back-fill it (what a read of it leases for). */
  readonly #fedFromBelow: readonly boolean[]
  /**
   * Local tiers may back-fill shared ones: only without a bus. With a bus, a local tier learns of
   * other instances' invalidations after the shared tiers took them, so its value could land in a
   * shared tier after the invalidation that superseded it.
   */
  readonly #localFeedsShared: boolean
  readonly #leaseTtl: number
  readonly #lastLevel: string
  tracker: AccessTracker | undefined
  readonly #writer: TierWriter
  /**
   * Entries of local files created at or before this time (epoch ms) are not fresh: this instance
   * may have missed their invalidation (a bus gap, or before it started listening). Creation times
   * handed out afterwards sort after it.
   */
  horizon = 0

  constructor(
    ctx: EngineContext,
    tiers: TierSet,
    fence: Fence,
    leases: LeaseBook,
    registry: TagRegistry,
    tagSync: TagSync,
    obs: Observers,
    hasBus: boolean,
    writer: TierWriter,
  ) {
    this.#writer = writer
    this.#ctx = ctx
    this.#tiers = tiers
    this.#all = tiers.all
    this.#l1 = tiers.l1
    this.#fence = fence
    this.#leases = leases
    this.#registry = registry
    this.#tagSync = tagSync
    this.#obs = obs
    this.#localFeedsShared = !hasBus
    this.#fedFromBelow = tiers.all.map((t) =>
      tiers.all.some((u) => u.index > t.index && (!u.local || this.#localFeedsShared)),
    )
    this.#leaseTtl = Math.min(60_000, Math.max(1000, 2 * ctx.tierTimeout))
    this.#lastLevel = tiers.last.level
  }

  // ---------------------------------------------------------------------------------------------
  // L1

  /** A fresh, valid L1 entry or undefined. Counts a hit unless `count` is false. */
  l1Fresh(rel: string, count = true): StoreEntry<unknown> | undefined {
    const l1 = this.#l1
    if (l1 === undefined) return undefined
    const entry = l1.store.get(rel) as MaybePromise<StoreEntry<unknown> | undefined>
    // Memory stores answer synchronously or with a native Promise. `instanceof` needs no property
    // load: a `then` probe here would go megamorphic and miss V8's stub cache on every hit.
    if (entry === undefined || entry instanceof Promise) return undefined
    const e = entry as StoreEntry<unknown>
    if (
      !(
        e.freshUntil > this.#ctx.now() &&
        (e.tags.length === 0 || this.#registry.isValid(e.tags, e.createdAt))
      )
    ) {
      return undefined
    }
    if (!count) return e
    l1.hits++
    this.#ctx.counters.hits++
    if (this.#ctx.emitter.listening.hit) this.#ctx.emitter.emit('hit', { key: rel, level: l1.level, tier: 0 })
    return e
  }

  /** `get`: the L1 fast path, or the walk down the tiers. */
  get(rel: string): Promise<unknown> {
    const obs = this.#obs
    if (obs.timeNextGet) return this.#getTimed(rel)
    const entry = this.l1Fresh(rel)
    if (entry !== undefined) {
      this.tracker?.touchL1(rel, entry as LocalEntry)
      if (obs.observing) obs.countGetHit()
      return Promise.resolve(entry.value)
    }
    return this.#getSlow(rel, obs.observing ? performance.now() : -1)
  }

  /** An L1 hit chosen for timing (one in `l1SampleEvery`), or a read that leaves L1. */
  #getTimed(rel: string): Promise<unknown> {
    const t0 = performance.now()
    const entry = this.l1Fresh(rel)
    if (entry === undefined) return this.#getSlow(rel, t0)
    this.tracker?.touchL1(rel, entry as LocalEntry)
    this.#obs.timedGet()
    this.#obs.report('get', (this.#l1 as Tier).level, 'hit', t0, this.#obs.sampleEvery)
    return Promise.resolve(entry.value)
  }

  /** A read past L1; reported to observers when `t0 >= 0`. */
  async #getSlow(rel: string, t0: number): Promise<unknown> {
    try {
      this.#ctx.assertOpen()
      const { fresh } = await this.lookup(rel, { skipL1: true, wantStale: false })
      if (fresh !== undefined) {
        this.tracker?.touch(rel, fresh.entry)
        if (t0 >= 0) this.#obs.report('get', (this.#all[fresh.tier] as Tier).level, 'hit', t0)
        return fresh.value
      }
      this.#ctx.counters.misses++
      if (this.#ctx.emitter.listening.miss) this.#ctx.emitter.emit('miss', { key: rel })
      this.tracker?.touch(rel, undefined)
      if (t0 >= 0) this.#obs.report('get', this.#lastLevel, 'miss', t0)
      return undefined
    } catch (error) {
      if (t0 >= 0) this.#obs.report('get', this.#lastLevel, 'error', t0)
      throw error
    }
  }

  /** `has`: a fresh value exists in some tier. */
  async has(rel: string): Promise<boolean> {
    if (this.l1Fresh(rel) !== undefined) return true
    const { fresh } = await this.lookup(rel, { skipL1: true, wantStale: false })
    return fresh !== undefined
  }

  // ---------------------------------------------------------------------------------------------
  // The walk down the tiers

  /**
   * Walks the tiers top-down. Returns the first fresh value (back-filling the tiers above it when
   * the fence allows) and the best stale candidate seen on the way.
   */
  async lookup(rel: string, plan: LookupPlan): Promise<Lookup> {
    // Keys are checked in full on writes; reads check them here, once they leave L1.
    if (!isPortableText(rel)) validateKey(rel, Number.POSITIVE_INFINITY)
    const all = this.#all
    const mark = this.#fence.mark()
    let stale: Found | undefined
    let failed = 0
    let expect: (SetCondition | undefined)[] | undefined
    let start = plan.from ?? 0
    const l1 = this.#l1
    if (plan.skipL1 && start === 0 && l1 !== undefined) {
      l1.misses++
      const entry = l1.store.get(rel) as MaybePromise<StoreEntry<unknown> | undefined>
      if (entry !== undefined && !isThenable(entry)) {
        if (
          entry.staleUntil > this.#ctx.now() &&
          (entry.tags.length === 0 || this.#registry.isValid(entry.tags, entry.createdAt))
        ) {
          stale = { value: entry.value, entry, tier: 0, size: entry.size ?? 0 }
          plan.onStale?.(stale)
        }
      }
      start = 1
    }
    for (let i = start; i < all.length; i++) {
      const tier = all[i] as Tier
      const key = this.#tiers.keyIn(tier, rel)
      let entry: StoreEntry<unknown> | undefined
      try {
        entry = await this.#tiers.guard(tier, 'get', () => tier.store.get(key))
      } catch (error) {
        this.#ctx.reportError(error, 'get', tier, rel)
        tier.misses++
        if (i < 31) failed |= 1 << i
        continue
      }
      if (tier.conditional) {
        expect ??= []
        if (entry !== undefined) expect[i] = { createdAt: entry.createdAt }
        else if (plan.leaseFor !== undefined || this.#fedFromBelow[i] === true) {
          expect[i] = await this.#leases.acquire(tier, key, rel, plan.leaseFor ?? this.#leaseTtl)
        }
      }
      const found = entry === undefined ? undefined : await this.#decode(tier, key, rel, entry)
      if (found === undefined) {
        tier.misses++
        continue
      }
      if (this.#isFresh(tier, found.entry)) {
        tier.hits++
        this.#ctx.counters.hits++
        if (this.#ctx.emitter.listening.hit)
          this.#ctx.emitter.emit('hit', { key: rel, level: tier.level, tier: i })
        const used = i > 0 ? this.#backfill(rel, found, i, failed, expect ?? NO_EXPECT, mark) : 0
        if (expect !== undefined && plan.leaseFor === undefined) this.#releaseUnused(rel, expect, used)
        return { fresh: found, stale, expect: expect ?? NO_EXPECT, failed }
      }
      tier.misses++
      if (stale === undefined && plan.wantStale) {
        stale = found
        plan.onStale?.(found)
      }
    }
    if (expect !== undefined && plan.leaseFor === undefined) this.#releaseUnused(rel, expect, 0)
    return { fresh: undefined, stale, expect: expect ?? NO_EXPECT, failed }
  }

  /** Releases the leases a plain read took and its back-fill did not use (bit `i`: tier `i` used). */
  #releaseUnused(rel: string, expect: readonly (SetCondition | undefined)[], used: number): void {
    for (let i = 0; i < expect.length; i++) {
      const condition = expect[i]
      if (condition === undefined || (i < 31 && used & (1 << i))) continue
      const tier = this.#all[i] as Tier
      this.#leases.release(tier, this.#tiers.keyIn(tier, rel), condition)
    }
  }

  /** Fresh: before `freshUntil`, and for a local file, created after the horizon. */
  #isFresh(tier: Tier, entry: StoreEntry<unknown>): boolean {
    return entry.freshUntil > this.#ctx.now() && (!tier.persistent || entry.createdAt > this.horizon)
  }

  /** Decodes a tier's entry into a value, checking physical expiry, tags and pending invalidations. */
  async #decode(
    tier: Tier,
    key: string,
    rel: string,
    entry: StoreEntry<unknown>,
  ): Promise<Found | undefined> {
    if (entry.staleUntil <= this.#ctx.now()) return undefined
    // A local file whose invalidation is still being applied holds a value already superseded.
    if (tier.persistent && this.#fence.activeCovers(rel, entry.tags)) return undefined
    if (entry.tags.length > 0) {
      if (!tier.memory) await this.#tagSync.ensure(entry.tags)
      if (!this.#registry.isValid(entry.tags, entry.createdAt)) {
        // Invalidated by tag: drop it from this tier (best effort) and treat as a miss.
        this.#ctx.background(this.#tiers.guard(tier, 'delete', () => tier.store.delete(key)))
        return undefined
      }
    }
    if (tier.memory) return { value: entry.value, entry, tier: tier.index, size: entry.size ?? 0 }
    const bytes = entry.value as Uint8Array
    try {
      return {
        value: this.#ctx.serializer.deserialize(bytes),
        entry,
        tier: tier.index,
        size: heapSizeOfEncoded(this.#ctx.serializer, bytes),
      }
    } catch (error) {
      this.#ctx.reportError(error, 'deserialize', tier, rel)
      this.#ctx.background(this.#tiers.guard(tier, 'delete', () => tier.store.delete(key)))
      return undefined
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Back-fills

  /**
   * Writes a value found in tier `from` into the tiers above it, with its remaining lifetime,
   * unless an invalidation covering the key overlapped the read.
   */
  #backfill(
    rel: string,
    found: Found,
    from: number,
    failed: number,
    expect: readonly (SetCondition | undefined)[],
    mark: number,
  ): number {
    const meta = found.entry
    let used = 0
    if (!this.#fence.allows(mark, rel, meta.tags)) return used
    const now = this.#ctx.preciseNow()
    const source = this.#all[from] as Tier
    let bytes: Uint8Array | undefined
    for (let i = 0; i < from; i++) {
      if (i < 31 && failed & (1 << i)) continue
      const tier = this.#all[i] as Tier
      if (tier.memory) {
        this.#writer.setMemory(tier, rel, found.value, meta, found.size, now, false)
        continue
      }
      if (tier.persistent && meta.createdAt <= this.horizon) continue
      if (!tier.local && ((source.local && !this.#localFeedsShared) || !tier.conditional)) continue
      const condition = expect[i]
      if (!tier.local && condition === undefined) continue
      bytes ??= source.memory ? this.#ctx.serializer.serialize(found.value) : (meta.value as Uint8Array)
      const entry = this.#tiers.cap(tier, makeEntry(bytes, meta, bytes.byteLength), now)
      const key = this.#tiers.keyIn(tier, rel)
      if (condition === undefined) {
        const valid = (): boolean => this.#fence.allows(mark, rel, meta.tags)
        this.#ctx.background(this.#writer.writeBytes(tier, key, rel, entry, valid, 'backfill'))
      } else {
        if (i < 31) used |= 1 << i
        this.#ctx.background(
          this.#tiers
            .guard(tier, 'backfill', () => tier.store.conditionalSet!(key, entry, condition))
            .then(
              (written) => {
                if (written === true) tier.sets++
              },
              (error) => this.#ctx.reportError(error, 'backfill', tier, rel),
            ),
        )
      }
    }
    return used
  }

  // ---------------------------------------------------------------------------------------------
  // Many keys

  /** Reads many keys; results align with `rels` (missing slots are `undefined`). */
  async getMany(rels: readonly string[], count = true): Promise<unknown[]> {
    const out: unknown[] = new Array(rels.length).fill(undefined)
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
    this.#ctx.assertOpen()
    for (const i of pending) {
      const rel = rels[i] as string
      if (!isPortableText(rel)) validateKey(rel, Number.POSITIVE_INFINITY)
    }
    const mark = this.#fence.mark()
    for (let t = l1 ? 1 : 0; t < this.#all.length && pending.length > 0; t++) {
      const tier = this.#all[t] as Tier
      const keys = pending.map((i) => this.#tiers.keyIn(tier, rels[i] as string))
      let entries: (StoreEntry<unknown> | undefined)[]
      try {
        entries = await this.#tiers.guard(tier, 'getMany', () =>
          tier.getMany
            ? tier.store.getMany!(keys)
            : Promise.all(keys.map((k) => this.#tiers.guard(tier, 'get', () => tier.store.get(k)))),
        )
      } catch (error) {
        this.#ctx.reportError(error, 'getMany', tier)
        tier.misses += pending.length
        continue
      }
      const still: number[] = []
      for (let j = 0; j < pending.length; j++) {
        const i = pending[j] as number
        const rel = rels[i] as string
        const entry = entries[j]
        const found =
          entry === undefined ? undefined : await this.#decode(tier, keys[j] as string, rel, entry)
        if (found !== undefined && this.#isFresh(tier, found.entry)) {
          if (count) {
            tier.hits++
            this.#ctx.counters.hits++
          }
          out[i] = found.value
          // Back-fills from a batch read reach local tiers only (no leases were taken).
          if (t > 0) this.#backfillLocal(rel, found, t, mark)
        } else {
          if (count) tier.misses++
          still.push(i)
        }
      }
      pending = still
    }
    if (count) this.#ctx.counters.misses += pending.length
    return out
  }

  #backfillLocal(rel: string, found: Found, from: number, mark: number): void {
    if (!this.#fence.allows(mark, rel, found.entry.tags)) return
    const now = this.#ctx.preciseNow()
    for (let i = 0; i < from; i++) {
      const tier = this.#all[i] as Tier
      if (tier.memory) this.#writer.setMemory(tier, rel, found.value, found.entry, found.size, now, false)
    }
  }
}
