import type { BusMessage } from '../bus.js'
import { TierCacheError } from '../errors.js'
import { compilePattern, escapePattern } from '../pattern.js'
import type { TagRegistry } from '../tags.js'
import type { CacheEvents } from '../types.js'
import type { BusSync } from './bus-sync.js'
import type { EngineContext } from './context.js'
import { isThenable } from './entries.js'
import { ALL, type Fence, keysScope, matchScope, type Scope, tagsScope } from './fence.js'
import type { ReadPath } from './read-path.js'
import type { TagSync } from './tag-sync.js'
import type { Tier, TierSet } from './tier-set.js'
import type { Write, WritePath } from './write-path.js'

/**
 * A change to the cache, in the shape of the bus message that carries it to other instances:
 * `set` and `delete` name keys, `pattern` a glob, `tags` the tags and their invalidation time,
 * `clear` a namespace path (all relative to the root namespace).
 */
export type Mutation = Omit<BusMessage, 'instanceId' | 'namespace'>

/** Why local tiers were flushed. */
export type FlushReason = CacheEvents['flush']['reason']

/**
 * The one path every mutation takes, in one order, whether this instance made it or the bus
 * brought it from another:
 *
 * 1. the fence opens (loads and reads that overlap it will not write back);
 * 2. the local tiers change (written for an own `set`, invalidated otherwise);
 * 3. own mutations only: the shared tiers change, bottom tier first;
 * 4. the fence closes; counters and events;
 * 5. own mutations only: the bus message goes out, and the call waits (bounded) for it.
 */
export class MutationPipeline {
  readonly #ctx: EngineContext
  readonly #tiers: TierSet
  readonly #fence: Fence
  readonly #read: ReadPath
  readonly #write: WritePath
  readonly #tagSync: TagSync
  readonly #registry: TagRegistry
  readonly #bus: BusSync | undefined
  /** Called when local knowledge is lost (tags overflow, bus gap) or dropped (`flushLocal()`). */
  readonly #onFlush: (() => void)[] = []

  constructor(
    ctx: EngineContext,
    tiers: TierSet,
    fence: Fence,
    read: ReadPath,
    write: WritePath,
    tagSync: TagSync,
    registry: TagRegistry,
    bus: BusSync | undefined,
  ) {
    this.#ctx = ctx
    this.#tiers = tiers
    this.#fence = fence
    this.#read = read
    this.#write = write
    this.#tagSync = tagSync
    this.#registry = registry
    this.#bus = bus
  }

  /** Registers work to do on every flush (forgetting per-key state). */
  onFlush(fn: () => void): void {
    this.#onFlush.push(fn)
  }

  #scope(m: Mutation): Scope {
    switch (m.type) {
      case 'set':
      case 'delete':
        return keysScope(m.keys ?? [])
      case 'pattern':
        return matchScope(compilePattern(m.pattern ?? ''))
      case 'tags':
        return tagsScope(m.tags ?? [])
      case 'clear':
        return m.prefix ? matchScope((rel) => rel.startsWith(`${m.prefix}:`)) : ALL
    }
  }

  /**
   * Runs an own mutation through the pipeline: `writes` go to the local tiers (otherwise the
   * mutation invalidates them), `shared` changes the shared tiers. Resolves how many keys the local
   * invalidation removed.
   */
  async #own(
    m: Mutation,
    writes: readonly Write[] | undefined,
    shared: () => Promise<void>,
  ): Promise<number> {
    const ticket = this.#fence.begin(this.#scope(m))
    let local = 0
    try {
      const failures =
        writes !== undefined ? await this.#write.writeLocal(writes, this.#ctx.preciseNow()) : []
      if (writes === undefined) local = await this.#invalidateLocal(m)
      await shared()
      this.#write.throwIfStrict(failures, m.type, m.keys?.[0])
    } finally {
      this.#fence.end(ticket)
    }
    await this.#bus?.publish(m)
    return local
  }

  /** Applies a mutation another instance made (from the bus) to this instance's local tiers. */
  async receive(m: Mutation): Promise<void> {
    let scope: Scope
    try {
      scope = this.#scope(m)
    } catch {
      return // a malformed pattern: nothing this instance can match
    }
    const ticket = this.#fence.begin(scope)
    try {
      await this.#invalidateLocal(m)
    } finally {
      this.#fence.end(ticket)
    }
  }

  /** Invalidates the local tiers for a mutation (an own delete, or anything from the bus). */
  async #invalidateLocal(m: Mutation): Promise<number> {
    switch (m.type) {
      case 'set':
      case 'delete':
        return this.#deleteLocal(m.keys ?? [])
      case 'pattern':
        return this.#deletePatternLocal(m.pattern ?? '')
      case 'tags':
        if (this.#tagSync.record(m.tags ?? [], m.at ?? this.#ctx.now())) this.flush('tags-overflow')
        return 0
      case 'clear':
        await this.#clearLocal(m.prefix ?? '')
        return 0
    }
  }

  /**
   * Runs an operation on a local tier: synchronously when the store answers synchronously (memory
   * tiers change before anything else runs), otherwise bounded by `tierTimeout`. Failures are
   * reported and read as `undefined`.
   */
  #local(tier: Tier, operation: string, run: () => unknown, key?: string): unknown {
    try {
      const r = run()
      if (!isThenable(r)) return r
      return this.#tiers
        .guard(tier, operation, () => r)
        .catch((error: unknown) => {
          this.#ctx.reportError(error, operation, tier, key)
          return undefined
        })
    } catch (error) {
      this.#ctx.reportError(error, operation, tier, key)
      return undefined
    }
  }

  /** Deletes keys from every local tier; resolves the most any one of them held. */
  async #deleteLocal(rels: readonly string[]): Promise<number> {
    let most = 0
    for (const tier of this.#tiers.locals) {
      let n = 0
      for (const rel of rels) {
        let r = this.#local(tier, 'delete', () => tier.store.delete(this.#tiers.keyIn(tier, rel)), rel)
        if (isThenable(r)) r = await r
        if (r === true) n++
      }
      if (n > most) most = n
    }
    return most
  }

  async #deletePatternLocal(relPattern: string): Promise<number> {
    const remotePattern = `${escapePattern(`${this.#ctx.root}:`)}${relPattern}`
    let n = 0
    for (const tier of this.#tiers.locals) {
      const pattern = tier.memory ? relPattern : remotePattern
      let r = tier.deleteByPattern
        ? this.#local(tier, 'deleteByPattern', () => tier.store.deleteByPattern!(pattern))
        : this.#local(tier, 'clear', () => tier.store.clear(tier.memory ? '' : this.#ctx.root))
      if (isThenable(r)) r = await r
      if (typeof r === 'number') n = Math.max(n, r)
    }
    return n
  }

  async #clearLocal(prefix: string): Promise<void> {
    for (const tier of this.#tiers.locals) {
      const ns = tier.memory ? prefix : prefix === '' ? this.#ctx.root : `${this.#ctx.root}:${prefix}`
      const r = this.#local(tier, 'clear', () => tier.store.clear(ns))
      if (isThenable(r)) await r
      if (prefix === '' && !tier.memory) {
        await this.#local(tier, 'clear', () => tier.store.clear(`${this.#ctx.root}#tags`))
      }
    }
    if (prefix === '') {
      this.#registry.clear()
      for (const fn of this.#onFlush) fn()
    }
  }

  /**
   * Clears the memory tiers and forgets tag times (too many tags, or `flushLocal()`). After a bus
   * gap this instance may have missed invalidations, so local files are distrusted too: they keep
   * their entries (O(1), no scan), but nothing they held before now is served as fresh.
   */
  flush(reason: FlushReason): void {
    this.#fence.instant(ALL)
    for (const tier of this.#tiers.locals) {
      if (!tier.memory) continue
      try {
        const r = tier.store.clear('')
        if (isThenable(r)) this.#ctx.background(r)
      } catch (error) {
        this.#ctx.reportError(error, 'clear', tier)
      }
    }
    if (reason === 'bus-reconnect') this.#read.horizon = this.#registry.fence(this.#ctx.preciseNow())
    this.#registry.clear()
    for (const fn of this.#onFlush) fn()
    if (this.#ctx.emitter.listening.flush) this.#ctx.emitter.emit('flush', { reason })
    this.#ctx.logger.info({ reason }, 'tiercache: local tiers flushed')
  }

  // ---------------------------------------------------------------------------------------------
  // Own mutations

  /** Writes values through every tier (`set`, `setMany`). */
  async set(writes: readonly Write[]): Promise<void> {
    const now = this.#ctx.preciseNow()
    const rels = writes.map((w) => w.rel)
    await this.#own({ type: 'set', keys: rels }, writes, async () => {
      const failures = await this.#write.writeShared(writes, now)
      this.#write.throwIfStrict(failures, 'set', rels[0])
    })
    this.#ctx.counters.sets += writes.length
    if (this.#ctx.emitter.listening.set) for (const rel of rels) this.#ctx.emitter.emit('set', { key: rel })
  }

  /** Deletes keys from every tier; resolves how many existed (the lowest tier that says). */
  async delete(rels: readonly string[]): Promise<number> {
    const single = rels.length === 1
    let existed = -1
    const local = await this.#own({ type: 'delete', keys: rels }, undefined, async () => {
      for (const tier of this.#tiers.locals) tier.deletes += rels.length
      const keys = rels.map((r) => this.#ctx.remoteKey(r))
      const counts = await this.#tiers.each(
        this.#tiers.sharedBottomUp,
        single ? 'delete' : 'deleteMany',
        async (tier) => {
          const n = single
            ? (await tier.store.delete(keys[0] as string)) === true
              ? 1
              : 0
            : tier.deleteMany
              ? await tier.store.deleteMany!(keys)
              : (
                  await Promise.all(
                    keys.map((k) => this.#tiers.guard(tier, 'delete', () => tier.store.delete(k))),
                  )
                ).filter(Boolean).length
          tier.deletes += rels.length
          return n
        },
        { sequential: true, ...(single ? { key: rels[0] as string } : {}) },
      )
      // One key: whether any tier had it. Many: the count of the lowest tier that answered
      // (bottom-up order: the first one).
      for (const o of counts) {
        if (!o.ok) continue
        existed = single ? Math.max(existed, o.value) : o.value
        if (!single) break
      }
    })
    this.#ctx.counters.deletes += rels.length
    if (this.#ctx.emitter.listening.delete)
      for (const rel of rels) this.#ctx.emitter.emit('delete', { key: rel })
    if (single) return Math.max(existed, local > 0 ? 1 : 0)
    return existed >= 0 ? existed : local
  }

  /** Deletes keys matching `relPattern` (prefixed with the child path, escaped) in every tier. */
  async deleteByPattern(relPattern: string): Promise<number> {
    const unable = this.#tiers.all.filter((t) => !t.deleteByPattern)
    if (unable.length > 0) {
      throw new TierCacheError(
        `deleteByPattern needs every tier to support it; ${unable.map((t) => t.level).join(', ')} cannot`,
        'E_UNSUPPORTED',
        { operation: 'deleteByPattern' },
      )
    }
    let count = 0
    const remotePattern = `${escapePattern(`${this.#ctx.root}:`)}${relPattern}`
    const local = await this.#own({ type: 'pattern', pattern: relPattern }, undefined, async () => {
      const outcomes = await this.#tiers.each(
        this.#tiers.sharedBottomUp,
        'deleteByPattern',
        async (tier) => {
          const n = await tier.store.deleteByPattern!(remotePattern)
          tier.deletes += n
          return n
        },
        { sequential: true },
      )
      for (const o of outcomes) if (o.ok && o.value > count) count = o.value
    })
    this.#ctx.counters.deletes++
    if (this.#ctx.emitter.listening['delete:pattern']) {
      this.#ctx.emitter.emit('delete:pattern', { pattern: relPattern })
    }
    return Math.max(count, local)
  }

  /** Clears a namespace path relative to the root (`''` = the whole root namespace). */
  async clear(prefix: string): Promise<void> {
    const root = this.#ctx.root
    const remoteNs = prefix === '' ? root : `${root}:${prefix}`
    await this.#own({ type: 'clear', prefix }, undefined, async () => {
      await this.#tiers.each(
        this.#tiers.sharedBottomUp,
        'clear',
        async (tier) => {
          await tier.store.clear(remoteNs)
          if (prefix === '') {
            await tier.store.clear(`${root}#tags`)
            await tier.store.clear(`${root}#warm`)
          }
        },
        { sequential: true },
      )
    })
    this.#ctx.counters.deletes++
    if (this.#ctx.emitter.listening.clear) this.#ctx.emitter.emit('clear', { namespace: remoteNs })
  }

  /** Invalidates every entry carrying one of `tags`, on every tier and instance. */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    const at = this.#registry.invalidationAt(this.#ctx.preciseNow())
    await this.#own({ type: 'tags', tags, at }, undefined, () => this.#tagSync.write(tags, at))
    if (this.#ctx.emitter.listening['invalidate:tags']) this.#ctx.emitter.emit('invalidate:tags', { tags })
  }
}
